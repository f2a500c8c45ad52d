#include "node/cache.h"
#include "node/compile.h"
#include "common/fs.h"
#include "common/toml.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USERS_MAX (256u << 10)
#define LEGACY_UNUSED_S (30 * 24 * 3600)
#define TMP_STALE_S 600

static bool is_hex64(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 64 && !s[64];
}

/* <root>/.users/<hex><suffix>, the folder made (or tightened: 0700, the cache owner's
 * alone) when asked. */
static char *users_path(const char *root, const char *hex, const char *suffix, bool make)
{
	_cleanup_free_ char *dir = wp_str_fmt("%s/.users", root);

	if (make)
		(void)wp_fs_private_dir(dir, NULL);
	return wp_str_fmt("%s/%s%s", dir, hex, suffix);
}

/* The whole users file (fd open, locked), NUL-terminated; NULL when unreadable. */
static char *read_users(int fd)
{
	char *buf = wp_xmalloc(USERS_MAX + 1);
	size_t got = 0;
	ssize_t n;

	while (got < USERS_MAX && (n = pread(fd, buf + got, USERS_MAX - got, (off_t)got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t ll = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += ll)
		if ((p == text || p[-1] == '\n') && (p[ll] == '\n' || !p[ll]))
			return true;
	return false;
}

int wp_cache_claim(const char *root, const char *hex, const char *user, wp_error *err)
{
	_cleanup_free_ char *path = users_path(root, hex, "", true);
	_cleanup_free_ char *text = NULL;
	int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600), rc = 0;
	struct stat st;

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "recording a user of the cache entry '%s'", path);
	if (fstat(fd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 077))
		(void)fchmod(fd, 0600);
	if ((rc = wp_fs_lock_wait(fd, LOCK_EX, path, err)) == 0) {
		text = read_users(fd);
		if (!has_line(text, user)) {
			_cleanup_free_ char *line = wp_str_fmt("%s\n", user);

			if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
				rc = wp_error_sys(err, WP_EIO, "recording a user of the cache entry '%s'", path);
		}
	}
	close(fd);
	return rc;
}

int wp_cache_check(const char *root, wp_error *err)
{
	_cleanup_free_ char *users = wp_str_fmt("%s/.users", root);
	int rc;

	if ((rc = wp_fs_check_owner(root, "the node cache", err)) < 0 ||
	    (rc = wp_fs_check_owner(users, "the node cache's", err)) < 0)
		return rc;
	return 0;
}

int wp_cache_hold(const char *root, const char *hex, wp_error *err)
{
	_cleanup_free_ char *path = NULL;
	int fd;

	if (wp_cache_check(root, err) < 0)
		return -1;
	path = users_path(root, hex, ".lock", true);
	fd = wp_fs_lock_open(path, err);

	if (fd >= 0 && wp_fs_lock_wait(fd, LOCK_SH, path, err) < 0) {
		close(fd);
		return -1;
	}
	/* the lock file's time is the entry's last use (the caps evict the oldest first) */
	if (fd >= 0)
		(void)futimens(fd, NULL);
	/* not close-on-exec: the engine that replaces the caller keeps holding it */
	if (fd >= 0)
		fcntl(fd, F_SETFD, 0);
	return fd;
}

/* Whether the store at root holds the blob hex (a manifest it keeps). */
static bool store_holds(const char *store, const char *hex)
{
	_cleanup_free_ char *blob = wp_str_fmt("%s/blobs/sha256/%s", store, hex);
	struct stat st;

	return stat(blob, &st) == 0 && S_ISREG(st.st_mode);
}

/* The users that still need the entry: stores that hold its manifest, and users that are
 * not stores (containerd) unless still_needed says they are done. Rewrites the file when
 * that changes; returns how many are left. */
static size_t prune_users(int fd, const char *hex, wp_cache_user_fn still_needed, void *ctx)
{
	_cleanup_free_ char *text = read_users(fd);
	wp_buf kept;
	size_t left = 0;
	bool changed = false;
	char *save = NULL;

	wp_buf_init(&kept, USERS_MAX);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '/' && !store_holds(line, hex)) {
			changed = true;
			continue;
		}
		if (line[0] != '/' && still_needed) {
			_cleanup_free_ char *digest = wp_str_fmt("sha256:%s", hex);

			if (still_needed(ctx, line, digest) == 0) {
				changed = true;
				continue;
			}
		}
		if (wp_buf_printf(&kept, "%s\n", line) == 0)
			left++;
	}
	if (changed && ftruncate(fd, 0) == 0 && kept.len)
		(void)!pwrite(fd, kept.data, kept.len, 0);
	wp_buf_release(&kept);
	return left;
}

