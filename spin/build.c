/* Spin's OCI layout (what `spin registry push` makes), from a spin.toml:
 * - one application/vnd.wasm.content.layer.v1+wasm layer per component source (and per
 *   dependency), the locked app naming it by digest;
 * - one application/vnd.wasm.content.layer.v1+data layer per static file, except files of
 *   128 bytes or less, which are inlined (base64) in the locked app and get no layer;
 * - past 499 layers, or with SPIN_OCI_ARCHIVE_LAYERS set, one
 *   application/vnd.wasm.content.bundle.v1.tar+gzip layer per component's files instead;
 * - identical layers once; the locked app last, as application/vnd.fermyon.spin.application.v1+config;
 * - an OCI image config (wasm/wasip1) labelled com.fermyon.spin.lockedAppDigest;
 * - manifest annotations title, version, description, authors, created. */
#include "oci/build.h"
#include "common/path.h"
#include "spin/build.h"
#include "oci/config.h"
#include "oci/layer.h"
#include "oci/mediatype.h"
#include "spin/spin.h"
#include "oci/statcache.h"
#include "oci/wasm.h"
#include "common/fs.h"
#include "common/crc32.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The authors annotation, at most (past it they stay in spin.toml only). */
#define AUTHORS_MAX (1u << 16)

#define INLINE_MAX 128
#define MAX_LAYERS 500

typedef struct layers {
	wp_descriptor *items;
	size_t len;
} layers;

/* A wasm source stored by the prefetch thread while the files are being archived. */
typedef struct prefetched {
	char *path;
	struct stat st;
	char digest[WP_DIGEST_BUFSZ];
	int64_t size;
	bool done;
	int rc;
	wp_error err;
} prefetched;

typedef struct prefetch {
	prefetched *items;
	size_t len;
	wp_store *store;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
} prefetch;

typedef struct spin_build {
	const wp_build_opts *o;
	json_t *urls;
	wp_store *store;
	wp_statcache *cache;
	layers ls;
	wp_error *err;
	int level, threads;
	prefetch pf;
} spin_build;

