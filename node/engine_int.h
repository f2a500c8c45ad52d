/* Internal to node/ (scripts/layers.sh keeps other modules out). */
/* node/engine.c's pieces, one file per engine (node/engine_*.c) behind one handler
 * table, the choice of engine in a file of its own: shared within node/ only, names
 * marked wp_engine__ (not an API: nothing outside node/ includes this header). */
#ifndef WP_NODE_ENGINE_INT_H
#define WP_NODE_ENGINE_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "common/strv.h"
#include "node/engine.h"
#include "oci/wasm.h"

/* What the app is, as its layout says (node/engine.c's describe). */
typedef struct app {
	char *wasm;          /* module to run */
	wp_strv argv;        /* argv[0] first */
	json_t *env;         /* name -> value */
	json_t *preopens;    /* guest -> host */
	json_t *writable;    /* host -> true for preopens the app may write (--dir, rw volumes) */
	bool needs_spin;     /* a Spin app with a non-command trigger */
	char *spin_args[3];  /* how spin finds it: --from LOCK or -f SPIN.TOML */
} app;

/* What a handler works from. */
typedef struct engine_ctx {
	const wp_run_spec *s;
	const app *a;
	int wasm_fd;  /* the app's wasm, opened beneath its root; -1 for a Spin app run by spin */
	int kind;     /* WP_WASM_MODULE or WP_WASM_COMPONENT; 0 with no wasm */
	wp_strv ro;   /* what the engine reads besides the app and its own binary: launchers,
		       * compiled forms, its packages; read-only in the confined view */
	wp_strv env;  /* NAME=VALUE for the engine's process (wp_engine_command) */
	wp_strv rw;   /* what the engine may write besides the app's own folders (state) */
	char *listen; /* an engine that serves: where the caller binds its socket */
	bool host_network; /* it reaches hosts of its own (an outbound allow-list) */
	int plan_fd;  /* the serving engine's plan (a memfd), or -1 */
} engine_ctx;

/* The kinds of wasm an engine runs. */
enum { RUNS_MODULE = 1 << WP_WASM_MODULE, RUNS_COMPONENT = 1 << WP_WASM_COMPONENT };

typedef struct engine_handler {
	const char *name;
	unsigned runs;    /* RUNS_MODULE, RUNS_COMPONENT */
	/* argv for the app (argv[0] the program, found on PATH); files the engine reads
	 * besides the app go to x->ro, for the confined view */
	int (*command)(engine_ctx *x, wp_strv *argv, wp_error *err);
} engine_handler;

/* Where jco is: its package (found from the `jco` on PATH), the node_modules folder that
 * holds it and its dependencies, and the preview2-shim it resolves (its own, else a
 * sibling), as Node would. */
typedef struct wp_engine_jco {
	char *cli;      /* the script `jco` runs (real path) */
	char *pkg;      /* .../@bytecodealliance/jco */
	char *modules;  /* the node_modules folder holding it */
	char *shim;     /* .../@bytecodealliance/preview2-shim */
	char *version;
	char *shim_version;
} wp_engine_jco;

/* node/engine.c */
/* prog's full path found on PATH (malloc'ed), or NULL. */
char *wp_engine__find_on_path(const char *prog);
bool wp_engine__on_path(const char *prog);
int wp_engine__launcher_write(const char *path, const char *text, wp_error *err);
int wp_engine__app_env(engine_ctx *x, wp_error *err);
const char *wp_engine__kind_name(int kind);
int wp_engine__open_wasm(const char *root, const char *file, const char *platform, const char *shown, int *fd_out,
			 int *kind, wp_error *err);
/* node/engine_jco.c */
int wp_engine__jco_find(wp_engine_jco *j, wp_error *err);
void wp_engine__jco_release(wp_engine_jco *j);
int wp_engine__jco_transpile(engine_ctx *x, const wp_engine_jco *j, int wasm_fd, bool sync, char **compiled,
			     wp_error *err);
/* node/engine_choice.c */
const engine_handler *wp_engine__handler_for(const char *name);
int wp_engine__choose(const wp_run_spec *s, const app *a, int kind, const char **engine_out, const char **why,
		      wp_error *err);
/* the handlers: node/engine_node.c, engine_jco.c, engine_cli.c (wasmtime, wasmedge,
 * wasmer, spin) */
int wp_engine__command_node(engine_ctx *x, wp_strv *argv, wp_error *err);
int wp_engine__command_jco(engine_ctx *x, wp_strv *argv, wp_error *err);
int wp_engine__command_spin(engine_ctx *x, wp_strv *argv, wp_error *err);
/* node/engine_spin.c: wasmpack's own Spin HTTP trigger */
int wp_engine__command_spin_jco(engine_ctx *x, wp_strv *argv, wp_error *err);
int wp_engine__command_wasmtime(engine_ctx *x, wp_strv *argv, wp_error *err);
int wp_engine__command_wasmedge(engine_ctx *x, wp_strv *argv, wp_error *err);
int wp_engine__command_wasmer(engine_ctx *x, wp_strv *argv, wp_error *err);

#endif
