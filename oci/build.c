#include "oci/build.h"
#include "common/progress.h"
#include "common/path.h"
#include "common/links.h"
#include "oci/config.h"
#include "oci/gitinfo.h"
#include "oci/layer.h"
#include "oci/mediatype.h"
#include "oci/statcache.h"
#include "oci/wasm.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* zlib level 4 deflates wasm and text 3 to 5 times faster than level 6 for 2-5% more bytes
 * (measured in bench/build.sh); --gzip-level 9 when bytes matter more than time. */

void wp_build_result_release(wp_build_result *res)
{
	wp_descriptor_release(&res->manifest);
	wp_manifest_release(&res->m);
}

static int format_time(int64_t t, char *out, size_t outsz, wp_error *err)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return wp_error_set(err, WP_EINVALID, "time %lld cannot be formatted", (long long)t);
	return 0;
}

int wp_build_created(const char *path, char *out, size_t outsz, wp_error *err)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	wp_gitinfo gi;
	int rc = 0;

	out[0] = '\0';
	if (sde && *sde) {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(sde, &end, 10);
		if (errno || *end || v < 0)
			return wp_error_set(err, WP_EUSAGE, "SOURCE_DATE_EPOCH '%s' is not a whole number of seconds", sde);
		return format_time(v, out, outsz, err);
	}
	wp_gitinfo_read(path, &gi);
	if (gi.found)
		rc = format_time(gi.commit_time, out, outsz, err);
	wp_gitinfo_release(&gi);
	return rc;
}

/* ---- scanning the inputs ---- */

typedef struct scan {
	wp_layer_list wasm;
	wp_layer_list files;
	wp_statcache *cache;
	int entry_kind; /* the first --wasm's: a module or a component (WP_WASM_*) */
} scan;

static int add_file(wp_layer_list *l, const char *dest, const char *src, unsigned mode, wp_error *err)
{
	struct stat st;
	wp_buf clean;
	int rc;

	if (stat(src, &st) < 0)
		return wp_error_sys(err, WP_EIO, "input '%s'", src);
	if (!S_ISREG(st.st_mode))
		return wp_error_set(err, WP_EINVALID, "input '%s' is not a regular file", src);
	if (access(src, R_OK) < 0)
		return wp_error_sys(err, WP_EIO, "input '%s' cannot be read", src);
	wp_buf_init(&clean, PATH_MAX);
	rc = wp_path_clean(dest, &clean, err);
	if (rc == 0)
		rc = wp_layer_list_add(l, clean.data, src, &st, mode, err);
	wp_buf_release(&clean);
	return rc;
}

/* One --file folder being scanned: links are judged against it (rootfd), as the kernel
 * would follow them with the folder as "/". */
typedef struct tree_scan {
	wp_layer_list *l;
	int rootfd;
	const char *top;         /* the folder as given, for messages and paths */
	const char *root_name;   /* "the folder 'static'" */
	unsigned flags;          /* WP_FILES_* */
} tree_scan;

/* A link met in the tree: kept as a link (KEEP_LINKS) or followed when it stays inside;
 * refused when it leaves, unless FOLLOW_ALL. *follow says to go on with what it names. */
static int scan_link(tree_scan *t, int dfd, const char *name, const char *rel, const char *dest, bool *follow,
		     wp_error *err)
{
	char text[PATH_MAX];
	ssize_t n = readlinkat(dfd, name, text, sizeof(text) - 1);
	int rc;

	*follow = false;
	if (n < 0)
		return wp_error_sys(err, WP_EIO, "reading the link '%s/%s'", t->top, rel);
	text[n] = '\0';
	rc = wp_links_check_in(t->rootfd, rel, text, t->root_name, err);
	if (rc == WP_EINVALID && (t->flags & WP_FILES_FOLLOW_ALL)) {
		wp_error_init(err);
		*follow = true;
		return 0;
	}
	if (rc == WP_EINVALID)
		return wp_error_append(err, "; --follow-links copies what such links point at");
	if (rc < 0)
		return rc;
	if (t->flags & WP_FILES_KEEP_LINKS)
		return wp_layer_list_add_link(t->l, dest, text, err);
	*follow = true;
	return 0;
}

