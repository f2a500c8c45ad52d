/* The shim: the Task service of a containerd runtime v2 shim (containerd.task.v2.Task
 * over ttrpc), its request dispatch and its task table. One shim process serves every
 * container of a pod (or one container), each task a wasm app run by an engine process.
 * The jobs it hands out: app.c finds the app, rootfs.c mounts, spawn.c starts the engine
 * held before exec, cgroup.c and oom.c limit and watch it, events.c reports. */
#ifndef WP_SHIM_SHIM_H
#define WP_SHIM_SHIM_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "common/buf.h"
#include "shim/ttrpc.h"

/* containerd.v1.types.Status */
enum { WP_TASK_UNKNOWN = 0, WP_TASK_CREATED = 1, WP_TASK_RUNNING = 2, WP_TASK_STOPPED = 3 };

typedef struct wp_shim_opts {
	const char *ns;             /* -namespace */
	const char *address;        /* -address: containerd's gRPC socket */
	const char *ttrpc_address;  /* $TTRPC_ADDRESS: where events go */
	const char *cache_root;     /* the node cache */
	const char *socket_path;    /* the server's socket, removed as soon as it stops */
} wp_shim_opts;

/* A pod's sandbox container runs the shim's own binary (/proc/self/exe) under this argv[0]:
 * the binary must then only wait for its end (cli/shim/main.c does). */
#define WP_SHIM_SANDBOX_ARGV0 "wasmpack-sandbox"
/* The task's process of an engine in a PID namespace (shim/spawn.h). */
#define WP_SHIM_INIT_ARGV0 "wasmpack-init"

typedef struct wp_shim wp_shim;

wp_shim *wp_shim_new(const wp_shim_opts *o);
/* The ttrpc handler (ctx is the wp_shim): WP_OK, or a code wp_ttrpc_status maps to the
 * gRPC status containerd expects (NotFound for an unknown task, FailedPrecondition for
 * starting a task twice, ...), with err set. */
int wp_shim_handle(void *ctx, const wp_ttrpc_request *req, const struct timespec *deadline, wp_buf *reply,
		   wp_error *err);
/* A child the reaper collected (status as from waitpid). */
void wp_shim_reaped(wp_shim *sh, pid_t pid, int status);
/* True once Shutdown arrived with no task left: the server stops. */
volatile bool *wp_shim_stop_flag(wp_shim *sh);
/* An eventfd that becomes readable when the stop flag is set. */
int wp_shim_wake_fd(wp_shim *sh);
/* Sets the stop flag (SIGTERM) and wakes the server. */
void wp_shim_request_stop(wp_shim *sh);
/* Flushes events; tasks still running are killed. */
void wp_shim_free(wp_shim *sh);

/* A DeleteResponse {pid = 1, exit_status = 2, exited_at = 3}, as `delete` prints. */
int wp_shim_delete_response(wp_buf *out, pid_t pid, unsigned exit_status, const struct timespec *at);

#endif
