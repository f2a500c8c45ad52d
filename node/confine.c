#include "node/confine.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What an engine reads to start, read-only. Missing ones are skipped; the /bin and /lib
 * names are links on merged-/usr systems and are made as links again. */
static const char *const system_paths[] = {
	"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
	"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf",
	"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf", "/etc/alternatives",
	/* TLS roots only: never /etc/ssl/private or the private folders under /etc/pki */
	"/etc/ssl/certs", "/etc/ssl/openssl.cnf", "/etc/ca-certificates", "/etc/ca-certificates.conf",
	"/etc/pki/tls/certs", "/etc/pki/ca-trust/extracted", "/etc/pki/tls/openssl.cnf",
};
static const char *const device_paths[] = { "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom" };

/* Takes real and link. */
static void add_item(wp_confine *c, char *real, char *link, int mode, bool dir)
{
	size_t at = 0;

	while (at < c->len && strcmp(c->items[at].path, real) < 0)
		at++;
	if (at < c->len && !strcmp(c->items[at].path, real)) {
		/* Read-only wins: a writable wish never widens a read-only one. */
		if (c->items[at].mode == WP_CONFINE_RO || mode == WP_CONFINE_RO)
			c->items[at].mode = WP_CONFINE_RO;
		free(real);
		free(link);
		return;
	}
	if (c->len == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 32;
		c->items = wp_xreallocarray(c->items, c->cap, sizeof(*c->items));
	}
	memmove(c->items + at + 1, c->items + at, (c->len - at) * sizeof(*c->items));
	c->items[at] = (wp_confine_path){ real, link, mode, dir };
	c->len++;
}

int wp_confine_add(wp_confine *c, const char *path, int mode, wp_error *err)
{
	char *real = realpath(path, NULL);
	struct stat st;

	if (!real)
		return wp_error_sys(err, WP_ENOTFOUND, "'%s'", path);
	if (!strcmp(real, "/")) {
		free(real);
		return wp_error_set(err, WP_EUSAGE, "'%s' is the host's root: an app never sees the whole host", path);
	}
	if (stat(real, &st) < 0) {
		free(real);
		return wp_error_sys(err, WP_ENOTFOUND, "'%s'", path);
	}
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode) && mode != WP_CONFINE_DEV) {
		free(real);
		return wp_error_set(err, WP_EINVALID, "'%s' is neither a folder nor a file", path);
	}
	add_item(c, real, NULL, mode, S_ISDIR(st.st_mode));
	return 0;
}

/* Is path one of the read-only system trees already, or below one? */
static bool covered(const wp_confine *c, const char *path)
{
	for (size_t i = 0; i < c->len; i++) {
		size_t n = strlen(c->items[i].path);

		if (!c->items[i].link && c->items[i].mode == WP_CONFINE_RO && c->items[i].dir && !strncmp(path, c->items[i].path, n) &&
		    (path[n] == '/' || path[n] == '\0'))
			return true;
	}
	return false;
}

