/* spin-jco: wasmpack's own Spin HTTP trigger. The locked app's HTTP components are
 * transpiled by jco once each into the node cache; the runner (node/runners/spin-http.mjs)
 * gets a plan of the app (routes, each component's folders, env, variables, key-value
 * grants, outbound allow-list) and the listening socket, bound by the caller (run or the
 * shim) where the app is to be reached and handed in as a descriptor. */
#include "node/engine_int.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/path.h"
#include "common/util.h"
#include "common/toml.h"
#include "common/version.h"
#include "node/listen.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <linux/openat2.h>
#include <unistd.h>

/* node/runners, embedded (scripts/embed.sh) */
#include "gen/runner_spin_http.h"


extern char **environ;

/* A value of the container's environment (the shim), else of wasmpack's own (run). */
static const char *env_value(const engine_ctx *x, const char *name)
{
	size_t n = strlen(name), i;
	json_t *v;

	if (!x->s->process)
		return getenv(name);
	json_array_foreach(json_object_get(x->s->process, "env"), i, v)
		if (json_is_string(v) && !strncmp(json_string_value(v), name, n) && json_string_value(v)[n] == '=')
			return json_string_value(v) + n + 1;
	return NULL;
}

/* The path of a file:// URL when it lies beneath root (a locked app from an image names
 * only its own files); NULL otherwise. */
static const char *beneath(const char *url, const char *root)
{
	size_t n = strlen(root);

	if (!url || strncmp(url, "file://", 7))
		return NULL;
	url += 7;
	if (strncmp(url, root, n) || url[n] != '/' || strstr(url, "/../") || wp_str_has_suffix(url, "/.."))
		return NULL;
	return url;
}

/* The locked app of a spin.toml (the image layout, or a container's rootfs), made by
 * `wasmpack-core __spin-lock` (cli/cmd_lock.c): the manifest, an image's, is read in a
 * process of its own, and the node side holds only locked apps. Its path in *lock_path. */
static int lock_toml(const engine_ctx *x, const char *toml, char **lock_path, char **assets, wp_error *err)
{
	_cleanup_free_ char *core = wp_engine_core_path(), *root = wp_xstrdup(toml);
	char out[PATH_MAX + 1], why[1024];
	const char *argv[] = { "wasmpack-core", "__spin-lock", root, NULL };
	/* a manifest that takes longer than 120 s is no manifest: the start fails */
	wp_core_call call = { .core = core, .argv = argv, .alarm_s = 120, .out = out, .outcap = sizeof(out), .errbuf = why,
			      .errcap = sizeof(why), .reaped_status = x->s->reaped_status, .ctx = x->s->reaped_ctx };
	size_t got = 0;
	int status = 0, rc;

	if (!core)
		return wp_error_set(err, WP_ENOTFOUND, "wasmpack-core is not beside this binary nor on PATH: it locks the "
				    "Spin app's spin.toml");
	if (strrchr(root, '/'))
		*strrchr(root, '/') = '\0'; /* the rootfs: spin.toml is at its root */
	if ((rc = wp_engine_core_call(&call, &got, &status, err)) < 0)
		return rc;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !got || out[0] != '/')
		return wp_error_set(err, WP_EINVALID, "%s", why[0] ? (wp_str_has_prefix(why, "wasmpack: ") ? why + 10 : why)
								   : "locking the Spin app's spin.toml failed");
	*lock_path = wp_xstrdup(out);
	*assets = wp_xstrdup(out);
	*strrchr(*assets, '/') = '\0';
	return 0;
}

/* NAME=VALUE into obj (the name lowercased, as Spin's variable names are). */
static int add_value(json_t *obj, const char *kv, const char *what, wp_error *err)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *name = NULL;

	if (!eq || eq == kv)
		return wp_error_set(err, WP_EUSAGE, "%s '%s': want NAME=VALUE", what, kv);
	name = wp_xstrndup(kv, (size_t)(eq - kv));
	for (char *p = name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	json_object_set_new(obj, name, json_string(eq + 1));
	return 0;
}