/* Removes the entry when no run holds it; true if it went. */
static bool remove_unheld(const char *root, const char *hex, const char *entry)
{
	_cleanup_free_ char *lockp = users_path(root, hex, ".lock", false);
	_cleanup_free_ char *users = users_path(root, hex, "", false);
	int lfd = wp_fs_lock_open(lockp, NULL);
	bool gone = false;

	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
		gone = wp_fs_rm_rf(entry, NULL) == 0;
		if (gone)
			unlink(users);
	}
	if (lfd >= 0)
		close(lfd);
	return gone;
}

void wp_cache_gc(const char *root, const char *store_root, wp_cache_user_fn still_needed, void *ctx,
		 wp_cache_gc_result *res)
{
	_cleanup_free_ char *store = realpath(store_root, NULL);
	DIR *d = opendir(root);
	struct dirent *e;
	time_t now = time(NULL);

	memset(res, 0, sizeof(*res));
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *entry = wp_str_fmt("%s/%s", root, e->d_name);
		_cleanup_free_ char *users = NULL;
		struct stat st;
		int fd;

		if (lstat(entry, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strstr(e->d_name, ".tmp-")) {
			if (st.st_mtime < now - TMP_STALE_S && wp_fs_rm_rf(entry, NULL) == 0)
				res->removed++;
			continue;
		}
		if (!is_hex64(e->d_name))
			continue;
		users = users_path(root, e->d_name, "", false);
		if ((fd = open(users, O_RDWR | O_CLOEXEC)) < 0) {
			/* made before entries had users: claimed if this store holds it, else
			 * removed once nothing has used it for a long time */
			if (store && store_holds(store, e->d_name))
				wp_cache_claim(root, e->d_name, store, NULL);
			else if (st.st_mtime < now - LEGACY_UNUSED_S && st.st_atime < now - LEGACY_UNUSED_S &&
				 remove_unheld(root, e->d_name, entry))
				res->removed++;
			continue;
		}
		if (wp_fs_lock_wait(fd, LOCK_EX, users, NULL) == 0 && prune_users(fd, e->d_name, still_needed, ctx) == 0) {
			if (remove_unheld(root, e->d_name, entry))
				res->removed++;
			else
				res->kept_in_use++;
		} else if (!store || !store_holds(store, e->d_name)) {
			res->kept_in_use++;
		}
		close(fd);
	}
	if (d)
		closedir(d);
	/* compiled forms (jco's, wasmtime's) no start used for as long */
	res->removed += wp_compile_gc(root, LEGACY_UNUSED_S);
	res->evicted = wp_cache_enforce(root, NULL);
}

/* ---- the caps ---- */

#define DEFAULT_MAX_BYTES (20ull << 30)
#define DEFAULT_MAX_ENTRIES 500ull
#define CONFIG_MAX (1u << 20)

/* "20G", "512M", "1048576": bytes; 0 when it is none of these. */
static uint64_t parse_size(const char *s)
{
	char *end = NULL;
	unsigned long long v;
	int shift = 0;

	if (!s || !*s || *s == '-')
		return 0;
	v = strtoull(s, &end, 10);
	if (end == s)
		return 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' && shift)
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return 0;
	return (uint64_t)v << shift;
}

void wp_cache_limits(uint64_t *max_bytes, uint64_t *max_entries)
{
	const char *sz = getenv("WASMPACK_CACHE_MAX_SIZE"), *n = getenv("WASMPACK_CACHE_MAX_ENTRIES");
	_cleanup_free_ char *path = wp_config_path();
	wp_toml *doc = NULL;
	wp_buf data;

	*max_bytes = DEFAULT_MAX_BYTES;
	*max_entries = DEFAULT_MAX_ENTRIES;
	wp_buf_init(&data, CONFIG_MAX);
	if (path && wp_fs_read_file(path, CONFIG_MAX, &data, NULL) == 0 &&
	    wp_toml_parse(data.data ? data.data : "", data.len, &doc, NULL) == 0) {
		const wp_toml *c = wp_toml_get_table(doc, "cache"), *v;

		if ((v = wp_toml_get(c, "max_size")) && v->type == WP_TOML_STRING && parse_size(v->u.str.s))
			*max_bytes = parse_size(v->u.str.s);
		else if (v && v->type == WP_TOML_INTEGER && v->u.i > 0)
			*max_bytes = (uint64_t)v->u.i;
		if ((v = wp_toml_get(c, "max_entries")) && v->type == WP_TOML_INTEGER && v->u.i > 0)
			*max_entries = (uint64_t)v->u.i;
	}
	wp_toml_free(doc);
	wp_buf_release(&data);
	if (sz && parse_size(sz))
		*max_bytes = parse_size(sz);
	if (n && strtoull(n, NULL, 10) > 0)
		*max_entries = strtoull(n, NULL, 10);
}

typedef struct cached {
	char *path;      /* the entry's folder */
	char *lock;      /* its lock file (unpacked apps), or NULL (compiled forms) */
	char *hex;
	uint64_t bytes;
	struct timespec used;
} cached;

