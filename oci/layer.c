#include "oci/layer.h"
#include "common/progress.h"
#include "oci/gzip.h"
#include "common/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static wp_layer_entry *find(const wp_layer_list *l, const char *dest)
{
	json_t *pos = l->index ? json_object_get(l->index, dest) : NULL;

	return pos ? &l->items[json_integer_value(pos)] : NULL;
}

const wp_layer_entry *wp_layer_list_get(const wp_layer_list *l, const char *dest)
{
	return find(l, dest);
}

/* Positions change when the list is sorted: the index is rebuilt. */
static void reindex(wp_layer_list *l)
{
	if (!l->index)
		l->index = json_object();
	json_object_clear(l->index);
	for (size_t i = 0; i < l->len; i++)
		json_object_set_new(l->index, l->items[i].dest, json_integer((json_int_t)i));
}

int wp_layer_list_add(wp_layer_list *l, const char *dest, const char *src, const struct stat *st,
		      unsigned mode, wp_error *err)
{
	wp_layer_entry *items, *e;

	if (find(l, dest)) {
		if (!src && S_ISDIR(find(l, dest)->st.st_mode))
			return 0;
		return wp_error_set(err, WP_EEXISTS, "two inputs would both be written to '/%s'", dest);
	}
	items = wp_xrealloc(l->items, (l->len + 1) * sizeof(*items));
	l->items = items;
	e = &items[l->len];
	memset(e, 0, sizeof(*e));
	e->dest = wp_xstrdup(dest);
	e->src = src ? wp_xstrdup(src) : NULL;
	e->mode = mode;
	if (st)
		e->st = *st;
	if (!src)
		e->st.st_mode = S_IFDIR | 0755;
	if (!l->index)
		l->index = json_object();
	json_object_set_new(l->index, e->dest, json_integer((json_int_t)l->len));
	l->len++;
	return 0;
}

int wp_layer_list_add_link(wp_layer_list *l, const char *dest, const char *target, wp_error *err)
{
	struct stat st = { .st_mode = S_IFLNK | 0777 };
	wp_layer_entry *e;
	int rc;

	if (find(l, dest))
		return wp_error_set(err, WP_EEXISTS, "two inputs would both be written to '/%s'", dest);
	/* added as a folder first (no source), then made a link */
	if ((rc = wp_layer_list_add(l, dest, NULL, NULL, 0777, err)) < 0)
		return rc;
	e = &l->items[l->len - 1];
	e->st = st;
	e->link = wp_xstrdup(target);
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const wp_layer_entry *)a)->dest, ((const wp_layer_entry *)b)->dest);
}

int wp_layer_list_finish(wp_layer_list *l, wp_error *err)
{
	size_t n = l->len;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = wp_xstrdup(l->items[i].dest);
		char *slash;

		while ((slash = strrchr(path, '/'))) {
			wp_layer_entry *p;

			*slash = '\0';
			p = find(l, path);
			if (p && !S_ISDIR(p->st.st_mode))
				return wp_error_set(err, WP_EEXISTS, "'/%s' is a file and also a folder of '/%s'",
						    path, l->items[i].dest);
			if (!p && wp_layer_list_add(l, path, NULL, NULL, 0755, err) < 0)
				return err->code;
		}
	}
	if (l->len)
		qsort(l->items, l->len, sizeof(*l->items), cmp_entry);
	reindex(l);
	return 0;
}

void wp_layer_list_release(wp_layer_list *l)
{
	for (size_t i = 0; i < l->len; i++) {
		free(l->items[i].dest);
		free(l->items[i].src);
		free(l->items[i].link);
	}
	free(l->items);
	json_decref(l->index);
	l->index = NULL;
	l->items = NULL;
	l->len = 0;
}

