#include "node/cache.h"
#include "node/compile.h"
#include "common/fs.h"
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
	wp_error ignored;

	if (make)
		(void)wp_fs_private_dir(dir, &ignored);
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

/* The users that still need the entry: stores that hold its manifest, and every user that
 * is not a store (containerd). Rewrites the file when that changes; returns how many are
 * left. */
static size_t prune_users(int fd, const char *hex)
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
	wp_error ignored;
	int lfd = wp_fs_lock_open(lockp, &ignored);
	bool gone = false;

	if (lfd >= 0 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
		gone = wp_fs_rm_rf(entry, &ignored) == 0;
		if (gone)
			unlink(users);
	}
	if (lfd >= 0)
		close(lfd);
	return gone;
}

void wp_cache_gc(const char *root, const char *store_root, wp_cache_gc_result *res)
{
	_cleanup_free_ char *store = realpath(store_root, NULL);
	DIR *d = opendir(root);
	struct dirent *e;
	time_t now = time(NULL);

	memset(res, 0, sizeof(*res));
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *entry = wp_str_fmt("%s/%s", root, e->d_name);
		_cleanup_free_ char *users = NULL;
		wp_error ignored;
		struct stat st;
		int fd;

		if (lstat(entry, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strstr(e->d_name, ".tmp-")) {
			if (st.st_mtime < now - TMP_STALE_S && wp_fs_rm_rf(entry, &ignored) == 0)
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
				wp_cache_claim(root, e->d_name, store, &ignored);
			else if (st.st_mtime < now - LEGACY_UNUSED_S && st.st_atime < now - LEGACY_UNUSED_S &&
				 remove_unheld(root, e->d_name, entry))
				res->removed++;
			continue;
		}
		if (wp_fs_lock_wait(fd, LOCK_EX, users, &ignored) == 0 && prune_users(fd, e->d_name) == 0) {
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
}