static int add_tree(tree_scan *t, const char *rel, const char *dest, int depth, wp_error *err)
{
	_cleanup_free_ char *dirpath = rel[0] ? wp_str_fmt("%s/%s", t->top, rel) : wp_xstrdup(t->top);
	int fd;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > 64)
		return wp_error_set(err, WP_EINVALID, "'%s' is nested too deeply", dirpath);
	fd = openat(t->rootfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		rc = wp_error_sys(err, WP_EIO, "input folder '%s'", dirpath);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (dest[0] && (rc = wp_layer_list_add(t->l, dest, NULL, NULL, 0755, err)) < 0) {
		closedir(d);
		return rc;
	}
	while (rc == 0 && (de = readdir(d))) {
		_cleanup_free_ char *child = NULL, *crel = NULL, *cdest = NULL;
		struct stat st;
		bool follow = true;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = wp_str_fmt("%s/%s", dirpath, de->d_name);
		crel = rel[0] ? wp_str_fmt("%s/%s", rel, de->d_name) : wp_xstrdup(de->d_name);
		cdest = dest[0] ? wp_str_fmt("%s/%s", dest, de->d_name) : wp_xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = wp_error_sys(err, WP_EIO, "input '%s'", child);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			if ((rc = scan_link(t, dirfd(d), de->d_name, crel, cdest, &follow, err)) < 0 || !follow)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, 0) < 0) {
				rc = wp_error_sys(err, WP_EIO, "input '%s' (a symbolic link)", child);
				break;
			}
		}
		if (S_ISDIR(st.st_mode))
			rc = add_tree(t, crel, cdest, depth + 1, err);
		else
			rc = add_file(t->l, cdest, child, 0644, err);
	}
	closedir(d);
	return rc;
}

/* "SRC[:DEST]": DEST defaults to SRC as given (relative) or its base name (absolute).
 * SRC itself is followed if it is a link: it was named. */
