/* cgroups for the engine process: the spec's linux.cgroupsPath and linux.resources
 * (memory limit, CPU shares and quota, pids limit), on the unified hierarchy (cgroup v2)
 * or the v1 controllers, so a pod's limits hold for its wasm apps as for runc's. */
#ifndef WP_SHIM_CGROUP_H
#define WP_SHIM_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

/* The folder for cgroupsPath under a hierarchy ("/a/b" as is; systemd's "slice:prefix:name"
 * as systemd lays it out: a.slice/a-b.slice/prefix-name.scope). Malloc'ed; NULL when the
 * path is empty. */
char *wp_cgroup_dir(const char *cgroups_path);
/* Makes the cgroup and writes the limits of resources (may be NULL) in it. *procs is the
 * cgroup.procs file the engine process writes "0" to, before it runs, to move itself in
 * (cgroup v2's, or v1 memory's; NULL when there is none). 0, and *own false when no limit
 * was asked for and the cgroup could not be made (the engine then stays in the shim's;
 * err says why); < 0 with err otherwise. */
int wp_cgroup_prepare(const char *dir, json_t *resources, char **procs, bool *own, wp_error *err);
/* Whether the cgroups are cgroup v2's one unified hierarchy: there a process can be
 * born in its cgroup (clone3's CLONE_INTO_CGROUP) rather than moved into it. */
bool wp_cgroup_unified(void);
/* cgroup v1: each move into a hierarchy costs an RCU grace period (milliseconds on a busy
 * node), so the engine moves itself only into memory's before it runs (a charge cannot be
 * moved later); this moves it into the others (cpu, cpuacct, pids) once it has started,
 * off the path to the app's first instruction. Nothing to do on cgroup v2 (one move). */
void wp_cgroup_join_rest(const char *dir, pid_t pid);
/* The cgroup's figures as containerd's Metrics message (github.com/containerd/cgroups:
 * io.containerd.cgroups.v1.Metrics or io.containerd.cgroups.v2.Metrics, named in
 * *type_url): pids, CPU time, memory use and limit, what `ctr task metrics`, CRI's
 * container stats and kubectl top read. 0, or -1 when the cgroup cannot be read. */
int wp_cgroup_metrics(const char *dir, wp_buf *out, const char **type_url);
/* A watch for the kernel's OOM killer in the cgroup: fd becomes readable when it may have
 * acted (v1: an eventfd registered on memory.oom_control; v2: inotify on memory.events). */
typedef struct wp_cgroup_oom {
	int fd, aux;
	bool v2;
	uint64_t seen;       /* v2: oom_kill count already reported */
	char *events;        /* v2: the cgroup folder (its memory.events) */
} wp_cgroup_oom;

/* NULL when the cgroup has no memory controller to watch. */
wp_cgroup_oom *wp_cgroup_oom_watch(const char *dir);
/* Once fd is readable: true when an OOM kill happened since the last call. */
bool wp_cgroup_oom_fired(wp_cgroup_oom *w);
void wp_cgroup_oom_free(wp_cgroup_oom *w);
/* Removes the cgroup once its processes are gone (best effort). */
void wp_cgroup_remove(const char *dir);

#endif
