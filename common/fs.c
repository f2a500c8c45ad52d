#include "common/fs.h"
#include "common/path.h"
#include "common/util.h"

#include <stdbool.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
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

	wp_buf_init(&dir, WP_PATH_MAX);
	wp_buf_init(&tmp, WP_PATH_MAX);
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

int wp_fs_private_dir(const char *dir, wp_error *err)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return wp_error_sys(err, WP_EIO, "making '%s'", dir);
	if (lstat(dir, &st) < 0)
		return wp_error_sys(err, WP_EIO, "'%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return wp_error_set(err, WP_EINVALID, "'%s' is not a folder", dir);
	if (st.st_uid == geteuid() && (st.st_mode & 077) && chmod(dir, 0700) < 0)
		return wp_error_sys(err, WP_EIO, "making '%s' private", dir);
	return 0;
}

int wp_fs_lock_open(const char *path, wp_error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	struct stat st;

	if (fd < 0 && (errno == EACCES || errno == EROFS))
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening the lock file '%s'", path), -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return wp_error_set(err, WP_EINVALID, "the lock file '%s' is not a regular file", path), -1;
	}
	if (st.st_uid == geteuid() && (st.st_mode & 077)) {
		/* An earlier version made it readable by others, and another user may have it open
		 * and locked already (a descriptor outlives a chmod): a new 0600 file takes its
		 * name, so every later lock is on an inode no one else can open. */
		_cleanup_free_ char *tmp = wp_str_fmt("%s.new-XXXXXX", path);
		int nfd = mkostemp(tmp, O_CLOEXEC);

		if (nfd >= 0 && fchmod(nfd, 0600) == 0 && rename(tmp, path) == 0) {
			close(fd);
			fd = nfd;
		} else {
			if (nfd >= 0) {
				close(nfd);
				unlink(tmp);
			}
			(void)fchmod(fd, 0600);
		}
	}
	return fd;
}

int wp_fs_lock_wait(int fd, int op, const char *path, wp_error *err)
{
	const char *env = getenv("WASMPACK_LOCK_TIMEOUT");
	double limit = env && *env ? atof(env) : 30, waited = 0;
	long step_ms = 5;

	if (limit <= 0)
		limit = 30;
	for (;;) {
		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return wp_error_sys(err, WP_EIO, "locking '%s'", path);
		if (waited >= limit)
			return wp_error_set(err, WP_ETIMEOUT, "waited %.0f s for the lock '%s', which another process holds "
					    "(WASMPACK_LOCK_TIMEOUT sets how long)", waited, path);
		{
			struct timespec ts = { 0, step_ms * 1000000L };

			nanosleep(&ts, NULL);
		}
		waited += step_ms / 1000.0;
		if (step_ms < 100)
			step_ms *= 2;
	}
}

/* Is path dir, or below it? */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* Is path, or a folder it is in, listed in $WASMPACK_SAFE_DIRS (by the name given or its
 * real path)? */
static bool safe_listed(const char *path)
{
	const char *env = getenv("WASMPACK_SAFE_DIRS");
	_cleanup_free_ char *copy = env ? wp_xstrdup(env) : NULL, *real = realpath(path, NULL);
	char *save = NULL;

	for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *rd = realpath(d, NULL);

		if (!strcmp(d, "*") || path_within(path, d) || (real && rd && path_within(real, rd)))
			return true;
	}
	return false;
}

int wp_fs_check_owner(const char *path, const char *what, wp_error *err)
{
	struct stat st;
	uid_t me = geteuid();

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : wp_error_sys(err, WP_EIO, "%s '%s'", what, path);
	if (st.st_uid == me && (me != 0 || !(st.st_mode & 022)))
		return 0;
	if (safe_listed(path))
		return 0;
	if (st.st_uid != me)
		return wp_error_set(err, WP_EFAIL, "refusing %s '%s': it belongs to uid %u, not to the user running "
				    "wasmpack (uid %u), who could be made to run what that user puts there (list it in "
				    "WASMPACK_SAFE_DIRS to allow it)", what, path, (unsigned)st.st_uid, (unsigned)me);
	return wp_error_set(err, WP_EFAIL, "refusing %s '%s': other users may write to it (mode %04o), and root "
			    "would run what they put there: chmod go-w it (or list it in WASMPACK_SAFE_DIRS)", what, path,
			    (unsigned)(st.st_mode & 07777));
}

char *wp_config_path(void)
{
	const char *cfg = getenv("WASMPACK_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (cfg && *cfg)
		return wp_xstrdup(cfg);
	if (xdg && *xdg)
		return wp_str_fmt("%s/wasmpack/config.toml", xdg);
	if (home && *home)
		return wp_str_fmt("%s/.config/wasmpack/config.toml", home);
	return NULL;
}