static int add_file_arg(wp_layer_list *l, const char *arg, unsigned flags, wp_error *err)
{
	_cleanup_free_ char *src = wp_xstrdup(arg);
	char *colon, *dest;
	struct stat st;
	wp_buf clean;
	int rc;

	colon = strchr(src, ':');
	if (colon)
		*colon = '\0';
	dest = colon ? colon + 1 : (src[0] == '/' ? (char *)wp_path_basename(src) : src);
	if (!*src)
		return wp_error_set(err, WP_EUSAGE, "--file '%s': no source", arg);
	if (stat(src, &st) < 0)
		return wp_error_sys(err, WP_EUSAGE, "--file '%s'", src);
	wp_buf_init(&clean, PATH_MAX);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_free_ char *root_name = wp_str_fmt("the folder '%s'", src);
		tree_scan t = { .l = l, .top = src, .root_name = root_name, .flags = flags };
		bool root = true;

		for (const char *p = dest; *p; p++)
			if (*p != '/' && *p != '.')
				root = false;
		rc = root && !strstr(dest, "..") ? 0 : wp_path_clean(dest, &clean, err);
		if (rc == 0 && (t.rootfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			rc = wp_error_sys(err, WP_EIO, "input folder '%s'", src);
		if (rc == 0) {
			rc = add_tree(&t, "", clean.len ? clean.data : "", 0, err);
			close(t.rootfd);
		}
	} else {
		_cleanup_free_ char *full = NULL;

		if (dest[0] && dest[strlen(dest) - 1] == '/')
			full = wp_str_fmt("%s%s", dest, wp_path_basename(src));
		rc = add_file(l, full ? full : dest, src, 0644, err);
	}
	wp_buf_release(&clean);
	if (rc < 0)
		wp_error_prefix(err, "--file '%s'", arg);
	return rc;
}

int wp_build_collect_files(const wp_strv *args, unsigned flags, wp_layer_list *out, wp_error *err)
{
	for (size_t i = 0; i < args->len; i++)
		if (add_file_arg(out, args->items[i], flags, err) < 0)
			return err->code;
	return wp_layer_list_finish(out, err);
}

/* ---- layers ---- */

static void cache_digests(wp_statcache *c, wp_layer_list *l, bool *all_known)
{
	*all_known = true;
	for (size_t i = 0; i < l->len; i++) {
		wp_layer_entry *e = &l->items[i];

		if (!e->src || e->digest[0])
			continue;
		if (!wp_statcache_lookup(c, &e->st, e->digest)) {
			e->digest[0] = '\0';
			*all_known = false;
		}
	}
}

static void cache_record(wp_statcache *c, const wp_layer_list *l)
{
	for (size_t i = 0; i < l->len; i++) {
		const wp_layer_entry *e = &l->items[i];

		if (e->src && e->digest[0])
			wp_statcache_record(c, &e->st, e->digest);
	}
}

/* Compression threads: --threads / WASMPACK_THREADS, else one per processor. */
static int build_threads(const wp_build_opts *o)
{
	const char *env = getenv("WASMPACK_THREADS");

	if (o->threads > 0)
		return o->threads;
	if (env && atoi(env) > 0)
		return atoi(env) > 64 ? 64 : atoi(env);
	return wp_util_cpu_count();
}

/* One layer job: its entries, and what building it gave. */
typedef struct layer_job {
	wp_store *store;
	wp_layer_list *list;
	int level, threads;
	bool cached;
	wp_layer_result res;
	wp_error err;
	int rc;
} layer_job;

typedef struct layer_pool {
	layer_job *jobs;
	size_t n;
	size_t next;
	pthread_mutex_t mu;
} layer_pool;

static void *layer_worker(void *arg)
{
	layer_pool *p = arg;

	for (;;) {
		layer_job *j;

		pthread_mutex_lock(&p->mu);
		while (p->next < p->n && p->jobs[p->next].cached)
			p->next++;
		j = p->next < p->n ? &p->jobs[p->next++] : NULL;
		pthread_mutex_unlock(&p->mu);
		if (!j)
			return NULL;
		j->rc = wp_layer_write_tar_gzip(j->store, j->list, j->level, j->threads, &j->res, &j->err);
		wp_progress_item_done(j->list->progress, j->list->progress_item, j->rc == 0 ? "built" : "failed");
	}
}

/* Layers are independent: those the stat cache does not already hold are built at the same
 * time, one per processor at most, each compressing on its share of the processors. The
 * cache is only touched here, before and after. */
int wp_build_layers(wp_store *s, wp_statcache *cache, wp_layer_list **lists, size_t n, const wp_build_opts *o,
		    wp_layer_result *out, int *reused, wp_error *err)
{
	int level = o->gzip_level < 0 ? WP_BUILD_GZIP_LEVEL : o->gzip_level;
	int cpus = build_threads(o);
	layer_pool pool = { .n = n };
	pthread_t threads[64];
	size_t misses = 0, nthreads, started = 0;
	int rc = 0;

	pool.jobs = wp_xcalloc(n ? n : 1, sizeof(*pool.jobs));
	pthread_mutex_init(&pool.mu, NULL);
	for (size_t i = 0; i < n; i++) {
		layer_job *j = &pool.jobs[i];
		char key[WP_DIGEST_BUFSZ];
		bool known;
		int64_t size;

		j->store = s;
		j->list = lists[i];
		j->level = level;
		cache_digests(cache, lists[i], &known);
		j->cached = known && wp_layer_list_key(lists[i], level, key, err) == 0 &&
			    wp_statcache_layer_get(cache, key, &j->res) && wp_store_has_blob(s, j->res.digest, &size) &&
			    size == j->res.size;
		if (j->cached) {
			(*reused)++;
			wp_debug("layer %zu: %zu entries unchanged, reusing %s", i + 1, lists[i]->len, j->res.digest);
		} else {
			misses++;
		}
	}
	for (size_t i = 0; o->progress && i < n; i++) {
		int64_t bytes = 0;
		char label[32];

		for (size_t k = 0; k < lists[i]->len; k++)
			bytes += S_ISREG(lists[i]->items[k].st.st_mode) ? lists[i]->items[k].st.st_size : 0;
		snprintf(label, sizeof(label), "layer %zu", i + 1);
		lists[i]->progress = o->progress;
		lists[i]->progress_item = wp_progress_item(o->progress, label, bytes);
		if (pool.jobs[i].cached)
			wp_progress_item_done(o->progress, lists[i]->progress_item, "unchanged");
	}
	nthreads = misses < (size_t)cpus ? misses : (size_t)cpus;
	if (nthreads > WP_ARRAY_LEN(threads))
		nthreads = WP_ARRAY_LEN(threads);
	for (size_t i = 0; i < n; i++)
		pool.jobs[i].threads = cpus / (int)(nthreads ? nthreads : 1) + (cpus % (int)(nthreads ? nthreads : 1) != 0);
	if (nthreads <= 1) {
		layer_worker(&pool);
	} else {
		for (; started < nthreads; started++)
			if (pthread_create(&threads[started], NULL, layer_worker, &pool) != 0)
				break;
		if (started == 0)
			layer_worker(&pool);
		for (size_t i = 0; i < started; i++)
			pthread_join(threads[i], NULL);
	}
	for (size_t i = 0; i < n; i++) {
		layer_job *j = &pool.jobs[i];
		char key[WP_DIGEST_BUFSZ];

		if (j->cached)
			goto ok;
		if (j->rc < 0) {
			if (rc == 0) {
				*err = j->err;
				rc = j->rc;
			}
			continue;
		}
		wp_debug("layer %zu: built %s (%lld bytes)", i + 1, j->res.digest, (long long)j->res.size);
		cache_record(cache, lists[i]);
		if (wp_layer_list_key(lists[i], level, key, err) == 0)
			wp_statcache_layer_put(cache, key, &j->res);
ok:
		out[i] = j->res;
	}
	pthread_mutex_destroy(&pool.mu);
	free(pool.jobs);
	return rc;
}

int wp_build_platform(const char *p, char **os, char **arch, wp_error *err)
{
	const char *slash = p ? strchr(p, '/') : NULL;

	if (!p) {
		*os = wp_xstrdup("wasip1");
		*arch = wp_xstrdup("wasm");
	} else if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/')) {
		return wp_error_set(err, WP_EUSAGE, "--platform '%s': want OS/ARCH, for example wasip1/wasm", p);
	} else {
		*os = wp_xstrndup(p, (size_t)(slash - p));
		*arch = wp_xstrdup(slash + 1);
	}
	return 0;
}