/* Variable values: SPIN_VARIABLE_<NAME> of the environment, then --variable (which wins). */
static int variable_values(const engine_ctx *x, json_t *values, wp_error *err)
{
	static const char prefix[] = "SPIN_VARIABLE_";
	size_t i;
	json_t *v;

	if (x->s->process) {
		json_array_foreach(json_object_get(x->s->process, "env"), i, v)
			if (json_is_string(v) && wp_str_has_prefix(json_string_value(v), prefix))
				(void)add_value(values, json_string_value(v) + sizeof(prefix) - 1, "SPIN_VARIABLE_", err);
	} else
		for (char **e = environ; e && *e; e++)
			if (wp_str_has_prefix(*e, prefix))
				(void)add_value(values, *e + sizeof(prefix) - 1, "SPIN_VARIABLE_", err);
	for (i = 0; i < x->s->variables.len; i++)
		if (add_value(values, x->s->variables.items[i], "--variable", err) < 0)
			return err->code;
	return 0;
}

/* Whether id is in SPIN_COMPONENTS_TO_RETAIN (a comma-separated list), or there is none. */
static bool retained(const char *list, const char *id)
{
	size_t n = strlen(id);

	if (!list || !*list)
		return true;
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		while (len && isspace((unsigned char)*p))
			p++, len--;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == n && !strncmp(p, id, n))
			return true;
		if (!comma)
			break;
		p = comma + 1;
	}
	return false;
}

static json_t *find_component(json_t *locked, const char *id)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(locked, "components"), i, c)
		if (id && wp_json_str(c, "id") && !strcmp(wp_json_str(c, "id"), id))
			return c;
	return NULL;
}

/* v (a new reference), else the empty value made for it. */
static json_t *own_or(json_t *v, json_t *empty)
{
	if (!v)
		return empty;
	json_decref(empty);
	return json_incref(v);
}

/* The component's outbound allow-list as Spin reads it: allowed_outbound_hosts, else
 * Spin 1's allowed_http_hosts (a bare host is its http and https; "insecure:allow-all"
 * every host). Service chaining (*.spin.internal) is not served here: refused. */
static int outbound_hosts(const char *id, json_t *meta, json_t **out, wp_error *err)
{
	json_t *hosts = json_object_get(meta, "allowed_outbound_hosts"), *legacy = json_object_get(meta, "allowed_http_hosts");
	json_t *v;
	size_t i;

	*out = json_array();
	json_array_foreach(hosts, i, v) {
		const char *h = json_string_value(v);

		if (!h)
			continue;
		if (!strcmp(h, "insecure:allow-all")) {
			json_decref(*out);
			return wp_error_set(err, WP_EINVALID, "component '%s': 'insecure:allow-all' is not allowed - use "
					    "'*://*:*' instead if you really want to allow all outbound traffic", id);
		}
		json_array_append(*out, v);
	}
	json_array_foreach(hosts ? NULL : legacy, i, v) {
		const char *h = json_string_value(v);

		if (!h)
			continue;
		if (!strcmp(h, "insecure:allow-all"))
			json_array_append_new(*out, json_string("*://*:*"));
		else if (strstr(h, "://"))
			json_array_append(*out, v);
		else {
			_cleanup_free_ char *a = wp_str_fmt("http://%s", h), *b = wp_str_fmt("https://%s", h);

			json_array_append_new(*out, json_string(a));
			json_array_append_new(*out, json_string(b));
		}
	}
	json_array_foreach(*out, i, v)
		if (strstr(json_string_value(v), ".spin.internal")) {
			wp_error_set(err, WP_EINVALID, "component '%s' allows '%s': Spin's service chaining is not served by "
				     "wasmpack's Spin trigger; install spin to run it", id, json_string_value(v));
			json_decref(*out);
			return err->code;
		}
	return 0;
}