int wp_confine_add_engine(wp_confine *c, const char *exe, wp_error *err)
{
	_cleanup_free_ char *real = NULL;
	int rc;

	for (size_t i = 0; i < WP_ARRAY_LEN(system_paths); i++) {
		const char *p = system_paths[i];
		struct stat st;

		if (lstat(p, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char text[PATH_MAX];
			ssize_t n = readlink(p, text, sizeof(text) - 1);

			if (n <= 0)
				continue;
			text[n] = '\0';
			add_item(c, wp_xstrdup(p), wp_xstrdup(text), WP_CONFINE_RO, false);
		} else if ((rc = wp_confine_add(c, p, WP_CONFINE_RO, err)) < 0 && rc != WP_ENOTFOUND) {
			return rc;
		}
	}
	for (size_t i = 0; i < WP_ARRAY_LEN(device_paths); i++)
		if ((rc = wp_confine_add(c, device_paths[i], WP_CONFINE_DEV, err)) < 0 && rc != WP_ENOTFOUND)
			return rc;
	/* The engine at the path it was found by (its folder's real path), the file it names
	 * bound there: a link such as ~/bin/wasmtime -> /opt/... runs as it does outside. */
	if (exe) {
		const char *slash = strrchr(exe, '/');
		_cleanup_free_ char *dir = slash ? wp_xstrndup(exe, (size_t)(slash - exe) + (slash == exe)) : NULL;
		char *rdir = dir ? realpath(dir, NULL) : NULL;
		char *named = rdir ? wp_str_fmt("%s/%s", strcmp(rdir, "/") ? rdir : "", slash + 1) : NULL;

		free(rdir);
		real = realpath(exe, NULL);
		if (!named || !real) {
			free(named);
			return wp_error_sys(err, WP_ENOTFOUND, "the engine '%s'", exe);
		}
		if (!covered(c, named))
			add_item(c, named, NULL, WP_CONFINE_RO, false);
		else
			free(named);
	}
	return 0;
}

void wp_confine_release(wp_confine *c)
{
	for (size_t i = 0; i < c->len; i++) {
		free(c->items[i].path);
		free(c->items[i].link);
	}
	free(c->items);
	wp_strv_release(&c->app_roots);
	memset(c, 0, sizeof(*c));
}

/* ---- in the process about to exec: system calls only ---- */

static int write_file(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

/* An unprivileged caller: a user namespace mapping only its own ids. */
static int enter_userns(int extra, wp_error *err)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();

	/* with CLONE_NEWUSER in the same call the user namespace is made first, and owns the
	 * others */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | extra) < 0)
		return WP_CONFINE_UNAVAILABLE;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	if (write_file("/proc/self/uid_map", map) < 0)
		return wp_error_sys(err, WP_EIO, "mapping the user namespace's uid");
	if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		return wp_error_sys(err, WP_EIO, "denying setgroups in the user namespace");
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	if (write_file("/proc/self/gid_map", map) < 0)
		return wp_error_sys(err, WP_EIO, "mapping the user namespace's gid");
	return 0;
}

/* The folders of rel (all of it when last) inside the tmpfs, and for a file the empty
 * file that its bind mount lands on. */