int wp_build_annotate(wp_manifest *m, const wp_build_opts *o, const char *created, wp_error *err)
{
	wp_gitinfo gi;

	if (created[0])
		wp_kvlist_set(&m->annotations, WP_ANN_CREATED, created);
	wp_gitinfo_read(o->path ? o->path : ".", &gi);
	if (gi.found) {
		if (gi.source)
			wp_kvlist_set(&m->annotations, WP_ANN_SOURCE, gi.source);
		wp_kvlist_set(&m->annotations, WP_ANN_REVISION, gi.revision);
		if (gi.dirty)
			wp_kvlist_set(&m->annotations, WP_ANN_DIRTY, "true");
	}
	wp_gitinfo_release(&gi);
	for (size_t i = 0; i < o->annotations.len; i++) {
		_cleanup_free_ char *kv = wp_xstrdup(o->annotations.items[i]);
		char *eq = strchr(kv, '=');

		if (!eq || eq == kv)
			return wp_error_set(err, WP_EUSAGE, "--annotation '%s': want KEY=VALUE", o->annotations.items[i]);
		*eq = '\0';
		wp_kvlist_set(&m->annotations, kv, eq + 1);
	}
	return 0;
}

static int check_env(const wp_strv *env, wp_error *err)
{
	for (size_t i = 0; i < env->len; i++) {
		const char *eq = strchr(env->items[i], '=');

		if (!eq || eq == env->items[i])
			return wp_error_set(err, WP_EUSAGE, "--env '%s': want KEY=VALUE", env->items[i]);
	}
	return 0;
}

