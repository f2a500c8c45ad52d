/* The engine process of a container: what it joins (the spec's namespaces, its user) and
 * how it is made: forked now, set up (stdio, cgroup, namespaces, confinement, user, no
 * capabilities) and held before exec until Start releases it, so Create can answer with
 * its pid and Start can report an exec failure. */
#ifndef WP_SHIM_SPAWN_H
#define WP_SHIM_SPAWN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"
#include "node/confine.h"
#include "node/listen.h"
#include "node/seccomp.h"

/* The namespaces of the spec the engine process takes part in: network, ipc, uts and pid
 * (a pod's containers share its network namespace, which CRI names by path). A path is
 * joined; no path means a namespace of its own, as runc gives. In a PID namespace of its
 * own an init of wasmpack's is PID 1 and the engine its child: the process containerd
 * knows (the task's pid) stays in the node's namespace, passes signals on and ends as the
 * engine did. Others (mount, user, cgroup) are not applied: the confinement makes the
 * mount namespace, and the engine is a process of the node's users. */
typedef struct wp_spawn_plan {
	int fd[4];       /* joined: open namespace files (network, ipc, uts, pid), or -1 */
	int unshare;     /* CLONE_ flags for those without a path */
	/* process.user: the engine runs as this user (and groups) */
	uid_t uid;
	gid_t gid;
	gid_t groups[32];
	size_t n_groups;
	/* an engine that serves: its socket, bound in the process once it has joined the
	 * pod's network namespace (before it gives up its privileges: port 80 needs them),
	 * its number written into the engine's WP_LISTEN_ENV entry */
	bool listen;
	wp_listen_addr listen_addr;
	/* a descriptor the engine inherits (its plan), close-on-exec until then; -1 none */
	int keep_fd;
} wp_spawn_plan;

/* process.user of the spec: uid, gid and additional groups. */
void wp_spawn_plan_user(json_t *process, wp_spawn_plan *p);
/* linux.namespaces of the spec: those with a path are opened to be joined. */
int wp_spawn_plan_namespaces(json_t *spec, wp_spawn_plan *p, wp_error *err);
void wp_spawn_plan_release(wp_spawn_plan *p);

/* The container's stdio: FIFO paths from Create ("" or NULL: /dev/null). */
typedef struct wp_spawn_io {
	const char *stdin_path, *stdout_path, *stderr_path;
	/* asked for a terminal: stderr goes where stdout goes, as both are the one terminal
	 * under runc (whose stderr FIFO nobody reads then: containerd's CRI makes one anyway) */
	bool terminal;
	const char *id; /* the task's, for the shim's marks (shim/trace.h); may be NULL */
} wp_spawn_io;

/* The process made: write a byte to sync_fd to let it exec; err_fd reads why it failed
 * (end of file once it has exec'ed). */
typedef struct wp_spawn_child {
	pid_t pid;
	int sync_fd, err_fd;
} wp_spawn_child;

/* The task's process in a PID namespace, exec'ed as WP_SHIM_INIT_ARGV0 OWN ERRFD ARGV...
 * (cli/shim/main.c calls it): starts the engine as the namespace's first process (OWN
 * "1": under an init of ours, PID 1), passes signals on and exits as the engine did. */
__attribute__((noreturn)) void wp_spawn_init_main(int argc, char **argv);

/* Forks the engine process, held before exec. With no argv it only waits for its end (a
 * pod's sandbox container: nothing of the app to run). cg_procs (may be NULL) is the
 * cgroup.procs it joins: on cgroup v2 it is born there (clone3 with CLONE_INTO_CGROUP:
 * no move, which would cost the kernel an RCU grace period, 7 to 24 ms measured on an
 * idle node, on the path to the app's first instruction), else (v1, or a kernel before
 * 5.7) it moves itself in before anything else; view (may be NULL) is its confinement; filter the seccomp filter
 * the engine runs under (last before exec); cwd where it starts; env
 * (may be NULL) NAME=VALUE added to the shim's environment for it (wp_engine_command's). */
int wp_spawn_paused(const wp_spawn_io *io, char **argv, const wp_strv *env, const wp_spawn_plan *nsp,
		    const char *cg_procs, const wp_confine *view, const wp_seccomp *filter, const char *cwd,
		    wp_spawn_child *child, wp_error *err);

#endif