int wp_layer_list_key(const wp_layer_list *l, int level, char key[WP_DIGEST_BUFSZ], wp_error *err)
{
	wp_digest_ctx h;
	char head[64];
	int rc = wp_digest_init(&h, err);

	if (rc < 0)
		return rc;
	snprintf(head, sizeof(head), "wasmpack-layer-v2 tar+gzip level=%d%s", level, l->no_diff_id ? " no-diff-id" : "");
	wp_digest_update(&h, head, strlen(head) + 1);
	for (size_t i = 0; i < l->len; i++) {
		const wp_layer_entry *e = &l->items[i];
		char mode[16];

		if (e->src && !e->digest[0]) {
			wp_digest_release(&h);
			return wp_error_set(err, WP_EINVALID, "content of '%s' not hashed yet", e->src);
		}
		snprintf(mode, sizeof(mode), "%o", e->mode);
		wp_digest_update(&h, e->dest, strlen(e->dest) + 1);
		wp_digest_update(&h, mode, strlen(mode) + 1);
		if (e->link) {
			wp_digest_update(&h, "link", 5);
			wp_digest_update(&h, e->link, strlen(e->link) + 1);
		} else {
			wp_digest_update(&h, e->src ? e->digest : "dir", strlen(e->src ? e->digest : "dir") + 1);
		}
	}
	wp_digest_final(&h, key);
	wp_digest_release(&h);
	return 0;
}

typedef struct tar_ctx {
	bool no_diff;
	wp_digest_ctx diff;
	wp_gzip *gz;
	wp_store_writer *bw;
	wp_error *err;
	int rc;
	int64_t skip; /* zeros libarchive writes for contents that went straight to gzip */
	wp_progress *progress;
	size_t progress_item;
} tar_ctx;

static int gz_sink(void *ctx, const void *data, size_t len, wp_error *err)
{
	return wp_store_writer_put(((tar_ctx *)ctx)->bw, data, len, err);
}

static bool all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

static la_ssize_t tar_sink(struct archive *a, void *ctx, const void *data, size_t size)
{
	tar_ctx *t = ctx;
	const unsigned char *buf = data;
	size_t len = size;
	int rc;

	if (t->skip) {
		size_t k = (uint64_t)t->skip < len ? (size_t)t->skip : len;

		if (!all_zero(buf, k)) {
			t->rc = wp_error_set(t->err, WP_EIO, "tar stream out of step: libarchive wrote data where zeros were due");
			archive_set_error(a, EIO, "%s", t->err->msg);
			return -1;
		}
		t->skip -= (int64_t)k;
		buf += k;
		len -= k;
		if (!len)
			return (la_ssize_t)size;
	}
	if (!t->no_diff)
		wp_digest_update(&t->diff, buf, len);
	/* what libarchive writes is headers and padding; contents come from write_file */
	wp_gzip_hint(t->gz, WP_GZIP_FRAMING);
	rc = wp_gzip_write(t->gz, buf, len, t->err);
	if (rc < 0) {
		t->rc = rc;
		archive_set_error(a, EIO, "%s", t->err->msg);
		return -1;
	}
	return (la_ssize_t)size;
}

/* A file's bytes into the tar stream. They are read straight into the gzip chunk being
 * filled (the one copy read makes) rather than passed through libarchive, which wrote the
 * header and, when the entry ends, writes zeros for the contents it did not see and then
 * the padding: tar_sink drops those zeros. A digest not known yet is taken from the same
 * bytes on the way, so each file is read once. */