/* One component of the plan: its wasm transpiled, its files, env, grants. */
static int plan_component(engine_ctx *x, const wp_engine_jco *j, json_t *c, json_t *wagi, const char *const *roots,
			  json_t *out, wp_error *err)
{
	const char *id = wp_json_str(c, "id"), *src = NULL;
	json_t *meta = json_object_get(c, "metadata"), *files = json_object(), *f, *hosts = NULL;
	_cleanup_free_ char *compiled = NULL;
	int fd = -1, kind = 0, rc;
	size_t i;

	for (size_t r = 0; roots[r] && !src; r++)
		src = beneath(wp_json_str(json_object_get(c, "source"), "source"), roots[r]);
	if (!src) {
		json_decref(files);
		return wp_error_set(err, WP_EINVALID, "component '%s': its source is not a file of the app",
				    id ? id : "?");
	}
	for (size_t r = 0; roots[r] && fd < 0; r++)
		if (wp_str_has_prefix(src, roots[r]))
			rc = wp_engine__open_wasm(roots[r], src, NULL, id, &fd, &kind, err);
	if (fd < 0) {
		json_decref(files);
		return err->code ? err->code : wp_error_set(err, WP_EINVALID, "component '%s': cannot open its wasm", id);
	}
	if (wagi && kind != WP_WASM_MODULE) {
		close(fd);
		json_decref(files);
		return wp_error_set(err, WP_EINVALID, "component '%s' uses the WAGI executor, which runs wasip1 modules, and "
				    "it is a wasm component", id);
	}
	if (!wagi && kind != WP_WASM_COMPONENT) {
		close(fd);
		json_decref(files);
		return wp_error_set(err, WP_EINVALID, "component '%s' is a wasm module with Spin's executor (Spin 1's "
				    "inbound-http): wasmpack's Spin trigger serves wasi:http components, and modules with "
				    "executor = { type = \"wagi\" }; install spin (https://spinframework.dev) to run it", id);
	}
	if (!wagi) {
		rc = wp_engine__jco_transpile(x, j, fd, true, &compiled, err);
		close(fd);
		if (rc < 0) {
			json_decref(files);
			return wp_error_prefix(err, "component '%s'", id);
		}
		wp_strv_push(&x->ro, compiled);
	} else
		close(fd);
	json_array_foreach(json_object_get(c, "files"), i, f) {
		const char *dir = NULL, *guest = wp_json_str(f, "path");
		struct stat st;

		for (size_t r = 0; roots[r] && !dir; r++)
			dir = beneath(wp_json_str(f, "source"), roots[r]);
		if (!dir || !guest || guest[0] != '/' || stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
			json_decref(files);
			return wp_error_set(err, WP_EINVALID, "component '%s': its files '%s' are not a folder of the app", id,
					    wp_json_str(f, "source") ? wp_json_str(f, "source") : "?");
		}
		json_object_set_new(files, guest, json_string(dir));
		wp_strv_push(&x->ro, dir);
	}
	if ((rc = outbound_hosts(id, meta, &hosts, err)) < 0) {
		json_decref(files);
		return rc;
	}
	x->host_network = x->host_network || json_array_size(hosts) > 0;
	json_object_set_new(out, id,
			    json_pack("{s:s?, s:o?, s:o, s:o, s:o, s:o, s:o}", "dir", compiled, "wagi",
				      wagi ? json_pack("{s:s, s:O?}", "module", src, "argv", json_object_get(wagi, "argv")) : NULL,
				      "files", files, "env",
				      own_or(json_object_get(c, "env"), json_object()), "variables",
				      own_or(json_object_get(c, "config"), json_object()), "key_value_stores",
				      own_or(json_object_get(meta, "key_value_stores"), json_array()),
				      "allowed_outbound_hosts", hosts));
	return 0;
}

/* The runtime config's text: --runtime-config-file (run), else a file the container
 * mounts at /runtime-config.toml, else /runtime-config.toml in the image's rootfs (opened
 * beneath it), as containerd-shim-spin reads it. NULL in *text when there is none. */