static int make_target(int mfd, const char *rel, bool dir)
{
	char buf[PATH_MAX];
	char *p, *slash;
	int cur = mfd, rc = 0;

	if (!wp_str_copy(buf, rel, sizeof(buf)))
		return errno = ENAMETOOLONG, -1;
	for (p = buf; rc == 0 && (slash = strchr(p, '/')); p = slash + 1) {
		int next;

		*slash = '\0';
		if (mkdirat(cur, p, 0755) < 0 && errno != EEXIST)
			rc = -1;
		else if ((next = openat(cur, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			rc = -1;
		else {
			if (cur != mfd)
				close(cur);
			cur = next;
		}
	}
	if (rc == 0) {
		if (dir)
			rc = mkdirat(cur, p, 0755) < 0 && errno != EEXIST ? -1 : 0;
		else {
			int fd = openat(cur, p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

			rc = fd < 0 ? -1 : 0;
			if (fd >= 0)
				close(fd);
		}
	}
	if (cur != mfd)
		close(cur);
	return rc;
}

static int loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

static int drop_bounding_set(void)
{
	for (int cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	return 0;
}

/* The engine's namespaces: a user namespace for one without root, a mount namespace, and
 * those c asks for (a network namespace has a loopback, down: up, and nothing else). */
static int enter_namespaces(const wp_confine *c, wp_error *err)
{
	int rc;

	if (geteuid() != 0) {
		if ((rc = enter_userns(c->extra_ns, err)) != 0)
			return rc;
	} else if (unshare(CLONE_NEWNS | c->extra_ns) < 0) {
		return wp_error_sys(err, WP_EIO, "making the engine's namespaces");
	}
	if ((c->extra_ns & CLONE_NEWNET) && loopback_up() < 0)
		return wp_error_sys(err, WP_EIO, "bringing up the engine's loopback");
	return 0;
}

/* The engine's root: a small tmpfs, detached yet (mfd). NULL, or what failed (errno set). */
static const char *make_root(int *fsfd, int *mfd)
{
	if ((*fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC)) < 0 || fsconfig(*fsfd, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(*fsfd, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 ||
	    fsconfig(*fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
	    (*mfd = fsmount(*fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)) < 0)
		return "making the engine's root (tmpfs)";
	return NULL;
}

/* A symbolic link of the engine's tree (its parent folders, then the link). */
static int place_link(int mfd, const wp_confine_path *p)
{
	const char *base = strrchr(p->path, '/') + 1;
	char parent[PATH_MAX];

	if (base - p->path > 1 && (size_t)(base - p->path) < sizeof(parent)) {
		memcpy(parent, p->path + 1, (size_t)(base - p->path - 2));
		parent[base - p->path - 2] = '\0';
		if (make_target(mfd, parent, true) < 0)
			return -1;
	}
	return symlinkat(p->link, mfd, p->path + 1);
}

/* A path cloned where it is (before the host's tree goes out of sight), with its mode's
 * mount flags, and the place it will be mounted at made in the root. *clone is the clone. */
static int clone_path(int mfd, const wp_confine_path *p, int *clone)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_NOSUID };

	if (p->mode == WP_CONFINE_RO)
		attr.attr_set |= MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV;
	else if (p->mode == WP_CONFINE_RW)
		attr.attr_set |= MOUNT_ATTR_NODEV;
	else
		attr.attr_set |= MOUNT_ATTR_NOEXEC;
	*clone = open_tree(AT_FDCWD, p->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (*clone < 0 || mount_setattr(*clone, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return -1;
	return make_target(mfd, p->path + 1, p->dir);
}

/* The tmpfs over "/", the clones into it (parents first), sealed read-only, entered with
 * no way back, and privileges dropped. NULL, or what failed (errno set). */
static const char *enter_root(const wp_confine *c, int mfd, const int *clones, size_t n)
{
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };

	if (move_mount(mfd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return "placing the engine's root";
	for (size_t i = 0; i < n; i++)
		if (clones[i] >= 0 && move_mount(clones[i], "", mfd, c->items[i].path + 1, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return c->items[i].path;
	if (mount_setattr(mfd, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return "making the engine's root read-only";
	/* pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only
	 * the new tree. */
	if (fchdir(mfd) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return "entering the engine's root";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || drop_bounding_set() < 0)
		return "dropping privileges";
	return NULL;
}

int wp_confine_enter(const wp_confine *c, wp_error *err)
{
	int fsfd = -1, mfd = -1, rc, clones[256];
	size_t n = 0;
	const char *what = NULL;

	if (c->len > WP_ARRAY_LEN(clones))
		return wp_error_set(err, WP_EINVALID, "the engine would see %zu paths: at most %zu", c->len, WP_ARRAY_LEN(clones));
	if ((rc = enter_namespaces(c, err)) != 0)
		return rc;
	/* Nothing done here travels back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		what = "making the mounts private";
	else
		what = make_root(&fsfd, &mfd);
	for (n = 0; !what && n < c->len; n++) {
		const wp_confine_path *p = &c->items[n];

		clones[n] = -1;
		if (p->link ? place_link(mfd, p) < 0 : clone_path(mfd, p, &clones[n]) < 0)
			what = p->path;
	}
	if (!what)
		what = enter_root(c, mfd, clones, n);
	rc = what ? wp_error_sys(err, WP_EIO, "confining the engine: %s", what) : 0;
	for (size_t i = 0; i < n; i++)
		if (clones[i] >= 0)
			close(clones[i]);
	if (fsfd >= 0)
		close(fsfd);
	if (mfd >= 0)
		close(mfd);
	return rc;
}

int wp_confine_drop_caps(wp_error *err)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return wp_error_sys(err, WP_EIO, "clearing ambient capabilities");
	if (syscall(SYS_capset, &h, d) < 0)
		return wp_error_sys(err, WP_EIO, "dropping capabilities");
	return 0;
}