static void layers_release(layers *l)
{
	for (size_t i = 0; i < l->len; i++)
		wp_descriptor_release(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

/* Identical layers (same bytes and media type, as Spin compares them) appear once, where
 * they first appear. */
static int add_layer(spin_build *b, const char *mt, const char *digest, int64_t size)
{
	wp_descriptor *d;

	for (size_t i = 0; i < b->ls.len; i++)
		if (!strcmp(b->ls.items[i].digest, digest) && !strcmp(b->ls.items[i].media_type, mt))
			return 0;
	d = wp_xreallocarray(b->ls.items, b->ls.len + 1, sizeof(*d));
	b->ls.items = d;
	wp_descriptor_init(&d[b->ls.len++], mt, digest, size);
	return 0;
}

static const char *file_url_path(const char *url)
{
	return url && !strncmp(url, "file://", 7) ? url + 7 : NULL;
}

static void *prefetch_main(void *arg)
{
	prefetch *pf = arg;

	for (size_t i = 0; i < pf->len; i++) {
		prefetched *p = &pf->items[i];

		wp_error_init(&p->err);
		p->rc = wp_store_ingest_file(pf->store, p->path, &p->st, p->digest, &p->size, &p->err);
		pthread_mutex_lock(&pf->mu);
		p->done = true;
		pthread_cond_broadcast(&pf->cv);
		pthread_mutex_unlock(&pf->mu);
	}
	return NULL;
}

/* The local wasm sources the stat cache does not know are stored by a thread of their own,
 * at the same time as the files are archived; each is taken up in its place in the layer
 * order. The cache itself is only used from this thread. */
static void prefetch_start(spin_build *b, json_t *locked)
{
	prefetch *pf = &b->pf;
	json_t *c;
	size_t i;

	pthread_mutex_init(&pf->mu, NULL);
	pthread_cond_init(&pf->cv, NULL);
	pf->store = b->store;
	json_array_foreach(json_object_get(locked, "components"), i, c) {
		const char *path = file_url_path(wp_json_str(json_object_get(c, "source"), "source"));
		char digest[WP_DIGEST_BUFSZ];
		struct stat st;
		bool seen = false;
		prefetched *items;

		if (!path || stat(path, &st) < 0 || !S_ISREG(st.st_mode) || wp_statcache_lookup(b->cache, &st, digest))
			continue;
		for (size_t k = 0; k < pf->len; k++)
			seen |= !strcmp(pf->items[k].path, path);
		if (seen || !(items = wp_xrealloc(pf->items, (pf->len + 1) * sizeof(*items))))
			continue;
		pf->items = items;
		memset(&items[pf->len], 0, sizeof(*items));
		items[pf->len].st = st;
		if ((items[pf->len].path = wp_xstrdup(path)))
			pf->len++;
	}
	if (pf->len && pthread_create(&pf->thread, NULL, prefetch_main, pf) == 0)
		pf->started = true;
}

/* 1 with the digest when the prefetch thread stored path as it was when stat'ed, 0 when it
 * did not take it. */
static int prefetched_get(spin_build *b, const char *path, const struct stat *st, char digest[WP_DIGEST_BUFSZ],
			  int64_t *size)
{
	prefetch *pf = &b->pf;

	if (!pf->started)
		return 0;
	for (size_t i = 0; i < pf->len; i++) {
		prefetched *p = &pf->items[i];

		if (strcmp(p->path, path))
			continue;
		pthread_mutex_lock(&pf->mu);
		while (!p->done)
			pthread_cond_wait(&pf->cv, &pf->mu);
		pthread_mutex_unlock(&pf->mu);
		if (p->rc < 0) {
			*b->err = p->err;
			return p->rc;
		}
		if (p->st.st_ino != st->st_ino || p->st.st_dev != st->st_dev || p->st.st_size != st->st_size ||
		    p->st.st_mtim.tv_sec != st->st_mtim.tv_sec || p->st.st_mtim.tv_nsec != st->st_mtim.tv_nsec)
			return 0;
		memcpy(digest, p->digest, WP_DIGEST_BUFSZ);
		*size = p->size;
		return 1;
	}
	return 0;
}

static void prefetch_stop(spin_build *b)
{
	prefetch *pf = &b->pf;

	if (pf->started)
		pthread_join(pf->thread, NULL);
	for (size_t i = 0; i < pf->len; i++)
		free(pf->items[i].path);
	free(pf->items);
	if (pf->store) {
		pthread_mutex_destroy(&pf->mu);
		pthread_cond_destroy(&pf->cv);
	}
	memset(pf, 0, sizeof(*pf));
}

/* A file into the store, through the stat cache: unchanged input is not read again. */
static int ingest(spin_build *b, const char *path, char digest[WP_DIGEST_BUFSZ], int64_t *size)
{
	struct stat st;
	int64_t have;
	int rc;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return wp_error_sys(b->err, WP_EIO, "reading '%s'", path);
	if (wp_statcache_lookup(b->cache, &st, digest) &&
	    wp_store_has_blob(b->store, digest, &have) && have == (int64_t)st.st_size) {
		*size = have;
		return 0;
	}
	if ((rc = prefetched_get(b, path, &st, digest, size)) < 0)
		return rc;
	if (rc == 0 && (rc = wp_store_ingest_file(b->store, path, &st, digest, size, b->err)) < 0)
		return rc;
	wp_statcache_record(b->cache, &st, digest);
	return 0;
}

/* ContentRef {inline?, digest}: small content is inlined (base64), as Spin does. */
static int content_ref(spin_build *b, const char *path, const char *digest, int64_t size, json_t *obj, bool *inlined)
{
	*inlined = size <= INLINE_MAX;
	if (*inlined) {
		wp_buf data;
		char enc[INLINE_MAX / 3 * 4 + 8], got[WP_DIGEST_BUFSZ];
		int rc;

		wp_buf_init(&data, INLINE_MAX);
		rc = wp_fs_read_file(path, INLINE_MAX, &data, b->err);
		if (rc == 0 && (rc = wp_digest_bytes(data.data ? data.data : "", data.len, got, b->err)) == 0 && strcmp(got, digest))
			rc = wp_error_set(b->err, WP_EIO, "'%s' changed while the image was being built", path);
		if (rc < 0) {
			wp_buf_release(&data);
			return rc;
		}
		EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)(data.data ? data.data : ""), (int)data.len);
		json_object_set_new(obj, "inline", json_string(enc));
		wp_buf_release(&data);
	}
	json_object_set_new(obj, "digest", json_string(digest));
	return 0;
}

/* The store path of a source named by URL: fetched (and checked) once. */
static int fetched_source(spin_build *b, const char *cached, const char *what, char **path)
{
	const char *digest = strrchr(cached, '/');
	const char *url = digest ? wp_json_str(b->urls, digest + 1) : NULL;
	int rc;

	*path = NULL;
	if (!url)
		return wp_error_set(b->err, WP_ENOTFOUND, "%s: source '%s' is not there", what, cached);
	if (!b->o->fetch)
		return wp_error_set(b->err, WP_EUSAGE, "%s: source '%s' would need fetching", what, url);
	if ((rc = b->o->fetch(b->o->fetch_ctx, b->store, url, digest + 1, b->err)) < 0)
		return wp_error_prefix(b->err, "%s", what);
	*path = wp_store_blob_path(b->store, digest + 1);
	return 0;
}

