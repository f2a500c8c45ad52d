#include "oci/archive.h"
#include "oci/graph.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCI_LAYOUT_JSON "{\"imageLayoutVersion\":\"1.0.0\"}"

int wp_archive_closure(wp_store *s, const wp_descriptor *desc, wp_strv *digests, wp_error *err)
{
	wp_blob_source src = wp_store_source(s);

	return wp_graph_closure(&src, desc, digests, err);
}

static int copy_blob(const char *src, const char *dst, wp_error *err)
{
	_cleanup_close_ int in = open(src, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *tmp = wp_str_fmt("%s.tmp-XXXXXX", dst);
	int out;
	struct stat st;
	off_t left;

	if (in < 0 || fstat(in, &st) < 0)
		return wp_error_sys(err, WP_EIO, "reading '%s'", src);
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0)
		return wp_error_sys(err, WP_EIO, "creating '%s'", dst);
	fchmod(out, 0644);
	for (left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			int rc = wp_error_sys(err, WP_EIO, "copying into '%s'", dst);

			close(out);
			unlink(tmp);
			return rc;
		}
		left -= n;
	}
	if (fsync(out) < 0 || close(out) < 0 || rename(tmp, dst) < 0) {
		int rc = wp_error_sys(err, WP_EIO, "writing '%s'", dst);

		unlink(tmp);
		return rc;
	}
	return 0;
}

static int read_layout_index(const char *dir, wp_index *ix, wp_error *err)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/index.json", dir);
	wp_buf data;
	int rc;

	memset(ix, 0, sizeof(*ix));
	if (!wp_fs_exists(path))
		return 0;
	wp_buf_init(&data, WP_MANIFEST_MAX);
	rc = wp_fs_read_file(path, WP_MANIFEST_MAX, &data, err);
	if (rc == 0)
		rc = wp_index_parse(data.data, data.len, ix, err);
	wp_buf_release(&data);
	return rc < 0 ? wp_error_prefix(err, "reading '%s'", path) : 0;
}

/* The entries of ix, minus any that carried `name`, plus desc named `name`. */
static void index_with(const wp_index *ix, const wp_descriptor *desc, const char *name, wp_index *out)
{
	memset(out, 0, sizeof(*out));
	out->manifests = wp_xcalloc(ix->n_manifests + 1, sizeof(*out->manifests));
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *n = wp_kvlist_get(&ix->manifests[i].annotations, WP_ANN_REF_NAME);

		if (n && !strcmp(n, name))
			continue;
		wp_descriptor_copy(&out->manifests[out->n_manifests++], &ix->manifests[i]);
	}
	wp_descriptor_copy(&out->manifests[out->n_manifests], desc);
	wp_kvlist_release(&out->manifests[out->n_manifests].annotations);
	wp_kvlist_set(&out->manifests[out->n_manifests].annotations, WP_ANN_REF_NAME, name);
	out->n_manifests++;
}

int wp_archive_export_dir(wp_store *s, const wp_descriptor *desc, const char *name, const char *dir, wp_error *err)
{
	_cleanup_free_ char *blobs = wp_str_fmt("%s/blobs/sha256", dir);
	_cleanup_free_ char *layout = wp_str_fmt("%s/oci-layout", dir);
	_cleanup_free_ char *index = wp_str_fmt("%s/index.json", dir);
	wp_strv digests = { 0 };
	wp_index old, neu;
	wp_buf data;
	int rc;

	if ((rc = wp_fs_mkdir_p(blobs, 0755, err)) < 0 || (rc = wp_archive_closure(s, desc, &digests, err)) < 0)
		goto out;
	for (size_t i = digests.len; i-- > 0;) {
		_cleanup_free_ char *src = wp_store_blob_path(s, digests.items[i]);
		_cleanup_free_ char *dst = wp_str_fmt("%s/%s", blobs, wp_digest_hex(digests.items[i]));

		if (!wp_fs_exists(dst) && (rc = copy_blob(src, dst, err)) < 0)
			goto out;
	}
	if (!wp_fs_exists(layout) && (rc = wp_fs_write_atomic(layout, OCI_LAYOUT_JSON, strlen(OCI_LAYOUT_JSON), 0644, err)) < 0)
		goto out;
	if ((rc = read_layout_index(dir, &old, err)) < 0)
		goto out;
	index_with(&old, desc, name, &neu);
	wp_index_release(&old);
	wp_buf_init(&data, WP_MANIFEST_MAX);
	rc = wp_index_emit(&neu, &data, err);
	if (rc == 0)
		rc = wp_fs_write_atomic(index, data.data, data.len, 0644, err);
	wp_buf_release(&data);
	wp_index_release(&neu);
out:
	wp_strv_release(&digests);
	return rc < 0 ? wp_error_prefix(err, "writing OCI layout '%s'", dir) : 0;
}

