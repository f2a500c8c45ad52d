/* The engines with a command line of their own: wasmtime, wasmedge, wasmer, and spin for
 * Spin apps with triggers. */
#include "node/engine_int.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "node/compile.h"
#include "oci/wasm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* spin: `spin up` of the app's locked app or spin.toml, with the run's extra arguments. */
int wp_engine__command_spin(engine_ctx *x, wp_strv *argv, wp_error *err)
{
	if (!x->a->spin_args[1])
		return wp_error_set(err, WP_EUSAGE, "only Spin apps run with the spin engine");
	wp_strv_push(argv, "spin");
	wp_strv_push(argv, "up");
	wp_strv_push(argv, x->a->spin_args[0]);
	wp_strv_push(argv, x->a->spin_args[1]);
	for (size_t i = 0; i < x->s->args.len; i++)
		wp_strv_push(argv, x->s->args.items[i]);
	return 0;
}

/* wasmtime, wasmedge and wasmer: the same shape with each one's spelling. */
typedef struct cli_engine {
	const char *name;
	const char *subcommand;   /* "run", or NULL */
	const char *dir_flag;     /* how a preopen is named */
	bool host_first;          /* HOST::GUEST (wasmtime) rather than GUEST:HOST */
	bool ends_options;        /* "--" after the module (wasmer reads options there too) */
} cli_engine;

static const cli_engine cli_engines[] = {
	{ "wasmtime", "run", "--dir", true, false },
	{ "wasmedge", NULL, "--dir", false, false },
	{ "wasmer", "run", "--mapdir", false, true },
};

/* extra: options of the engine's own before the app's (NULL-ended); wasm: what to run
 * (the app's wasm, or its precompiled form). */
static int command_cli(const cli_engine *e, const app *a, const char *const *extra, const char *wasm, wp_strv *argv)
{
	const char *k;
	json_t *v;

	wp_strv_push(argv, e->name);
	if (e->subcommand)
		wp_strv_push(argv, e->subcommand);
	for (; extra && *extra; extra++)
		wp_strv_push(argv, *extra);
	json_object_foreach(a->env, k, v) {
		_cleanup_free_ char *kv = wp_str_fmt("%s=%s", k, json_string_value(v));

		wp_strv_push(argv, "--env");
		wp_strv_push(argv, kv);
	}
	json_object_foreach(a->preopens, k, v) {
		_cleanup_free_ char *map = e->host_first ? wp_str_fmt("%s::%s", json_string_value(v), k)
							 : wp_str_fmt("%s:%s", k, json_string_value(v));

		wp_strv_push(argv, e->dir_flag);
		wp_strv_push(argv, map);
	}
	wp_strv_push(argv, wasm);
	if (e->ends_options)
		wp_strv_push(argv, "--");
	for (size_t i = 1; i < a->argv.len; i++)
		wp_strv_push(argv, a->argv.items[i]);
	return 0;
}

/* An id of the installed wasmtime for its compiled forms (which only the same build
 * loads): its real path, size and time, hashed; NULL when it cannot be told. */
static char *wasmtime_id(const char *exe)
{
	struct stat st;
	_cleanup_free_ char *real = exe ? realpath(exe, NULL) : NULL, *key = NULL;
	char hex[65];

	if (!real || stat(real, &st) < 0)
		return NULL;
	key = wp_str_fmt("%s|%lld|%lld.%09ld", real, (long long)st.st_size, (long long)st.st_mtim.tv_sec,
			 st.st_mtim.tv_nsec);
	wp_compile_hex_digest(key, strlen(key), hex);
	return wp_str_fmt("wasmtime-%.16s", hex);
}

/* wasmtime: the app precompiled once (`wasmtime compile`, kept in the node cache) and run
 * with --allow-precompiled under the wasm's own name; a compile that fails falls back to
 * running the wasm itself. A component gets the component model switched on (needed
 * before wasmtime 17; later ones take the flag). */
int wp_engine__command_wasmtime(engine_ctx *x, wp_strv *argv, wp_error *err)
{
	_cleanup_free_ char *exe = wp_engine__find_on_path("wasmtime"), *id = wasmtime_id(exe), *compiled = NULL, *cwasm = NULL;
	const char *opts[8];
	size_t n = 0;
	bool made = false;

	if (x->kind == WP_WASM_COMPONENT) {
		opts[n++] = "-W";
		opts[n++] = "component-model=y";
	}
	if (id && x->wasm_fd >= 0 && !getenv("WASMPACK_NO_PRECOMPILE")) {
		wp_compile_job job = { 0 };
		wp_error cerr = WP_ERROR_INIT;

		job.cache_root = x->s->launcher_dir;
		job.engine_id = id;
		job.what = "wasmtime compile";
		job.made = "app.cwasm";
		job.reaped_status = x->s->reaped_status;
		job.reaped_ctx = x->s->reaped_ctx;
		wp_strv_push(&job.argv, exe);
		wp_strv_push(&job.argv, "compile");
		for (size_t i = 0; i < n; i++)
			wp_strv_push(&job.argv, opts[i]);
		wp_strv_push(&job.argv, "{in}");
		wp_strv_push(&job.argv, "-o");
		wp_strv_push(&job.argv, "{out}/app.cwasm");
		if (wp_compile_cached(&job, x->wasm_fd, &compiled, &made, &cerr) < 0)
			wp_info("running the wasm without precompiling it: %s", cerr.msg);
		else
			cwasm = wp_str_fmt("%s/app.cwasm", compiled);
		wp_strv_release(&job.argv);
	}
	(void)err;
	if (cwasm) {
		opts[n++] = "--allow-precompiled";
		opts[n++] = "--argv0";
		opts[n++] = x->a->argv.len ? x->a->argv.items[0] : x->a->wasm;
		wp_strv_push(&x->ro, compiled);
	}
	opts[n] = NULL;
	return command_cli(&cli_engines[0], x->a, opts, cwasm ? cwasm : x->a->wasm, argv);
}

int wp_engine__command_wasmedge(engine_ctx *x, wp_strv *argv, wp_error *err)
{
	(void)err;
	return command_cli(&cli_engines[1], x->a, NULL, x->a->wasm, argv);
}

int wp_engine__command_wasmer(engine_ctx *x, wp_strv *argv, wp_error *err)
{
	(void)err;
	return command_cli(&cli_engines[2], x->a, NULL, x->a->wasm, argv);
}