static int runtime_config_text(const engine_ctx *x, char **text, char **where, wp_error *err)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	_cleanup_free_ char *root = NULL;
	const char *path = x->s->runtime_config;
	wp_buf b;
	json_t *m;
	size_t i;
	int fd = -1, rc;

	*text = *where = NULL;
	json_array_foreach(path ? NULL : x->s->mounts, i, m)
		if (wp_json_str(m, "destination") && !strcmp(wp_json_str(m, "destination"), "/runtime-config.toml"))
			path = wp_json_str(m, "source");
	if (path)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	else {
		root = x->s->rootfs ? wp_xstrdup(x->s->rootfs) : x->s->dir ? wp_str_fmt("%s/rootfs", x->s->dir) : NULL;
		int rfd = root ? open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

		if (rfd < 0)
			return 0;
		fd = (int)syscall(SYS_openat2, rfd, "runtime-config.toml", &how, sizeof(how));
		close(rfd);
		if (fd < 0 && errno == ENOENT)
			return 0;
		path = "/runtime-config.toml (in the image)";
	}
	if (fd < 0)
		return wp_error_sys(err, WP_ENOTFOUND, "the runtime config '%s'", path);
	wp_buf_init(&b, 1 << 20);
	for (;;) {
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = wp_error_sys(err, WP_EIO, "reading the runtime config '%s'", path);
			break;
		}
		if (n == 0) {
			rc = 0;
			break;
		}
		if (wp_buf_append(&b, chunk, (size_t)n) < 0) {
			rc = wp_error_set(err, WP_ETOOBIG, "the runtime config '%s' is larger than 1 MiB", path);
			break;
		}
	}
	close(fd);
	if (rc < 0) {
		wp_buf_release(&b);
		return rc;
	}
	*text = wp_buf_detach(&b, NULL);
	*where = wp_xstrdup(path);
	return 0;
}

/* The key-value stores a runtime config defines ([key_value_store.NAME], type "spin", an
 * optional path: in memory without one), each kept inside the state folder: a path that
 * leads out of it is refused (an image's config names no file of the node's). */
static int runtime_config(const engine_ctx *x, const char *state_dir, json_t *kv, wp_error *err)
{
	_cleanup_free_ char *text = NULL, *where = NULL;
	const wp_toml *stores;
	wp_toml *doc = NULL;
	int rc;

	if ((rc = runtime_config_text(x, &text, &where, err)) < 0 || !text)
		return rc;
	if ((rc = wp_toml_parse(text, strlen(text), &doc, err)) < 0)
		return wp_error_prefix(err, "the runtime config '%s'", where);
	stores = wp_toml_get_table(doc, "key_value_store");
	for (size_t i = 0; stores && rc == 0 && i < stores->u.tab.len; i++) {
		const wp_toml *st = stores->u.tab.vals[i];
		const char *name = stores->u.tab.keys[i], *type = wp_toml_get_str(st, "type"), *p = wp_toml_get_str(st, "path");

		if (st->type != WP_TOML_TABLE || strlen(name) != stores->u.tab.klens[i])
			rc = wp_error_set(err, WP_EINVALID, "the runtime config '%s': [key_value_store] holds an entry that is "
					  "no table", where);
		else if (type && strcmp(type, "spin"))
			rc = wp_error_set(err, WP_EINVALID, "the runtime config '%s': key-value store '%s' of type '%s': "
					  "wasmpack keeps stores of type \"spin\" only", where, name, type);
		else if (!p)
			json_object_set_new(kv, name, json_pack("{s:n}", "path"));
		else if (!state_dir)
			rc = wp_error_set(err, WP_EUSAGE, "the runtime config '%s' keeps the key-value store '%s' in a file: "
					  "give a state folder (--state-dir) to keep it in", where, name);
		else {
			wp_buf clean;

			wp_buf_init(&clean, WP_PATH_MAX);
			if (wp_str_has_prefix(p, state_dir) && p[strlen(state_dir)] == '/')
				p += strlen(state_dir) + 1;
			if (p[0] == '/' || wp_path_clean(p, &clean, err) < 0 || !strcmp(clean.data, ".") ||
			    wp_str_has_prefix(clean.data, "../") || !strcmp(clean.data, ".."))
				rc = wp_error_set(err, WP_EINVALID, "the runtime config '%s': the key-value store '%s' at '%s' is "
						  "not inside the state folder '%s'", where, name, wp_toml_get_str(st, "path"),
						  state_dir);
			else {
				_cleanup_free_ char *full = wp_str_fmt("%s/%s", state_dir, clean.data);

				if (strchr(clean.data, '/'))
					rc = wp_error_set(err, WP_EINVALID, "the runtime config '%s': the key-value store '%s' at '%s': "
							  "a file directly in the state folder, please", where, name, clean.data);
				else
					json_object_set_new(kv, name, json_pack("{s:s}", "path", full));
			}
			wp_buf_release(&clean);
		}
	}
	wp_toml_free(doc);
	return rc;
}

