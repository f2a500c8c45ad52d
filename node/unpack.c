#include "node/unpack.h"
#include "node/summary.h"
#include "oci/graph.h"
#include "common/progress.h"
#include "common/path.h"
#include "common/links.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/mediatype.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define DEFAULT_MAX_BYTES (4ull << 30)
#define DEFAULT_MAX_ENTRIES 1000000ull

typedef struct unpacker {
	wp_store *store;
	wp_error *err;
	uint64_t bytes, entries, max_bytes, max_entries;
	uint64_t links;      /* symbolic links written below the root being filled */
	json_t *layer_paths; /* what the layer being applied has written so far (a set) */
	json_t *opaque_dirs; /* the folders its opaque whiteouts emptied already (a set) */
	wp_progress *progress;
} unpacker;

/* Opens path below the folder rootfd; nothing may resolve outside it. */
static int open_beneath(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = { 0 };

	how.flags = (uint64_t)flags | O_CLOEXEC;
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Creates the folders of path (all but its last part) below rootfd. */
static int mkdirs_beneath(unpacker *u, int rootfd, const char *path, bool include_last)
{
	_cleanup_free_ char *p = wp_xstrdup(path);
	char *s;

	for (s = p;; s++) {
		if (!*s && !include_last)
			break;
		if (*s == '/' || !*s) {
			char saved = *s;
			int fd;

			*s = '\0';
			if (*p) {
				fd = open_beneath(rootfd, p, O_RDONLY | O_DIRECTORY, 0);
				if (fd < 0 && errno == ENOENT) {
					_cleanup_free_ char *parent = wp_xstrdup(p);
					char *slash = parent ? strrchr(parent, '/') : NULL;
					int pfd;

					if (slash)
						*slash = '\0';
					pfd = slash ? open_beneath(rootfd, parent, O_RDONLY | O_DIRECTORY, 0) : dup(rootfd);
					if (pfd < 0 || (mkdirat(pfd, slash ? slash + 1 : p, 0755) < 0 && errno != EEXIST)) {
						int rc = wp_error_sys(u->err, WP_EIO, "creating folder '%s'", p);

						if (pfd >= 0)
							close(pfd);
						return rc;
					}
					close(pfd);
				} else if (fd < 0) {
					return wp_error_sys(u->err, errno == EXDEV || errno == ELOOP ? WP_EINVALID : WP_EIO,
							    "folder '%s' escapes the image's root", p);
				} else {
					close(fd);
				}
			}
			if (!saved)
				break;
			*s = saved;
		}
	}
	return 0;
}

/* ---- reading a blob while checking it ----
 * The bytes handed to the tar reader are hashed by a second thread, so hashing overlaps
 * decompressing and writing: the reader fills one of SLOTS buffers while the hasher works
 * through the others, and a slot is refilled only once it has been hashed. Exactly the
 * bytes that were used are the bytes that are checked. */

#define SLOTS 4
#define SLOT_SIZE (1u << 20)

typedef struct verified {
	int fd;
	wp_digest_ctx h;
	int64_t got;
	unsigned char *buf;      /* SLOTS * SLOT_SIZE */
	size_t len[SLOTS];
	uint64_t filled, hashed; /* slots handed out, slots hashed */
	bool done, threaded, finished;
	int result;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	wp_progress *progress;
	size_t progress_item;
} verified;

static void *hasher(void *arg)
{
	verified *v = arg;

	pthread_mutex_lock(&v->mu);
	for (;;) {
		size_t i;

		while (v->hashed == v->filled && !v->done)
			pthread_cond_wait(&v->cv, &v->mu);
		if (v->hashed == v->filled)
			break;
		i = v->hashed % SLOTS;
		pthread_mutex_unlock(&v->mu);
		wp_digest_update(&v->h, v->buf + i * SLOT_SIZE, v->len[i]);
		pthread_mutex_lock(&v->mu);
		v->hashed++;
		pthread_cond_broadcast(&v->cv);
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

static ssize_t verified_fill(verified *v, const void **out)
{
	size_t i;
	ssize_t n;

	pthread_mutex_lock(&v->mu);
	while (v->filled - v->hashed >= SLOTS)
		pthread_cond_wait(&v->cv, &v->mu);
	pthread_mutex_unlock(&v->mu);
	i = v->filled % SLOTS;
	n = read(v->fd, v->buf + i * SLOT_SIZE, SLOT_SIZE);
	if (n > 0) {
		if (!v->threaded)
			wp_digest_update(&v->h, v->buf + i * SLOT_SIZE, (size_t)n);
		pthread_mutex_lock(&v->mu);
		v->len[i] = (size_t)n;
		v->filled += v->threaded ? 1 : 0;
		v->got += n;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
		wp_progress_add(v->progress, v->progress_item, n);
	}
	*out = v->buf + i * SLOT_SIZE;
	return n;
}

static la_ssize_t verified_read(struct archive *a, void *ctx, const void **out)
{
	(void)a;
	return verified_fill(ctx, out);
}

/* Waits for the hasher to finish what it was given. */
static void verified_stop(verified *v)
{
	if (!v->threaded)
		return;
	pthread_mutex_lock(&v->mu);
	v->done = true;
	pthread_cond_broadcast(&v->cv);
	pthread_mutex_unlock(&v->mu);
	pthread_join(v->thread, NULL);
	v->threaded = false;
}

static int verified_finish(unpacker *u, verified *v, const wp_descriptor *d)
{
	char got[WP_DIGEST_BUFSZ];
	const void *ignored;

	if (v->finished)
		return v->result;
	/* Whatever the tar reader left unread (padding) counts too. */
	while (verified_fill(v, &ignored) > 0)
		;
	verified_stop(v);
	v->finished = true;
	wp_progress_item_done(v->progress, v->progress_item, "unpacked");
	wp_digest_final(&v->h, got);
	if (v->got != d->size)
		v->result = wp_error_set(u->err, WP_EDIGEST, "blob %s has %lld bytes, its descriptor says %lld", d->digest,
					 (long long)v->got, (long long)d->size);
	else if (strcmp(got, d->digest))
		v->result = wp_error_set(u->err, WP_EDIGEST, "blob %s does not match its digest (got %s)", d->digest, got);
	return v->result;
}

static int verified_open(unpacker *u, verified *v, const wp_descriptor *d)
{
	_cleanup_free_ char *path = wp_store_blob_path(u->store, d->digest);
	int rc;

	memset(v, 0, sizeof(*v));
	v->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (v->fd < 0)
		return wp_error_set(u->err, WP_ENOTFOUND, "blob %s is not in the store", d->digest);
	v->buf = wp_xmalloc((size_t)SLOTS * SLOT_SIZE);
	if ((rc = wp_digest_init(&v->h, u->err)) < 0) {
		free(v->buf);
		close(v->fd);
		return rc;
	}
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	if ((v->progress = u->progress))
		v->progress_item = wp_progress_item(u->progress, d->digest, d->size);
	/* Small blobs are hashed inline: a thread would cost more than it saves. */
	v->threaded = d->size > (int64_t)SLOT_SIZE && pthread_create(&v->thread, NULL, hasher, v) == 0;
	return 0;
}

static void verified_close(verified *v)
{
	verified_stop(v);
	if (v->fd >= 0)
		close(v->fd);
	wp_digest_release(&v->h);
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->cv);
	free(v->buf);
}

/* Copies a blob to path below rootfd, checking it. */
static int copy_blob(unpacker *u, const wp_descriptor *d, int rootfd, const char *path)
{
	verified v;
	int out, rc;
	la_ssize_t n;
	const void *buf;

	if ((rc = verified_open(u, &v, d)) < 0)
		return rc;
	if ((rc = mkdirs_beneath(u, rootfd, path, false)) < 0) {
		verified_close(&v);
		return rc;
	}
	out = open_beneath(rootfd, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (out < 0) {
		verified_close(&v);
		return wp_error_sys(u->err, WP_EIO, "writing '%s'", path);
	}
	while ((n = verified_read(NULL, &v, &buf)) > 0) {
		u->bytes += (uint64_t)n;
		if (u->bytes > u->max_bytes || write(out, buf, (size_t)n) != n) {
			rc = u->bytes > u->max_bytes ? wp_error_set(u->err, WP_EINVALID, "the image unpacks to more than %llu bytes",
								    (unsigned long long)u->max_bytes) :
			     wp_error_sys(u->err, WP_EIO, "writing '%s'", path);
			break;
		}
	}
	close(out);
	if (rc == 0)
		rc = verified_finish(u, &v, d);
	verified_close(&v);
	return rc;
}

/* ---- image layers ---- */

static int remove_beneath(unpacker *u, int rootfd, const char *path)
{
	_cleanup_free_ char *parent = wp_xstrdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	int pfd, rc = 0;

	if (slash)
		*slash = '\0';
	pfd = slash ? open_beneath(rootfd, parent, O_RDONLY | O_DIRECTORY, 0) : dup(rootfd);
	if (pfd < 0)
		return 0;
	if (unlinkat(pfd, slash ? slash + 1 : path, 0) < 0 && errno == EISDIR) {
		_cleanup_free_ char *proc = wp_str_fmt("/proc/self/fd/%d/%s", pfd, slash ? slash + 1 : path);

		if (proc)
			wp_fs_rm_rf(proc, NULL);
	}
	close(pfd);
	(void)u;
	return rc;
}

static bool written_by_layer(const unpacker *u, const char *path)
{
	return u->layer_paths && json_object_get(u->layer_paths, path) != NULL;
}

/* An opaque whiteout for dir: everything lower layers put there goes; what this layer
 * has written already stays (entries may come before the marker in the tar). */
static void hide_lower(unpacker *u, int rootfd, const char *dir)
{
	int dfd = dir[0] ? open_beneath(rootfd, dir, O_RDONLY | O_DIRECTORY, 0) : dup(rootfd);
	_cleanup_free_ char *proc = dfd >= 0 ? wp_str_fmt("/proc/self/fd/%d", dfd) : NULL;
	DIR *d = proc ? opendir(proc) : NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *child = NULL;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = dir[0] ? wp_str_fmt("%s/%s", dir, de->d_name) : wp_xstrdup(de->d_name);
		if (!child)
			continue;
		if (!written_by_layer(u, child))
			remove_beneath(u, rootfd, child);
		else if (de->d_type == DT_DIR)
			hide_lower(u, rootfd, child);
	}
	if (d)
		closedir(d);
	if (dfd >= 0)
		close(dfd);
}

/* A symbolic link entry: refused when its target, followed through what the tree holds
 * now, leaves the root (the whole tree is judged again once all layers are in). */
static int write_link(unpacker *u, int rootfd, const char *layer, const char *path, const char *target)
{
	_cleanup_free_ char *parent = wp_xstrdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	int pfd, rc;

	if (!target || !*target)
		return wp_error_set(u->err, WP_EINVALID, "layer %s: symbolic link '%s' has no target", layer, path);
	if ((rc = wp_links_check(rootfd, path, target, u->err)) < 0)
		return wp_error_prefix(u->err, "layer %s", layer);
	if (slash)
		*slash = '\0';
	remove_beneath(u, rootfd, path);
	pfd = slash ? open_beneath(rootfd, parent, O_RDONLY | O_DIRECTORY, 0) : dup(rootfd);
	if (pfd < 0 || symlinkat(target, pfd, slash ? slash + 1 : path) < 0)
		rc = wp_error_sys(u->err, errno == EXDEV || errno == ELOOP ? WP_EINVALID : WP_EIO, "layer %s: linking '%s'",
				  layer, path);
	else
		u->links++;
	if (pfd >= 0)
		close(pfd);
	return rc;
}

/* A set of strings (a JSON object's keys): whether key was new, and now is in it. */
static bool set_add(json_t **set, const char *key)
{
	if (!*set)
		*set = json_object();
	if (json_object_get(*set, key))
		return false;
	json_object_set_new(*set, key, json_true());
	return true;
}

/* OCI whiteouts: ".wh..wh..opq" empties its folder (once per folder and layer), ".wh.NAME"
 * removes NAME, other ".wh..wh." markers (aufs's) carry nothing. 1 when path is none. */
static int apply_whiteout(unpacker *u, int rootfd, const char *layer, const char *path, const char *base)
{
	if (!strcmp(base, ".wh..wh..opq")) {
		_cleanup_free_ char *dir = wp_xstrndup(path, (size_t)(base - path));

		if (dir[0] && dir[strlen(dir) - 1] == '/')
			dir[strlen(dir) - 1] = '\0';
		if (set_add(&u->opaque_dirs, dir))
			hide_lower(u, rootfd, dir);
		return 0;
	}
	if (!strncmp(base, ".wh..wh.", 8))
		return 0;
	if (!strncmp(base, ".wh.", 4)) {
		_cleanup_free_ char *victim = NULL;

		/* ".wh." names one entry of its own folder: nothing, "." and ".." are not one. */
		if (!base[4] || !strcmp(base + 4, ".") || !strcmp(base + 4, ".."))
			return wp_error_set(u->err, WP_EINVALID, "layer %s: bad whiteout entry '%s'", layer, path);
		victim = wp_str_fmt("%.*s%s", (int)(base - path), path, base + 4);
		remove_beneath(u, rootfd, victim);
		return 0;
	}
	return 1;
}

/* A regular file of the layer, written beneath the root (never through a link), its
 * bytes counted against the cap. */
static int write_file(unpacker *u, struct archive *a, int rootfd, const char *layer, const char *path, mode_t mode)
{
	char buf[WP_IO_CHUNK];
	la_ssize_t n;
	int fd, rc = 0;

	remove_beneath(u, rootfd, path);
	fd = open_beneath(rootfd, path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode & 0777);
	if (fd < 0)
		return wp_error_sys(u->err, errno == EXDEV || errno == ELOOP ? WP_EINVALID : WP_EIO,
				    "layer %s: writing '%s' (escaping the root?)", layer, path);
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
		u->bytes += (uint64_t)n;
		if (u->bytes > u->max_bytes) {
			rc = wp_error_set(u->err, WP_EINVALID, "the image unpacks to more than %llu bytes",
					  (unsigned long long)u->max_bytes);
			break;
		}
		if (write(fd, buf, (size_t)n) != n) {
			rc = wp_error_sys(u->err, WP_EIO, "writing '%s'", path);
			break;
		}
	}
	if (rc == 0 && n < 0)
		rc = wp_error_set(u->err, WP_EINVALID, "layer %s: reading '%s': %s", layer, path, archive_error_string(a));
	fchmod(fd, mode & 0777);
	close(fd);
	return rc;
}

/* A hard link of the layer to an entry beneath the root. Its source is found without
 * following links out; a hard link to a symbolic link is that link again at another
 * place, where its text may mean something else: it is judged there as a link of its own. */
static int write_hardlink(unpacker *u, int rootfd, const char *layer, const char *path, const char *to)
{
	wp_buf target;
	struct stat st;
	int sfd, rc = 0;

	wp_buf_init(&target, WP_PATH_MAX);
	if (to[0] == '/' || wp_path_clean(to, &target, u->err) < 0) {
		wp_buf_release(&target);
		return wp_error_set(u->err, WP_EINVALID, "layer %s: hard link '%s' points outside the root", layer, path);
	}
	sfd = open_beneath(rootfd, target.data, O_PATH | O_NOFOLLOW, 0);
	if (sfd < 0) {
		rc = wp_error_set(u->err, WP_EINVALID, "layer %s: hard link '%s' to '%s', which is not in the root", layer, path,
				  target.data);
	} else if (fstat(sfd, &st) < 0) {
		rc = wp_error_sys(u->err, WP_EIO, "layer %s: hard link '%s' to '%s'", layer, path, target.data);
	} else if (S_ISLNK(st.st_mode)) {
		char text[PATH_MAX];
		ssize_t n = readlinkat(sfd, "", text, sizeof(text) - 1);

		if (n < 0) {
			rc = wp_error_sys(u->err, WP_EIO, "layer %s: reading the link '%s'", layer, target.data);
		} else {
			text[n] = '\0';
			rc = write_link(u, rootfd, layer, path, text);
		}
	} else if (!S_ISREG(st.st_mode)) {
		rc = wp_error_set(u->err, WP_EINVALID, "layer %s: hard link '%s' to '%s', which is not a file", layer, path,
				  target.data);
	} else {
		remove_beneath(u, rootfd, path);
		if (linkat(sfd, "", rootfd, path, AT_EMPTY_PATH) < 0) {
			_cleanup_free_ char *from = wp_str_fmt("/proc/self/fd/%d", sfd);

			if (linkat(AT_FDCWD, from, rootfd, path, AT_SYMLINK_FOLLOW) < 0)
				rc = wp_error_sys(u->err, WP_EIO, "layer %s: linking '%s'", layer, path);
		}
	}
	if (sfd >= 0)
		close(sfd);
	wp_buf_release(&target);
	return rc;
}

static int apply_entry(unpacker *u, struct archive *a, struct archive_entry *ae, int rootfd, const char *layer)
{
	const char *raw = archive_entry_pathname(ae);
	mode_t type = archive_entry_filetype(ae), mode = archive_entry_perm(ae);
	wp_buf clean;
	int rc = 0;

	if (++u->entries > u->max_entries)
		return wp_error_set(u->err, WP_EINVALID, "the image has more than %llu entries", (unsigned long long)u->max_entries);
	wp_buf_init(&clean, WP_PATH_MAX);
	if (!raw || raw[0] == '/' || wp_path_clean(raw, &clean, u->err) < 0) {
		wp_buf_release(&clean);
		if (raw && (!strcmp(raw, ".") || !strcmp(raw, "./")))
			return 0;
		return wp_error_set(u->err, WP_EINVALID, "layer %s: entry '%s' escapes the root", layer, raw ? raw : "");
	}
	if (archive_entry_mode(ae) & (S_ISUID | S_ISGID)) {
		rc = wp_error_set(u->err, WP_EINVALID, "layer %s: '%s' is setuid or setgid: refused", layer, clean.data);
		goto done;
	}
	if ((rc = apply_whiteout(u, rootfd, layer, clean.data, wp_path_basename(clean.data))) <= 0)
		goto done;
	rc = 0;
	/* A second guard beside openat2's RESOLVE_BENEATH: once the tree holds a link, where an
	 * entry goes is resolved as the kernel would, through what is on disk now (a folder a
	 * link passed through may since have become a link itself), and refused if it leaves. */
	if (u->links && strchr(clean.data, '/')) {
		_cleanup_free_ char *parent = wp_xstrndup(clean.data, (size_t)(strrchr(clean.data, '/') - clean.data));

		if ((rc = wp_links_check_path(rootfd, parent, "the image's root", u->err)) < 0) {
			wp_error_prefix(u->err, "layer %s: entry '%s'", layer, clean.data);
			goto done;
		}
	}
	if ((rc = mkdirs_beneath(u, rootfd, clean.data, false)) < 0)
		goto done;
	(void)set_add(&u->layer_paths, clean.data);
	if (type == AE_IFDIR)
		rc = mkdirs_beneath(u, rootfd, clean.data, true);
	else if (type == AE_IFREG)
		rc = write_file(u, a, rootfd, layer, clean.data, mode);
	else if (type == AE_IFLNK)
		rc = write_link(u, rootfd, layer, clean.data, archive_entry_symlink(ae));
	else if (type == 0 && archive_entry_hardlink(ae))
		rc = write_hardlink(u, rootfd, layer, clean.data, archive_entry_hardlink(ae));
	else
		rc = wp_error_set(u->err, WP_EINVALID, "layer %s: '%s' is a device, fifo or socket: refused", layer, clean.data);
done:
	wp_buf_release(&clean);
	return rc;
}

/* Once a root's last layer is in: a later entry may have changed what an earlier link
 * passes through (a folder replaced by a link), so every link is judged again as the
 * tree finally is. Trees without links cost nothing. */
static int check_links(unpacker *u, int rootfd)
{
	if (!u->links)
		return 0;
	u->links = 0;
	if (wp_links_check_tree(rootfd, u->max_entries * 2, u->err) < 0)
		return wp_error_prefix(u->err, "the unpacked layers");
	return 0;
}

static int apply_layer(unpacker *u, const wp_descriptor *d, int rootfd)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	verified v;
	int rc, r;

	if (!a)
		return wp_error_set(u->err, WP_ENOMEM, "out of memory");
	if ((rc = verified_open(u, &v, d)) < 0) {
		archive_read_free(a);
		return rc;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	if (archive_read_open(a, &v, NULL, verified_read, NULL) != ARCHIVE_OK) {
		rc = wp_error_set(u->err, WP_EINVALID, "layer %s is not a tar: %s", d->digest, archive_error_string(a));
		goto done;
	}
	json_decref(u->layer_paths);
	json_decref(u->opaque_dirs);
	u->layer_paths = u->opaque_dirs = NULL;
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK)
		if ((rc = apply_entry(u, a, ae, rootfd, d->digest)) < 0)
			goto done;
	if (r != ARCHIVE_EOF) {
		rc = wp_error_set(u->err, WP_EINVALID, "layer %s: %s", d->digest, archive_error_string(a));
		goto done;
	}
	rc = verified_finish(u, &v, d);
done:
	if (rc < 0 && rc != WP_EDIGEST) {
		/* A damaged blob often shows first as a broken stream: say what the cause is. */
		wp_error derr;
		unpacker du = *u;

		du.err = &derr;
		if (verified_finish(&du, &v, d) == WP_EDIGEST) {
			*u->err = derr;
			rc = WP_EDIGEST;
		}
	}
	archive_read_free(a);
	verified_close(&v);
	json_decref(u->layer_paths);
	json_decref(u->opaque_dirs);
	u->layer_paths = u->opaque_dirs = NULL;
	return rc;
}

