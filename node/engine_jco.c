/* The jco engine: WASI 0.2 components on Node.js, transpiled once into the node cache. */
#include "node/engine_int.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/path.h"
#include "node/compile.h"
#include "node/wit.h"
#include "oci/wasm.h"

#include <stdlib.h>
#include <string.h>

/* node/runners, embedded (scripts/embed.sh) */
#include "gen/runner_jco_run.h"
#include "gen/runner_jco_transpile.h"
#include "gen/runner_jco_io.h"

/* node's V8 flags for the runner; the transpile runs with them and a bounded JS heap (a
 * hostile component cannot make it take the node's memory; 300 s is its time limit), a
 * flag it clears once its heap is made, since V8 takes a code cache only from a process
 * with the runner's flags. (The runner's heap is left unbounded: with the flag, node takes
 * twice as long to start the I/O thread preview2-shim needs.) */
#define JCO_NODE_FLAGS "--no-warnings", "--single-threaded-gc"

/* ---- jco: WASI 0.2 components on Node.js ---- */

void wp_engine__jco_release(wp_engine_jco *j)
{
	free(j->cli);
	free(j->pkg);
	free(j->modules);
	free(j->shim);
	free(j->version);
	free(j->shim_version);
}

/* The package named name at dir (its package.json says so), with its version. */
static bool is_package(const char *dir, const char *name, char **version)
{
	_cleanup_free_ char *pj = wp_str_fmt("%s/package.json", dir);
	json_t *j = NULL;
	bool yes;

	if (wp_json_read_file(pj, 1 << 20, &j, NULL) < 0)
		return false;
	yes = wp_json_str(j, "name") && !strcmp(wp_json_str(j, "name"), name);
	if (yes && version)
		*version = wp_xstrdup(wp_json_str(j, "version") ? wp_json_str(j, "version") : "unknown");
	json_decref(j);
	return yes;
}

int wp_engine__jco_find(wp_engine_jco *j, wp_error *err)
{
	_cleanup_free_ char *bin = wp_engine__find_on_path("jco"), *dir = NULL;
	char *own;

	memset(j, 0, sizeof(*j));
	if (!bin || !(j->cli = realpath(bin, NULL)))
		return wp_error_set(err, WP_ENOTFOUND, "the engine 'jco' is not installed (not on PATH): "
				    "npm install @bytecodealliance/jco, and put its node_modules/.bin on PATH");
	dir = wp_xstrdup(j->cli);
	for (int up = 0; up < 4 && !j->pkg; up++) {
		char *slash = strrchr(dir, '/');

		if (!slash || slash == dir)
			break;
		*slash = '\0';
		if (is_package(dir, "@bytecodealliance/jco", &j->version))
			j->pkg = wp_xstrdup(dir);
	}
	if (!j->pkg)
		return wp_error_set(err, WP_ENOTFOUND, "'%s' is not the jco of @bytecodealliance/jco (no package.json "
				    "of it above)", bin);
	/* .../node_modules/@bytecodealliance/jco */
	j->modules = wp_xstrdup(j->pkg);
	for (int up = 0; up < 2; up++)
		if ((own = strrchr(j->modules, '/')) && own != j->modules)
			*own = '\0';
	if (strcmp(wp_path_basename(j->modules), "node_modules"))
		return wp_error_set(err, WP_ENOTFOUND, "jco at '%s' is not in a node_modules folder", j->pkg);
	j->shim = wp_str_fmt("%s/node_modules/@bytecodealliance/preview2-shim", j->pkg);
	if (!is_package(j->shim, "@bytecodealliance/preview2-shim", &j->shim_version)) {
		free(j->shim);
		j->shim = wp_str_fmt("%s/@bytecodealliance/preview2-shim", j->modules);
		if (!is_package(j->shim, "@bytecodealliance/preview2-shim", &j->shim_version))
			return wp_error_set(err, WP_ENOTFOUND, "jco at '%s' has no @bytecodealliance/preview2-shim beside it",
					    j->pkg);
	}
	return 0;
}

/* imports.json beside the transpiled component: its top-level imports, for the runner's
 * check. */