/* A wasm source (component or dependency) becomes a wasm layer and a digest reference. */
static int wasm_source(spin_build *b, json_t *source, const char *what)
{
	const char *path = file_url_path(wp_json_str(source, "source"));
	_cleanup_free_ char *fetched = NULL;
	char digest[WP_DIGEST_BUFSZ];
	json_t *neu;
	int64_t size;
	bool inl;
	int kind, rc;

	if (!path)
		return wp_error_set(b->err, WP_EINVALID, "%s has no local source", what);
	if (access(path, R_OK) < 0) {
		/* Sources named by URL go straight into the store (Spin keeps them in its cache). */
		if ((rc = fetched_source(b, path, what, &fetched)) < 0)
			return rc;
		path = fetched;
	}
	if ((rc = wp_wasm_sniff_file(path, &kind, b->err)) < 0)
		return wp_error_prefix(b->err, "%s", what);
	if ((rc = ingest(b, path, digest, &size)) < 0 || (rc = add_layer(b, WP_MT_SPIN_WASM, digest, size)) < 0)
		return rc;
	neu = json_object();
	json_object_set_new(neu, "content_type", json_string("application/wasm"));
	if ((rc = content_ref(b, path, digest, size, neu, &inl)) < 0) {
		json_decref(neu);
		return rc;
	}
	json_object_clear(source);
	json_object_update(source, neu);
	json_decref(neu);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_dest(const void *a, const void *b)
{
	return strcmp((*(wp_spin_file *const *)a)->dest, (*(wp_spin_file *const *)b)->dest);
}

/* All the files of a component in one archive layer. Digests the stat cache does not know
 * are taken while the files are tarred, so each file is read once. */
static int component_archive(spin_build *b, wp_spin_file **mine, size_t n, wp_layer_result *lr)
{
	wp_layer_list tar = { .no_diff_id = true }, *one = &tar;
	int reused = 0, rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		if ((rc = wp_layer_list_add(&tar, mine[i]->dest, mine[i]->src, &mine[i]->st, 0644, b->err)) == 0)
			memcpy(tar.items[tar.len - 1].digest, mine[i]->digest, WP_DIGEST_BUFSZ);
	/* Through the layer cache: an unchanged component does not archive again. */
	if (rc == 0 && (rc = wp_layer_list_finish(&tar, b->err)) == 0)
		rc = wp_build_layers(b->store, b->cache, &one, 1, b->o, lr, &reused, b->err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const wp_layer_entry *e = wp_layer_list_get(&tar, mine[i]->dest);

		if (!e || !wp_digest_valid(e->digest))
			rc = wp_error_set(b->err, WP_EIO, "'%s' was not hashed", mine[i]->src);
		else
			memcpy(mine[i]->digest, e->digest, WP_DIGEST_BUFSZ);
	}
	wp_layer_list_release(&tar);
	return rc;
}

/* The files of a component, sorted by path: the same app gives the same locked app and
 * layers anywhere. */
static wp_spin_file **component_files_of(json_t *comp, wp_spin_files *all, size_t *n)
{
	const char *id = wp_json_str(comp, "id");
	wp_spin_file **mine = wp_xcalloc(all->len + 1, sizeof(*mine));

	*n = 0;
	for (size_t i = 0; i < all->len; i++)
		if (!strcmp(all->items[i].component, id))
			mine[(*n)++] = &all->items[i];
	qsort(mine, *n, sizeof(*mine), cmp_dest);
	return mine;
}

/* The files of one component in the locked app, and their layers: a data layer each (not
 * for inlined ones), or the archive built before (arch). */
static int component_files(spin_build *b, json_t *comp, wp_spin_files *all, bool archive, const wp_layer_result *arch)
{
	size_t n;
	wp_spin_file **mine = component_files_of(comp, all, &n);
	json_t *files = json_array();
	int rc = 0;

	if (archive && n)
		rc = add_layer(b, WP_MT_SPIN_ARCHIVE, arch->digest, arch->size);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *entry = json_object();
		bool inl;

		if ((rc = content_ref(b, mine[i]->src, mine[i]->digest, mine[i]->size, entry, &inl)) == 0) {
			json_object_set_new(entry, "path", json_string(mine[i]->dest));
			json_array_append(files, entry);
			if (!archive && !inl) {
				char digest[WP_DIGEST_BUFSZ];
				int64_t size;

				if (!wp_store_has_blob(b->store, mine[i]->digest, NULL) &&
				    (rc = ingest(b, mine[i]->src, digest, &size)) == 0 && strcmp(digest, mine[i]->digest))
					rc = wp_error_set(b->err, WP_EIO, "'%s' changed while the image was being built", mine[i]->src);
				if (rc == 0)
					rc = add_layer(b, WP_MT_SPIN_DATA, mine[i]->digest, mine[i]->size);
			}
		}
		json_decref(entry);
	}
	if (rc == 0) {
		if (json_array_size(files))
			json_object_set(comp, "files", files);
		else
			json_object_del(comp, "files");
	}
	json_decref(files);
	free(mine);
	return rc;
}

typedef struct hash_job {
	wp_store *store;          /* set: store each file as a blob while hashing it */
	wp_spin_files *files;
	bool *todo;
	size_t next;
	pthread_mutex_t mu;
	int failed;
	char failed_path[PATH_MAX];
} hash_job;

static void *hash_worker(void *arg)
{
	hash_job *h = arg;

	for (;;) {
		size_t i;
		wp_error err;
		uint64_t size;

		pthread_mutex_lock(&h->mu);
		while (h->next < h->files->len && !h->todo[h->next])
			h->next++;
		i = h->next++;
		pthread_mutex_unlock(&h->mu);
		if (i >= h->files->len)
			return NULL;
		if ((h->store ? wp_store_ingest_file(h->store, h->files->items[i].src, NULL, h->files->items[i].digest,
						     (int64_t *)&size, &err) :
				wp_digest_file(h->files->items[i].src, h->files->items[i].digest, &size, &err)) < 0) {
			pthread_mutex_lock(&h->mu);
			if (!h->failed) {
				h->failed = err.code;
				snprintf(h->failed_path, sizeof(h->failed_path), "%s", h->files->items[i].src);
			}
			pthread_mutex_unlock(&h->mu);
		}
		h->files->items[i].size = (long long)size;
	}
}