/* The routes of the app's HTTP triggers for the retained components; a trigger of another
 * kind, or an executor other than Spin's, stops the start naming it. */
static int plan_routes(engine_ctx *x, json_t *locked, json_t *routes, json_t *wanted, wp_error *err)
{
	const char *retain = env_value(x, "SPIN_COMPONENTS_TO_RETAIN");
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(locked, "triggers"), i, t) {
		const char *type = wp_json_str(t, "trigger_type") ? wp_json_str(t, "trigger_type") : "?";
		json_t *cfg = json_object_get(t, "trigger_config"), *route = json_object_get(cfg, "route");
		const char *comp = wp_json_str(cfg, "component"), *exec = wp_json_str(json_object_get(cfg, "executor"), "type");
		json_t *r;

		if (!strcmp(type, "command"))
			continue;
		if (strcmp(type, "http"))
			return wp_error_set(err, WP_EINVALID, "the app has a '%s' trigger (%s): wasmpack's Spin trigger serves "
					    "HTTP only; install spin (https://spinframework.dev) to run it", type,
					    wp_json_str(t, "id") ? wp_json_str(t, "id") : "?");
		if (comp && !retained(retain, comp))
			continue;
		if (exec && strcmp(exec, "http") && strcmp(exec, "spin") && strcmp(exec, "wagi"))
			return wp_error_set(err, WP_EINVALID, "component '%s' uses the '%s' executor: wasmpack's Spin trigger "
					    "runs Spin's (wasi:http components) and WAGI's (wasip1 modules); install spin to run it",
					    comp ? comp : "?", exec);
		r = json_object();
		if (json_is_object(route) && json_is_true(json_object_get(route, "private")))
			json_object_set_new(r, "private", json_true());
		else if (!json_is_string(route)) {
			json_decref(r);
			return wp_error_set(err, WP_EINVALID, "the HTTP trigger '%s' has no route",
					    wp_json_str(t, "id") ? wp_json_str(t, "id") : "?");
		}
		json_object_set_new(r, "route", json_string(json_is_string(route) ? json_string_value(route) : ""));
		if (json_object_get(cfg, "static_response")) {
			json_object_set(r, "static", json_object_get(cfg, "static_response"));
		} else if (!comp) {
			json_decref(r);
			return wp_error_set(err, WP_EINVALID, "the HTTP trigger '%s' names no component",
					    wp_json_str(t, "id") ? wp_json_str(t, "id") : "?");
		} else {
			json_object_set_new(r, "component", json_string(comp));
			json_object_set_new(wanted, comp, exec && !strcmp(exec, "wagi")
							      ? json_pack("{s:s?}", "argv", wp_json_str(json_object_get(cfg, "executor"), "argv"))
							      : json_true());
		}
		json_array_append_new(routes, r);
	}
	if (!json_array_size(routes))
		return wp_error_set(err, WP_EINVALID, "the Spin app has no HTTP route to serve%s",
				    env_value(x, "SPIN_COMPONENTS_TO_RETAIN") ? " among SPIN_COMPONENTS_TO_RETAIN" : "");
	return 0;
}

