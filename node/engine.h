/* Engines: an unpacked app turned into an engine process (wasmtime, wasmedge, wasmer,
 * node through node:wasi, jco for components on Node.js, spin). The process replaces the
 * caller, so the app's exit status and signals are the caller's. The engine is chosen by
 * what the app's wasm is: a module (wasip1) or a component (wasip2), told from its header;
 * an engine that runs neither is never handed it. Engines that compile (jco's transpile,
 * wasmtime's precompile) do so once per wasm content into the node cache (node/compile.h). */
#ifndef WP_NODE_ENGINE_H
#define WP_NODE_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"
#include "common/strv.h"
#include "node/confine.h"
#include "node/summary.h"

typedef struct wp_run_spec {
	const char *engine;      /* NULL: the first found on PATH */
	bool engine_default;     /* engine is a node default, not a demand: a Spin app with
				  * HTTP (or other) triggers still goes to spin */
	const char *dir;         /* the unpacked app (wp_unpack's dest) */
	const wp_unpack_summary *summary; /* what wp_unpack found */
	bool network_host;       /* wasmpack run --network host: the host's network, not a
				  * namespace with only a loopback */
	bool network_none;       /* --network none said outright: a loopback only, even for
				  * an app whose allow-list reaches out */
	wp_strv args;            /* replace the image's Cmd when given */
	wp_strv env;             /* K=V added to the app's */
	wp_strv dirs;            /* HOST:GUEST[:ro] preopens (--dir, -v); GUEST absolute or
				  * relative, as the engines take it */
	const char *workdir;     /* -w: the app's PWD */
	const char *launcher_dir;/* where the node launcher may be written */
	/* The shim: an OCI runtime spec's "process" (args, env), and for the image layout the
	 * container's mounted rootfs, run in place (dir and summary are then unused).
	 * process.args[0] is the wasm's path in the rootfs, the rest its arguments, as in
	 * runwasi; for the artifact layouts args[0] is the app's name. */
	json_t *process;
	const char *rootfs;
	bool rootfs_readonly;    /* the spec's root.readonly */
	json_t *mounts;          /* the spec's mounts: bind mounts of host folders (volumes)
				  * are preopened at their destinations, read-only when "ro" */
	/* A Spin HTTP app served by wasmpack's own trigger (the engine spin-jco): where it
	 * listens (NULL: 127.0.0.1:3000 under run; the container's SPIN_HTTP_LISTEN_ADDR,
	 * else 0.0.0.0:80, under the shim), Spin variables (NAME=VALUE, over
	 * SPIN_VARIABLE_<NAME> of the environment), its worker threads (0: one per core),
	 * where its key-value stores are kept (NULL: in memory). */
	const char *listen;
	wp_strv variables;
	int workers;
	const char *state_dir;
	const char *runtime_config; /* Spin's runtime config (--runtime-config-file); NULL:
				     * the container's /runtime-config.toml, if any */
	/* The shim's reaper may collect a compiler the engine runs first: its status. */
	int (*reaped_status)(void *ctx, pid_t pid);
	void *reaped_ctx;
} wp_run_spec;

/* The engines wasmpack knows, for messages and --help. */
#define WP_ENGINE_NAMES "wasmtime, wasmedge, wasmer, node, jco, spin and spin-jco"

/* What an engine that serves needs of its caller (wp_engine_command). */
typedef struct wp_engine_serving {
	/* Where to listen: the caller binds a socket there (node/listen.h), in the network
	 * namespace the app is reached in, and hands it to the engine under the number it
	 * writes into the engine's WP_LISTEN_ENV entry; NULL when the engine does not serve
	 * or listens itself (spin). */
	char *listen;
	/* The engine reaches hosts (spin, or an outbound allow-list): the host's network. */
	bool host_network;
	/* What the engine reads its plan from (a memfd, close-on-exec until the engine's own
	 * exec: the caller clears that flag there), when has_plan; the plan stays out of the
	 * engine's environment, which /proc shows its user. */
	bool has_plan;
	int plan_fd;
} wp_engine_serving;

/* Frees what it holds and closes the plan's descriptor. */
void wp_engine_serving_release(wp_engine_serving *s);

/* wasmpack-core beside this binary (wasmpack's, or the shim's), else the one on PATH
 * (malloc'ed), or NULL: the helper that does what a small binary must not link. */
char *wp_engine_core_path(void);

/* One run of wasmpack-core as a helper (the Spin lock, the shim's fetch and verify): argv
 * (argv[0] "wasmpack-core", NULL-terminated) run as core, its stdout and stderr read
 * together into out and errbuf (small: at most cap - 1 bytes each kept, the rest read and
 * dropped, trailing newlines cut, NUL-terminated), its wait status. alarm_s > 0 kills it
 * past that. When the caller's reaper may collect the child first, reaped_status (with
 * ctx) gives its status. */
typedef struct wp_core_call {
	const char *core;
	const char *const *argv;
	unsigned alarm_s;
	char *out, *errbuf;
	size_t outcap, errcap;
	int (*reaped_status)(void *ctx, pid_t pid);
	void *ctx;
} wp_core_call;
int wp_engine_core_call(const wp_core_call *c, size_t *got_out, int *status, wp_error *err);

/* Whether name is one of them. */
bool wp_engine_known(const char *name);
/* WP_EUSAGE naming the known engines when name (if given) is none of them. */
int wp_engine_check_name(const char *name, wp_error *err);

/* Each HOST:GUEST[:ro] of --dir and -v: HOST an existing folder, GUEST a printable name,
 * absolute or relative (WP_EUSAGE, WP_ENOTFOUND otherwise), so a mistake is told before
 * anything is pulled or run. */
int wp_engine_check_dirs(const wp_strv *dirs, wp_error *err);

/* The engine's command line for spec (the node launcher written when needed); in env,
 * NAME=VALUE the engine's process gets besides the caller's environment: the app's
 * environment reaches node and jco this way, as one JSON value under a name of wasmpack's
 * own (never under the app's names, which could steer the engine: NODE_OPTIONS,
 * LD_PRELOAD), kept out of the command line, which every user of the node can read. With
 * view, what the confined engine must see (node/confine.h): the app's folders,
 * read-only but for a container's own rootfs and writable --dir or volumes, and the
 * engine's own files. Host folders are checked to exist; paths are real paths. */
int wp_engine_command(const wp_run_spec *spec, wp_strv *argv, wp_strv *env, wp_confine *view,
		      wp_engine_serving *serving, wp_error *err);
/* wasmpack run: confines the process (node/confine.h) in namespaces of its own (mount,
 * PID, and network unless spec->network_host or the app reaches hosts of its own: only a
 * loopback), forks an init of wasmpack's as PID 1 (node/init.h), which starts the engine
 * under the seccomp filter (node/seccomp.h) with no capabilities, passes signals on and
 * reaps; an engine that serves is handed its listening socket, bound first in the host's
 * network. 0 with the engine's wait status in *status once it has ended
 * (wp_init_exit_code says what the run ends with). Unprivileged and without user
 * namespaces, it runs unconfined only a tree whose links all stay inside, says so on
 * stderr, and execs the engine in place (under the filter). */
int wp_engine_exec(const wp_run_spec *spec, int *status, wp_error *err);

#endif
