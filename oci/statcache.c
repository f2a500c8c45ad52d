#include "oci/statcache.h"
#include "common/log.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CACHE_MAX (256u << 20)
#define MAX_FILES 200000
#define MAX_LAYERS 20000
/* 2: files are keyed by device and inode, not by path. */
#define CACHE_VERSION 2

struct wp_statcache {
	wp_store *store;
	json_t *files;     /* "dev:ino" -> [size, mtime_ns, ctime_ns, ino, dev, digest, used] */
	json_t *layers;    /* key -> [digest, diff_id, size, used] */
	long long written_ns;
	long long now_ns;
	bool dirty;
};

static long long ts_ns(const struct timespec *ts)
{
	return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static char *cache_path(wp_statcache *c)
{
	return wp_store_private_path(c->store, "statcache.json");
}

wp_statcache *wp_statcache_open(wp_store *s)
{
	wp_statcache *c = wp_xcalloc(1, sizeof(*c));
	_cleanup_free_ char *path = NULL;
	struct timespec now;
	wp_buf data;
	json_t *root = NULL;

	c->store = s;
	clock_gettime(CLOCK_REALTIME, &now);
	c->now_ns = ts_ns(&now);
	path = cache_path(c);
	wp_buf_init(&data, CACHE_MAX);
	if (path && wp_fs_read_file(path, CACHE_MAX, &data, NULL) == 0 &&
	    wp_json_parse(data.data, data.len, CACHE_MAX, &root, NULL) == 0 &&
	    json_integer_value(json_object_get(root, "version")) == CACHE_VERSION) {
		c->files = json_incref(json_object_get(root, "files"));
		c->layers = json_incref(json_object_get(root, "layers"));
		c->written_ns = json_integer_value(json_object_get(root, "written_ns"));
	}
	json_decref(root);
	wp_buf_release(&data);
	if (!json_is_object(c->files)) {
		json_decref(c->files);
		c->files = json_object();
	}
	if (!json_is_object(c->layers)) {
		json_decref(c->layers);
		c->layers = json_object();
	}
	return c;
}

/* Timestamps of whole seconds suggest a file system with coarse times: allow a second. */
static long long granularity(const struct stat *st)
{
	return st->st_mtim.tv_nsec == 0 ? 1000000000LL : 20000000LL;
}

/* A file is known by its device and inode: no path needs resolving (realpath costs a
 * readlink per path component), and links to one file share its entry. Size and times
 * tell a reused inode apart. */
static void file_key(const struct stat *st, char key[64])
{
	snprintf(key, 64, "%llu:%llu", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
}

bool wp_statcache_lookup(wp_statcache *c, const struct stat *st, char digest[WP_DIGEST_BUFSZ])
{
	char key[64];
	json_t *e;
	const char *d;

	file_key(st, key);
	e = json_object_get(c->files, key);
	if (!json_is_array(e) || json_array_size(e) < 7)
		return false;
	if (json_integer_value(json_array_get(e, 0)) != (json_int_t)st->st_size ||
	    json_integer_value(json_array_get(e, 1)) != ts_ns(&st->st_mtim) ||
	    json_integer_value(json_array_get(e, 2)) != ts_ns(&st->st_ctim) ||
	    json_integer_value(json_array_get(e, 3)) != (json_int_t)st->st_ino ||
	    json_integer_value(json_array_get(e, 4)) != (json_int_t)st->st_dev)
		return false;
	if (ts_ns(&st->st_mtim) + granularity(st) >= c->written_ns ||
	    ts_ns(&st->st_ctim) + granularity(st) >= c->written_ns)
		return false;
	d = json_string_value(json_array_get(e, 5));
	if (!wp_digest_valid(d))
		return false;
	snprintf(digest, WP_DIGEST_BUFSZ, "%s", d);
	json_array_set_new(e, 6, json_integer(c->now_ns / 1000000000LL));
	c->dirty = true;
	return true;
}

void wp_statcache_record(wp_statcache *c, const struct stat *st, const char *digest)
{
	char key[64];
	json_t *e = json_pack("[I,I,I,I,I,s,I]", (json_int_t)st->st_size, (json_int_t)ts_ns(&st->st_mtim),
			      (json_int_t)ts_ns(&st->st_ctim), (json_int_t)st->st_ino, (json_int_t)st->st_dev,
			      digest, (json_int_t)(c->now_ns / 1000000000LL));

	file_key(st, key);
	if (e && json_object_set_new(c->files, key, e) == 0)
		c->dirty = true;
}

bool wp_statcache_layer_get(wp_statcache *c, const char *key, wp_layer_result *out)
{
	json_t *e = json_object_get(c->layers, key);
	const char *d, *diff;

	if (!json_is_array(e) || json_array_size(e) < 4)
		return false;
	d = json_string_value(json_array_get(e, 0));
	diff = json_string_value(json_array_get(e, 1));
	/* Layers whose diff_id nobody needs (Spin's archives) are kept with an empty one. */
	if (!wp_digest_valid(d) || !diff || (diff[0] && !wp_digest_valid(diff)))
		return false;
	/* both are strings of at most WP_DIGEST_BUFSZ - 1 (diff may be empty): not whole buffers */
	snprintf(out->digest, WP_DIGEST_BUFSZ, "%s", d);
	snprintf(out->diff_id, WP_DIGEST_BUFSZ, "%s", diff);
	out->size = json_integer_value(json_array_get(e, 2));
	json_array_set_new(e, 3, json_integer(c->now_ns / 1000000000LL));
	c->dirty = true;
	return true;
}

void wp_statcache_layer_put(wp_statcache *c, const char *key, const wp_layer_result *res)
{
	json_t *e = json_pack("[s,s,I,I]", res->digest, res->diff_id, (json_int_t)res->size,
			      (json_int_t)(c->now_ns / 1000000000LL));

	if (e && json_object_set_new(c->layers, key, e) == 0)
		c->dirty = true;
}

/* Keeps the table under its cap by dropping the entries used longest ago. */
static void prune(json_t *table, size_t max, size_t used_idx)
{
	json_int_t cutoff;
	json_int_t *times;
	size_t n = json_object_size(table), i = 0, drop;
	const char *k;
	json_t *v, *tmp;
	void *iter;

	if (n <= max)
		return;
	times = wp_xmalloc(n * sizeof(*times));
	json_object_foreach(table, k, v)
		times[i++] = json_integer_value(json_array_get(v, used_idx));
	for (size_t a = 1; a < n; a++) {
		json_int_t x = times[a];
		size_t b = a;

		while (b > 0 && times[b - 1] > x) {
			times[b] = times[b - 1];
			b--;
		}
		times[b] = x;
	}
	drop = n - max;
	cutoff = times[drop - 1];
	free(times);
	(void)iter;
	json_object_foreach_safe(table, tmp, k, v) {
		if (drop && json_integer_value(json_array_get(v, used_idx)) <= cutoff) {
			json_object_del(table, k);
			drop--;
		}
	}
}

int wp_statcache_save(wp_statcache *c, wp_error *err)
{
	_cleanup_free_ char *path = NULL;
	struct timespec now;
	json_t *root;
	wp_buf data;
	int rc;

	if (!c->dirty)
		return 0;
	prune(c->files, MAX_FILES, 6);
	prune(c->layers, MAX_LAYERS, 3);
	clock_gettime(CLOCK_REALTIME, &now);
	root = json_pack("{s:i,s:I,s:O,s:O}", "version", CACHE_VERSION, "written_ns", (json_int_t)ts_ns(&now),
			 "files", c->files, "layers", c->layers);
	path = cache_path(c);
	if (!root || !path) {
		json_decref(root);
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	}
	wp_buf_init(&data, CACHE_MAX);
	rc = wp_json_emit(root, &data, err);
	json_decref(root);
	if (rc == 0)
		rc = wp_fs_write_replace(path, data.data, data.len, 0644, err);
	wp_buf_release(&data);
	return rc;
}

void wp_statcache_save_or_warn(wp_statcache *c)
{
	wp_error err;

	if (wp_statcache_save(c, &err) < 0)
		wp_warn("could not save the stat cache: %s", err.msg);
}

void wp_statcache_free(wp_statcache *c)
{
	if (!c)
		return;
	json_decref(c->files);
	json_decref(c->layers);
	free(c);
}