/* Every file's digest, from the stat cache, else hashed on every processor. What the
 * layout needs (layers or one archive) is decided from them; when it cannot be an archive
 * (store), the files are stored as blobs in the same pass, so each is read once. */
static int hash_files(spin_build *b, wp_spin_files *files, bool store)
{
	hash_job h = { .files = files, .store = store ? b->store : NULL };
	pthread_t threads[64];
	int nthreads = b->threads > 64 ? 64 : b->threads, started = 0;
	int rc = 0;

	/* the loader's stat of each file (file_sizes filled in those it had not) */
	h.todo = wp_xcalloc(files->len + 1, sizeof(bool));
	for (size_t i = 0; i < files->len; i++)
		h.todo[i] = !wp_statcache_lookup(b->cache, &files->items[i].st, files->items[i].digest);
	pthread_mutex_init(&h.mu, NULL);
	for (; started < nthreads; started++)
		if (pthread_create(&threads[started], NULL, hash_worker, &h) != 0)
			break;
	if (!started)
		hash_worker(&h);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&h.mu);
	if (h.failed)
		rc = wp_error_set(b->err, h.failed, "reading '%s' failed", h.failed_path);
	for (size_t i = 0; rc == 0 && i < files->len; i++)
		if (h.todo[i])
			wp_statcache_record(b->cache, &files->items[i].st, files->items[i].digest);
	free(h.todo);
	return rc;
}

/* Every file's stat, as the loader saw it (a failed stat is the error the user sees,
 * before any work). */
static int file_sizes(spin_build *b, wp_spin_files *files)
{
	for (size_t i = 0; i < files->len; i++) {
		wp_spin_file *f = &files->items[i];

		if (!f->st.st_mode && stat(f->src, &f->st) < 0)
			return wp_error_sys(b->err, WP_EIO, "reading '%s'", f->src);
		f->size = (long long)f->st.st_size;
	}
	return 0;
}

/* What tells files apart before they are hashed: their size and, when sizes do not, CRCs
 * of their first and last 4 KiB. Files that differ there cannot be identical. */
typedef struct fingerprint {
	long long size;
	uint32_t head, tail;
	const char *path;
} fingerprint;

static int cmp_fingerprint(const void *a, const void *b)
{
	const fingerprint *x = a, *y = b;

	if (x->size != y->size)
		return (x->size > y->size) - (x->size < y->size);
	if (x->head != y->head)
		return (x->head > y->head) - (x->head < y->head);
	return (x->tail > y->tail) - (x->tail < y->tail);
}

static size_t count_distinct(fingerprint *fp, size_t n)
{
	size_t distinct = 0;

	qsort(fp, n, sizeof(*fp), cmp_fingerprint);
	for (size_t i = 0; i < n; i++)
		distinct += i == 0 || cmp_fingerprint(&fp[i], &fp[i - 1]);
	return distinct;
}

/* An unreadable file keeps zeros: it is reported when it is read for real. */
static void read_ends(fingerprint *f)
{
	unsigned char buf[WP_IO_CHUNK];
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	if ((n = pread(fd, buf, sizeof(buf), 0)) > 0)
		f->head = wp_crc32(0, buf, (size_t)n);
	if (f->size > (long long)sizeof(buf) && (n = pread(fd, buf, sizeof(buf), (off_t)(f->size - (long long)sizeof(buf)))) > 0)
		f->tail = wp_crc32(0, buf, (size_t)n);
	close(fd);
}

/* Before the digests are known, the layers there could be: at most one per source and file
 * over the inlining size; at least one per file that is told apart from the others by its
 * size, or if that is not enough to decide, by its ends. */
static void layer_bounds(json_t *locked, const wp_spin_files *files, size_t *most, size_t *least)
{
	fingerprint *fp = wp_xcalloc(files->len + 1, sizeof(*fp));
	size_t n = 0, big = 0, i;
	json_t *c;

	json_array_foreach(json_object_get(locked, "components"), i, c) {
		const char *k;
		json_t *v;

		n += 1 + json_object_size(json_object_get(c, "dependencies"));
		json_object_foreach(json_object_get(c, "trigger_dependencies"), k, v)
			n += json_array_size(v);
	}
	for (i = 0; i < files->len; i++) {
		if (files->items[i].size <= INLINE_MAX)
			continue;
		if (fp)
			fp[big] = (fingerprint){ .size = files->items[i].size, .path = files->items[i].src };
		big++;
	}
	*most = n + big;
	*least = fp ? count_distinct(fp, big) : 0;
	if (fp && *least <= MAX_LAYERS - 1 && *most > MAX_LAYERS - 1) {
		for (i = 0; i < big; i++)
			read_ends(&fp[i]);
		*least = count_distinct(fp, big);
	}
	free(fp);
}

/* Layers the simple assembly would make: one per distinct wasm source, one per distinct
 * file over the inlining size. */
