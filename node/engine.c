#include "node/engine.h"
#include "common/path.h"
#include "node/confine.h"
#include "common/links.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The node launcher: runs a WASI preview1 module with node:wasi.
 * argv: launcher WASM ENV-JSON PREOPENS-JSON ARG... */
static const char node_launcher[] =
	"'use strict';\n"
	"const { WASI } = require('node:wasi');\n"
	"const fs = require('node:fs');\n"
	"const [wasm, env, preopens, ...args] = process.argv.slice(2);\n"
	"const wasi = new WASI({ version: 'preview1', args, env: JSON.parse(env), preopens: JSON.parse(preopens), returnOnExit: true });\n"
	"// getImportObject came with node 19.8/18.16; wasiImport is there since 12.16.\n"
	"const imports = typeof wasi.getImportObject === 'function' ? wasi.getImportObject() : { wasi_snapshot_preview1: wasi.wasiImport };\n"
	"WebAssembly.compile(fs.readFileSync(wasm))\n"
	"  .then((m) => WebAssembly.instantiate(m, imports))\n"
	"  .then((instance) => { process.exitCode = wasi.start(instance); })\n"
	"  .catch((e) => { console.error(`wasmpack: node engine: ${e.message}`); process.exitCode = 1; });\n";

/* The launcher is written once (and again only when this version's differs): a warm run
 * reads it instead of writing and syncing it every time. */
static bool launcher_current(const char *path)
{
	wp_buf have;
	wp_error ignored;
	bool same;

	wp_buf_init(&have, sizeof(node_launcher));
	same = wp_fs_read_file(path, sizeof(node_launcher), &have, &ignored) == 0 && have.len == strlen(node_launcher) &&
	       !memcmp(have.data, node_launcher, have.len);
	wp_buf_release(&have);
	return same;
}

/* prog's full path on PATH, or NULL. */
static char *find_on_path(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = path ? wp_xstrdup(path) : NULL;
	char *save = NULL;

	/* As execvp looks: an executable file (a folder of that name, say a build tree's
	 * node/, is passed over). */
	for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
		char *full = wp_str_fmt("%s/%s", d, prog);
		struct stat st;

		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return full;
		free(full);
	}
	return NULL;
}

static bool on_path(const char *prog)
{
	_cleanup_free_ char *full = find_on_path(prog);

	return full != NULL;
}

typedef struct app {
	char *wasm;          /* module to run */
	wp_strv argv;        /* argv[0] first */
	json_t *env;         /* name -> value */
	json_t *preopens;    /* guest -> host */
	json_t *writable;    /* host -> true for preopens the app may write (--dir, rw volumes) */
	bool needs_spin;     /* a Spin app with a non-command trigger */
	char *spin_args[3];  /* how spin finds it: --from LOCK or -f SPIN.TOML */
} app;

static void app_release(app *a)
{
	free(a->wasm);
	free(a->spin_args[1]);
	wp_strv_release(&a->argv);
	json_decref(a->env);
	json_decref(a->preopens);
	json_decref(a->writable);
}

static void env_from(json_t *env, const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (eq && eq != kv) {
		_cleanup_free_ char *k = wp_xstrndup(kv, (size_t)(eq - kv));

		json_object_set_new(env, k, json_string(eq + 1));
	}
}

/* The image layout in a container's rootfs (the shim): the OCI process names the wasm. */
static int describe_rootfs(const wp_run_spec *s, app *a, wp_error *err)
{
	json_t *args = json_object_get(s->process, "args"), *v;
	size_t i;
	wp_buf clean;
	int rc = 0;

	json_array_foreach(json_object_get(s->process, "env"), i, v)
		if (json_is_string(v))
			env_from(a->env, json_string_value(v));
	if (!json_array_size(args)) {
		_cleanup_free_ char *toml = wp_str_fmt("%s/spin.toml", s->rootfs);

		/* Spin's shim layout: spin.toml at the root of the rootfs. */
		if (toml && wp_fs_exists(toml)) {
			a->needs_spin = true;
			a->spin_args[0] = "-f";
			a->spin_args[1] = toml;
			toml = NULL;
			return 0;
		}
		return wp_error_set(err, WP_EINVALID, "the container's process names no wasm to run (process.args is empty)");
	}
	json_array_foreach(args, i, v)
		wp_strv_push(&a->argv, json_is_string(v) ? json_string_value(v) : "");
	wp_buf_init(&clean, 4096);
	if (wp_path_clean(a->argv.items[0], &clean, err) < 0)
		rc = wp_error_set(err, WP_EINVALID, "process.args[0] '%s' is not a path in the rootfs", a->argv.items[0]);
	else
		a->wasm = wp_str_fmt("%s/%s", s->rootfs, clean.data);
	wp_buf_release(&clean);
	if (rc == 0 && access(a->wasm, R_OK) < 0)
		rc = wp_error_sys(err, WP_ENOTFOUND, "the wasm '%s' named by process.args[0]", a->argv.items[0]);
	json_object_set_new(a->preopens, "/", json_string(s->rootfs));
	return rc;
}

