#include "oci/store.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "common/path.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OCI_LAYOUT_JSON "{\"imageLayoutVersion\":\"1.0.0\"}"
#define EMPTY_INDEX "{\"schemaVersion\":2,\"mediaType\":\"" WP_MT_OCI_INDEX "\",\"manifests\":[]}"

char *wp_store_private_path(const wp_store *s, const char *name)
{
	return wp_str_fmt("%s/.wasmpack/%s", s->root, name);
}

static int ensure_file(const char *path, const char *content, wp_error *err)
{
	if (wp_fs_exists(path))
		return 0;
	return wp_fs_write_atomic(path, content, strlen(content), 0644, err);
}

enum { ROOT_ABSENT, ROOT_STORE, ROOT_OTHER };

/* Whether root is a store, nothing yet (missing, or an empty folder), or something else. */
static int root_kind(const char *root)
{
	_cleanup_free_ char *layout = wp_str_fmt("%s/oci-layout", root);
	struct stat st;
	DIR *d;
	struct dirent *e;
	int kind = ROOT_ABSENT;

	if (stat(root, &st) < 0)
		return errno == ENOENT ? ROOT_ABSENT : ROOT_OTHER;
	if (!S_ISDIR(st.st_mode))
		return ROOT_OTHER;
	if (stat(layout, &st) == 0 && S_ISREG(st.st_mode))
		return ROOT_STORE;
	if (!(d = opendir(root)))
		return ROOT_OTHER;
	/* a store's own first entries are a store being made when a crash came: finished */
	while ((e = readdir(d)) && kind != ROOT_OTHER) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, "blobs") && strcmp(e->d_name, ".wasmpack") && strcmp(e->d_name, "index.json"))
			kind = ROOT_OTHER;
		else
			kind = ROOT_STORE;
	}
	closedir(d);
	return kind;
}