static size_t count_layers(json_t *locked, const wp_spin_files *files)
{
	wp_strv seen = { 0 };
	size_t n = 0, i;
	json_t *c;

	json_array_foreach(json_object_get(locked, "components"), i, c) {
		const char *src = wp_json_str(json_object_get(c, "source"), "source");

		if (src && !wp_strv_contains(&seen, src)) {
			wp_strv_push(&seen, src);
			n++;
		}
	}
	wp_strv_release(&seen);
	{
		json_t *distinct = json_object();

		for (i = 0; i < files->len; i++)
			if (files->items[i].size > INLINE_MAX)
				json_object_set_new(distinct, files->items[i].digest, json_true());
		n += json_object_size(distinct);
		json_decref(distinct);
	}
	return n;
}

/* A local source that is not wasm is refused before anything is stored. */
static int check_source(spin_build *b, json_t *source, const char *what)
{
	const char *path = file_url_path(wp_json_str(source, "source"));
	int kind;

	if (!path || access(path, R_OK) < 0)
		return 0;
	return wp_wasm_sniff_file(path, &kind, b->err) < 0 ? wp_error_prefix(b->err, "%s", what) : 0;
}

static int check_sources(spin_build *b, json_t *locked)
{
	json_t *c;
	size_t i;
	int rc = 0;

	json_array_foreach(json_object_get(locked, "components"), i, c) {
		_cleanup_free_ char *what = wp_str_fmt("component `%s`", wp_json_str(c, "id"));
		const char *k;
		json_t *v;

		if ((rc = check_source(b, json_object_get(c, "source"), what)) < 0)
			return rc;
		json_object_foreach(json_object_get(c, "dependencies"), k, v)
			if ((rc = check_source(b, json_object_get(v, "source"), what)) < 0)
				return rc;
		json_object_foreach(json_object_get(c, "trigger_dependencies"), k, v) {
			size_t j;
			json_t *d;

			json_array_foreach(v, j, d)
				if ((rc = check_source(b, json_object_get(d, "source"), what)) < 0)
					return rc;
		}
	}
	return 0;
}

static int assemble(spin_build *b, json_t *locked, wp_spin_files *files, bool archive)
{
	json_t *comps = json_object_get(locked, "components"), *c;
	wp_layer_result *archs;
	size_t i;
	int rc;

	if ((rc = check_sources(b, locked)) < 0)
		return rc;
	prefetch_start(b, locked);
	/* The archives first, while the wasm sources are stored alongside; then everything in
	 * layer order. */
	archs = wp_xcalloc(json_array_size(comps) + 1, sizeof(*archs));
	json_array_foreach(comps, i, c) {
		size_t n;
		wp_spin_file **mine;

		if (rc < 0 || !archive)
			break;
		mine = component_files_of(c, files, &n);
		if (n)
			rc = component_archive(b, mine, n, &archs[i]);
		free(mine);
	}
	json_array_foreach(comps, i, c) {
		_cleanup_free_ char *what = wp_str_fmt("component `%s`", wp_json_str(c, "id"));
		json_t *deps = json_object_get(c, "dependencies"), *tdeps = json_object_get(c, "trigger_dependencies");
		const char *k;
		json_t *v;

		if (rc < 0 || (rc = wasm_source(b, json_object_get(c, "source"), what)) < 0)
			break;
		json_object_foreach(deps, k, v)
			if ((rc = wasm_source(b, json_object_get(v, "source"), what)) < 0)
				break;
		json_object_foreach(tdeps, k, v) {
			size_t j;
			json_t *d;

			json_array_foreach(v, j, d)
				if (rc == 0 && (rc = wasm_source(b, json_object_get(d, "source"), what)) < 0)
					break;
		}
		if (rc < 0 || (rc = component_files(b, c, files, archive, &archs[i])) < 0)
			break;
	}
	free(archs);
	prefetch_stop(b);
	return rc;
}

/* Annotations Spin infers from the app: title, description, version, authors. */
static void infer_annotations(wp_manifest *m, const json_t *meta)
{
	const char *name = wp_json_str(meta, "name");
	json_t *authors = json_object_get(meta, "authors");

	if (name)
		wp_kvlist_set(&m->annotations, WP_ANN_TITLE, name);
	if (wp_json_str(meta, "description"))
		wp_kvlist_set(&m->annotations, "org.opencontainers.image.description", wp_json_str(meta, "description"));
	if (wp_json_str(meta, "version"))
		wp_kvlist_set(&m->annotations, WP_ANN_VERSION, wp_json_str(meta, "version"));
	if (json_array_size(authors)) {
		wp_buf joined;
		size_t i;
		json_t *a;

		wp_buf_init(&joined, AUTHORS_MAX);
		/* authors past 64 KiB are left out of the annotation (they stay in spin.toml) */
		json_array_foreach(authors, i, a) {
			const char *one = json_string_value(a);

			if (i)
				wp_buf_append_truncated(&joined, ", ", 2);
			wp_buf_append_truncated(&joined, one, strlen(one));
		}
		wp_kvlist_set(&m->annotations, "org.opencontainers.image.authors", joined.data ? joined.data : "");
		wp_buf_release(&joined);
	}
}