/* A host folder the app sees at guest: it must exist and be a folder; the engine gets
 * its real path (the confined engine sees host paths at the same place). */
static int add_preopen(app *a, const char *guest, const char *host, bool writable, wp_error *err)
{
	char *real = realpath(host, NULL);
	struct stat st;
	int rc = 0;

	if (!real)
		return wp_error_sys(err, WP_ENOTFOUND, "the host folder '%s'", host);
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = wp_error_set(err, WP_EUSAGE, "'%s' is not a folder", host);
	else if (!*guest || guest[0] != '/')
		rc = wp_error_set(err, WP_EUSAGE, "the app's path '%s' is not absolute", guest);
	else {
		json_object_set_new(a->preopens, guest, json_string(real));
		json_object_set_new(a->writable, real, json_boolean(writable));
	}
	free(real);
	return rc;
}

/* An OCI mount that binds a host path ("bind" type, or a bind/rbind option). */
static bool is_bind(json_t *m)
{
	json_t *o;
	size_t i;

	if (!strcmp(wp_json_str(m, "type") ? wp_json_str(m, "type") : "", "bind"))
		return true;
	json_array_foreach(json_object_get(m, "options"), i, o)
		if (json_is_string(o) && (!strcmp(json_string_value(o), "bind") || !strcmp(json_string_value(o), "rbind")))
			return true;
	return false;
}

/* A bind mount the spec marks "ro". */
static bool is_readonly(json_t *m)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(m, "options"), i, o)
		if (json_is_string(o) && !strcmp(json_string_value(o), "ro"))
			return true;
	return false;
}

/* The wasm layout: one module, named in the unpack summary. */
static int describe_wasm(const wp_run_spec *s, app *a, wp_error *err)
{
	const char *module = wp_json_str(s->summary, "module");

	if (!module)
		return wp_error_set(err, WP_EINVALID, "the unpacked app names no module");
	a->wasm = wp_str_fmt("%s/%s", s->dir, module);
	wp_strv_push(&a->argv, module);
	return 0;
}

/* A classic scratch image: the config's Entrypoint (the wasm, a path in the rootfs), Cmd
 * (unless the run gives arguments) and Env; the rootfs is the app's "/". Spin's shim
 * layout (spin.toml at the root) is run by spin. */
static int describe_image(const wp_run_spec *s, app *a, wp_error *err)
{
	_cleanup_free_ char *cfgp = NULL;
	json_t *cfg = NULL, *c, *ep, *cmd, *v;
	wp_buf clean;
	size_t i;
	int rc;

	if (json_is_true(json_object_get(s->summary, "spinApp"))) {
		a->needs_spin = true;
		a->spin_args[0] = "-f";
		a->spin_args[1] = wp_str_fmt("%s/rootfs/spin.toml", s->dir);
		return 0;
	}
	cfgp = wp_str_fmt("%s/config.json", s->dir);
	if ((rc = wp_json_read_file(cfgp, 16u << 20, &cfg, err)) < 0)
		return rc;
	c = json_object_get(cfg, "config");
	ep = json_object_get(c, "Entrypoint");
	cmd = json_object_get(c, "Cmd");
	if (!json_array_size(ep) && !json_array_size(cmd)) {
		json_decref(cfg);
		return wp_error_set(err, WP_EINVALID, "the image names no entrypoint");
	}
	json_array_foreach(ep, i, v)
		wp_strv_push(&a->argv, json_string_value(v));
	if (!s->args.len)
		json_array_foreach(cmd, i, v)
			wp_strv_push(&a->argv, json_string_value(v));
	json_array_foreach(json_object_get(c, "Env"), i, v)
		env_from(a->env, json_string_value(v));
	wp_buf_init(&clean, 4096);
	if (!a->argv.len || wp_path_clean(a->argv.items[0], &clean, err) < 0)
		rc = wp_error_set(err, WP_EINVALID, "the entrypoint is not a path in the image");
	else
		a->wasm = wp_str_fmt("%s/rootfs/%s", s->dir, clean.data);
	wp_buf_release(&clean);
	json_object_set_new(a->preopens, "/", json_pack("s++", s->dir, "/rootfs", ""));
	json_decref(cfg);
	return rc;
}