static int tar_add(struct archive *a, struct archive_entry *ae, const char *path, bool dir, const void *data,
		   int64_t size, const char *src, wp_error *err)
{
	archive_entry_clear(ae);
	archive_entry_set_pathname(ae, path);
	archive_entry_set_filetype(ae, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(ae, dir ? 0755 : 0644);
	archive_entry_set_size(ae, dir ? 0 : size);
	archive_entry_set_mtime(ae, 0, 0);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	if (archive_write_header(a, ae) != ARCHIVE_OK)
		return wp_error_set(err, WP_EIO, "writing '%s': %s", path, archive_error_string(a));
	if (data && archive_write_data(a, data, (size_t)size) != size)
		return wp_error_set(err, WP_EIO, "writing '%s': %s", path, archive_error_string(a));
	if (src) {
		char buf[WP_IO_CHUNK];
		_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		if (fd < 0)
			return wp_error_sys(err, WP_EIO, "reading '%s'", src);
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (archive_write_data(a, buf, (size_t)n) != n)
				return wp_error_set(err, WP_EIO, "writing '%s': %s", path, archive_error_string(a));
		if (n < 0)
			return wp_error_sys(err, WP_EIO, "reading '%s'", src);
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The archive of desc, named name, written to fd (file names it in messages). */
static int save_to(wp_store *s, const wp_descriptor *desc, const char *name, int fd, const char *file, wp_error *err)
{
	wp_strv digests = { 0 };
	wp_index empty = { 0 }, ix = { 0 };
	wp_buf index;
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	int rc;

	wp_buf_init(&index, WP_MANIFEST_MAX);
	if ((rc = wp_archive_closure(s, desc, &digests, err)) < 0)
		goto done;
	index_with(&empty, desc, name, &ix);
	if ((rc = wp_index_emit(&ix, &index, err)) < 0)
		goto done;
	qsort(digests.items, digests.len, sizeof(char *), cmp_str);
	a = archive_write_new();
	ae = archive_entry_new();
	if (!a || !ae || archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		rc = wp_error_set(err, WP_EIO, "writing '%s'", file);
		goto done;
	}
	if ((rc = tar_add(a, ae, "blobs/", true, NULL, 0, NULL, err)) < 0 ||
	    (rc = tar_add(a, ae, "blobs/sha256/", true, NULL, 0, NULL, err)) < 0)
		goto done;
	for (size_t i = 0; i < digests.len; i++) {
		_cleanup_free_ char *src = wp_store_blob_path(s, digests.items[i]);
		_cleanup_free_ char *path = wp_str_fmt("blobs/sha256/%s", wp_digest_hex(digests.items[i]));
		int64_t size = 0;

		wp_store_has_blob(s, digests.items[i], &size);
		if ((rc = tar_add(a, ae, path, false, NULL, size, src, err)) < 0)
			goto done;
	}
	if ((rc = tar_add(a, ae, "index.json", false, index.data, (int64_t)index.len, NULL, err)) < 0 ||
	    (rc = tar_add(a, ae, "oci-layout", false, OCI_LAYOUT_JSON, (int64_t)strlen(OCI_LAYOUT_JSON), NULL, err)) < 0)
		goto done;
	if (archive_write_close(a) != ARCHIVE_OK)
		rc = wp_error_set(err, WP_EIO, "writing '%s': %s", file, archive_error_string(a));
done:
	if (a)
		archive_write_free(a);
	if (ae)
		archive_entry_free(ae);
	wp_index_release(&ix);
	wp_buf_release(&index);
	wp_strv_release(&digests);
	return rc;
}

int wp_archive_save(wp_store *s, const wp_descriptor *desc, const char *name, const char *file, wp_error *err)
{
	_cleanup_free_ char *tmp = wp_str_fmt("%s.tmp-XXXXXX", file);
	int fd = mkostemp(tmp, O_CLOEXEC), rc;

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "creating '%s'", file);
	fchmod(fd, 0644);
	if ((rc = save_to(s, desc, name, fd, file, err)) == 0 && (fsync(fd) < 0 || rename(tmp, file) < 0))
		rc = wp_error_sys(err, WP_EIO, "writing '%s'", file);
	close(fd);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

int wp_archive_save_fd(wp_store *s, const wp_descriptor *desc, const char *name, int fd, wp_error *err)
{
	return save_to(s, desc, name, fd, "(standard output)", err);
}

static int load_blob(wp_store *s, struct archive *a, const char *digest, wp_error *err)
{
	wp_store_writer *w;
	char got[WP_DIGEST_BUFSZ];
	int64_t size;
	int rc = wp_store_writer_new(s, &w, err);

	if (rc < 0)
		return rc;
	for (;;) {
		size_t cap;
		void *buf = wp_store_writer_buffer(w, &cap);
		la_ssize_t n;

		n = archive_read_data(a, buf, cap);
		if (n < 0) {
			wp_store_writer_abort(w);
			return wp_error_set(err, WP_EINVALID, "reading blob %s: %s", digest, archive_error_string(a));
		}
		if (n == 0)
			break;
		if ((rc = wp_store_writer_submit(w, (size_t)n, err)) < 0) {
			wp_store_writer_abort(w);
			return rc;
		}
	}
	return wp_store_writer_commit(w, digest, got, &size, err);
}

static int import_archive(wp_store *s, const char *file, wp_index *ix, wp_error *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	wp_buf index;
	bool have_index = false;
	int rc = 0, r;

	memset(ix, 0, sizeof(*ix));
	wp_buf_init(&index, WP_MANIFEST_MAX);
	if (!a)
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	/* "-": standard input (libarchive reads it for a NULL name) */
	if (archive_read_open_filename(a, strcmp(file, "-") ? file : NULL, WP_IO_CHUNK) != ARCHIVE_OK) {
		rc = errno == ENOENT ? wp_error_set(err, WP_ENOTFOUND, "no file '%s'", file) :
		     wp_error_set(err, WP_EINVALID, "'%s' is not a tar archive: %s", file, archive_error_string(a));
		goto done;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const char *path = archive_entry_pathname(ae);
		char digest[WP_DIGEST_BUFSZ];
		int64_t have;

		while (path[0] == '.' && path[1] == '/')
			path += 2;
		if (archive_entry_filetype(ae) != AE_IFREG)
			continue;
		if (!strcmp(path, "index.json")) {
			char buf[WP_IO_CHUNK];
			la_ssize_t n;

			wp_buf_reset(&index);
			while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
				if (wp_buf_append(&index, buf, (size_t)n) < 0) {
					rc = wp_error_set(err, WP_ETOOBIG, "index.json in '%s' is too large", file);
					goto done;
				}
			have_index = n == 0;
			continue;
		}
		if (strncmp(path, "blobs/sha256/", 13) != 0)
			continue;
		snprintf(digest, sizeof(digest), "sha256:%s", path + 13);
		if (!wp_digest_valid(digest)) {
			rc = wp_error_set(err, WP_EINVALID, "'%s' in '%s' is not named by a sha256 digest", path, file);
			goto done;
		}
		/* A blob already here of the right size is kept; one cut short by a crash is
		 * loaded again, and the store replaces it. */
		if (wp_store_has_blob(s, digest, &have) && have == (int64_t)archive_entry_size(ae))
			continue;
		if ((rc = load_blob(s, a, digest, err)) < 0) {
			wp_error_prefix(err, "loading '%s'", file);
			goto done;
		}
	}
	if (r != ARCHIVE_EOF) {
		rc = wp_error_set(err, WP_EINVALID, "reading '%s': %s", file, archive_error_string(a));
		goto done;
	}
	if (!have_index) {
		rc = wp_error_set(err, WP_EINVALID, "'%s' is not an OCI archive: it has no index.json", file);
		goto done;
	}
	if ((rc = wp_index_parse(index.data, index.len, ix, err)) < 0)
		goto done;
	/* Check every image first, so that a broken archive tags nothing. */
	for (size_t i = 0; i < ix->n_manifests; i++) {
		wp_strv all = { 0 };

		rc = wp_archive_closure(s, &ix->manifests[i], &all, err);
		wp_strv_release(&all);
		if (rc < 0) {
			wp_error_prefix(err, "'%s' is incomplete", file);
			goto done;
		}
	}
done:
	if (rc < 0)
		wp_index_release(ix);
	wp_buf_release(&index);
	archive_read_free(a);
	return rc;
}

/* Copies the blob named digest from a layout folder into the store, checking it. */
static int import_blob(wp_store *s, const char *dir, const char *digest, wp_error *err)
{
	_cleanup_free_ char *path = NULL;
	char got[WP_DIGEST_BUFSZ];
	int64_t size;
	int rc;

	if ((rc = wp_digest_check(digest, err)) < 0)
		return rc;
	if (wp_store_has_blob(s, digest, NULL))
		return 0;
	path = wp_str_fmt("%s/blobs/sha256/%s", dir, wp_digest_hex(digest));
	if ((rc = wp_store_ingest_file(s, path, NULL, got, &size, err)) < 0)
		return rc;
	if (strcmp(got, digest))
		return wp_error_set(err, WP_EDIGEST, "'%s' holds %s, not %s", path, got, digest);
	return 0;
}

typedef struct import_ctx {
	wp_store *s;
	const char *dir;
} import_ctx;

/* The layout folder seen through the store: a blob is imported (checked against its
 * digest; one the store has is kept, as a load of an image it already holds needs no
 * copy of it) and read from the store. */
static int import_read(void *ctx, const char *digest, const char *media_type, size_t max, wp_buf *out, wp_error *err)
{
	import_ctx *c = ctx;
	int rc;

	(void)media_type;
	if ((rc = import_blob(c->s, c->dir, digest, err)) < 0)
		return rc;
	return wp_store_read_blob(c->s, digest, max, out, err);
}

static int import_has(void *ctx, const char *digest, wp_error *err)
{
	import_ctx *c = ctx;
	_cleanup_free_ char *path = NULL;

	(void)err;
	if (!wp_digest_valid(digest))
		return 0;
	path = wp_str_fmt("%s/blobs/sha256/%s", c->dir, wp_digest_hex(digest));
	return wp_store_has_blob(c->s, digest, NULL) || wp_fs_exists(path) ? 1 : 0;
}

static int import_visit(void *ctx, const wp_graph_node *n, wp_error *err)
{
	import_ctx *c = ctx;

	return import_blob(c->s, c->dir, n->desc->digest, err);
}

/* What d reaches in the layout folder dir, copied into s, each blob before what names it. */
static int import_tree(wp_store *s, const char *dir, const wp_descriptor *d, wp_error *err)
{
	import_ctx c = { .s = s, .dir = dir };
	wp_blob_source src = { .read = import_read, .has = import_has, .ctx = &c };

	return wp_graph_walk(&src, d, WP_GRAPH_CHILDREN_FIRST, NULL, import_visit, &c, err);
}

static int import_dir(wp_store *s, const char *dir, wp_index *ix, wp_error *err)
{
	int rc = read_layout_index(dir, ix, err);

	if (rc == 0 && !ix->manifests) {
		rc = wp_error_set(err, WP_ENOTFOUND, "'%s' is not an OCI image layout (no index.json)", dir);
		wp_index_release(ix);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < ix->n_manifests; i++)
		rc = import_tree(s, dir, &ix->manifests[i], err);
	if (rc < 0) {
		wp_error_prefix(err, "reading '%s'", dir);
		wp_index_release(ix);
	}
	return rc;
}

int wp_archive_import(wp_store *s, const char *path, bool is_dir, const char *name, wp_descriptor *desc,
		      char **found_name, wp_error *err)
{
	wp_index ix;
	const wp_descriptor *pick = NULL;
	int rc;

	memset(desc, 0, sizeof(*desc));
	if (found_name)
		*found_name = NULL;
	rc = is_dir ? import_dir(s, path, &ix, err) : import_archive(s, path, &ix, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ix.n_manifests; i++) {
		const char *n = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);

		if (name ? (n && !strcmp(n, name)) : ix.n_manifests == 1)
			pick = &ix.manifests[i];
	}
	if (!pick && name)
		rc = wp_error_set(err, WP_ENOTFOUND, "'%s' has no image named '%s'", path, name);
	else if (!pick)
		rc = wp_error_set(err, WP_EUSAGE, "'%s' holds %zu images: name one as PATH:NAME", path, ix.n_manifests);
	if (rc == 0) {
		const char *n = wp_kvlist_get(&pick->annotations, WP_ANN_REF_NAME);

		wp_descriptor_copy(desc, pick);
		if (found_name && n)
			*found_name = wp_xstrdup(n);
	}
	wp_index_release(&ix);
	return rc;
}

int wp_archive_load(wp_store *s, const char *file, wp_strv *names, wp_error *err)
{
	wp_index ix;
	int rc = import_archive(s, file, &ix, err);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < ix.n_manifests; i++) {
		const char *n = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);
		wp_descriptor d;
		wp_ref ref;
		char *full = NULL;

		if (n && wp_ref_parse(n, &ref, NULL) == 0) {
			full = wp_ref_string(&ref);
			wp_ref_release(&ref);
		} else if (n) {
			wp_warn("'%s' in '%s' is not an image reference: left untagged", n, file);
		}
		if (!full) {
			wp_strv_push(names, ix.manifests[i].digest);
			continue;
		}
		wp_descriptor_copy(&d, &ix.manifests[i]);
		wp_kvlist_release(&d.annotations);
		rc = wp_store_tag(s, full, &d, err);
		wp_descriptor_release(&d);
		if (rc == 0)
			wp_strv_push(names, full);
		free(full);
		if (rc < 0)
			break;
	}
	wp_index_release(&ix);
	return rc;
}
