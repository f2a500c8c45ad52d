/* Confinement of the engine process, as a container runtime confines a container.
 *
 * The engine (node, wasmtime, ...) is a host program that follows paths on the host: its
 * WASI layer is the only thing that keeps the app inside its preopened folders, and node's
 * follows symbolic links wherever they go. So the engine never sees the host at all: it
 * runs in a mount namespace of its own whose root is a fresh, read-only tmpfs holding
 *   - the paths added here, each bind-mounted at the same absolute path it has on the host
 *     (the app's root, its preopened folders, the container's volumes), read-only or
 *     writable as asked, so the engine's command line stays as it was built;
 *   - read-only, what an engine needs to start: /usr, the /lib and /bin folders or links,
 *     a few files of /etc (the loader's cache, passwd and group, resolver and TLS roots:
 *     the CA bundles, never /etc/ssl/private, the private folders of /etc/pki, or shadow),
 *     and the engine binary when it lives elsewhere;
 *   - /dev/null, zero, full, random and urandom.
 * Nothing else of the host: no /proc, /tmp, /home, /root, /run, /var. The old root is
 * detached (pivot_root), the bounding set emptied and no_new_privs set, so the engine
 * cannot mount, chroot or gain privileges back; it then starts with no capabilities.
 *
 * As root the namespace is made directly; otherwise inside a new user namespace mapping
 * only the caller's own uid and gid. Where the kernel refuses that (user namespaces off),
 * wp_confine_enter returns WP_CONFINE_UNAVAILABLE and nothing has changed: the caller
 * decides whether to run unconfined (wasmpack run does, for trees whose links it checked,
 * and says so). As root a failure is an error: root never runs an engine unconfined.
 *
 * Plans are made before fork (they allocate); wp_confine_enter and what follows it only
 * make system calls, so they may run in the child of a threaded process. */
#ifndef WP_NODE_CONFINE_H
#define WP_NODE_CONFINE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/strv.h"

enum wp_confine_mode {
	WP_CONFINE_RO = 0, /* read-only, no setuid, no devices */
	WP_CONFINE_RW = 1, /* writable, no setuid, no devices */
	WP_CONFINE_DEV = 2 /* a device node: writable, no setuid, no exec */
};

/* wp_confine_enter's answer when confinement is not possible without privilege. */
#define WP_CONFINE_UNAVAILABLE 1

typedef struct wp_confine_path {
	char *path;  /* absolute, no links in it (realpath) */
	char *link;  /* a system path that is a symbolic link: its text, recreated as such */
	int mode;
	bool dir;
} wp_confine_path;

typedef struct wp_confine {
	wp_confine_path *items; /* sorted by path: parents before what they hold */
	size_t len, cap;
	/* The host folders the app sees as folders of its own (the engine's preopens): where
	 * the view cannot be made, each is checked to hold no link out of itself. */
	wp_strv app_roots;
	/* Namespaces of its own besides the mount one (CLONE_NEWNET: only a loopback, brought
	 * up; CLONE_NEWPID: for the children made after, the first of which is its init). */
	int extra_ns;
} wp_confine;

/* Adds path (resolved to its real path; it must exist) to what the engine sees. A path
 * already added keeps the stricter mode. Refuses "/". */
int wp_confine_add(wp_confine *c, const char *path, int mode, wp_error *err);
/* Adds what every engine needs to start (see above), and the engine binary exe. */
int wp_confine_add_engine(wp_confine *c, const char *exe, wp_error *err);
void wp_confine_release(wp_confine *c);

/* In the process about to exec the engine: the new mount namespace and root, then the
 * bounding set emptied and no_new_privs. The current folder is the new root's "/".
 * 0, WP_CONFINE_UNAVAILABLE (unprivileged, no user namespace: nothing changed), or an
 * error (the process is then half-made and should exit). */
int wp_confine_enter(const wp_confine *c, wp_error *err);
/* Last, after any change of user: no capabilities left (effective, permitted, inheritable,
 * ambient). */
int wp_confine_drop_caps(wp_error *err);

#endif
