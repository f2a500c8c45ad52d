#include "shim/rootfs.h"
#include "common/pb.h"
#include "common/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

/* A mount's data string: the kernel takes one page. */
#define MOUNT_DATA_MAX 4096

int wp_rootfs_mount_decode(const uint8_t *d, size_t len, wp_rootfs_mount *m)
{
	wp_pb_reader r;
	wp_pb_field f;
	int n;

	wp_pb_reader_init(&r, d, len);
	while ((n = wp_pb_next(&r, &f)) > 0) {
		char *s = f.wire == WP_PB_LEN ? wp_pb_strdup(&f) : NULL;

		if (f.wire == WP_PB_LEN && !s)
			return -1;
		if (f.num == 1)
			free(m->type), m->type = s;
		else if (f.num == 2)
			free(m->source), m->source = s;
		else if (f.num == 3)
			free(m->target), m->target = s;
		else if (f.num == 4 && s) {
			wp_strv_push(&m->options, s);
			free(s);
		} else
			free(s);
	}
	return n;
}

void wp_rootfs_mount_release(wp_rootfs_mount *m)
{
	free(m->type);
	free(m->source);
	free(m->target);
	wp_strv_release(&m->options);
}

static int parse_mount_options(const wp_strv *opts, unsigned long *flags, wp_buf *data)
{
	static const struct {
		const char *name;
		unsigned long flag;
		bool clear;
	} known[] = {
		{ "ro", MS_RDONLY, false },      { "rw", MS_RDONLY, true },        { "bind", MS_BIND, false },
		{ "rbind", MS_BIND | MS_REC, false }, { "nosuid", MS_NOSUID, false }, { "suid", MS_NOSUID, true },
		{ "nodev", MS_NODEV, false },    { "dev", MS_NODEV, true },        { "noexec", MS_NOEXEC, false },
		{ "exec", MS_NOEXEC, true },     { "sync", MS_SYNCHRONOUS, false }, { "async", MS_SYNCHRONOUS, true },
		{ "noatime", MS_NOATIME, false }, { "relatime", MS_RELATIME, false }, { "strictatime", MS_STRICTATIME, false },
		{ "nodiratime", MS_NODIRATIME, false }, { "private", 0, false }, { "rprivate", 0, false },
	};

	*flags = 0;
	for (size_t i = 0; i < opts->len; i++) {
		bool hit = false;

		for (size_t k = 0; k < WP_ARRAY_LEN(known); k++)
			if (!strcmp(opts->items[i], known[k].name)) {
				if (known[k].clear)
					*flags &= ~known[k].flag;
				else
					*flags |= known[k].flag;
				hit = true;
			}
		if (!hit && ((data->len && wp_buf_putc(data, ',') < 0) || wp_buf_puts(data, opts->items[i]) < 0))
			return -1;
	}
	return 0;
}

void wp_rootfs_unmount_all(const char *target)
{
	for (int i = 0; i < 32 && umount2(target, MNT_DETACH) == 0; i++)
		;
}

int wp_rootfs_mount_all(const char *rootfs, const wp_rootfs_mount *mounts, size_t n, wp_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const wp_rootfs_mount *m = &mounts[i];
		_cleanup_free_ char *target = m->target && *m->target ? wp_str_fmt("%s/%s", rootfs, m->target) : wp_xstrdup(rootfs);
		unsigned long flags;
		wp_buf data;
		int r;

		wp_buf_init(&data, MOUNT_DATA_MAX);
		if (parse_mount_options(&m->options, &flags, &data) < 0) {
			wp_buf_release(&data);
			return wp_error_set(err, WP_EINVALID, "the mount options of '%s' are too long", target);
		}
		if (flags & MS_BIND) {
			r = mount(m->source, target, NULL, flags & (MS_BIND | MS_REC), NULL);
			if (r == 0 && (flags & MS_RDONLY))
				r = mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | (flags & ~(MS_BIND | MS_REC)), NULL);
		} else
			r = mount(m->source, target, m->type, flags, data.len ? data.data : NULL);
		wp_buf_release(&data);
		if (r < 0) {
			int rc = wp_error_sys(err, WP_EIO, "mounting %s '%s' on '%s'", m->type ? m->type : "",
					      m->source ? m->source : "", target);

			wp_rootfs_unmount_all(rootfs);
			return rc;
		}
	}
	return 0;
}