/* A Spin app from its lock file: run here when it is a command-trigger app (its first
 * command component, with that component's env and first files folder at "/"), else by
 * spin (needs_spin). */
static int describe_spin(const wp_run_spec *s, app *a, wp_error *err)
{
	_cleanup_free_ char *lockp = wp_str_fmt("%s/spin.lock", s->dir);
	json_t *locked = NULL, *t, *c = NULL, *v;
	const char *cid = NULL, *k;
	size_t i;
	int rc;

	if ((rc = wp_json_read_file(lockp, 16u << 20, &locked, err)) < 0)
		return rc;
	json_array_foreach(json_object_get(locked, "triggers"), i, t) {
		if (strcmp(wp_json_str(t, "trigger_type") ? wp_json_str(t, "trigger_type") : "", "command"))
			a->needs_spin = true;
		else if (!cid)
			cid = wp_json_str(json_object_get(t, "trigger_config"), "component");
	}
	json_array_foreach(json_object_get(locked, "components"), i, v)
		if (cid && !strcmp(wp_json_str(v, "id") ? wp_json_str(v, "id") : "", cid))
			c = v;
	a->spin_args[0] = "--from";
	a->spin_args[1] = wp_str_fmt("%s/spin.lock", s->dir);
	if (c && !a->needs_spin) {
		const char *src = wp_json_str(json_object_get(c, "source"), "source");
		const char *files = wp_json_str(json_array_get(json_object_get(c, "files"), 0), "source");

		a->wasm = src && !strncmp(src, "file://", 7) ? wp_xstrdup(src + 7) : NULL;
		wp_strv_push(&a->argv, cid);
		json_object_foreach(json_object_get(c, "env"), k, v)
			json_object_set(a->env, k, v);
		if (files && !strncmp(files, "file://", 7))
			json_object_set_new(a->preopens, "/", json_string(files + 7));
	}
	json_decref(locked);
	if (!a->wasm && !a->needs_spin)
		return wp_error_set(err, WP_EINVALID, "the Spin app has no command-trigger component to run");
	return 0;
}

/* How each unpacked layout names what to run (the summary's "layout"; anything else is
 * a Spin app's lock). */
static const struct {
	const char *layout;
	int (*describe)(const wp_run_spec *s, app *a, wp_error *err);
} layouts[] = {
	{ "wasm", describe_wasm },
	{ "image", describe_image },
};

/* HOST:GUEST split at the first colon; NULL when there is none. */
static char *split_dir(const char *spec, const char **guest)
{
	char *hg = wp_xstrdup(spec), *colon = strchr(hg, ':');

	if (!colon) {
		free(hg);
		return NULL;
	}
	*colon = '\0';
	*guest = colon + 1;
	return hg;
}

int wp_engine_check_dirs(const wp_strv *dirs, wp_error *err)
{
	for (size_t i = 0; dirs && i < dirs->len; i++) {
		const char *guest = NULL;
		_cleanup_free_ char *host = split_dir(dirs->items[i], &guest);
		struct stat st;

		if (!host || !*host)
			return wp_error_set(err, WP_EUSAGE, "--dir '%s': want HOST:GUEST (a host folder, then where the app "
					    "sees it)", dirs->items[i]);
		if (stat(host, &st) < 0)
			return wp_error_sys(err, WP_ENOTFOUND, "--dir '%s': the host folder '%s'", dirs->items[i], host);
		if (!S_ISDIR(st.st_mode))
			return wp_error_set(err, WP_EUSAGE, "--dir '%s': '%s' is not a folder", dirs->items[i], host);
		if (guest[0] != '/')
			return wp_error_set(err, WP_EUSAGE, "--dir '%s': the app's path '%s' is not absolute", dirs->items[i],
					    guest);
	}
	return 0;
}

/* What the run adds: the container's env and arguments for an artifact the shim runs,
 * then the run's own arguments, env and --dir folders, then the container's volumes
 * (bind mounts of host folders, seen at their destinations). */