static int write_file(tar_ctx *t, wp_layer_entry *e)
{
	_cleanup_close_ int fd = open(e->src, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int64_t total = 0;
	wp_digest_ctx h = { 0 };
	bool hash = e->digest[0] == '\0';
	int rc;

	if (fd < 0)
		return wp_error_sys(t->err, WP_EIO, "opening '%s'", e->src);
	if (fstat(fd, &st) < 0)
		return wp_error_sys(t->err, WP_EIO, "reading '%s'", e->src);
	if (st.st_size != e->st.st_size || st.st_mtim.tv_sec != e->st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != e->st.st_mtim.tv_nsec)
		return wp_error_set(t->err, WP_EIO, "'%s' changed while the image was being built", e->src);
	if (hash && (rc = wp_digest_init(&h, t->err)) < 0)
		return rc;
	if (st.st_size > (128 << 10))
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	wp_gzip_hint(t->gz, WP_GZIP_CONTENT);
	/* Reading stops at the size the header gives: a file that grows meanwhile is taken as
	 * it was, its digest from the same bytes. */
	while (total < e->st.st_size) {
		size_t room;
		unsigned char *p = wp_gzip_reserve(t->gz, &room, t->err);
		ssize_t n;

		if (!p) {
			rc = t->err->code;
			goto fail;
		}
		if ((uint64_t)(e->st.st_size - total) < room)
			room = (size_t)(e->st.st_size - total);
		n = read(fd, p, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wp_error_sys(t->err, WP_EIO, "reading '%s'", e->src);
			goto fail;
		}
		if (n == 0)
			break;
		if (hash)
			wp_digest_update(&h, p, (size_t)n);
		if (!t->no_diff)
			wp_digest_update(&t->diff, p, (size_t)n);
		if ((rc = wp_gzip_commit(t->gz, (size_t)n, t->err)) < 0)
			goto fail;
		total += n;
		wp_progress_add(t->progress, t->progress_item, n);
	}
	if (total != e->st.st_size) {
		rc = wp_error_set(t->err, WP_EIO, "'%s' changed while the image was being built", e->src);
		goto fail;
	}
	t->skip = total;
	if (hash) {
		wp_digest_final(&h, e->digest);
		wp_digest_release(&h);
	}
	return 0;
fail:
	if (hash)
		wp_digest_release(&h);
	return rc;
}

int wp_layer_write_tar_gzip(wp_store *s, wp_layer_list *l, int level, int threads,
			    wp_layer_result *res, wp_error *err)
{
	tar_ctx t = { .err = err, .no_diff = l->no_diff_id, .progress = l->progress, .progress_item = l->progress_item };
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = wp_digest_init(&t.diff, err)) < 0)
		return rc;
	/* The compressed stream is hashed and written by gzip's in-order thread, straight from
	 * its chunk buffers (wp_store_writer_put): this thread reads the files and fills chunks. */
	if ((rc = wp_store_writer_new(s, &t.bw, err)) < 0)
		goto done;
	if ((rc = wp_gzip_new(&t.gz, level, threads, gz_sink, &t, err)) < 0)
		goto done;
	a = archive_write_new();
	ae = archive_entry_new();
	if (!a || !ae) {
		rc = wp_error_set(err, WP_ENOMEM, "out of memory");
		goto done;
	}
	/* Unblocked output: no padding to 10 KiB records, only the two end-of-archive blocks. */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open2(a, &t, NULL, tar_sink, NULL, NULL) != ARCHIVE_OK) {
		rc = wp_error_set(err, WP_EIO, "starting a tar stream: %s", archive_error_string(a));
		goto done;
	}
	for (size_t i = 0; i < l->len; i++) {
		wp_layer_entry *e = &l->items[i];

		archive_entry_clear(ae);
		archive_entry_set_pathname(ae, e->dest);
		archive_entry_set_filetype(ae, e->link ? AE_IFLNK : e->src ? AE_IFREG : AE_IFDIR);
		if (e->link)
			archive_entry_set_symlink(ae, e->link);
		archive_entry_set_perm(ae, e->mode);
		archive_entry_set_size(ae, e->src ? e->st.st_size : 0);
		archive_entry_set_mtime(ae, 0, 0);
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		if (archive_write_header(a, ae) != ARCHIVE_OK) {
			rc = t.rc < 0 ? t.rc : wp_error_set(err, WP_EIO, "writing tar entry '%s': %s", e->dest,
							     archive_error_string(a));
			goto done;
		}
		if (e->src && (rc = write_file(&t, e)) < 0)
			goto done;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		rc = t.rc < 0 ? t.rc : wp_error_set(err, WP_EIO, "finishing tar stream: %s", archive_error_string(a));
		goto done;
	}
	if ((rc = wp_gzip_finish(t.gz, err)) < 0)
		goto done;
	if (!t.no_diff)
		wp_digest_final(&t.diff, res->diff_id);
	else
		res->diff_id[0] = '\0';
	rc = wp_store_writer_commit(t.bw, NULL, res->digest, &res->size, err);
	t.bw = NULL;
done:
	if (a)
		archive_write_free(a);
	if (ae)
		archive_entry_free(ae);
	wp_gzip_free(t.gz);
	wp_store_writer_abort(t.bw);
	wp_digest_release(&t.diff);
	return rc;
}