static int jco_finish(const char *out, const uint8_t *wasm, size_t len, void *ctx, wp_error *err)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/imports.json", out), *text = NULL;
	wp_wasm_names names = { 0 };
	json_t *list = json_array();
	int rc;

	(void)ctx;
	if ((rc = wp_wasm_component_names(wasm, len, &names, err)) == 0) {
		for (size_t i = 0; i < names.n_imports; i++)
			json_array_append_new(list, json_string(names.imports[i]));
		text = json_dumps(list, JSON_COMPACT);
		rc = text ? wp_fs_write_replace(path, text, strlen(text), 0644, err)
			  : wp_error_set(err, WP_EINVALID, "the component's imports cannot be written as JSON");
	}
	json_decref(list);
	wp_wasm_names_release(&names);
	return rc;
}

/* Every function the component imports from a WASI interface must be one WASI defines,
 * as the WIT jco ships says (jco answers a constructor a component declares itself with a
 * fresh object outside the sandbox's settings: a [constructor]network would reach the
 * network). Checked once, before the transpile; a refusal is remembered with it. */
static int jco_check(const uint8_t *wasm, size_t len, void *ctx, wp_error *err)
{
	const wp_engine_jco *j = ctx;
	_cleanup_free_ char *witdir = wp_str_fmt("%s/lib/wit/builtin", j->pkg);
	wp_wasm_import_funcs f = { 0 };
	json_t *wit = NULL;
	int rc;

	if ((rc = wp_wit_functions(witdir, "0.2.", &wit, err)) < 0)
		return wp_error_prefix(err, "cannot check the component's imports against WASI (jco %s)", j->version);
	if ((rc = wp_wasm_component_import_funcs(wasm, len, &f, err)) < 0)
		goto done;
	for (size_t i = 0; i < f.n && rc == 0; i++) {
		_cleanup_free_ char *iface = wp_xstrdup(f.names[i]);
		char *at = strrchr(iface, '@');
		json_t *known;

		if (at)
			*at = '\0';
		if (f.unresolved[i] && wp_str_has_prefix(iface, "wasi:")) {
			rc = wp_error_set(err, WP_EINVALID, "the component imports '%.200s' with a type this check cannot "
					  "follow (an alias or an imported type), so its functions cannot be held to WASI's: "
					  "refused before it starts", f.names[i]);
			continue;
		}
		if (!(known = json_object_get(wit, iface))) {
			if (wp_str_has_prefix(iface, "wasi:"))
				rc = wp_error_set(err, WP_EINVALID, "the component imports '%.200s', an interface WASI 0.2 does not "
						  "have (as jco %s knows it): refused before it starts", f.names[i], j->version);
			continue;
		}
		for (size_t k = 0; k < f.funcs[i].len && rc == 0; k++)
			if (!json_object_get(known, f.funcs[i].items[k]))
				rc = wp_error_set(err, WP_EINVALID, "the component imports '%.200s' from %.200s, a function WASI "
						  "does not define (as jco %s knows it): refused before it starts",
						  f.funcs[i].items[k], f.names[i], j->version);
	}
done:
	wp_wasm_import_funcs_release(&f);
	json_decref(wit);
	return rc;
}

/* The component read from wasm_fd, transpiled by jco once per content, jco and
 * preview2-shim version and form (sync: instantiated without awaiting, as the Spin trigger
 * makes one instance per request) into the node cache: its folder in *compiled. One node
 * process (node/runners/jco-transpile.mjs) transpiles through jco's API and, for a command,
 * bundles the glue with the shim and makes V8's code cache of it. */