static int describe_additions(const wp_run_spec *s, app *a, wp_error *err)
{
	json_t *v, *m;
	size_t i;
	int rc;

	if (s->process && !s->rootfs) {
		json_array_foreach(json_object_get(s->process, "env"), i, v)
			if (json_is_string(v))
				env_from(a->env, json_string_value(v));
		json_array_foreach(json_object_get(s->process, "args"), i, v)
			if (i > 0 && json_is_string(v) && !s->args.len)
				wp_strv_push(&a->argv, json_string_value(v));
	}
	/* WASI has no working folder: the container's (workingDir) reaches the app as PWD,
	 * which an app may chdir to (wasi-libc resolves relative paths against its own) */
	if (s->process && wp_json_str(s->process, "cwd") && strcmp(wp_json_str(s->process, "cwd"), "/") &&
	    !json_object_get(a->env, "PWD"))
		json_object_set_new(a->env, "PWD", json_string(wp_json_str(s->process, "cwd")));
	for (i = 0; i < s->args.len; i++)
		wp_strv_push(&a->argv, s->args.items[i]);
	for (i = 0; i < s->env.len; i++)
		env_from(a->env, s->env.items[i]);
	if ((rc = wp_engine_check_dirs(&s->dirs, err)) < 0)
		return rc;
	for (i = 0; i < s->dirs.len; i++) {
		const char *guest = NULL;
		_cleanup_free_ char *host = split_dir(s->dirs.items[i], &guest);

		if ((rc = add_preopen(a, guest, host, true, err)) < 0)
			return wp_error_prefix(err, "--dir '%s'", s->dirs.items[i]);
	}
	json_array_foreach(s->mounts, i, m) {
		const char *src = wp_json_str(m, "source"), *dst = wp_json_str(m, "destination");
		struct stat st;

		if (!src || !dst || dst[0] != '/' || !is_bind(m) || stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (wp_str_has_prefix(dst, "/proc") || wp_str_has_prefix(dst, "/sys") || wp_str_has_prefix(dst, "/dev"))
			continue;
		if ((rc = add_preopen(a, dst, src, !is_readonly(m), err)) < 0)
			return wp_error_prefix(err, "the container's mount '%s'", dst);
	}
	return 0;
}

/* What to run: from the container's rootfs (the shim) or the unpacked app's layout. */
static int describe(const wp_run_spec *s, app *a, wp_error *err)
{
	const char *layout = wp_json_str(s->summary, "layout");
	int (*fn)(const wp_run_spec *, app *, wp_error *) = describe_spin;
	int rc;

	a->env = json_object();
	a->preopens = json_object();
	a->writable = json_object();
	if (s->rootfs)
		fn = describe_rootfs;
	else
		for (size_t i = 0; layout && i < WP_ARRAY_LEN(layouts); i++)
			if (!strcmp(layout, layouts[i].layout))
				fn = layouts[i].describe;
	if ((rc = fn(s, a, err)) < 0 || a->needs_spin)
		return rc;
	return describe_additions(s, a, err);
}

/* What the confined engine sees besides its own files: the app (a container's rootfs as
 * the container's own, writable unless the spec says otherwise; a shared cache entry
 * read-only, so an app cannot change what the next run starts from), its other folders
 * and the node launcher. */
static int plan_view(const wp_run_spec *s, const app *a, const char *launcher, const char *exe, wp_confine *view,
		     wp_error *err)
{
	const char *host;
	json_t *w;
	int rc;

	if (s->rootfs && (rc = wp_confine_add(view, s->rootfs, s->rootfs_readonly ? WP_CONFINE_RO : WP_CONFINE_RW, err)) < 0)
		return rc;
	if (s->dir && (rc = wp_confine_add(view, s->dir, WP_CONFINE_RO, err)) < 0)
		return rc;
	if (launcher && (rc = wp_confine_add(view, launcher, WP_CONFINE_RO, err)) < 0)
		return rc;
	json_object_foreach(a->writable, host, w)
		if ((rc = wp_confine_add(view, host, json_is_true(w) ? WP_CONFINE_RW : WP_CONFINE_RO, err)) < 0)
			return rc;
	return wp_confine_add_engine(view, exe, err);
}

/* ---- the engines: one handler each, its command line from the app ---- */

/* node: the WASI launcher script (written into the node cache once per version), the
 * wasm, the environment and preopens as JSON, then the app's arguments. */
static int command_node(const wp_run_spec *s, const app *a, wp_strv *argv, char **launcher_out, wp_error *err)
{
	_cleanup_free_ char *launcher = wp_str_fmt("%s/wasmpack-node-wasi.js", s->launcher_dir);
	_cleanup_free_ char *envj = json_dumps(a->env, JSON_COMPACT), *prej = json_dumps(a->preopens, JSON_COMPACT);

	if (!envj || !prej)
		return wp_error_set(err, WP_EINVALID, "the app's environment cannot be written as JSON");
	if (!launcher_current(launcher) && wp_fs_write_atomic(launcher, node_launcher, strlen(node_launcher), 0644, err) < 0)
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
	wp_strv_push(argv, a->wasm);
	wp_strv_push(argv, envj);
	wp_strv_push(argv, prej);
	for (size_t i = 0; i < a->argv.len; i++)
		wp_strv_push(argv, a->argv.items[i]);
	*launcher_out = wp_xstrdup(launcher);
	return 0;
}

/* spin: `spin up` of the app's locked app or spin.toml, with the run's extra arguments. */
static int command_spin(const wp_run_spec *s, const app *a, wp_strv *argv, char **launcher_out, wp_error *err)
{
	(void)launcher_out;
	if (!a->spin_args[1])
		return wp_error_set(err, WP_EUSAGE, "only Spin apps run with the spin engine");
	wp_strv_push(argv, "spin");
	wp_strv_push(argv, "up");
	wp_strv_push(argv, a->spin_args[0]);
	wp_strv_push(argv, a->spin_args[1]);
	for (size_t i = 0; i < s->args.len; i++)
		wp_strv_push(argv, s->args.items[i]);
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

static int command_cli(const cli_engine *e, const app *a, wp_strv *argv)
{
	const char *k;
	json_t *v;

	wp_strv_push(argv, e->name);
	if (e->subcommand)
		wp_strv_push(argv, e->subcommand);
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
	wp_strv_push(argv, a->wasm);
	if (e->ends_options)
		wp_strv_push(argv, "--");
	for (size_t i = 1; i < a->argv.len; i++)
		wp_strv_push(argv, a->argv.items[i]);
	return 0;
}

static int command_wasmtime(const wp_run_spec *s, const app *a, wp_strv *argv, char **l, wp_error *err)
{
	(void)s, (void)l, (void)err;
	return command_cli(&cli_engines[0], a, argv);
}

static int command_wasmedge(const wp_run_spec *s, const app *a, wp_strv *argv, char **l, wp_error *err)
{
	(void)s, (void)l, (void)err;
	return command_cli(&cli_engines[1], a, argv);
}

static int command_wasmer(const wp_run_spec *s, const app *a, wp_strv *argv, char **l, wp_error *err)
{
	(void)s, (void)l, (void)err;
	return command_cli(&cli_engines[2], a, argv);
}

typedef struct engine_handler {
	const char *name;
	/* argv for the app (argv[0] the program, found on PATH); a launcher file the engine
	 * needs beside it goes to *launcher (malloc'ed), for the confined view */
	int (*command)(const wp_run_spec *s, const app *a, wp_strv *argv, char **launcher, wp_error *err);
} engine_handler;

/* The first of these found on PATH runs an app no one chose an engine for. */
static const engine_handler handlers[] = {
	{ "wasmtime", command_wasmtime },
	{ "wasmedge", command_wasmedge },
	{ "wasmer", command_wasmer },
	{ "node", command_node },
	{ "spin", command_spin },
};

static const engine_handler *handler_for(const char *name)
{
	for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
		if (!strcmp(handlers[i].name, name))
			return &handlers[i];
	return NULL;
}

bool wp_engine_known(const char *name)
{
	return handler_for(name) != NULL;
}

int wp_engine_check_name(const char *name, wp_error *err)
{
	if (!name || handler_for(name))
		return 0;
	return wp_error_set(err, WP_EUSAGE, "unknown engine '%s': the engines are %s", name, WP_ENGINE_NAMES);
}

/* "; installed: node, wasmtime", or what to install when none is. */
static void append_installed(wp_error *err)
{
	const char *sep = "; installed: ";
	bool any = false;

	for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
		if (strcmp(handlers[i].name, "spin") && on_path(handlers[i].name)) {
			wp_error_append(err, "%s%s", sep, handlers[i].name);
			sep = ", ";
			any = true;
		}
	if (!any)
		wp_error_append(err, "; no engine is: install wasmtime (recommended on nodes), wasmedge, wasmer or node");
}

/* A file that starts with the wasm magic, or an error saying what the file is instead:
 * an image for another platform must not reach an engine (whose error would be about
 * bytes). root is the folder the app's paths stay in: the file is opened beneath it. */
static int check_wasm(const char *root, const char *file, const char *platform, const char *shown, wp_error *err)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	size_t rl = root ? strlen(root) : 0;
	unsigned char m[8] = { 0 };
	ssize_t n = -1;
	int fd;

	if (root && !strncmp(file, root, rl) && file[rl] == '/') {
		int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		fd = rfd < 0 ? -1 : (int)syscall(SYS_openat2, rfd, file + rl + 1, &how, sizeof(how));
		if (rfd >= 0)
			close(rfd);
	} else
		fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return wp_error_sys(err, WP_ENOTFOUND, "the app's wasm '%s'", shown);
	n = read(fd, m, sizeof(m));
	close(fd);
	if (n >= 4 && !memcmp(m, "\0asm", 4))
		return 0;
	wp_error_set(err, WP_EINVALID, "'%s' is not wasm: it is %s", shown,
		     n >= 4 && !memcmp(m, "\177ELF", 4) ? "a native program (ELF)"
		     : n >= 2 && m[0] == '#' && m[1] == '!' ? "a script (#!)"
		     : n <= 0 ? "empty" : "no wasm module or component (no \\0asm magic)");
	if (platform && strcmp(platform, "/"))
		wp_error_append(err, "; the image is for %s", platform);
	return wp_error_append(err, "; wasmpack runs wasm images (wasip1/wasm, wasip2/wasm)");
}

/* The image's platform ("linux/amd64"), from the unpacked config, for messages; malloc'ed
 * or NULL. */
static char *image_platform(const wp_run_spec *s)
{
	_cleanup_free_ char *cfgp = s->dir ? wp_str_fmt("%s/config.json", s->dir) : NULL;
	json_t *cfg = NULL;
	wp_error ignored;
	char *out = NULL;

	if (cfgp && wp_json_read_file(cfgp, 16u << 20, &cfg, &ignored) == 0 && wp_json_str(cfg, "os"))
		out = wp_str_fmt("%s/%s", wp_json_str(cfg, "os"),
				 wp_json_str(cfg, "architecture") ? wp_json_str(cfg, "architecture") : "?");
	json_decref(cfg);
	return out;
}

int wp_engine_command(const wp_run_spec *s, wp_strv *out, wp_confine *view, wp_error *err)
{
	const char *engine = s->engine, *why = "--engine";
	wp_strv argv = { 0 };
	app a = { 0 };
	_cleanup_free_ char *launcher_path = NULL, *exe = NULL, *rdir = NULL, *rroot = NULL, *rlaunch = NULL;
	wp_run_spec real = *s;
	int rc;

	/* Real paths throughout: the confined engine finds each at the same place. */
	if ((s->dir && !(real.dir = rdir = realpath(s->dir, NULL))) ||
	    (s->rootfs && !(real.rootfs = rroot = realpath(s->rootfs, NULL))) ||
	    (s->launcher_dir && !(real.launcher_dir = rlaunch = realpath(s->launcher_dir, NULL))))
		return wp_error_sys(err, WP_ENOTFOUND, "the app's folder");
	s = &real;
	if ((rc = wp_engine_check_name(engine, err)) < 0)
		return rc;
	if ((rc = describe(s, &a, err)) < 0)
		goto done;
	if (a.wasm) {
		_cleanup_free_ char *platform = image_platform(s);
		const char *root = s->rootfs ? s->rootfs : s->dir;

		if ((rc = check_wasm(root, a.wasm, platform, a.argv.len ? a.argv.items[0] : a.wasm, err)) < 0)
			goto done;
	}
	if (!engine && wp_json_str(s->summary, "engine")) {
		/* The image's preference: a known engine only (an image never names a program to
		 * run), and only when it is installed. */
		const char *want = wp_json_str(s->summary, "engine");

		for (size_t i = 0; i < WP_ARRAY_LEN(handlers); i++)
			if (strcmp(handlers[i].name, "spin") && !strcmp(want, handlers[i].name) && on_path(want))
				engine = handlers[i].name;
		why = "the image's preference";
		if (!engine)
			wp_info("the image prefers the engine '%s', which is unknown or not installed", want);
	}
	if (a.needs_spin) {
		if (engine && strcmp(engine, "spin") && !s->engine_default) {
			rc = wp_error_set(err, WP_EUSAGE, "this Spin app has HTTP (or other) triggers: only the spin engine runs it");
			goto done;
		}
		if (!on_path("spin")) {
			rc = wp_error_set(err, WP_ENOTFOUND, "this Spin app needs Spin to run its triggers: install spin "
					  "(https://spinframework.dev) and put it on PATH");
			goto done;
		}
		engine = "spin";
		why = "a Spin app with triggers";
	}
	for (size_t i = 0; !engine && i < WP_ARRAY_LEN(handlers); i++)
		if (strcmp(handlers[i].name, "spin") && on_path(handlers[i].name)) {
			engine = handlers[i].name;
			why = "the first installed of wasmtime, wasmedge, wasmer, node";
		}
	if (!engine) {
		rc = wp_error_set(err, WP_ENOTFOUND, "no wasm engine found: install wasmtime (recommended on nodes), "
				  "wasmedge, wasmer or node");
		goto done;
	}
	if (strcmp(engine, "spin") && !on_path(engine)) {
		rc = wp_error_set(err, WP_ENOTFOUND, "the engine '%s' is not installed (not on PATH)", engine);
		append_installed(err);
		goto done;
	}
	if ((rc = handler_for(engine)->command(s, &a, &argv, &launcher_path, err)) < 0)
		goto done;
	if (wp_log_level() >= WP_LOG_DEBUG) {
		wp_buf line;

		wp_buf_init(&line, 1 << 16);
		for (size_t i = 0; i < argv.len; i++)
			(void)!wp_buf_printf(&line, "%s%s", i ? " " : "", argv.items[i]);
		wp_debug("engine %s (%s): %s", engine, why, line.data ? line.data : "");
		wp_buf_release(&line);
	}
	/* The engine by its full path: the confined engine has no PATH of the host's. */
	if ((exe = find_on_path(argv.items[0]))) {
		free(argv.items[0]);
		argv.items[0] = wp_xstrdup(exe);
	}
	if (view && (rc = plan_view(s, &a, launcher_path, exe, view, err)) < 0)
		goto done;
	if (view) {
		const char *k;
		json_t *v;

		json_object_foreach(a.preopens, k, v)
			wp_strv_push(&view->app_roots, json_string_value(v));
	}
	*out = argv;
	memset(&argv, 0, sizeof(argv));
done:
	app_release(&a);
	wp_strv_release(&argv);
	return rc;
}

/* Said once when an unprivileged run cannot be confined. */
static void warn_unconfined(void)
{
	fprintf(stderr, "wasmpack: warning: the app runs unconfined: this kernel gives no user namespace to an "
			"unprivileged user (the image's links were checked to stay inside it)\n");
}

int wp_engine_exec(const wp_run_spec *s, wp_error *err)
{
	wp_strv argv = { 0 };
	wp_confine view = { 0 };
	int rc;

	if ((rc = wp_engine_command(s, &argv, &view, err)) < 0)
		goto done;
	fflush(stdout);
	fflush(stderr);
	rc = wp_confine_enter(&view, err);
	if (rc == WP_CONFINE_UNAVAILABLE) {
		/* Without a namespace the engine follows links on the host: only folders with
		 * no link out of themselves are handed to it, each judged as its own root (a
		 * link from an image's rootfs up into the cache entry leaves the app too). */
		rc = 0;
		for (size_t i = 0; rc == 0 && i < view.app_roots.len; i++) {
			const char *root = view.app_roots.items[i];
			struct stat st;
			int fd;

			if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode))
				continue;
			fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = fd < 0 ? wp_error_sys(err, WP_EIO, "opening '%s'", root) : wp_links_check_tree(fd, 4000000, err);
			if (fd >= 0)
				close(fd);
			if (rc < 0)
				wp_error_prefix(err, "refusing to run unconfined: in '%s'", root);
		}
		if (rc < 0)
			goto done;
		warn_unconfined();
	} else if (rc < 0 || (rc = wp_confine_drop_caps(err)) < 0) {
		goto done;
	}
	execvp(argv.items[0], argv.items);
	rc = wp_error_sys(err, WP_EIO, "starting engine '%s'", argv.items[0]);
done:
	wp_confine_release(&view);
	wp_strv_release(&argv);
	return rc;
}