/* Bytes below dirfd (what du would count as apparent sizes), at most depth folders down. */
static uint64_t tree_bytes(int dirfd, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	uint64_t n = 0;

	if (!d) {
		close(dirfd);
		return 0;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		n += (uint64_t)st.st_blocks * 512;
		if (S_ISDIR(st.st_mode) && depth > 0) {
			int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				n += tree_bytes(sub, depth - 1);
		}
	}
	closedir(d);
	return n;
}

/* An unpacked entry's size, remembered beside its users file once counted. */
static uint64_t entry_bytes(const char *root, const char *hex, const char *path)
{
	_cleanup_free_ char *memo = users_path(root, hex, ".size", false);
	char text[32];
	uint64_t n;
	int fd = open(memo, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd >= 0) {
		got = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (got > 0) {
			text[got] = '\0';
			return strtoull(text, NULL, 10);
		}
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	n = fd >= 0 ? tree_bytes(fd, 64) : 0;
	{
		int len = snprintf(text, sizeof(text), "%llu", (unsigned long long)n);

		(void)wp_fs_write_replace(memo, text, (size_t)len, 0600, NULL);
	}
	return n;
}

static void add_cached(cached **list, size_t *n, char *path, char *lock, const char *hex, uint64_t bytes,
		       struct timespec used)
{
	*list = wp_xreallocarray(*list, *n + 1, sizeof(**list));
	(*list)[(*n)++] = (cached){ path, lock, wp_xstrdup(hex), bytes, used };
}

static int by_use(const void *a, const void *b)
{
	const cached *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

/* The unpacked apps, last used when their lock was last taken. */
static void list_entries(const char *root, cached **list, size_t *n)
{
	struct dirent *e;
	DIR *d = opendir(root);

	while (d && (e = readdir(d))) {
		char *path, *lock;
		struct stat st, ls;

		if (!is_hex64(e->d_name))
			continue;
		path = wp_str_fmt("%s/%s", root, e->d_name);
		lock = users_path(root, e->d_name, ".lock", false);
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(path);
			free(lock);
			continue;
		}
		add_cached(list, n, path, lock, e->d_name, entry_bytes(root, e->d_name, path),
			   stat(lock, &ls) == 0 ? ls.st_mtim : st.st_mtim);
	}
	if (d)
		closedir(d);
}

/* The compiled forms, last used when a start touched them. */
static void list_compiled(const char *compiled, cached **list, size_t *n)
{
	struct dirent *e, *f;
	DIR *d = opendir(compiled), *ed;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *engine = NULL;

		if (e->d_name[0] == '.')
			continue;
		engine = wp_str_fmt("%s/%s", compiled, e->d_name);
		if (!(ed = opendir(engine)))
			continue;
		while ((f = readdir(ed))) {
			char *path;
			struct stat st;
			int fd;

			if (!is_hex64(f->d_name))
				continue;
			path = wp_str_fmt("%s/%s", engine, f->d_name);
			if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
			    (fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				free(path);
				continue;
			}
			add_cached(list, n, path, NULL, f->d_name, tree_bytes(fd, 8), st.st_mtim);
		}
		closedir(ed);
	}
	if (d)
		closedir(d);
}

/* Removes c unless a live task or run holds it (its lock is shared while it runs), with
 * its bookkeeping; whether it went. */
static bool evict(const char *root, const cached *c)
{
	bool gone = false;
	int lfd = -1;

	if (c->lock && ((lfd = wp_fs_lock_open(c->lock, NULL)) < 0 || flock(lfd, LOCK_EX | LOCK_NB) < 0)) {
		if (lfd >= 0)
			close(lfd);
		return false;
	}
	if (wp_fs_rm_rf(c->path, NULL) == 0) {
		gone = true;
		if (c->lock) {
			_cleanup_free_ char *users = users_path(root, c->hex, "", false);
			_cleanup_free_ char *size = users_path(root, c->hex, ".size", false);

			unlink(users);
			unlink(size);
		}
	}
	if (lfd >= 0)
		close(lfd);
	return gone;
}

uint64_t wp_cache_enforce(const char *root, const char *keep)
{
	_cleanup_free_ char *compiled = wp_str_fmt("%s/compiled", root);
	uint64_t max_bytes, max_entries, total = 0, evicted = 0;
	cached *list = NULL;
	size_t n = 0, count;

	wp_cache_limits(&max_bytes, &max_entries);
	list_entries(root, &list, &n);
	list_compiled(compiled, &list, &n);
	for (size_t i = 0; i < n; i++)
		total += list[i].bytes;
	count = n;
	if (n)
		qsort(list, n, sizeof(*list), by_use);
	for (size_t i = 0; i < n && (total > max_bytes || count > max_entries); i++) {
		if (keep && (!strcmp(list[i].hex, keep) || !strcmp(list[i].path, keep)))
			continue;
		if (evict(root, &list[i])) {
			total -= list[i].bytes;
			count--;
			evicted++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		free(list[i].path);
		free(list[i].lock);
		free(list[i].hex);
	}
	free(list);
	return evicted;
}
