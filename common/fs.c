#include "common/fs.h"
#include "common/path.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int wp_fs_mkdir_p(const char *path, mode_t mode, wp_error *err)
{
	_cleanup_free_ char *p = wp_xstrdup(path);
	char *s;
	struct stat st;

	for (s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char saved = *s;

			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST)
				return wp_error_sys(err, WP_EIO, "creating folder '%s'", p);
			if (saved == '\0')
				break;
			*s = saved;
		}
	}
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return wp_error_set(err, WP_EIO, "'%s' is not a folder", path);
	return 0;
}

int wp_fs_fsync_dir(const char *dir, wp_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening folder '%s'", dir);
	if (fsync(fd) < 0 && errno != EINVAL) {
		close(fd);
		return wp_error_sys(err, WP_EIO, "syncing folder '%s'", dir);
	}
	close(fd);
	return 0;
}

static int write_replace(const char *path, const void *data, size_t len, mode_t mode, bool durable, wp_error *err)
{
	wp_buf dir, tmp;
	int fd = -1, rc = 0;
	const char *p = data;

	wp_buf_init(&dir, 4096);
	wp_buf_init(&tmp, 4096);
	if (wp_path_dirname(path, &dir) < 0 || wp_buf_printf(&tmp, "%s.tmp-XXXXXX", path) < 0) {
		rc = wp_error_set(err, WP_ETOOBIG, "path too long: '%s'", path);
		goto done;
	}
	fd = mkostemp(tmp.data, O_CLOEXEC);
	if (fd < 0) {
		rc = wp_error_sys(err, WP_EIO, "creating a temp file beside '%s'", path);
		goto done;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wp_error_sys(err, WP_EIO, "writing '%s'", path);
			goto done;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || (durable && fsync(fd) < 0)) {
		rc = wp_error_sys(err, WP_EIO, "writing '%s'", path);
		goto done;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = wp_error_sys(err, WP_EIO, "writing '%s'", path);
		goto done;
	}
	fd = -1;
	if (rename(tmp.data, path) < 0) {
		rc = wp_error_sys(err, WP_EIO, "renaming into '%s'", path);
		goto done;
	}
	wp_buf_reset(&tmp);
	if (durable)
		rc = wp_fs_fsync_dir(dir.data, err);
done:
	if (fd >= 0)
		close(fd);
	if (tmp.len)
		unlink(tmp.data);
	wp_buf_release(&dir);
	wp_buf_release(&tmp);
	return rc;
}

int wp_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, wp_error *err)
{
	return write_replace(path, data, len, mode, true, err);
}

int wp_fs_write_replace(const char *path, const void *data, size_t len, mode_t mode, wp_error *err)
{
	return write_replace(path, data, len, mode, false, err);
}

int wp_fs_read_file(const char *path, size_t max, wp_buf *out, wp_error *err)
{
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening '%s'", path);
	wp_buf_reset(out);
	out->max = max;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wp_error_sys(err, WP_EIO, "reading '%s'", path);
			break;
		}
		if (n == 0)
			break;
		rc = wp_buf_append(out, chunk, (size_t)n);
		if (rc == WP_ETOOBIG) {
			rc = wp_error_set(err, WP_ETOOBIG, "'%s' is larger than %zu bytes", path, max);
			break;
		}
		if (rc < 0) {
			rc = wp_error_set(err, rc, "reading '%s': out of memory", path);
			break;
		}
	}
	close(fd);
	if (rc == 0 && !out->data)
		rc = wp_buf_append(out, "", 0);
	return rc;
}

bool wp_fs_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int rm_rf_at(int dfd, const char *name, wp_error *err)
{
	struct stat st;
	int fd;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : wp_error_sys(err, WP_EIO, "removing '%s'", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return wp_error_sys(err, WP_EIO, "removing '%s'", name);
		return 0;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening '%s'", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return wp_error_sys(err, WP_EIO, "opening '%s'", name);
	}
	while (rc == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rc = rm_rf_at(dirfd(d), de->d_name, err);
	}
	closedir(d);
	if (rc == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return wp_error_sys(err, WP_EIO, "removing '%s'", name);
	return rc;
}

int wp_fs_rm_rf(const char *path, wp_error *err)
{
	if (!path[0] || !strcmp(path, "/"))
		return wp_error_set(err, WP_EINVALID, "refusing to remove '%s'", path);
	return rm_rf_at(AT_FDCWD, path, err);
}