/* ---- layouts ---- */

static int write_doc(unpacker *u, int rootfd, const char *name, const char *data, size_t len)
{
	int fd = open_beneath(rootfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
	int rc = 0;

	if (fd < 0)
		return wp_error_sys(u->err, WP_EIO, "writing '%s'", name);
	if (write(fd, data, len) != (ssize_t)len)
		rc = wp_error_sys(u->err, WP_EIO, "writing '%s'", name);
	close(fd);
	return rc;
}


static const wp_descriptor *layer_by_digest(const wp_manifest *m, const char *digest)
{
	for (size_t i = 0; i < m->n_layers; i++)
		if (!strcmp(m->layers[i].digest, digest))
			return &m->layers[i];
	return NULL;
}

#define ARCHIVE_STAGE ".archives"

/* A component file stored in an archive layer: the staged file at its path whose content
 * has the locked digest, hard-linked into place. */
static int from_archive(unpacker *u, const wp_manifest *m, int rootfd, const char *path, const char *digest,
			const char *to, const char *id)
{
	wp_buf clean;
	int rc = WP_ENOTFOUND;

	wp_buf_init(&clean, WP_PATH_MAX);
	if (!digest || wp_path_clean(path, &clean, u->err) < 0) {
		wp_buf_release(&clean);
		return wp_error_set(u->err, WP_EINVALID, "component `%s`: file '%s' has no digest", id, path);
	}
	for (size_t k = 0; rc == WP_ENOTFOUND && k < m->n_layers; k++) {
		_cleanup_free_ char *st = NULL, *proc = NULL;
		char got[WP_DIGEST_BUFSZ];
		int fd;

		if (strcmp(m->layers[k].media_type, WP_MT_SPIN_ARCHIVE))
			continue;
		st = wp_str_fmt(ARCHIVE_STAGE "/%s/%s", wp_digest_hex(m->layers[k].digest), clean.data);
		if ((fd = open_beneath(rootfd, st, O_RDONLY | O_NOFOLLOW, 0)) < 0)
			continue;
		proc = wp_str_fmt("/proc/self/fd/%d", fd);
		if (wp_digest_file(proc, got, NULL, NULL) == 0 && !strcmp(got, digest)) {
			if ((rc = mkdirs_beneath(u, rootfd, to, false)) == 0 &&
			    linkat(AT_FDCWD, proc, rootfd, to, AT_SYMLINK_FOLLOW) < 0)
				rc = wp_error_sys(u->err, WP_EIO, "linking '%s'", to);
		}
		close(fd);
	}
	wp_buf_release(&clean);
	if (rc == WP_ENOTFOUND)
		rc = wp_error_set(u->err, WP_EINVALID, "component `%s`: file '%s' (%s) is in no layer", id, path, digest);
	return rc;
}

/* Spin's inline files (128 bytes or less) in standard base64: whole quads, the alphabet,
 * and "=" padding only at the end of the last quad. The decoded length, or -1. */
static int decode_inline(const char *in, unsigned char *out, size_t cap)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(in), pad = 0;
	int n;

	if (len % 4 || len / 4 * 3 > cap)
		return -1;
	while (pad < len && pad < 2 && in[len - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!in[i] || !strchr(alphabet, in[i]))
			return -1;
	if (len == 0)
		return 0;
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	return n < 0 || (size_t)n < pad ? -1 : n - (int)pad;
}

/* Archive layers (one tar of a component's files each) expanded, with every check a
 * layer gets, into a staging folder; files are then found in them by path and digest. */
static int stage_archives(unpacker *u, const wp_manifest *m, int rootfd)
{
	for (size_t k = 0; k < m->n_layers; k++) {
		_cleanup_free_ char *st = NULL;
		int sfd, rc;

		if (strcmp(m->layers[k].media_type, WP_MT_SPIN_ARCHIVE))
			continue;
		st = wp_str_fmt(ARCHIVE_STAGE "/%s", wp_digest_hex(m->layers[k].digest));
		if ((rc = mkdirs_beneath(u, rootfd, st, true)) < 0)
			return rc;
		if ((sfd = open_beneath(rootfd, st, O_RDONLY | O_DIRECTORY, 0)) < 0)
			return wp_error_sys(u->err, WP_EIO, "opening '%s'", st);
		u->links = 0;
		rc = apply_layer(u, &m->layers[k], sfd);
		if (rc == 0)
			rc = check_links(u, sfd);
		close(sfd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One of a component's files, at to: inline in the locked app (checked against its
 * digest), a layer of its own, or in an archive layer. */
static int spin_file(unpacker *u, const wp_manifest *m, int rootfd, const char *id, json_t *f, const char *to)
{
	const char *path = wp_json_str(f, "path"), *inl = wp_json_str(f, "inline"), *fd = wp_json_str(f, "digest");
	const wp_descriptor *dl;
	int rc;

	if (inl) {
		unsigned char dec[512];
		char got[WP_DIGEST_BUFSZ];
		int n = decode_inline(inl, dec, sizeof(dec));

		if (n < 0)
			return wp_error_set(u->err, WP_EINVALID, "component `%s`: bad inline content for '%s': not base64", id, path);
		if (fd && (wp_digest_bytes(dec, (size_t)n, got, u->err) < 0 || strcmp(got, fd)))
			return wp_error_set(u->err, WP_EDIGEST, "component `%s`: inline '%s' does not match its digest", id, path);
		if ((rc = mkdirs_beneath(u, rootfd, to, false)) < 0)
			return rc;
		return write_doc(u, rootfd, to, (char *)dec, (size_t)n);
	}
	dl = fd ? layer_by_digest(m, fd) : NULL;
	return dl ? copy_blob(u, dl, rootfd, to) : from_archive(u, m, rootfd, path, fd, to, id);
}

/* A component of the locked app: its wasm under wasm/, its files under files/<id>/, and
 * its source and files rewritten as file:// URLs there; its line of the summary. */
static int spin_component(unpacker *u, const wp_manifest *m, int rootfd, const char *dest, json_t *c, json_t *comps)
{
	const char *id = wp_json_str(c, "id"), *dg = wp_json_str(json_object_get(c, "source"), "digest");
	const wp_descriptor *wl = dg ? layer_by_digest(m, dg) : NULL;
	json_t *files = json_object_get(c, "files"), *f;
	_cleanup_free_ char *wpath = NULL, *wurl = NULL, *froot = NULL;
	size_t k;
	int rc;

	if (!id || strchr(id, '/') || !strcmp(id, "..") || !wl)
		return wp_error_set(u->err, WP_EINVALID, "component `%s` has no wasm layer", id ? id : "?");
	wpath = wp_str_fmt("wasm/%s.wasm", wp_digest_hex(dg));
	if (faccessat(rootfd, wpath, F_OK, 0) < 0 && (rc = copy_blob(u, wl, rootfd, wpath)) < 0)
		return rc;
	wurl = wp_str_fmt("file://%s/%s", dest, wpath);
	json_object_set_new(c, "source", json_pack("{s:s,s:s}", "content_type", "application/wasm", "source", wurl));
	froot = wp_str_fmt("files/%s", id);
	json_array_foreach(files, k, f) {
		const char *path = wp_json_str(f, "path");
		_cleanup_free_ char *to = NULL;
		wp_buf clean;

		wp_buf_init(&clean, WP_PATH_MAX);
		if (!path || wp_path_clean(path, &clean, u->err) < 0) {
			wp_buf_release(&clean);
			return wp_error_set(u->err, WP_EINVALID, "component `%s`: file path '%s' escapes its folder", id,
					    path ? path : "");
		}
		to = wp_str_fmt("%s/%s", froot, clean.data);
		wp_buf_release(&clean);
		if ((rc = spin_file(u, m, rootfd, id, f, to)) < 0)
			return rc;
	}
	json_array_append_new(comps, json_pack("{s:s,s:i}", "id", id, "files", (int)json_array_size(files)));
	if (json_array_size(files)) {
		_cleanup_free_ char *furl = wp_str_fmt("file://%s/%s", dest, froot);

		json_object_set_new(c, "files", json_pack("[{s:s,s:s}]", "source", furl, "path", "/"));
	}
	return 0;
}

static int unpack_spin(unpacker *u, const wp_manifest *m, int rootfd, const char *dest, json_t **summary)
{
	wp_blob_source src = wp_store_source(u->store);
	json_t *locked = NULL, *c, *comps = json_array();
	size_t i;
	int rc;

	if ((rc = wp_graph_read_json(&src, wp_manifest_spin_locked(m), &locked, u->err)) < 0 ||
	    (rc = stage_archives(u, m, rootfd)) < 0)
		goto done;
	json_array_foreach(json_object_get(locked, "components"), i, c)
		if ((rc = spin_component(u, m, rootfd, dest, c, comps)) < 0)
			goto done;
	remove_beneath(u, rootfd, ARCHIVE_STAGE);
	{
		char *s = json_dumps(locked, JSON_INDENT(2));

		rc = s ? write_doc(u, rootfd, "spin.lock", s, strlen(s)) : wp_error_set(u->err, WP_ENOMEM, "out of memory");
		free(s);
	}
	if (rc == 0)
		*summary = json_pack("{s:s,s:O}", "layout", "spin", "components", comps);
done:
	json_decref(comps);
	json_decref(locked);
	return rc;
}

/* The limits of this unpack: the caller's, else WASMPACK_UNPACK_MAX_BYTES and
 * _MAX_ENTRIES, else the defaults. */
static void set_limits(unpacker *u, const wp_unpack_limits *lim)
{
	u->max_bytes = lim && lim->max_bytes ? lim->max_bytes : DEFAULT_MAX_BYTES;
	u->progress = lim ? lim->progress : NULL;
	u->max_entries = lim && lim->max_entries ? lim->max_entries : DEFAULT_MAX_ENTRIES;
	if (!(lim && lim->max_bytes) && getenv("WASMPACK_UNPACK_MAX_BYTES"))
		u->max_bytes = strtoull(getenv("WASMPACK_UNPACK_MAX_BYTES"), NULL, 10);
	if (!(lim && lim->max_entries) && getenv("WASMPACK_UNPACK_MAX_ENTRIES"))
		u->max_entries = strtoull(getenv("WASMPACK_UNPACK_MAX_ENTRIES"), NULL, 10);
}

/* The wasm layout: its one layer as a file named by its title (module.wasm without a
 * usable one) and its config. */
static int unpack_wasm(unpacker *u, const wp_descriptor *desc, const wp_manifest *m, int rootfd, json_t **summary)
{
	const char *title;
	wp_buf clean, cfg;
	int rc = 0;

	if (m->n_layers != 1)
		return wp_error_set(u->err, WP_EINVALID, "the wasm artifact %s has %zu layers: want one", desc->digest,
				    m->n_layers);
	title = wp_kvlist_get(&m->layers[0].annotations, WP_ANN_TITLE);
	wp_buf_init(&clean, WP_PATH_MAX);
	wp_buf_init(&cfg, WP_MANIFEST_MAX);
	if (!title || strchr(title, '/') || wp_path_clean(title, &clean, u->err) < 0) {
		wp_buf_reset(&clean);
		rc = wp_buf_puts(&clean, "module.wasm");
	}
	if (rc == 0)
		rc = copy_blob(u, &m->layers[0], rootfd, clean.data);
	if (rc == 0 && (rc = wp_store_read_blob(u->store, m->config.digest, WP_MANIFEST_MAX, &cfg, u->err)) == 0)
		rc = write_doc(u, rootfd, "config.json", cfg.data, cfg.len);
	if (rc == 0)
		*summary = json_pack("{s:s,s:s}", "layout", "wasm", "module", clean.data);
	wp_buf_release(&clean);
	wp_buf_release(&cfg);
	return rc;
}

/* The image layout: the layers applied in order into rootfs/, every link checked, and
 * the config; the summary says what the config runs and whether the rootfs is Spin's. */
static int unpack_image(unpacker *u, const wp_manifest *m, int rootfd, json_t **summary)
{
	wp_buf cfg;
	int fsfd, rc;

	wp_buf_init(&cfg, WP_MANIFEST_MAX);
	if ((rc = wp_store_read_blob(u->store, m->config.digest, WP_MANIFEST_MAX, &cfg, u->err)) < 0)
		goto done;
	if (mkdirat(rootfd, "rootfs", 0755) < 0 || (fsfd = openat(rootfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = wp_error_sys(u->err, WP_EIO, "making the rootfs");
		goto done;
	}
	for (size_t i = 0; rc == 0 && i < m->n_layers; i++)
		rc = apply_layer(u, &m->layers[i], fsfd);
	if (rc == 0)
		rc = check_links(u, fsfd);
	if (rc == 0)
		rc = write_doc(u, rootfd, "config.json", cfg.data, cfg.len);
	if (rc == 0) {
		json_t *c = NULL, *conf;

		wp_json_parse(cfg.data, cfg.len, WP_MANIFEST_MAX, &c, NULL);
		conf = json_object_get(c, "config");
		*summary = json_pack("{s:s,s:b,s:O?,s:O?,s:O?}", "layout", "image", "spinApp",
				     faccessat(fsfd, "spin.toml", F_OK, 0) == 0, "entrypoint", json_object_get(conf, "Entrypoint"),
				     "cmd", json_object_get(conf, "Cmd"), "env", json_object_get(conf, "Env"));
		json_decref(c);
	}
	close(fsfd);
done:
	wp_buf_release(&cfg);
	return rc;
}

/* What was found, kept beside the app (node/summary.h), so a later run needs no image. */
static int write_summary(unpacker *u, const wp_manifest *m, int rootfd, json_t *summary)
{
	const char *engine = wp_kvlist_get(&m->annotations, WP_ANN_ENGINE);
	char *sj;
	int rc;

	if (engine)
		json_object_set_new(summary, "engine", json_string(engine));
	sj = json_dumps(summary, JSON_COMPACT);
	rc = sj ? write_doc(u, rootfd, WP_UNPACK_SUMMARY, sj, strlen(sj)) : wp_error_set(u->err, WP_ENOMEM, "out of memory");
	free(sj);
	return rc;
}

int wp_unpack(wp_store *s, const wp_descriptor *desc, const char *dest, const wp_unpack_limits *lim,
	      json_t **summary, wp_error *err)
{
	unpacker u = { .store = s, .err = err };
	char cwd[PATH_MAX];
	/* Paths written into the app (file:// URLs) are absolute. */
	_cleanup_free_ char *abs = dest[0] == '/' ? wp_xstrdup(dest) : getcwd(cwd, sizeof(cwd)) ? wp_str_fmt("%s/%s", cwd, dest) : NULL;
	_cleanup_free_ char *tmp = wp_str_fmt("%s.tmp-XXXXXX", dest);
	wp_manifest m = { 0 };
	const char *layout;
	int rootfd = -1, rc;

	*summary = NULL;
	set_limits(&u, lim);
	if (wp_fs_exists(dest))
		return wp_error_set(err, WP_EEXISTS, "'%s' exists already", dest);
	if (!tmp || !mkdtemp(tmp))
		return wp_error_sys(err, WP_EIO, "making a folder beside '%s'", dest);
	rootfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		rc = wp_error_sys(err, WP_EIO, "opening '%s'", tmp);
	else if (!wp_mediatype_is_manifest(desc->media_type))
		rc = wp_error_set(err, WP_EINVALID, "%s is a '%s', not an image manifest", desc->digest, desc->media_type);
	else
		rc = wp_store_read_manifest(s, desc->digest, &m, err);
	if (rc < 0)
		goto done;
	layout = wp_manifest_layout(&m);
	if (!strcmp(layout, "spin"))
		rc = abs ? unpack_spin(&u, &m, rootfd, abs, summary) : wp_error_sys(err, WP_EIO, "finding the current folder");
	else if (!strcmp(layout, "wasm"))
		rc = unpack_wasm(&u, desc, &m, rootfd, summary);
	else
		rc = unpack_image(&u, &m, rootfd, summary);
	if (rc == 0)
		rc = write_summary(&u, &m, rootfd, *summary);
	if (rc == 0 && rename(tmp, dest) < 0) {
		/* Another unpack of the same image won the race: its folder is as good as ours. */
		if ((errno == ENOTEMPTY || errno == EEXIST) && wp_fs_exists(dest)) {

			wp_fs_rm_rf(tmp, NULL);
		} else {
			rc = wp_error_sys(err, WP_EIO, "moving the unpacked image to '%s'", dest);
		}
	}
done:
	if (rootfd >= 0)
		close(rootfd);
	if (rc < 0) {

		wp_fs_rm_rf(tmp, NULL);
		json_decref(*summary);
		*summary = NULL;
	}
	wp_manifest_release(&m);
	return rc;
}