static int build_spin_layout(spin_build *b, const wp_build_opts *o, json_t *lock_src, wp_spin_files *files,
			     bool archive, const char *created, wp_build_result *res)
{
	wp_manifest m = { 0 };
	wp_config_image cfg = { 0 };
	json_t *locked = json_deep_copy(lock_src);
	wp_buf data;
	char digest[WP_DIGEST_BUFSZ];
	int rc;

	wp_buf_init(&data, WP_MANIFEST_MAX);
	{
		/* Registries cap an image near 500 layers: past 499, files go into one archive
		 * per component (and always with SPIN_OCI_ARCHIVE_LAYERS). */
		size_t count = archive ? 0 : count_layers(locked, files);

		if (count > MAX_LAYERS - 1) {
			archive = true;
			wp_debug("%zu layers: using archive layers", count);
		} else if (archive) {
			wp_debug("archive layers (SPIN_OCI_ARCHIVE_LAYERS, or over %d files that differ in size or ends)", MAX_LAYERS - 1);
		}
		rc = assemble(b, locked, files, archive);
	}
	if (rc < 0)
		goto done;
	json_object_del(json_object_get(locked, "metadata"), "origin");
	if ((rc = wp_json_emit(locked, &data, b->err)) < 0 ||
	    (rc = wp_store_put_blob(b->store, data.data, data.len, digest, b->err)) < 0 ||
	    (rc = add_layer(b, WP_MT_SPIN_CONFIG, digest, (int64_t)data.len)) < 0)
		goto done;
	for (size_t i = 0; i < b->ls.len; i++) {
		wp_descriptor d;

		wp_descriptor_copy(&d, &b->ls.items[i]);
		wp_manifest_add_layer(&m, &d);
	}
	/* The label keeps image configs (and so image ids) distinct per app. */
	wp_kvlist_set(&cfg.labels, "com.fermyon.spin.lockedAppDigest", digest);
	infer_annotations(&m, json_object_get(locked, "metadata"));
	rc = wp_build_image_finish(b->store, &cfg, &m, o, created, res, b->err);
done:
	json_decref(locked);
	wp_buf_release(&data);
	wp_config_image_release(&cfg);
	wp_manifest_release(&m);
	return rc;
}

/* app_rel with the ".." that climb above the app folder dropped: Spin resolves the
 * manifest's paths from "/" in a rootfs, where "/.." is "/". */
static int rootfs_path(const char *app_rel, wp_buf *out, wp_error *err)
{
	const char *p = app_rel;

	while (!strncmp(p, "../", 3))
		p += 3;
	return wp_path_clean(p, out, err);
}

/* A scratch image for runtimes that read a Spin app from a rootfs: the wasm sources, the
 * files at the paths the manifest names, and the manifest itself as /spin.toml. */
static int build_spin_image(spin_build *b, const wp_build_opts *o, json_t *locked, const wp_spin_files *files,
			    const char *created, wp_build_result *res)
{
	wp_layer_list wasm = { 0 }, statics = { 0 }, conf = { 0 }, *lists[3];
	wp_layer_result results[3];
	_cleanup_free_ char *app_dir = NULL;
	wp_manifest m = { 0 };
	wp_config_image cfg = { 0 };
	wp_buf path;
	json_t *c;
	size_t i, nl = 0;
	struct stat st;
	int rc = 0;

	wp_buf_init(&path, PATH_MAX);
	{
		char real[PATH_MAX];

		if (!realpath(o->spin_manifest, real)) {
			rc = wp_error_sys(b->err, WP_EIO, "reading '%s'", o->spin_manifest);
			goto done;
		}
		*strrchr(real, '/') = '\0';
		app_dir = wp_xstrdup(real);
	}
	json_array_foreach(json_object_get(locked, "components"), i, c) {
		const char *src = file_url_path(wp_json_str(json_object_get(c, "source"), "source"));
		int kind;

		if (!src) {
			rc = wp_error_set(b->err, WP_EINVALID, "component `%s` has no local source", wp_json_str(c, "id"));
			goto done;
		}
		if (access(src, F_OK) < 0 && strrchr(src, '/') && wp_json_str(b->urls, strrchr(src, '/') + 1))
			continue; /* named by URL in /spin.toml: Spin fetches it itself */
		if ((rc = wp_wasm_sniff_file(src, &kind, b->err)) < 0) {
			wp_error_prefix(b->err, "component `%s`", wp_json_str(c, "id"));
			goto done;
		}
		/* The source as the manifest names it, relative to the app folder. */
		if ((rc = rootfs_path(!strncmp(src, app_dir, strlen(app_dir)) && src[strlen(app_dir)] == '/' ?
				      src + strlen(app_dir) + 1 : wp_path_basename(src), &path, b->err)) < 0 ||
		    stat(src, &st) < 0)
			goto done;
		rc = wp_layer_list_add(&wasm, path.data, src, &st, 0755, b->err);
		if (rc == WP_EEXISTS)
			rc = 0;
		if (rc < 0)
			goto done;
	}
	for (i = 0; i < files->len; i++) {
		if ((rc = rootfs_path(files->items[i].app_rel, &path, b->err)) < 0 || stat(files->items[i].src, &st) < 0)
			goto done;
		rc = wp_layer_list_add(&statics, path.data, files->items[i].src, &st, 0644, b->err);
		if (rc == WP_EEXISTS)
			rc = 0;
		if (rc < 0)
			goto done;
	}
	if (stat(o->spin_manifest, &st) < 0 || (rc = wp_layer_list_add(&conf, "spin.toml", o->spin_manifest, &st, 0644, b->err)) < 0) {
		rc = rc < 0 ? rc : wp_error_sys(b->err, WP_EIO, "reading '%s'", o->spin_manifest);
		goto done;
	}
	if ((rc = wp_layer_list_finish(&wasm, b->err)) < 0 || (rc = wp_layer_list_finish(&statics, b->err)) < 0)
		goto done;
	if (wasm.len)
		lists[nl++] = &wasm;
	if (statics.len)
		lists[nl++] = &statics;
	lists[nl++] = &conf;
	if ((rc = wp_build_layers(b->store, b->cache, lists, nl, o, results, &res->layers_reused, b->err)) < 0)
		goto done;
	for (i = 0; i < nl; i++) {
		wp_descriptor d;

		wp_strv_push(&cfg.diff_ids, results[i].diff_id);
		wp_descriptor_init(&d, WP_MT_OCI_LAYER_GZIP, results[i].digest, results[i].size);
		wp_manifest_add_layer(&m, &d);
	}
	infer_annotations(&m, json_object_get(locked, "metadata"));
	rc = wp_build_image_finish(b->store, &cfg, &m, o, created, res, b->err);
done:
	wp_layer_list_release(&wasm);
	wp_layer_list_release(&statics);
	wp_layer_list_release(&conf);
	wp_buf_release(&path);
	wp_config_image_release(&cfg);
	wp_manifest_release(&m);
	return rc;
}