int wp_build_finish(wp_store *s, wp_manifest *m, wp_build_result *res, wp_error *err)
{
	wp_buf data;
	char digest[WP_DIGEST_BUFSZ];
	int rc;

	wp_buf_init(&data, WP_MANIFEST_MAX);
	rc = wp_manifest_emit(m, &data, err);
	if (rc == 0)
		rc = wp_store_put_blob(s, data.data, data.len, digest, err);
	if (rc == 0)
		wp_descriptor_init(&res->manifest, WP_MT_OCI_MANIFEST, digest, (int64_t)data.len);
	wp_buf_release(&data);
	if (rc == 0) {
		res->m = *m;
		memset(m, 0, sizeof(*m));
	}
	return rc;
}

/* Stores a config document and points desc at it. */
int wp_build_image_finish(wp_store *s, wp_config_image *cfg, wp_manifest *m, const wp_build_opts *o,
			  const char *created, wp_build_result *res, wp_error *err)
{
	wp_buf data;
	int rc;

	if (!cfg->os && (rc = wp_build_platform(o->platform, &cfg->os, &cfg->architecture, err)) < 0)
		return rc;
	if (created[0] && !cfg->created)
		cfg->created = wp_xstrdup(created);
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = wp_config_image_emit(cfg, &data, err)) == 0 &&
	    (rc = wp_build_put_doc(s, &data, WP_MT_OCI_CONFIG, &m->config, err)) == 0 &&
	    (rc = wp_build_annotate(m, o, created, err)) == 0) {
		free(m->media_type);
		m->media_type = wp_xstrdup(WP_MT_OCI_MANIFEST);
		rc = wp_build_finish(s, m, res, err);
	}
	wp_buf_release(&data);
	return rc;
}

int wp_build_put_doc(wp_store *s, const wp_buf *data, const char *media_type, wp_descriptor *desc, wp_error *err)
{
	char digest[WP_DIGEST_BUFSZ];
	int rc = wp_store_put_blob(s, data->data, data->len, digest, err);

	if (rc == 0)
		wp_descriptor_init(desc, media_type, digest, (int64_t)data->len);
	return rc;
}

static int build_image(wp_store *s, const wp_build_opts *o, scan *sc, const char *created,
		       wp_build_result *res, wp_error *err)
{
	wp_layer_list *all[2] = { &sc->wasm, &sc->files }, *lists[2];
	wp_layer_result results[2];
	size_t nl = 0;
	wp_manifest m = { 0 };
	wp_config_image cfg = { 0 };
	int rc;

	if ((rc = wp_build_platform(o->platform, &cfg.os, &cfg.architecture, err)) < 0)
		goto done;
	/* a component is a WASI 0.2 program, as the wasm layout says too; --platform wins */
	if (!o->platform && sc->entry_kind == WP_WASM_COMPONENT) {
		free(cfg.os);
		cfg.os = wp_xstrdup("wasip2");
	}
	for (int i = 0; i < 2; i++)
		if (all[i]->len)
			lists[nl++] = all[i];
	rc = wp_build_layers(s, sc->cache, lists, nl, o, results, &res->layers_reused, err);
	if (rc < 0) {
		wp_error_prefix(err, "building the image layers");
		goto done;
	}
	for (size_t i = 0; i < nl; i++) {
		wp_descriptor d;

		wp_strv_push(&cfg.diff_ids, results[i].diff_id);
		wp_descriptor_init(&d, WP_MT_OCI_LAYER_GZIP, results[i].digest, results[i].size);
		wp_manifest_add_layer(&m, &d);
	}
	for (size_t i = 0; i < o->env.len; i++)
		wp_strv_push(&cfg.env, o->env.items[i]);
	for (size_t i = 0; i < o->args.len; i++)
		wp_strv_push(&cfg.cmd, o->args.items[i]);
	for (size_t i = 0; i < sc->wasm.len; i++)
		if (sc->wasm.items[i].src && !strcmp(sc->wasm.items[i].src, o->wasm.items[0])) {
			_cleanup_free_ char *entry = wp_str_fmt("/%s", sc->wasm.items[i].dest);

			wp_strv_push(&cfg.entrypoint, entry);
			break;
		}
	rc = wp_build_image_finish(s, &cfg, &m, o, created, res, err);
done:
	wp_config_image_release(&cfg);
	wp_manifest_release(&m);
	return rc;
}