int wp_store_open(wp_store *s, const char *root, int mode, wp_error *err)
{
	_cleanup_free_ char *blobs = NULL, *priv = NULL, *tmp = NULL, *layout = NULL, *index = NULL, *lock = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	switch (root_kind(root)) {
	case ROOT_OTHER:
		return wp_error_set(err, WP_EINVALID,
				    "'%s' is not a store (it has no oci-layout file) and not empty: not using it as one; "
				    "give --store a store, or a new or empty folder",
				    root);
	case ROOT_ABSENT:
		if (mode & WP_STORE_NOCREATE)
			return wp_error_set(err, WP_ENOTFOUND, "no store at '%s' (nothing was built, pulled or loaded there)",
					    root);
		break;
	}
	if ((rc = wp_fs_check_owner(root, "the store", err)) < 0)
		return rc;
	{
		_cleanup_free_ char *own = wp_str_fmt("%s/.wasmpack", root);

		if ((rc = wp_fs_check_owner(own, "the store's", err)) < 0)
			return rc;
	}
	s->root = wp_xstrdup(root);
	blobs = wp_str_fmt("%s/blobs/sha256", root);
	priv = wp_str_fmt("%s/.wasmpack", root);
	tmp = wp_str_fmt("%s/.wasmpack/tmp", root);
	layout = wp_str_fmt("%s/oci-layout", root);
	index = wp_str_fmt("%s/index.json", root);
	lock = wp_str_fmt("%s/.wasmpack/lock", root);
	if ((rc = wp_fs_mkdir_p(blobs, 0755, err)) < 0 || (rc = wp_fs_mkdir_p(tmp, 0700, err)) < 0 ||
	    (rc = wp_fs_private_dir(priv, err)) < 0) {
		wp_store_close(s);
		return wp_error_prefix(err, "opening store '%s'", root);
	}
	/* the owner's alone (0600): another user who could open it could hold it */
	s->lock_fd = wp_fs_lock_open(lock, err);
	if (s->lock_fd < 0) {
		rc = err->code;
		wp_store_close(s);
		return rc;
	}
	if (flock(s->lock_fd, ((mode & WP_STORE_EXCLUSIVE) ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		wp_info("waiting for other wasmpack processes using the store '%s'", root);
		if (flock(s->lock_fd, (mode & WP_STORE_EXCLUSIVE) ? LOCK_EX : LOCK_SH) < 0) {
			rc = wp_error_sys(err, WP_EIO, "locking store '%s'", root);
			wp_store_close(s);
			return rc;
		}
	}
	if ((rc = ensure_file(layout, OCI_LAYOUT_JSON, err)) < 0 || (rc = ensure_file(index, EMPTY_INDEX, err)) < 0) {
		wp_store_close(s);
		return wp_error_prefix(err, "opening store '%s'", root);
	}
	return 0;
}

int wp_store_open_readonly(wp_store *s, const char *root, wp_error *err)
{
	_cleanup_free_ char *blobs = wp_str_fmt("%s/blobs/sha256", root);

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	if (!wp_fs_exists(blobs))
		return wp_error_set(err, WP_ENOTFOUND, "'%s' holds no blobs/sha256 folder", root);
	s->root = wp_xstrdup(root);
	return 0;
}

void wp_store_close(wp_store *s)
{
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	s->lock_fd = -1;
	free(s->root);
	s->root = NULL;
}

char *wp_store_blob_path(const wp_store *s, const char *digest)
{
	return wp_str_fmt("%s/blobs/sha256/%s", s->root, wp_digest_hex(digest));
}

bool wp_store_has_blob(const wp_store *s, const char *digest, int64_t *size)
{
	_cleanup_free_ char *path = NULL;
	struct stat st;

	if (!wp_digest_valid(digest))
		return false;
	path = wp_store_blob_path(s, digest);
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (size)
		*size = (int64_t)st.st_size;
	return true;
}

/* An unnamed file in the blobs folder (O_TMPFILE) vanishes with the process if it dies;
 * where the file system has no O_TMPFILE, a named file under .wasmpack/tmp is used. */
static int open_temp(wp_store *s, int *fd, char **tmp_path, wp_error *err)
{
	_cleanup_free_ char *dir = wp_str_fmt("%s/blobs/sha256", s->root);
	char *path;

	*tmp_path = NULL;
	*fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (*fd >= 0)
		return 0;
	path = wp_store_private_path(s, "tmp/blob-XXXXXX");
	*fd = mkostemp(path, O_CLOEXEC);
	if (*fd < 0) {
		int rc = wp_error_sys(err, WP_EIO, "creating a temp file in store '%s'", s->root);

		free(path);
		return rc;
	}
	fchmod(*fd, 0644);
	*tmp_path = path;
	return 0;
}

/* Like git's objects, blobs are not fsynced unless asked (WASMPACK_FSYNC=1): a blob is
 * named by its content and checked against it when read, and syncing a large blob costs
 * several times what hashing it does. index.json is always written durably. */
static bool want_fsync(void)
{
	const char *v = getenv("WASMPACK_FSYNC");

	return v && !strcmp(v, "1");
}

/* Whether the blob file at path holds exactly size bytes that hash to digest: what a
 * crash without fsync leaves (an empty or short file) or a damaged disk does not. */
static bool blob_file_intact(const char *path, const char *digest, int64_t size)
{
	struct stat st;
	char got[WP_DIGEST_BUFSZ];

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (size >= 0 && st.st_size != size))
		return false;
	return wp_digest_file(path, got, NULL, NULL) == 0 && !strcmp(got, digest);
}

/* Gives the finished temp file its content-addressed name. An existing blob that verifies
 * is kept; one that does not is replaced, atomically (rename over it), so a reader sees
 * either the damaged file or the good one, never a missing or partial one. */
static int link_temp(wp_store *s, int fd, const char *tmp_path, const char *digest, int64_t size, wp_error *err)
{
	_cleanup_free_ char *final = wp_store_blob_path(s, digest);
	_cleanup_free_ char *side = NULL;
	char proc[64];
	int r;

	if (want_fsync() && fsync(fd) < 0)
		return wp_error_sys(err, WP_EIO, "writing blob %s", digest);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (tmp_path)
		r = link(tmp_path, final);
	else
		r = linkat(AT_FDCWD, proc, AT_FDCWD, final, AT_SYMLINK_FOLLOW);
	if (r == 0)
		return 0;
	if (errno != EEXIST)
		return wp_error_sys(err, WP_EIO, "storing blob %s", digest);
	if (blob_file_intact(final, digest, size))
		return 0;
	wp_warn("blob %s in the store was damaged: replaced", digest);
	if (tmp_path) {
		r = rename(tmp_path, final);
	} else {
		side = wp_str_fmt("%s/blobs/sha256/.%s.repair-%ld", s->root, wp_digest_hex(digest), (long)getpid());
		unlink(side);
		r = linkat(AT_FDCWD, proc, AT_FDCWD, side, AT_SYMLINK_FOLLOW);
		if (r == 0 && (r = rename(side, final)) < 0)
			unlink(side);
	}
	if (r < 0)
		return wp_error_sys(err, WP_EIO, "replacing damaged blob %s", digest);
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int wp_store_put_blob(wp_store *s, const void *data, size_t len, char digest[WP_DIGEST_BUFSZ], wp_error *err)
{
	char *tmp_path = NULL;
	int fd = -1, rc;

	_cleanup_free_ char *final = NULL;

	rc = wp_digest_bytes(data, len, digest, err);
	if (rc < 0)
		return rc;
	final = wp_store_blob_path(s, digest);
	if (blob_file_intact(final, digest, (int64_t)len))
		return 0;
	rc = open_temp(s, &fd, &tmp_path, err);
	if (rc < 0)
		return rc;
	if (write_all(fd, data, len) < 0)
		rc = wp_error_sys(err, WP_EIO, "writing blob %s", digest);
	else
		rc = link_temp(s, fd, tmp_path, digest, (int64_t)len, err);
	close(fd);
	if (tmp_path)
		unlink(tmp_path);
	free(tmp_path);
	return rc;
}

static int source_read(void *ctx, const char *digest, const char *media_type, size_t max, wp_buf *out, wp_error *err)
{
	(void)media_type;
	return wp_store_read_blob(ctx, digest, max, out, err);
}

static int source_has(void *ctx, const char *digest, wp_error *err)
{
	(void)err;
	return wp_store_has_blob(ctx, digest, NULL) ? 1 : 0;
}

wp_blob_source wp_store_source(wp_store *s)
{
	return (wp_blob_source){ .read = source_read, .has = source_has, .ctx = s };
}

int wp_store_read_blob(wp_store *s, const char *digest, size_t max, wp_buf *out, wp_error *err)
{
	_cleanup_free_ char *path = NULL;
	char got[WP_DIGEST_BUFSZ];
	int rc;

	if ((rc = wp_digest_check(digest, err)) < 0)
		return rc;
	path = wp_store_blob_path(s, digest);
	rc = wp_fs_read_file(path, max, out, err);
	if (rc == WP_ENOTFOUND)
		return wp_error_set(err, WP_ENOTFOUND, "blob %s is not in the store", digest);
	if (rc < 0)
		return rc;
	if ((rc = wp_digest_bytes(out->data, out->len, got, err)) < 0)
		return rc;
	if (strcmp(got, digest))
		return wp_error_set(err, WP_EDIGEST, "blob %s in the store has digest %s: the store is damaged",
				    digest, got);
	return 0;
}

/* ---- streaming writer ---- */

/* 4 MiB queued per blob at most, in pieces small enough that the one thread receiving
 * every blob of a pull seldom waits for a blob's writer (hashing and writing) to free one */
#define SLOTS 8
#define SLOT_SIZE (512u << 10)

struct wp_store_writer {
	wp_store *store;
	int fd;
	char *tmp_path;
	wp_digest_ctx hash;
	int64_t size;
	unsigned char *bufs[SLOTS];
	size_t lens[SLOTS];
	unsigned head, tail, queued;
	size_t fill;          /* bytes in bufs[head] filled by wp_store_writer_write */
	unsigned char *stage; /* small pieces gathered by wp_store_writer_put */
	size_t staged;
	bool thread_started, stop;
	int write_errno;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

static void *writer_main(void *arg)
{
	wp_store_writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		unsigned idx;
		int r;

		while (w->queued == 0 && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->queued == 0)
			break;
		idx = w->tail;
		pthread_mutex_unlock(&w->mu);
		/* hashed here, not on the thread that fills the buffers (a pull's one receiving
		 * thread for every blob at once): each blob's hash runs on its own thread */
		wp_digest_update(&w->hash, w->bufs[idx], w->lens[idx]);
		r = w->write_errno ? 0 : write_all(w->fd, w->bufs[idx], w->lens[idx]);
		pthread_mutex_lock(&w->mu);
		if (r < 0 && !w->write_errno)
			w->write_errno = errno ? errno : EIO;
		w->tail = (w->tail + 1) % SLOTS;
		w->queued--;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int wp_store_writer_new(wp_store *s, wp_store_writer **out, wp_error *err)
{
	wp_store_writer *w = wp_xcalloc(1, sizeof(*w));
	int rc;

	*out = NULL;
	w->store = s;
	w->fd = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if ((rc = wp_digest_init(&w->hash, err)) < 0) {
		wp_store_writer_abort(w);
		return rc;
	}
	if ((rc = open_temp(s, &w->fd, &w->tmp_path, err)) < 0) {
		wp_store_writer_abort(w);
		return rc;
	}
	*out = w;
	return 0;
}

void *wp_store_writer_buffer(wp_store_writer *w, size_t *cap)
{
	pthread_mutex_lock(&w->mu);
	while (w->queued == SLOTS)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (!w->bufs[w->head])
		w->bufs[w->head] = wp_xmalloc(SLOT_SIZE);
	*cap = SLOT_SIZE;
	return w->bufs[w->head];
}

int wp_store_writer_submit(wp_store_writer *w, size_t len, wp_error *err)
{
	int werr;

	if (len == 0)
		return 0;
	w->size += (int64_t)len;
	if (!w->thread_started) {
		if (pthread_create(&w->thread, NULL, writer_main, w) != 0)
			return wp_error_set(err, WP_EIO, "starting a writer thread failed");
		w->thread_started = true;
	}
	pthread_mutex_lock(&w->mu);
	w->lens[w->head] = len;
	w->head = (w->head + 1) % SLOTS;
	w->queued++;
	werr = w->write_errno;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	if (werr) {
		errno = werr;
		return wp_error_sys(err, WP_EIO, "writing a blob into the store");
	}
	return 0;
}

int wp_store_writer_write(wp_store_writer *w, const void *data, size_t len, wp_error *err)
{
	const unsigned char *p = data;

	while (len > 0) {
		size_t cap, n;
		unsigned char *buf = wp_store_writer_buffer(w, &cap);
		int rc;

		n = cap - w->fill < len ? cap - w->fill : len;
		memcpy(buf + w->fill, p, n);
		w->fill += n;
		p += n;
		len -= n;
		if (w->fill == cap) {
			w->fill = 0;
			if ((rc = wp_store_writer_submit(w, cap, err)) < 0)
				return rc;
		}
	}
	return 0;
}

/* The writer thread's queue emptied: what was submitted is hashed and written. */
static void writer_drain(wp_store_writer *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->queued > 0)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* Hashes and writes the gathered pieces and then data, in one system call (after what
 * was submitted to the writer thread, so the blob's bytes and hash keep their order). */
static int put_now(wp_store_writer *w, const void *data, size_t len, wp_error *err)
{
	struct iovec iov[2] = { { w->stage, w->staged }, { (void *)data, len } };
	int i = w->staged ? 0 : 1;

	if (w->thread_started)
		writer_drain(w);

	if (w->staged)
		wp_digest_update(&w->hash, w->stage, w->staged);
	if (len)
		wp_digest_update(&w->hash, data, len);
	w->staged = 0;
	while (i < 2) {
		ssize_t n = writev(w->fd, iov + i, 2 - i);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wp_error_sys(err, WP_EIO, "writing a blob into the store");
		while (i < 2 && (size_t)n >= iov[i].iov_len) {
			n -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
	return 0;
}

int wp_store_writer_put(wp_store_writer *w, const void *data, size_t len, wp_error *err)
{
	enum { STAGE = 64 << 10, SMALL = 4 << 10 };
	int rc;

	w->size += (int64_t)len;
	if (len >= SMALL)
		return put_now(w, data, len, err);
	if (w->staged + len > STAGE && (rc = put_now(w, NULL, 0, err)) < 0)
		return rc;
	if (!w->stage)
		w->stage = wp_xmalloc(STAGE);
	memcpy(w->stage + w->staged, data, len);
	w->staged += len;
	return 0;
}

static void writer_stop(wp_store_writer *w)
{
	if (!w->thread_started)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->thread_started = false;
}

void wp_store_writer_abort(wp_store_writer *w)
{
	if (!w)
		return;
	writer_stop(w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp_path)
		unlink(w->tmp_path);
	free(w->tmp_path);
	for (int i = 0; i < SLOTS; i++)
		free(w->bufs[i]);
	free(w->stage);
	if (w->hash.ctx)
		wp_digest_release(&w->hash);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w);
}

int wp_store_writer_commit(wp_store_writer *w, const char *expect, char digest[WP_DIGEST_BUFSZ],
			  int64_t *size, wp_error *err)
{
	int rc = 0;

	if (w->staged)
		rc = put_now(w, NULL, 0, err);
	if (rc == 0 && w->fill) {
		size_t fill = w->fill;

		w->fill = 0;
		rc = wp_store_writer_submit(w, fill, err);
	}
	writer_stop(w);
	if (rc == 0 && w->write_errno) {
		errno = w->write_errno;
		rc = wp_error_sys(err, WP_EIO, "writing a blob into the store");
	}
	if (rc == 0) {
		wp_digest_final(&w->hash, digest);
		if (size)
			*size = w->size;
		if (expect && strcmp(expect, digest))
			rc = wp_error_set(err, WP_EDIGEST, "digest mismatch: expected %s, got %s", expect, digest);
		else
			rc = link_temp(w->store, w->fd, w->tmp_path, digest, w->size, err);
	}
	wp_store_writer_abort(w);
	return rc;
}

/* ---- index.json ---- */

static int index_path(const wp_store *s, wp_buf *out)
{
	wp_buf_reset(out);
	return wp_buf_printf(out, "%s/index.json", s->root);
}

int wp_store_index_read(wp_store *s, wp_index *ix, wp_error *err)
{
	wp_buf path, data;
	int rc;

	wp_buf_init(&path, WP_PATH_MAX);
	wp_buf_init(&data, WP_MANIFEST_MAX);
	index_path(s, &path);
	rc = wp_fs_read_file(path.data, WP_MANIFEST_MAX, &data, err);
	if (rc == 0)
		rc = wp_index_parse(data.data, data.len, ix, err);
	if (rc < 0)
		wp_error_prefix(err, "reading '%s'", path.data);
	wp_buf_release(&path);
	wp_buf_release(&data);
	return rc;
}

static int index_lock(wp_store *s, wp_error *err)
{
	_cleanup_free_ char *path = wp_store_private_path(s, "index.lock");
	int fd;

	fd = wp_fs_lock_open(path, err);
	if (fd < 0)
		return err->code;
	if (flock(fd, LOCK_EX) < 0) {
		int rc = wp_error_sys(err, WP_EIO, "locking '%s'", path);

		close(fd);
		return rc;
	}
	return fd;
}

/* index.json read under its lock: the lock's descriptor (close it when done), or < 0. */
static int index_open_locked(wp_store *s, wp_index *ix, wp_error *err)
{
	int lock = index_lock(s, err), rc;

	if (lock < 0)
		return lock;
	if ((rc = wp_store_index_read(s, ix, err)) < 0) {
		close(lock);
		return rc;
	}
	return lock;
}

static int index_write(wp_store *s, const wp_index *ix, wp_error *err)
{
	wp_buf path, data;
	int rc;

	wp_buf_init(&path, WP_PATH_MAX);
	wp_buf_init(&data, WP_MANIFEST_MAX);
	index_path(s, &path);
	rc = wp_index_emit(ix, &data, err);
	if (rc == 0)
		rc = wp_fs_write_atomic(path.data, data.data, data.len, 0644, err);
	wp_buf_release(&path);
	wp_buf_release(&data);
	return rc;
}

static int cmp_desc_name(const void *a, const void *b)
{
	const char *na = wp_kvlist_get(&((const wp_descriptor *)a)->annotations, WP_ANN_REF_NAME);
	const char *nb = wp_kvlist_get(&((const wp_descriptor *)b)->annotations, WP_ANN_REF_NAME);

	return strcmp(na ? na : "", nb ? nb : "");
}

static void index_remove_name(wp_index *ix, const char *name, bool *found)
{
	size_t j = 0;

	*found = false;
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *n = wp_kvlist_get(&ix->manifests[i].annotations, WP_ANN_REF_NAME);

		if (n && !strcmp(n, name)) {
			wp_descriptor_release(&ix->manifests[i]);
			*found = true;
			continue;
		}
		ix->manifests[j++] = ix->manifests[i];
	}
	ix->n_manifests = j;
}

int wp_store_tag(wp_store *s, const char *name, const wp_descriptor *desc, wp_error *err)
{
	wp_index ix;
	wp_descriptor *grown;
	bool found;
	int lock, rc;

	if ((lock = index_open_locked(s, &ix, err)) < 0)
		return lock;
	index_remove_name(&ix, name, &found);
	grown = wp_xreallocarray(ix.manifests, ix.n_manifests + 1, sizeof(*grown));
	ix.manifests = grown;
	wp_descriptor_copy(&grown[ix.n_manifests], desc);
	wp_kvlist_set(&grown[ix.n_manifests].annotations, WP_ANN_REF_NAME, name);
	ix.n_manifests++;
	qsort(ix.manifests, ix.n_manifests, sizeof(*ix.manifests), cmp_desc_name);
	rc = index_write(s, &ix, err);
	wp_index_release(&ix);
	close(lock);
	if (rc < 0)
		wp_error_prefix(err, "tagging '%s'", name);
	return rc;
}

int wp_store_untag(wp_store *s, const char *name, wp_error *err)
{
	wp_index ix;
	bool found;
	int lock, rc;

	if ((lock = index_open_locked(s, &ix, err)) < 0)
		return lock;
	index_remove_name(&ix, name, &found);
	rc = found ? index_write(s, &ix, err) : wp_error_set(err, WP_ENOTFOUND, "no image '%s' in the store", name);
	wp_index_release(&ix);
	close(lock);
	return rc;
}

int wp_store_describe_blob(wp_store *s, const char *digest, wp_descriptor *desc, wp_error *err)
{
	wp_buf data;
	char *mt = NULL;
	int rc;

	wp_buf_init(&data, WP_MANIFEST_MAX);
	rc = wp_store_read_blob(s, digest, WP_MANIFEST_MAX, &data, err);
	if (rc == 0)
		rc = wp_manifest_sniff_media_type(data.data, data.len, &mt, err);
	if (rc == 0)
		wp_descriptor_init(desc, mt, digest, (int64_t)data.len);
	free(mt);
	wp_buf_release(&data);
	return rc;
}

int wp_store_resolve(wp_store *s, const char *what, wp_descriptor *desc, char **name, wp_error *err)
{
	wp_index ix;
	char digest[WP_DIGEST_BUFSZ];
	size_t pos;
	int rc;

	if (name)
		*name = NULL;
	memset(desc, 0, sizeof(*desc));
	if ((rc = wp_store_index_read(s, &ix, err)) < 0)
		return rc;
	rc = wp_index_find(&ix, what, &pos, digest, err);
	if (rc == WP_ENOTFOUND && digest[0] && wp_store_has_blob(s, digest, NULL)) {
		/* untagged, but here: a manifest pulled by digest, or one an index names */
		wp_index_release(&ix);
		return wp_store_describe_blob(s, digest, desc, err);
	}
	if (rc == 0) {
		const char *n = wp_kvlist_get(&ix.manifests[pos].annotations, WP_ANN_REF_NAME);

		wp_descriptor_copy(desc, &ix.manifests[pos]);
		wp_kvlist_release(&desc->annotations);
		if (name)
			*name = n ? wp_xstrdup(n) : NULL;
	} else if (rc == WP_ENOTFOUND)
		wp_error_set(err, WP_ENOTFOUND, "no image '%s' in the store", what);
	wp_index_release(&ix);
	return rc;
}

/* ---- gc ---- */

/* Digests as the keys of a JSON object: a hash set, so marking n blobs is O(n). */
static void set_add(json_t *set, const char *d)
{
	json_object_set_new(set, d, json_true());
}

static bool set_has(json_t *set, const char *d)
{
	return json_object_get(set, d) != NULL;
}

/* What marking found of one tagged image. */
enum { MARK_OK = 0, MARK_BROKEN = 1 };

typedef struct gc_walk {
	wp_store *s;
	bool verify;
	json_t *keep;             /* digests reached */
	wp_gc_result *res;
	bool broken;              /* the tag being marked names a missing or damaged manifest */
	json_t *broken_tops;      /* the manifests such tags named */
	wp_graph_seen *seen;      /* what the walks of earlier tags reached: read once */
} gc_walk;

/* Marks what a tagged image reaches (its subjects too: a kept referrer keeps what it
 * refers to). A tag whose own manifest is missing or (with verify) does not match its
 * digest is broken: it can no longer resolve; a damaged blob is left unmarked, and the
 * sweep removes it. Without verify a damaged manifest stops gc: its layers cannot be
 * known, and removing them would lose data. So does an index nested too deep. */
static int mark_visit(void *ctx, const wp_graph_node *n, wp_error *err)
{
	gc_walk *g = ctx;

	if (n->rc == 0) {
		set_add(g->keep, n->desc->digest);
		return 0;
	}
	if (n->rc == WP_ENOTFOUND)
		wp_warn("image %s is tagged but its manifest is missing", n->desc->digest);
	else if (n->rc == WP_EDIGEST && g->verify) {
		wp_warn("manifest %s is damaged: removed", n->desc->digest);
		g->res->blobs_damaged++;
	} else if (n->rc == WP_EDIGEST)
		return wp_error_set(err, WP_EDIGEST, "manifest %s in the store is damaged: 'wasmpack gc --verify' "
				    "removes it and the tags that name it", n->desc->digest);
	else
		return n->rc;
	if (n->role == WP_GRAPH_TOP) {
		g->broken = true;
		set_add(g->broken_tops, n->desc->digest);
	}
	return 0;
}

static int mark(gc_walk *g, const wp_descriptor *d, wp_error *err)
{
	wp_blob_source src = wp_store_source(g->s);
	int rc;

	/* another tag of the same broken manifest: the walk would not read it again */
	if (set_has(g->broken_tops, d->digest))
		return MARK_BROKEN;
	g->broken = false;
	rc = wp_graph_walk_seen(&src, d, WP_GRAPH_SUBJECTS | WP_GRAPH_READ_ERRORS, NULL, g->seen, mark_visit, g, err);
	return rc < 0 ? rc : g->broken ? MARK_BROKEN : MARK_OK;
}

/* Drops from index.json every entry whose manifest is in broken. */
/* Referrer entries whose subject the store no longer keeps go (a referrer of a referrer
 * stays as long as the chain reaches a kept image). */
static int prune_referrers(wp_store *s, wp_error *err)
{
	json_t *kept = json_object();
	wp_index ix;
	size_t n = 0;
	bool grew = true;
	int lock, rc;

	if ((lock = index_lock(s, err)) < 0) {
		json_decref(kept);
		return lock;
	}
	if ((rc = wp_store_index_read(s, &ix, err)) < 0)
		goto out;
	for (size_t i = 0; i < ix.n_manifests; i++)
		if (!wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_SUBJECT))
			set_add(kept, ix.manifests[i].digest);
	while (grew) {
		grew = false;
		for (size_t i = 0; i < ix.n_manifests; i++) {
			const char *subject = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_SUBJECT);

			if (subject && set_has(kept, subject) && !set_has(kept, ix.manifests[i].digest)) {
				set_add(kept, ix.manifests[i].digest);
				grew = true;
			}
		}
	}
	for (size_t i = 0; i < ix.n_manifests; i++) {
		if (wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_SUBJECT) && !set_has(kept, ix.manifests[i].digest)) {
			wp_descriptor_release(&ix.manifests[i]);
			continue;
		}
		ix.manifests[n++] = ix.manifests[i];
	}
	if (n != ix.n_manifests) {
		ix.n_manifests = n;
		rc = index_write(s, &ix, err);
	}
	wp_index_release(&ix);
out:
	close(lock);
	json_decref(kept);
	return rc;
}

int wp_store_add_referrer(wp_store *s, const wp_descriptor *art, const char *subject, wp_error *err)
{
	wp_index ix;
	int lock, rc;

	if ((lock = index_lock(s, err)) < 0)
		return lock;
	if ((rc = wp_store_index_read(s, &ix, err)) == 0) {
		bool have = false;

		for (size_t i = 0; i < ix.n_manifests && !have; i++) {
			const char *sub = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_SUBJECT);

			have = sub && !strcmp(sub, subject) && !strcmp(ix.manifests[i].digest, art->digest);
		}
		if (!have) {
			ix.manifests = wp_xreallocarray(ix.manifests, ix.n_manifests + 1, sizeof(*ix.manifests));
			wp_descriptor_copy(&ix.manifests[ix.n_manifests], art);
			wp_kvlist_set(&ix.manifests[ix.n_manifests].annotations, WP_ANN_SUBJECT, subject);
			ix.n_manifests++;
			rc = index_write(s, &ix, err);
		}
		wp_index_release(&ix);
	}
	close(lock);
	return rc;
}

int wp_store_referrers(wp_store *s, const char *subject, wp_index *out, wp_error *err)
{
	wp_index ix;
	int rc;

	memset(out, 0, sizeof(*out));
	out->media_type = wp_xstrdup(WP_MT_OCI_INDEX);
	if ((rc = wp_store_index_read(s, &ix, err)) < 0)
		return rc;
	for (size_t i = 0; i < ix.n_manifests; i++) {
		const char *sub = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_SUBJECT);

		if (sub && !strcmp(sub, subject)) {
			out->manifests = wp_xreallocarray(out->manifests, out->n_manifests + 1, sizeof(*out->manifests));
			wp_descriptor_copy(&out->manifests[out->n_manifests], &ix.manifests[i]);
			wp_kvlist_remove(&out->manifests[out->n_manifests].annotations, WP_ANN_SUBJECT);
			out->n_manifests++;
		}
	}
	wp_index_release(&ix);
	return 0;
}