/* The CNCF artifact of a one-component app without files. */
static int build_spin_wasm(const wp_build_opts *o, wp_store *s, json_t *locked, const wp_spin_files *files,
			   wp_build_result *res, wp_error *err)
{
	json_t *comps = json_object_get(locked, "components");
	wp_build_opts w = *o;
	const char *src;
	int rc;

	if (json_array_size(comps) != 1)
		return wp_error_set(err, WP_EUSAGE, "the wasm layout holds one component; this app has %zu: use --layout spin",
				    json_array_size(comps));
	if (files->len)
		return wp_error_set(err, WP_EUSAGE, "the wasm layout cannot carry the app's files: use --layout spin");
	src = file_url_path(wp_json_str(json_object_get(json_array_get(comps, 0), "source"), "source"));
	if (!src)
		return wp_error_set(err, WP_EINVALID, "the component has no local source");
	memset(&w.wasm, 0, sizeof(w.wasm));
	w.spin_manifest = NULL;
	w.layout = "wasm";
	wp_strv_push(&w.wasm, src);
	rc = wp_build(s, &w, res, err);
	wp_strv_release(&w.wasm);
	return rc;
}

/* A one-component app from flags, with a command trigger: a plain WASI program in the
 * Spin layout. The component is named after the wasm file. */
static int synthesize(const wp_build_opts *o, json_t **locked, wp_spin_files *files, wp_error *err)
{
	char real[PATH_MAX], id[64];
	const char *base;
	wp_layer_list fl = { 0 };
	json_t *env, *comp;
	size_t n = 0;
	int rc;

	if (o->wasm.len != 1)
		return wp_error_set(err, WP_EUSAGE, "--layout spin from flags takes exactly one --wasm (or use a spin.toml)");
	if (o->args.len)
		return wp_error_set(err, WP_EUSAGE, "Spin's command trigger takes no --arg");
	if (!realpath(o->wasm.items[0], real))
		return wp_error_sys(err, WP_EIO, "--wasm '%s'", o->wasm.items[0]);
	base = wp_path_basename(real);
	for (const char *p = base; *p && *p != '.' && n + 1 < sizeof(id); p++) {
		char c = (char)tolower((unsigned char)*p);

		if (!isalnum((unsigned char)c))
			c = '-';
		if (c == '-' && (n == 0 || id[n - 1] == '-'))
			continue;
		if (n == 0 && !isalpha((unsigned char)c))
			continue;
		id[n++] = c;
	}
	while (n && id[n - 1] == '-')
		n--;
	id[n] = '\0';
	if (!n)
		snprintf(id, sizeof(id), "app");
	env = json_object();
	for (size_t i = 0; i < o->env.len; i++) {
		_cleanup_free_ char *kv = wp_xstrdup(o->env.items[i]);
		char *eq = strchr(kv, '=');

		if (!eq || eq == kv) {
			json_decref(env);
			return wp_error_set(err, WP_EUSAGE, "--env '%s': want KEY=VALUE", o->env.items[i]);
		}
		*eq = '\0';
		json_object_set_new(env, kv, json_string(eq + 1));
	}
	if ((rc = wp_build_collect_files(&o->files, o->follow_links ? WP_FILES_FOLLOW_ALL : 0, &fl, err)) < 0) {
		json_decref(env);
		wp_layer_list_release(&fl);
		return rc;
	}
	for (size_t i = 0; i < fl.len; i++) {
		wp_spin_file *f;

		if (!fl.items[i].src)
			continue;
		f = wp_xrealloc(files->items, (files->len + 1) * sizeof(*f));
		files->items = f;
		memset(&f[files->len], 0, sizeof(*f));
		f[files->len].st = fl.items[i].st;
		f[files->len].component = wp_xstrdup(id);
		f[files->len].src = wp_xstrdup(fl.items[i].src);
		f[files->len].dest = wp_xstrdup(fl.items[i].dest);
		f[files->len].app_rel = wp_xstrdup(fl.items[i].dest);
		files->len++;
	}
	wp_layer_list_release(&fl);
	if (rc < 0) {
		json_decref(env);
		return rc;
	}
	comp = json_pack("{s:s,s:{s:s,s:s+}}", "id", id, "source", "content_type", "application/wasm", "source", "file://", real);
	if (json_object_size(env))
		json_object_set(comp, "env", env);
	json_decref(env);
	*locked = json_pack("{s:i,s:{s:s,s:{s:s},s:{s:{}}},s:[{s:s+,s:s,s:{s:s}}],s:[o]}", "spin_lock_version", 0, "metadata",
			    "name", id, "trigger", "type", "command", "triggers", "command", "triggers", "id", id,
			    "-command-trigger", "trigger_type", "command", "trigger_config", "component", id, "components", comp);
	return *locked ? 0 : wp_error_set(err, WP_ENOMEM, "out of memory");
}

