/* Which engine runs an app: the handler table and the choice. */
#include "node/engine_int.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/wasm.h"

#include <string.h>

/* The first of these found on PATH that runs the app's kind of wasm runs an app no one
 * chose an engine for. */
static const engine_handler handlers[] = {
	{ "wasmtime", RUNS_MODULE | RUNS_COMPONENT, wp_engine__command_wasmtime },
	{ "wasmedge", RUNS_MODULE, wp_engine__command_wasmedge },
	{ "wasmer", RUNS_MODULE, wp_engine__command_wasmer },
	{ "node", RUNS_MODULE, wp_engine__command_node },
	{ "jco", RUNS_COMPONENT, wp_engine__command_jco },
	{ "spin", 0, wp_engine__command_spin },
	{ "spin-jco", 0, wp_engine__command_spin_jco },
};

const engine_handler *wp_engine__handler_for(const char *name)
{
	for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
		if (!strcmp(handlers[i].name, name))
			return &handlers[i];
	return NULL;
}

bool wp_engine_known(const char *name)
{
	return wp_engine__handler_for(name) != NULL;
}

int wp_engine_check_name(const char *name, wp_error *err)
{
	if (!name || wp_engine__handler_for(name))
		return 0;
	return wp_error_set(err, WP_EUSAGE, "unknown engine '%s': the engines are %s", name, WP_ENGINE_NAMES);
}

/* Whether an engine runs this kind of wasm (any kind when the kind is not known). */
static bool runs(const engine_handler *h, int kind)
{
	return !kind || (h->runs & (1u << kind));
}

/* The engines that run kind, for messages: "wasmtime or jco". */
static void append_engines_for(wp_error *err, int kind)
{
	const char *sep = "";
	size_t n = 0, k = 0;

	for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
		n += handlers[i].runs && runs(&handlers[i], kind);
	for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
		if (handlers[i].runs && runs(&handlers[i], kind)) {
			wp_error_append(err, "%s%s", sep, handlers[i].name);
			sep = ++k == n - 1 ? " or " : ", ";
		}
}

/* "; installed: node, wasmtime", or what to install when none is. */
static void append_installed(wp_error *err, int kind)
{
	const char *sep = "; installed: ";
	bool any = false;

	for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
		if (handlers[i].runs && runs(&handlers[i], kind) && wp_engine__on_path(handlers[i].name)) {
			wp_error_append(err, "%s%s", sep, handlers[i].name);
			sep = ", ";
			any = true;
		}
	if (!any) {
		wp_error_append(err, "; none that runs it is installed: install wasmtime (recommended on nodes)");
		if (kind == WP_WASM_COMPONENT)
			wp_error_append(err, " or jco (npm install @bytecodealliance/jco)");
		else
			wp_error_append(err, ", wasmedge, wasmer or node");
	}
}

/* The engine for the app: --engine (or an annotation) when it can run this kind of wasm;
 * the node's default or the image's preference when installed and able; else the first
 * installed that runs it. A Spin app with triggers goes to spin when it is installed, else
 * to wasmpack's own Spin trigger (spin-jco, which --engine, the node's default or the
 * image's preference can ask for by name). */
int wp_engine__choose(const wp_run_spec *s, const app *a, int kind, const char **engine_out, const char **why,
			 wp_error *err)
{
	const char *engine = s->engine, *shown = a->argv.len ? a->argv.items[0] : a->wasm;

	*why = "--engine";
	if (a->needs_spin) {
		/* spin when installed; else wasmpack's own trigger; spin-jco forces it */
		if (engine && strcmp(engine, "spin") && strcmp(engine, "spin-jco") && !s->engine_default)
			return wp_error_set(err, WP_EUSAGE, "this Spin app has HTTP (or other) triggers: only spin, or "
					    "wasmpack's own Spin trigger (spin-jco), runs it");
		const char *pref = s->summary ? s->summary->engine : NULL;

		if (engine && !strcmp(engine, "spin-jco")) {
			*engine_out = "spin-jco";
			*why = s->engine_default ? "the node's default (WASMPACK_ENGINE)" : "--engine";
		} else if (!engine && pref && !strcmp(pref, "spin-jco")) {
			*engine_out = "spin-jco";
			*why = "the image's preference";
		} else if (wp_engine__on_path("spin")) {
			*engine_out = "spin";
			*why = "a Spin app with triggers, and spin is installed";
		} else {
			*engine_out = "spin-jco";
			*why = "a Spin app with triggers, and no spin installed: wasmpack's own Spin trigger";
		}
		return 0;
	}
	if (engine && !strcmp(engine, "spin-jco") && s->engine_default)
		engine = NULL;
	else if (engine && !strcmp(engine, "spin-jco"))
		return wp_error_set(err, WP_EUSAGE, "the engine 'spin-jco' serves Spin apps with HTTP triggers, and '%s' is "
				    "no such app", shown);
	if (engine && strcmp(engine, "spin") && !runs(wp_engine__handler_for(engine), kind)) {
		if (!s->engine_default) {
			wp_error_set(err, WP_EUSAGE, "the engine '%s' does not run %s such as '%s': ", engine,
				     wp_engine__kind_name(kind), shown);
			append_engines_for(err, kind);
			wp_error_append(err, " do");
			append_installed(err, kind);
			return err->code;
		}
		wp_info("the node's default engine '%s' does not run %s: choosing another", engine, wp_engine__kind_name(kind));
		engine = NULL;
	}
	if (engine && s->engine_default)
		*why = "the node's default (WASMPACK_ENGINE)";
	if (!engine && s->summary && s->summary->engine) {
		/* The image's preference: a known engine only (an image never names a program to
		 * run), and only when it is installed and runs the app. */
		const char *want = s->summary->engine;

		for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
			if (handlers[i].runs && !strcmp(want, handlers[i].name) && runs(&handlers[i], kind) && wp_engine__on_path(want))
				engine = handlers[i].name;
		*why = "the image's preference";
		if (!engine)
			wp_info("the image prefers the engine '%s', which is unknown, not installed or does not run %s", want,
				wp_engine__kind_name(kind));
	}
	for (size_t i = 0; !engine && i < WP_ARRAY_LEN(handlers); i++)
		if (handlers[i].runs && runs(&handlers[i], kind) && wp_engine__on_path(handlers[i].name)) {
			engine = handlers[i].name;
			*why = kind == WP_WASM_COMPONENT ? "the first installed of wasmtime, jco"
							 : "the first installed of wasmtime, wasmedge, wasmer, node";
		}
	if (!engine) {
		wp_error_set(err, WP_ENOTFOUND, "no wasm engine that runs %s is installed: install ", wp_engine__kind_name(kind));
		if (kind == WP_WASM_COMPONENT)
			return wp_error_append(err, "wasmtime (recommended on nodes) or jco (npm install @bytecodealliance/jco)");
		return wp_error_append(err, "wasmtime (recommended on nodes), wasmedge, wasmer or node");
	}
	if (strcmp(engine, "spin") && !wp_engine__on_path(engine)) {
		wp_error_set(err, WP_ENOTFOUND, "the engine '%s' is not installed (not on PATH)", engine);
		append_installed(err, kind);
		return err->code;
	}
	*engine_out = engine;
	return 0;
}

