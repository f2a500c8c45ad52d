/* The node engine: WASI preview1 modules on Node.js's node:wasi, through the launcher in
 * node/runners/node-wasi.cjs. */
#include "node/engine_int.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <string.h>

/* node/runners, embedded (scripts/embed.sh) */
#include "gen/runner_node_wasi.h"

/* node: the WASI launcher script (written into the node cache once per version), the
 * wasm, the environment and preopens as JSON, then the app's arguments. */
int wp_engine__command_node(engine_ctx *x, wp_strv *argv, wp_error *err)
{
	_cleanup_free_ char *launcher = wp_str_fmt("%s/wasmpack-node-wasi.js", x->s->launcher_dir);
	_cleanup_free_ char *prej = json_dumps(x->a->preopens, JSON_COMPACT);

	if (!prej)
		return wp_error_set(err, WP_EINVALID, "the app's folders cannot be written as JSON");
	if (wp_engine__app_env(x, err) < 0 || wp_engine__launcher_write(launcher, node_launcher, err) < 0)
		return err->code;
	wp_strv_push(argv, "node");
	wp_strv_push(argv, "--no-warnings");
	/* node 20 crashed (SIGSEGV) at exit now and then after an app grew its memory past
	 * ~100 MiB (tests/integration/run.sh, the hog app): V8's concurrent GC threads at
	 * teardown; with the GC on one thread it did not, in 100 of 100 runs. */
	wp_strv_push(argv, "--single-threaded-gc");
	/* node 18 (Debian 12) needs the flag for node:wasi; later versions accept it */
	wp_strv_push(argv, "--experimental-wasi-unstable-preview1");
	wp_strv_push(argv, launcher);
	wp_strv_push(argv, x->a->wasm);
	wp_strv_push(argv, prej);
	for (size_t i = 0; i < x->a->argv.len; i++)
		wp_strv_push(argv, x->a->argv.items[i]);
	wp_strv_push(&x->ro, launcher);
	return 0;
}