/* Spin's layout. When the layer count is sure to pass the limit before any file is hashed
 * (over 499 files that differ in size or in their first or last 4 KiB), the files go
 * straight into archives, which hash them on the way (one read per file); when it is sure
 * to stay under, each file is hashed and stored as its layer in one pass; in between (many
 * files alike at both ends, most likely copies), the digests decide. */
static int spin_layout(spin_build *b, const wp_build_opts *o, json_t *locked, wp_spin_files *files,
		       const char *created, wp_build_result *res)
{
	size_t most, least;
	bool archive;
	long long t0 = now_ms();
	int rc;

	if ((rc = file_sizes(b, files)) < 0)
		return rc;
	layer_bounds(locked, files, &most, &least);
	archive = getenv("SPIN_OCI_ARCHIVE_LAYERS") != NULL || least > MAX_LAYERS - 1;
	if (!archive) {
		if ((rc = hash_files(b, files, most <= MAX_LAYERS - 1)) < 0)
			return rc;
		wp_debug("hashed the files in %lld ms", now_ms() - t0);
	}
	t0 = now_ms();
	rc = build_spin_layout(b, o, locked, files, archive, created, res);
	wp_debug("assembled the layers in %lld ms", now_ms() - t0);
	return rc;
}

int wp_spin_build(wp_store *s, const wp_build_opts *o, wp_build_result *res, wp_error *err)
{
	const char *layout = o->layout ? o->layout : "spin";
	wp_spin_files files = { 0 };
	wp_spin_opts so = { .collect = &files, .follow_links = o->follow_links };
	spin_build b = { .o = o, .store = s, .err = err };
	json_t *locked = NULL;
	char created[40];
	long long t0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (strcmp(layout, "spin") && strcmp(layout, "image") && strcmp(layout, "wasm"))
		return wp_error_set(err, WP_EUSAGE, "--layout '%s': a Spin app builds as spin, image or wasm", layout);
	if (o->spin_manifest && (o->wasm.len || o->files.len || o->env.len || o->args.len))
		return wp_error_set(err, WP_EUSAGE, "a spin.toml names the wasm, files and env itself: drop --wasm, --file, --env and --arg");
	if (!o->spin_manifest && strcmp(layout, "spin"))
		return wp_error_set(err, WP_EUSAGE, "--layout %s needs a spin.toml", layout);
	b.level = o->gzip_level < 0 ? WP_BUILD_GZIP_LEVEL : o->gzip_level;
	b.threads = o->threads > 0 ? o->threads : wp_util_cpu_count();
	t0 = now_ms();
	rc = o->spin_manifest ? wp_spin_lock(o->spin_manifest, &so, &locked, err) : synthesize(o, &locked, &files, err);
	if (rc < 0)
		goto done;
	wp_debug("loaded the app: %zu files in %lld ms", files.len, now_ms() - t0);
	b.urls = files.urls;
	if ((rc = wp_build_created(o->path ? o->path : ".", created, sizeof(created), err)) < 0)
		goto done;
	b.cache = wp_statcache_open(s);
	if (!strcmp(layout, "wasm"))
		rc = build_spin_wasm(o, s, locked, &files, res, err);
	else if (!strcmp(layout, "image"))
		rc = build_spin_image(&b, o, locked, &files, created, res);
	else
		rc = spin_layout(&b, o, locked, &files, created, res);
	if (rc == 0)
		wp_statcache_save_or_warn(b.cache);
done:
	wp_statcache_free(b.cache);
	layers_release(&b.ls);
	json_decref(locked);
	wp_spin_files_release(&files);
	return rc;
}