static int drop_broken_tags(wp_store *s, json_t *broken, wp_gc_result *res, wp_error *err)
{
	wp_index ix;
	size_t kept = 0;
	int lock, rc;

	if (json_object_size(broken) == 0)
		return 0;
	if ((lock = index_open_locked(s, &ix, err)) < 0)
		return lock;
	for (size_t i = 0; i < ix.n_manifests; i++) {
		if (set_has(broken, ix.manifests[i].digest)) {
			const char *n = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);

			wp_warn("tag %s removed: its manifest %s is gone", n ? n : "(untagged)", ix.manifests[i].digest);
			res->tags_removed++;
			wp_descriptor_release(&ix.manifests[i]);
			continue;
		}
		ix.manifests[kept++] = ix.manifests[i];
	}
	ix.n_manifests = kept;
	rc = index_write(s, &ix, err);
	wp_index_release(&ix);
	close(lock);
	return rc;
}

int wp_store_gc(wp_store *s, bool verify, wp_gc_result *res, wp_error *err)
{
	_cleanup_free_ char *dir = wp_str_fmt("%s/blobs/sha256", s->root);
	_cleanup_free_ char *tmpdir = wp_store_private_path(s, "tmp");
	gc_walk g = { .s = s, .verify = verify, .res = res, .keep = json_object(), .broken_tops = json_object(),
		      .seen = wp_graph_seen_new() };
	json_t *broken = json_object();   /* manifests of tags that can no longer resolve */
	wp_index ix;
	DIR *d;
	struct dirent *de;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = prune_referrers(s, err)) < 0 || (rc = wp_store_index_read(s, &ix, err)) < 0)
		goto done;
	for (size_t i = 0; rc >= 0 && i < ix.n_manifests; i++) {
		rc = mark(&g, &ix.manifests[i], err);
		if (rc == MARK_BROKEN && verify)
			set_add(broken, ix.manifests[i].digest);
	}
	wp_index_release(&ix);
	if (rc < 0)
		goto done;
	if ((rc = drop_broken_tags(s, broken, res, err)) < 0)
		goto done;
	d = opendir(dir);
	if (!d) {
		rc = wp_error_sys(err, WP_EIO, "opening '%s'", dir);
		goto done;
	}
	while ((de = readdir(d))) {
		char digest[WP_DIGEST_BUFSZ];
		struct stat st;

		if (de->d_name[0] == '.') {
			/* a replacement of a damaged blob whose writer was killed */
			if (strstr(de->d_name, ".repair-"))
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		snprintf(digest, sizeof(digest), "sha256:%.64s", de->d_name);
		if (wp_digest_valid(digest) && strlen(de->d_name) == 64 && set_has(g.keep, digest)) {
			char got[WP_DIGEST_BUFSZ];
			_cleanup_free_ char *path = wp_store_blob_path(s, digest);

			if (!verify || (wp_digest_file(path, got, NULL, NULL) == 0 && !strcmp(got, digest))) {
				res->blobs_kept++;
				continue;
			}
			wp_warn("blob %s does not match its digest: removed (pull or build again the images that use it)",
				digest);
			res->blobs_damaged++;
		}
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			res->bytes_removed += (uint64_t)st.st_size;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			rc = wp_error_sys(err, WP_EIO, "removing blob '%s'", de->d_name);
			break;
		}
		res->blobs_removed++;
	}
	closedir(d);
	/* Nothing else holds the store, so every temp file is an orphan of a killed process. */
	d = opendir(tmpdir);
	if (d) {
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
done:
	json_decref(g.keep);
	json_decref(g.broken_tops);
	wp_graph_seen_free(g.seen);
	json_decref(broken);
	return rc < 0 ? rc : 0;
}