int wp_engine__jco_transpile(engine_ctx *x, const wp_engine_jco *j, int wasm_fd, bool sync, char **compiled,
			     wp_error *err)
{
	static const char *const flags[] = { JCO_NODE_FLAGS };
	_cleanup_free_ char *node = wp_engine__find_on_path("node"), *id = NULL, *script = NULL, *io = NULL;
	wp_compile_job job = { 0 };
	bool made;
	int rc;

	if (!node)
		return wp_error_set(err, WP_ENOTFOUND, "jco runs on Node.js, and node is not on PATH");
	script = wp_str_fmt("%s/wasmpack-jco-transpile.mjs", x->s->launcher_dir);
	io = wp_str_fmt("%s/wasmpack-jco-io.mjs", x->s->launcher_dir);
	if ((rc = wp_engine__launcher_write(script, jco_transpiler, err)) < 0 ||
	    (rc = wp_engine__launcher_write(io, jco_io, err)) < 0)
		return rc;
	/* The bundled form (bundle.cjs, with a file's I/O on the app's thread, and its code
	 * cache) made beside app.js, by this wasmpack's transpile and I/O scripts: their
	 * digest is in the name, so a wasmpack with other scripts makes its own (older
	 * entries: jco's CLI, imports not yet checked by function, are not used either). */
	{
		_cleanup_free_ char *both = wp_str_fmt("%s\n%s", jco_transpiler, jco_io);
		char hex[65];

		wp_compile_hex_digest(both, strlen(both), hex);
		hex[12] = '\0';
		id = wp_str_fmt("jco-%s-p2s-%s%s-%s", j->version, j->shim_version ? j->shim_version : "unknown",
				sync ? "-sync" : "", hex);
	}
	job.cache_root = x->s->launcher_dir;
	job.engine_id = id;
	job.what = "jco transpile";
	job.made = "app.js";
	job.finish = jco_finish;
	job.check = jco_check;
	job.ctx = (void *)j;
	job.reaped_status = x->s->reaped_status;
	job.reaped_ctx = x->s->reaped_ctx;
	wp_strv_push(&job.argv, node);
	for (size_t i = 0; i < WP_ARRAY_LEN(flags); i++)
		wp_strv_push(&job.argv, flags[i]);
	wp_strv_push(&job.argv, "--max-old-space-size=2048");
	wp_strv_push(&job.argv, script);
	wp_strv_push(&job.argv, j->pkg);
	wp_strv_push(&job.argv, j->shim);
	wp_strv_push(&job.argv, sync ? "sync" : "async");
	wp_strv_push(&job.argv, "{in}");
	wp_strv_push(&job.argv, "{out}");
	wp_strv_push(&job.argv, io);
	wp_strv_push(&job.ro, j->modules);
	wp_strv_push(&job.ro, script);
	wp_strv_push(&job.ro, io);
	rc = wp_compile_cached(&job, wasm_fd, compiled, &made, err);
	wp_strv_release(&job.argv);
	wp_strv_release(&job.ro);
	if (rc == 0)
		wp_debug("jco: the transpiled component %s: %s", made ? "made now" : "found in the node cache", *compiled);
	return rc;
}

/* jco: the component transpiled to JS and core wasm once per content and jco version
 * (node/compile.h), then node runs it through wasmpack's runner with preview2-shim. */
int wp_engine__command_jco(engine_ctx *x, wp_strv *argv, wp_error *err)
{
	static const char *const flags[] = { JCO_NODE_FLAGS };
	_cleanup_free_ char *runner = NULL, *compiled = NULL;
	_cleanup_free_ char *prej = json_dumps(x->a->preopens, JSON_COMPACT);
	wp_engine_jco j;
	int rc;

	if (!prej)
		return wp_error_set(err, WP_EINVALID, "the app's folders cannot be written as JSON");
	if (wp_engine__app_env(x, err) < 0)
		return err->code;
	if ((rc = wp_engine__jco_find(&j, err)) < 0)
		goto done;
	if ((rc = wp_engine__jco_transpile(x, &j, x->wasm_fd, false, &compiled, err)) < 0)
		goto done;
	runner = wp_str_fmt("%s/wasmpack-jco-run.cjs", x->s->launcher_dir);
	if ((rc = wp_engine__launcher_write(runner, jco_runner, err)) < 0)
		goto done;
	wp_strv_push(argv, "node");
	for (size_t i = 0; i < WP_ARRAY_LEN(flags); i++)
		wp_strv_push(argv, flags[i]);
	wp_strv_push(argv, runner);
	wp_strv_push(argv, j.shim);
	wp_strv_push(argv, compiled);
	wp_strv_push(argv, prej);
	for (size_t i = 0; i < x->a->argv.len; i++)
		wp_strv_push(argv, x->a->argv.items[i]);
	wp_strv_push(&x->ro, runner);
	wp_strv_push(&x->ro, j.modules);
	wp_strv_push(&x->ro, compiled);
done:
	wp_engine__jco_release(&j);
	return rc;
}