/* The locked app of this run: the unpacked spin.lock, or one made of a spin.toml. */
static int load_lock(const engine_ctx *x, json_t **locked, char **assets, wp_error *err)
{
	_cleanup_free_ char *lockp = NULL;

	*assets = NULL;
	if (!strcmp(x->a->spin_args[0], "-f")) {
		if (lock_toml(x, x->a->spin_args[1], &lockp, assets, err) < 0)
			return err->code;
	} else
		lockp = wp_xstrdup(x->a->spin_args[1]);
	return wp_json_read_file(lockp, 16u << 20, locked, err);
}

/* text in a new memfd (close-on-exec; the caller hands it to the engine), read from its
 * start. */
static int plan_memfd(const char *text, int *fd, wp_error *err)
{
	size_t len = strlen(text), off = 0;

	*fd = memfd_create("wasmpack-spin-plan", MFD_CLOEXEC);
	if (*fd < 0)
		return wp_error_sys(err, WP_EIO, "making the engine's plan");
	while (off < len) {
		ssize_t n = write(*fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(*fd);
			*fd = -1;
			return wp_error_sys(err, WP_EIO, "writing the engine's plan");
		}
		off += (size_t)n;
	}
	if (lseek(*fd, 0, SEEK_SET) < 0) {
		close(*fd);
		*fd = -1;
		return wp_error_sys(err, WP_EIO, "writing the engine's plan");
	}
	return 0;
}

/* Where the app listens: --listen, else the container's SPIN_HTTP_LISTEN_ADDR (the shim),
 * else Spin's defaults (spin up's under run, containerd-shim-spin's under the shim). */
static const char *listen_addr(const engine_ctx *x)
{
	const char *listen = x->s->listen ? x->s->listen : x->s->process ? env_value(x, "SPIN_HTTP_LISTEN_ADDR") : NULL;

	if (!listen || !*listen)
		listen = x->s->process ? "0.0.0.0:80" : "127.0.0.1:3000";
	return listen;
}

/* jco and Node.js; without them an app no one asked spin-jco for says to install spin. */
static int find_jco(const engine_ctx *x, wp_engine_jco *j, wp_error *err)
{
	int rc;

	if ((rc = wp_engine__jco_find(j, err)) == 0 && !wp_engine__on_path("node"))
		rc = wp_error_set(err, WP_ENOTFOUND, "jco runs on Node.js, and node is not on PATH");
	if (rc < 0 && (!x->s->engine || strcmp(x->s->engine, "spin-jco") || x->s->engine_default))
		wp_error_prefix(err, "this Spin app needs Spin to serve its triggers: install spin "
				"(https://spinframework.dev), or jco for wasmpack's own Spin trigger");
	return rc;
}

/* Each component a route names, planned (wanted: id -> true, or its WAGI settings); its
 * files and wasm lie beneath the app's folder, its rootfs or the locked app's assets. */
static int plan_components(engine_ctx *x, const wp_engine_jco *j, json_t *locked, json_t *wanted, const char *assets,
			   json_t *comps, wp_error *err)
{
	const char *roots[4] = { 0 }, *k;
	size_t n = 0;
	json_t *v;
	int rc;

	if (x->s->dir)
		roots[n++] = x->s->dir;
	if (x->s->rootfs)
		roots[n++] = x->s->rootfs;
	if (assets)
		roots[n++] = assets;
	json_object_foreach(wanted, k, v) {
		json_t *c = find_component(locked, k);

		if (!c)
			return wp_error_set(err, WP_EINVALID, "an HTTP route names the component '%s', which the app does not have",
					    k);
		if ((rc = plan_component(x, j, c, json_is_object(v) ? v : NULL, roots, comps, err)) < 0)
			return rc;
	}
	return 0;
}

/* The state folder (made 0700, writable by the engine: its key-value stores) as a real
 * path in *dir (NULL without one), and the stores a runtime config defines. */
static int plan_state(engine_ctx *x, char **dir, json_t *stores, wp_error *err)
{
	int rc;

	*dir = NULL;
	if (x->s->state_dir) {
		if ((rc = wp_fs_mkdir_p(x->s->state_dir, 0700, err)) < 0)
			return rc;
		if (!(*dir = realpath(x->s->state_dir, NULL)))
			return wp_error_sys(err, WP_EIO, "the state folder '%s'", x->s->state_dir);
		wp_strv_push(&x->rw, *dir);
	}
	return runtime_config(x, *dir, stores, err);
}