int wp_store_ingest_file(wp_store *s, const char *path, const struct stat *expect_st,
			 char digest[WP_DIGEST_BUFSZ], int64_t *size, wp_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	wp_store_writer *w = NULL;
	struct stat st;
	int rc;

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening '%s'", path);
	if (fstat(fd, &st) < 0)
		return wp_error_sys(err, WP_EIO, "reading '%s'", path);
	if (expect_st && (st.st_size != expect_st->st_size || st.st_mtim.tv_sec != expect_st->st_mtim.tv_sec ||
			  st.st_mtim.tv_nsec != expect_st->st_mtim.tv_nsec))
		return wp_error_set(err, WP_EIO, "'%s' changed while it was being read", path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if ((rc = wp_store_writer_new(s, &w, err)) < 0)
		return rc;
	for (;;) {
		/* A small file is read, hashed and written here: a writer thread of its own would
		 * cost more to start than it saves. */
		bool small = st.st_size <= (1 << 20);
		unsigned char local[64 << 10];
		size_t cap = sizeof(local);
		unsigned char *buf = small ? local : wp_store_writer_buffer(w, &cap);
		ssize_t n;

		n = read(fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wp_error_sys(err, WP_EIO, "reading '%s'", path);
			wp_store_writer_abort(w);
			return rc;
		}
		if (n == 0)
			break;
		rc = small ? wp_store_writer_put(w, buf, (size_t)n, err) : wp_store_writer_submit(w, (size_t)n, err);
		if (rc < 0) {
			wp_store_writer_abort(w);
			return rc;
		}
	}
	rc = wp_store_writer_commit(w, NULL, digest, size, err);
	if (rc == 0 && *size != (int64_t)st.st_size)
		return wp_error_set(err, WP_EIO, "'%s' changed while it was being read", path);
	return rc;
}

int wp_store_read_manifest(wp_store *s, const char *digest, wp_manifest *m, wp_error *err)
{
	wp_blob_source src = wp_store_source(s);
	wp_descriptor d = { .media_type = WP_MT_OCI_MANIFEST };

	wp_str_copy(d.digest, digest, sizeof(d.digest));
	return wp_graph_read_manifest(&src, &d, m, err);
}