static int build_wasm(wp_store *s, const wp_build_opts *o, scan *sc, const char *created,
		      wp_build_result *res, wp_error *err)
{
	wp_layer_entry *e = NULL;
	wp_manifest m = { 0 };
	wp_wasm_names names = { 0 };
	wp_config_wasm cfg = { 0 };
	wp_descriptor d;
	wp_buf data;
	char digest[WP_DIGEST_BUFSZ];
	int64_t size, have;
	int kind, rc;

	wp_buf_init(&data, WP_MANIFEST_MAX);
	for (size_t i = 0; i < sc->wasm.len; i++)
		if (sc->wasm.items[i].src)
			e = &sc->wasm.items[i];
	if ((rc = wp_wasm_sniff_file(e->src, &kind, err)) < 0)
		goto done;
	if (kind == WP_WASM_COMPONENT && (rc = wp_wasm_component_names_file(e->src, &names, err)) < 0)
		goto done;
	if (!wp_statcache_lookup(sc->cache, &e->st, digest) ||
	    !wp_store_has_blob(s, digest, &have) || have != (int64_t)e->st.st_size) {
		rc = wp_store_ingest_file(s, e->src, &e->st, digest, &size, err);
		if (rc < 0)
			goto done;
		wp_statcache_record(sc->cache, &e->st, digest);
	} else {
		size = have;
		res->layers_reused++;
	}
	if (created[0])
		cfg.created = wp_xstrdup(created);
	cfg.architecture = wp_xstrdup("wasm");
	if (o->platform) {
		_cleanup_free_ char *parch = NULL;

		if ((rc = wp_build_platform(o->platform, &cfg.os, &parch, err)) < 0)
			goto done;
	} else {
		cfg.os = wp_xstrdup(kind == WP_WASM_COMPONENT ? "wasip2" : "wasip1");
	}
	wp_strv_push(&cfg.layer_digests, digest);
	cfg.component = kind == WP_WASM_COMPONENT;
	for (size_t i = 0; i < names.n_exports; i++)
		wp_strv_push(&cfg.exports, names.exports[i]);
	for (size_t i = 0; i < names.n_imports; i++)
		wp_strv_push(&cfg.imports, names.imports[i]);
	if ((rc = wp_config_wasm_emit(&cfg, &data, err)) < 0 ||
	    (rc = wp_build_put_doc(s, &data, WP_MT_WASM_CONFIG, &m.config, err)) < 0)
		goto done;
	wp_descriptor_init(&d, WP_MT_WASM_LAYER, digest, size);
	wp_kvlist_set(&d.annotations, WP_ANN_TITLE, wp_path_basename(e->dest));
	wp_manifest_add_layer(&m, &d);
	if ((rc = wp_build_annotate(&m, o, created, err)) < 0)
		goto done;
	m.media_type = wp_xstrdup(WP_MT_OCI_MANIFEST);
	rc = wp_build_finish(s, &m, res, err);
done:
	wp_buf_release(&data);
	wp_wasm_names_release(&names);
	wp_config_wasm_release(&cfg);
	wp_manifest_release(&m);
	return rc;
}

