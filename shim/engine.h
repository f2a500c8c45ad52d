/* Engines: an unpacked app turned into an engine process (wasmtime, wasmedge, wasmer,
 * node through node:wasi, spin). The process replaces the caller, so the app's exit
 * status and signals are the caller's. */
#ifndef WP_SHIM_ENGINE_H
#define WP_SHIM_ENGINE_H

#include <jansson.h>

#include "common/error.h"
#include "common/strv.h"

typedef struct wp_run_spec {
	const char *engine;      /* NULL: the first found on PATH */
	const char *dir;         /* the unpacked app (wp_unpack's dest) */
	json_t *summary;         /* what wp_unpack found */
	wp_strv args;            /* replace the image's Cmd when given */
	wp_strv env;             /* K=V added to the app's */
	wp_strv dirs;            /* HOST:GUEST preopens */
	const char *launcher_dir;/* where the node launcher may be written */
} wp_run_spec;

/* Execs the engine; returns only on failure. */
int wp_engine_exec(const wp_run_spec *spec, wp_error *err);

#endif