/* The plan in a memfd the engine reads (WASMPACK_SPIN_PLAN_FD), and the room for its
 * socket's number (WASMPACK_LISTEN_FD), in its environment. */
static int hand_plan(engine_ctx *x, const json_t *plan, wp_error *err)
{
	_cleanup_free_ char *text = plan ? json_dumps(plan, JSON_COMPACT) : NULL, *kvp = NULL;
	int rc;

	if (!text)
		return wp_error_set(err, WP_EINVALID, "the app's plan cannot be written as JSON");
	if ((rc = plan_memfd(text, &x->plan_fd, err)) < 0)
		return rc;
	kvp = wp_str_fmt("WASMPACK_SPIN_PLAN_FD=%d", x->plan_fd);
	wp_strv_push(&x->env, kvp);
	wp_strv_push(&x->env, WP_LISTEN_ENV_ROOM);
	return 0;
}

int wp_engine__command_spin_jco(engine_ctx *x, wp_strv *argv, wp_error *err)
{
	_cleanup_free_ char *runner = NULL, *assets = NULL, *state = NULL;
	json_t *locked = NULL, *plan = NULL, *routes = json_array(), *wanted = json_object(), *comps = json_object();
	json_t *values = json_object(), *stores = json_object(), *meta;
	const char *listen = listen_addr(x), *base;
	wp_listen_addr la;
	wp_engine_jco j = { 0 };
	int rc;

	if (!x->a->spin_args[1])
		rc = wp_error_set(err, WP_EUSAGE, "only Spin apps run with the spin-jco engine");
	else if ((rc = wp_listen_resolve(listen, &la, err)) == 0 && (rc = find_jco(x, &j, err)) == 0 &&
		 (rc = load_lock(x, &locked, &assets, err)) == 0 && (rc = plan_routes(x, locked, routes, wanted, err)) == 0 &&
		 (rc = plan_components(x, &j, locked, wanted, assets, comps, err)) == 0 &&
		 (rc = variable_values(x, values, err)) == 0)
		rc = plan_state(x, &state, stores, err);
	if (rc < 0)
		goto done;
	meta = json_object_get(locked, "metadata");
	base = wp_json_str(json_object_get(json_object_get(meta, "triggers"), "http"), "base");
	plan = json_pack("{s:s, s:s, s:i, s:s, s:o, s:o, s:o, s:o, s:o, s:{s:s?, s:s?}, s:b, s:b, s:s?}",
			 "version", "wasmpack " WP_VERSION, "listen", listen, "workers", x->s->workers, "base", base ? base : "/",
			 "routes", routes, "components", comps, "variables", own_or(json_object_get(locked, "variables"), json_object()),
			 "values", values, "kv", stores, "app", "name", wp_json_str(meta, "name"), "version", wp_json_str(meta, "version"),
			 "verbose", wp_log_level() >= WP_LOG_INFO, "quiet", wp_log_level() < WP_LOG_WARN, "state_dir", state);
	routes = comps = values = stores = NULL;
	if ((rc = hand_plan(x, plan, err)) < 0)
		goto done;
	runner = wp_str_fmt("%s/wasmpack-spin-http.mjs", x->s->launcher_dir);
	if ((rc = wp_engine__launcher_write(runner, spin_http_runner, err)) < 0)
		goto done;
	wp_strv_push(argv, "node");
	wp_strv_push(argv, "--no-warnings");
	wp_strv_push(argv, runner);
	wp_strv_push(argv, j.shim);
	wp_strv_push(&x->ro, runner);
	wp_strv_push(&x->ro, j.modules);
	x->listen = wp_xstrdup(listen);
done:
	json_decref(routes);
	json_decref(comps);
	json_decref(values);
	json_decref(stores);
	json_decref(wanted);
	json_decref(plan);
	json_decref(locked);
	wp_engine__jco_release(&j);
	return rc;
}