int wp_build(wp_store *s, const wp_build_opts *o, wp_build_result *res, wp_error *err)
{
	const char *layout = o->layout ? o->layout : "image";
	char created[40];
	scan sc = { 0 };
	int rc;

	memset(res, 0, sizeof(*res));
	if (o->spin_manifest || !strcmp(layout, "spin"))
		return wp_error_set(err, WP_EUSAGE, "a Spin app is built by spin/build.h (wp_spin_build)");
	if (strcmp(layout, "image") && strcmp(layout, "wasm"))
		return wp_error_set(err, WP_EUSAGE, "--layout '%s': use spin, image or wasm", layout);
	if (o->wasm.len == 0)
		return wp_error_set(err, WP_EUSAGE, "nothing to build: give --wasm FILE");
	if (!strcmp(layout, "wasm")) {
		if (o->wasm.len != 1)
			return wp_error_set(err, WP_EUSAGE, "the wasm layout holds exactly one wasm file; %zu given", o->wasm.len);
		if (o->files.len)
			return wp_error_set(err, WP_EUSAGE, "the wasm layout cannot carry static files (--file); use --layout image");
		if (o->env.len || o->args.len)
			return wp_error_set(err, WP_EUSAGE, "the wasm layout has no place for --env or --arg; use --layout image");
	}
	if ((rc = check_env(&o->env, err)) < 0)
		return rc;
	for (size_t i = 0; i < o->wasm.len; i++) {
		int kind;

		/* missing, not a file or not wasm: the command line names something unusable */
		if (wp_wasm_sniff_file(o->wasm.items[i], &kind, err) < 0) {
			wp_error_prefix(err, "--wasm");
			err->code = WP_EUSAGE;
			return WP_EUSAGE;
		}
		if (i == 0)
			sc.entry_kind = kind;
		if ((rc = add_file(&sc.wasm, wp_path_basename(o->wasm.items[i]), o->wasm.items[i], 0755, err)) < 0)
			goto done;
	}
	for (size_t i = 0; i < o->files.len; i++)
		if ((rc = add_file_arg(&sc.files, o->files.items[i],
				       WP_FILES_KEEP_LINKS | (o->follow_links ? WP_FILES_FOLLOW_ALL : 0), err)) < 0)
			goto done;
	for (size_t i = 0; i < sc.files.len; i++) {
		for (size_t j = 0; j < sc.wasm.len; j++) {
			const char *a = sc.files.items[i].dest, *b = sc.wasm.items[j].dest;
			size_t la = strlen(a);

			if (!strcmp(a, b) || (!strncmp(a, b, la) && b[la] == '/') ||
			    (!strncmp(b, a, strlen(b)) && a[strlen(b)] == '/')) {
				rc = wp_error_set(err, WP_EEXISTS, "--file puts '/%s' where wasm file '/%s' goes", a, b);
				goto done;
			}
		}
	}
	if ((rc = wp_layer_list_finish(&sc.wasm, err)) < 0 || (rc = wp_layer_list_finish(&sc.files, err)) < 0)
		goto done;
	if ((rc = wp_build_created(o->path ? o->path : ".", created, sizeof(created), err)) < 0)
		goto done;
	sc.cache = wp_statcache_open(s);
	rc = !strcmp(layout, "wasm") ? build_wasm(s, o, &sc, created, res, err) : build_image(s, o, &sc, created, res, err);
	if (rc == 0)
		wp_statcache_save_or_warn(sc.cache);
done:
	wp_statcache_free(sc.cache);
	wp_layer_list_release(&sc.wasm);
	wp_layer_list_release(&sc.files);
	if (rc < 0)
		wp_build_result_release(res);
	return rc;
}
