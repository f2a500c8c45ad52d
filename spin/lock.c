/* The loader's model written as Spin's locked app (crates/locked-app): components with
 * their sources, files and dependencies, triggers, metadata; wp_spin_lock, the entry. */
#include "spin/spin_int.h"
#include "common/path.h"
#include "common/links.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/toml.h"
#include "common/util.h"
#include "oci/digest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- components ---- */

/* A source: a path (relative to the app folder; unlike files it may lie outside it), or a
 * URL with a digest, kept where Spin's cache keeps it. */
/* A component without `source`: when one of its keys is a near miss of it ("sorce"), say
 * so rather than that the source has the wrong shape. */
static int missing_source(loader *l, const wp_toml *t)
{
	static const char *const want[] = { "source" };

	for (size_t i = 0; t && t->type == WP_TOML_TABLE && i < t->u.tab.len; i++)
		if (wp_str_closest(t->u.tab.keys[i], want, 1))
			return wp_error_set(l->err, WP_EINVALID, "no `source`, but a key `%s` (line %d): did you mean `source`?",
					    t->u.tab.keys[i], t->u.tab.vals[i]->line);
	return wp_error_set(l->err, WP_EINVALID, "no `source`: a component needs `source` = a path to its wasm, or "
			    "{ url, digest }");
}

static int source_json(loader *l, const wp_toml *src, json_t **out)
{
	*out = NULL;
	if (src && src->type == WP_TOML_STRING) {
		_cleanup_free_ char *full = src->u.str.s[0] == '/' ? wp_xstrdup(src->u.str.s) : wp_str_fmt("%s/%s", l->root, src->u.str.s);
		char real[PATH_MAX];
		struct stat st;

		if (full && realpath(full, real)) {
			free(full);
			full = wp_xstrdup(real);
		}
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode))
			return wp_error_set(l->err, WP_ENOTFOUND, "Failed to load Wasm source \"%s\": the file does not exist",
					    src->u.str.s);
		*out = json_pack("{s:s,s:s+}", "content_type", "application/wasm", "source", "file://", full);
		return 0;
	}
	if (src && src->type == WP_TOML_TABLE && wp_spin__tstr(src, "url") && wp_spin__tstr(src, "digest")) {
		const char *url = wp_spin__tstr(src, "url"), *dg = wp_spin__tstr(src, "digest");

		if (strncmp(dg, "sha256:", 7))
			return wp_error_set(l->err, WP_EINVALID,
					    "Failed to load Wasm source \"%s\" with digest \"%s\": invalid `digest` \"%s\"; must start with 'sha256:'",
					    url, dg, dg);
		if (!wp_digest_valid(dg))
			return wp_error_set(l->err, WP_EINVALID, "Failed to load Wasm source \"%s\": invalid `digest` \"%s\"", url, dg);
		*out = json_pack("{s:s,s:s+++}", "content_type", "application/wasm", "source", "file://", l->cache,
				 "/spin/registry/wasm/", dg);
		if (l->collect) {
			if (!l->collect->urls)
				l->collect->urls = json_object();
			json_object_set_new(l->collect->urls, dg, json_string(url));
		}
		return 0;
	}
	return wp_error_set(l->err, WP_EINVALID, "`source` must be a path or { url, digest }");
}

/* [component.x.dependencies]: name -> { path } | { url, digest } | { component } (with
 * `export` and `inherit_configuration`); registry packages ("1.0" or { version }) need a
 * package registry and are refused. */
static int dependencies_json(loader *l, const wp_toml *comp_t, json_t **out)
{
	const wp_toml *deps = wp_spin__tget(comp_t, "dependencies"), *dic = wp_spin__tget(comp_t, "dependencies_inherit_configuration");
	bool inherit_all = dic && dic->type == WP_TOML_BOOL && dic->u.b;
	json_t *o;

	*out = NULL;
	if (!deps || deps->type != WP_TOML_TABLE || !deps->u.tab.len)
		return 0;
	o = json_object();
	for (size_t i = 0; i < deps->u.tab.len; i++) {
		const char *name = deps->u.tab.keys[i];
		const wp_toml *d = deps->u.tab.vals[i], *ic = wp_spin__tget(d, "inherit_configuration");
		json_t *src = NULL, *dep;
		int rc;

		if (d->type == WP_TOML_STRING || (d->type == WP_TOML_TABLE && wp_spin__tget(d, "version"))) {
			json_decref(o);
			return wp_error_set(l->err, WP_EINVALID, "Component dependency \"%s\" names a registry package: "
					    "package registries are not supported yet (use path, url or component)", name);
		}
		if (inherit_all && ic) {
			json_decref(o);
			return wp_error_set(l->err, WP_EINVALID, "`dependencies_inherit_configuration` and per-dependency "
					    "`inherit_configuration` are mutually exclusive; use one or the other");
		}
		if (wp_spin__tstr(d, "component")) {
			const comp *c = wp_spin__find_comp(l, wp_spin__tstr(d, "component"));

			if (!c) {
				json_decref(o);
				return wp_error_set(l->err, WP_EINVALID, "dependency ID %s does not exist", wp_spin__tstr(d, "component"));
			}
			rc = source_json(l, wp_spin__tget(c->t, "source"), &src);
		} else if (wp_spin__tstr(d, "path")) {
			_cleanup_free_ char *full = wp_str_fmt("%s/%s", l->root, wp_spin__tstr(d, "path"));
			struct stat st;

			rc = full && stat(full, &st) == 0 ? 0 :
			     wp_error_set(l->err, WP_ENOTFOUND, "Component dependency \"%s\": \"%s\" does not exist", name, wp_spin__tstr(d, "path"));
			if (rc == 0)
				src = json_pack("{s:s,s:s+}", "content_type", "application/wasm", "source", "file://", full);
		} else {
			rc = source_json(l, d, &src);
		}
		if (rc < 0) {
			json_decref(o);
			return rc;
		}
		dep = json_pack("{s:o,s:s?}", "source", src, "export", wp_spin__tstr(d, "export"));
		if (!json_object_get(dep, "export"))
			json_object_set_new(dep, "export", json_null());
		if (inherit_all || (ic && ic->type == WP_TOML_BOOL && ic->u.b))
			json_object_set_new(dep, "inherit", json_string("All"));
		else if (ic && ic->type == WP_TOML_ARRAY && ic->u.arr.len)
			json_object_set_new(dep, "inherit", json_pack("{s:o}", "Some", wp_spin__toml_to_json(ic)));
		json_object_set_new(o, name, dep);
	}
	*out = wp_spin__sorted(o);
	return 0;
}

static int load_component(loader *l, const comp *c, json_t **out)
{
	const wp_toml *t = c->t, *src = wp_spin__tget(t, "source"), *files = wp_spin__tget(t, "files"), *env = wp_spin__tget(t, "environment");
	const wp_toml *vars = wp_spin__tget(t, c->v1 ? "config" : "variables"), *build = wp_spin__tget(t, "build");
	const wp_toml *aoh = wp_spin__tget(t, "allowed_outbound_hosts");
	wp_strv http = { 0 }, outbound = { 0 }, exclude = { 0 }, kv = { 0 }, dbs = { 0 }, ai = { 0 };
	json_t *o = NULL, *meta = json_object(), *source = NULL, *deps_json = NULL;
	char *mount = NULL;
	int rc = 0;

	if (!wp_spin__str_array(wp_spin__tget(t, "allowed_http_hosts"), &http) || !wp_spin__str_array(aoh, &outbound) ||
	    !wp_spin__str_array(wp_spin__tget(t, "exclude_files"), &exclude) || !wp_spin__str_array(wp_spin__tget(t, "key_value_stores"), &kv) ||
	    !wp_spin__str_array(wp_spin__tget(t, "sqlite_databases"), &dbs) || !wp_spin__str_array(wp_spin__tget(t, "ai_models"), &ai)) {
		rc = wp_error_set(l->err, WP_EINVALID, "a list field holds something other than strings");
		goto done;
	}
	/* v1 components without allowed_outbound_hosts kept the old open database access. */
	if ((rc = wp_spin__convert_http_hosts(l, &http, c->v1 && !aoh, &outbound)) < 0)
		goto done;
	if ((rc = wp_spin__check_outbound(l, &outbound)) < 0)
		goto done;
	if (wp_spin__tstr(t, "description"))
		json_object_set_new(meta, "description", json_string(wp_spin__tstr(t, "description")));
	if (outbound.len) {
		json_t *a = json_array();

		for (size_t i = 0; i < outbound.len; i++)
			json_array_append_new(a, json_string(outbound.items[i]));
		json_object_set_new(meta, "allowed_outbound_hosts", a);
	}
	if (kv.len)
		json_object_set_new(meta, "key_value_stores", wp_spin__toml_to_json(wp_spin__tget(t, "key_value_stores")));
	if (dbs.len)
		json_object_set_new(meta, "databases", wp_spin__toml_to_json(wp_spin__tget(t, "sqlite_databases")));
	if (ai.len)
		json_object_set_new(meta, "ai_models", wp_spin__toml_to_json(wp_spin__tget(t, "ai_models")));
	if (build && build->type == WP_TOML_TABLE)
		json_object_set_new(meta, "build", wp_spin__toml_to_json(build));
	meta = wp_spin__sorted(meta);
	if (!src && (rc = missing_source(l, t)) < 0)
		goto done;
	if ((rc = source_json(l, src, &source)) < 0)
		goto done;
	if ((rc = dependencies_json(l, t, &deps_json)) < 0)
		goto done;
	o = json_object();
	json_object_set_new(o, "id", json_string(c->id));
	if (json_object_size(meta))
		json_object_set(o, "metadata", meta);
	json_object_set(o, "source", source);
	if (env && env->type == WP_TOML_TABLE && env->u.tab.len)
		json_object_set_new(o, "env", wp_spin__toml_to_json(env));
	if (files && files->type == WP_TOML_ARRAY && files->u.arr.len) {
		if ((rc = wp_spin__copy_files(l, c->id, files, &exclude, &mount)) < 0)
			goto done;
		json_object_set_new(o, "files", json_pack("[{s:s,s:s}]", "source", mount, "path", "/"));
	}
	if (vars && vars->type == WP_TOML_TABLE && vars->u.tab.len)
		json_object_set_new(o, "config", wp_spin__toml_to_json(vars));
	if (deps_json && json_object_size(deps_json))
		json_object_set(o, "dependencies", deps_json);
	if (wp_spin__service_chaining(&outbound))
		json_object_set_new(o, "host_requirements", json_pack("{s:s}", "local_service_chaining", "required"));
	*out = o;
	o = NULL;
done:
	if (rc < 0)
		wp_error_prefix(l->err, "Failed to load component `%s`", c->id);
	free(mount);
	json_decref(o);
	json_decref(meta);
	json_decref(source);
	json_decref(deps_json);
	wp_strv_release(&http);
	wp_strv_release(&outbound);
	wp_strv_release(&exclude);
	wp_strv_release(&kv);
	wp_strv_release(&dbs);
	wp_strv_release(&ai);
	return rc;
}

static json_t *trigger_json(const trig *t)
{
	json_t *config;

	if (t->config) {
		config = json_deep_copy(t->config);
	} else {
		config = json_object();
		for (size_t i = 0; i < t->table->u.tab.len; i++) {
			const char *k = t->table->u.tab.keys[i];

			if (!strcmp(k, "id") || !strcmp(k, "component") || !strcmp(k, "components") || !strcmp(k, "dependencies"))
				continue;
			json_object_set_new(config, k, wp_spin__toml_to_json(t->table->u.tab.vals[i]));
		}
	}
	if (t->component)
		json_object_set_new(config, "component", json_string(t->component));
	return json_pack("{s:s,s:s,s:o}", "id", t->id, "trigger_type", t->type, "trigger_config", wp_spin__sorted(config));
}

/* Component JSON in the field order of Spin's LockedComponent. */
static json_t *canonical_component(json_t *c)
{
	static const char *order[] = { "id", "metadata", "source", "env", "files", "config", "dependencies",
				       "trigger_dependencies", "host_requirements" };
	json_t *out = json_object();

	for (size_t i = 0; i < WP_ARRAY_LEN(order); i++) {
		json_t *v = json_object_get(c, order[i]);

		if (!v || (json_is_object(v) && !json_object_size(v)))
			continue;
		if (i == 1 || i == 8)
			json_object_set_new(out, order[i], wp_spin__sorted(json_deep_copy(v)));
		else
			json_object_set(out, order[i], v);
	}
	json_decref(c);
	return out;
}

/* id -> the component's JSON (borrowed from comps): lookups in O(1). */
static json_t *component_index(json_t *comps)
{
	json_t *ix = json_object(), *c;
	size_t i;

	json_array_foreach(comps, i, c)
		json_object_set(ix, wp_json_str(c, "id"), c);
	return ix;
}

/* [[trigger.X]] dependencies: role -> [{ path } | { component } | { url, digest }], each
 * locked as a source (a component reference takes that component's source). */
static int trigger_deps(loader *l, const trig *t, json_t *comp_ix, json_t **out)
{
	const wp_toml *deps = t->table ? wp_spin__tget(t->table, "dependencies") : NULL;
	json_t *o;

	*out = NULL;
	if (!deps || deps->type != WP_TOML_TABLE || !deps->u.tab.len)
		return 0;
	o = json_object();
	for (size_t i = 0; i < deps->u.tab.len; i++) {
		const wp_toml *list = deps->u.tab.vals[i];
		json_t *arr = json_array();

		json_object_set_new(o, deps->u.tab.keys[i], arr);
		for (size_t k = 0; list->type == WP_TOML_ARRAY && k < list->u.arr.len; k++) {
			const wp_toml *d = list->u.arr.items[k];
			json_t *src = NULL;

			if (wp_spin__tstr(d, "component")) {
				json_t *c = json_object_get(comp_ix, wp_spin__tstr(d, "component"));

				if (!c) {
					json_decref(o);
					return wp_error_set(l->err, WP_EINVALID, "dependency ID %s does not exist", wp_spin__tstr(d, "component"));
				}
				src = json_deep_copy(json_object_get(c, "source"));
			} else if (wp_spin__tstr(d, "path")) {
				wp_buf rel;
				_cleanup_free_ char *full = NULL;

				wp_buf_init(&rel, PATH_MAX);
				if (wp_spin__inside_app(l, wp_spin__tstr(d, "path"), &rel) < 0) {
					wp_buf_release(&rel);
					json_decref(o);
					return l->err->code;
				}
				full = wp_str_fmt("file://%s/%s", l->root, rel.data);
				wp_buf_release(&rel);
				src = json_pack("{s:s,s:s}", "content_type", "application/wasm", "source", full);
			} else if (wp_spin__tstr(d, "url") && wp_spin__tstr(d, "digest") && wp_digest_valid(wp_spin__tstr(d, "digest"))) {
				src = json_pack("{s:s,s:s+++}", "content_type", "application/wasm", "source", "file://", l->cache,
						"/spin/registry/wasm/", wp_spin__tstr(d, "digest"));
			} else {
				json_decref(o);
				return wp_error_set(l->err, WP_EINVALID, "trigger `%s`: a dependency needs `path`, `component`, "
						    "or `url` and `digest`", t->id);
			}
			json_array_append_new(arr, json_pack("{s:o,s:n}", "source", src, "export"));
		}
	}
	*out = wp_spin__sorted(o);
	return 0;
}

/* Trigger dependencies live on components: a component shared by several triggers, one of
 * which brings dependencies, is split into "<component>-for-<trigger>" copies (Spin's
 * reassign_trigger_deps). */
static int reassign_trigger_deps(loader *l, json_t *triggers, json_t *comps)
{
	json_t **deps = wp_xcalloc(l->ntrigs + 1, sizeof(*deps));
	json_t *comp_ix = component_index(comps), *users = json_object(), *seen = json_object();
	int disambiguator = 0, rc = 0;

	for (size_t i = 0; rc == 0 && i < l->ntrigs; i++)
		rc = trigger_deps(l, &l->trigs[i], comp_ix, &deps[i]);
	for (size_t i = 0; i < l->ntrigs; i++)
		json_object_set_new(users, l->trigs[i].component,
				    json_integer(json_integer_value(json_object_get(users, l->trigs[i].component)) + 1));
	for (size_t i = 0; rc == 0 && i < l->ntrigs; i++) {
		const char *cid = l->trigs[i].component;
		_cleanup_free_ char *synthetic = NULL;

		/* shared by several triggers, this one bringing dependencies */
		if (!deps[i] || json_integer_value(json_object_get(users, cid)) < 2)
			continue;
		synthetic = wp_str_fmt("%s-for-%s", cid, l->trigs[i].id);
		if (json_object_get(seen, synthetic)) {
			char *d = wp_str_fmt("%s-d%d", synthetic, ++disambiguator);

			free(synthetic);
			synthetic = d;
		}
		json_object_set_new(seen, synthetic, json_true());
		{
			json_t *copy = json_deep_copy(json_object_get(comp_ix, cid));

			json_object_set_new(copy, "id", json_string(synthetic));
			json_object_set(comp_ix, synthetic, copy);
			json_array_append_new(comps, copy);
			json_object_set_new(json_object_get(json_array_get(triggers, i), "trigger_config"), "component",
					    json_string(synthetic));
		}
	}
	for (size_t i = 0; rc == 0 && i < l->ntrigs; i++) {
		json_t *t = json_array_get(triggers, i), *c, *meta;

		if (!deps[i])
			continue;
		c = json_object_get(comp_ix, wp_json_str(json_object_get(t, "trigger_config"), "component"));
		if (!c)
			continue;
		json_object_set(c, "trigger_dependencies", deps[i]);
		meta = json_object_get(c, "metadata");
		if (!meta) {
			meta = json_object();
			json_object_set_new(c, "metadata", meta);
		}
		json_object_set_new(meta, "resolve-trigger-dependencies-using", json_string(l->trigs[i].type));
		if (json_object_get(deps[i], "middleware")) {
			json_t *hr = json_object_get(c, "host_requirements");

			if (!hr) {
				hr = json_object();
				json_object_set_new(c, "host_requirements", hr);
			}
			json_object_set_new(hr, "middleware", json_string("required"));
		}
	}
	for (size_t i = 0; i < l->ntrigs; i++)
		json_decref(deps[i]);
	free(deps);
	json_decref(comp_ix);
	json_decref(users);
	json_decref(seen);
	return rc;
}

static json_t *metadata_json(loader *l)
{
	const wp_toml *app = l->version == 1 ? l->doc : wp_spin__tget(l->doc, "application");
	json_t *m = json_object();
	wp_strv types = { 0 };
	wp_strv authors = { 0 };

	wp_spin__str_array(wp_spin__tget(app, "authors"), &authors);
	if (authors.len)
		json_object_set_new(m, "authors", wp_spin__toml_to_json(wp_spin__tget(app, "authors")));
	if (wp_spin__tstr(app, "description"))
		json_object_set_new(m, "description", json_string(wp_spin__tstr(app, "description")));
	json_object_set_new(m, "name", json_string(wp_spin__tstr(app, "name")));
	json_object_set_new(m, "origin", json_pack("s++", "file://", l->manifest, ""));
	/* distinct types: only whether there is exactly one matters */
	for (size_t i = 0; i < l->ntrigs && types.len < 2; i++)
		if (!wp_strv_contains(&types, l->trigs[i].type))
			wp_strv_push(&types, l->trigs[i].type);
	if (l->version == 1 && !types.len) {
		const char *t = wp_spin__tstr(wp_spin__tget(l->doc, "trigger"), "type");

		if (t)
			wp_strv_push(&types, t);
	}
	if (types.len == 1) {
		/* One trigger type: its global config, with "type", as the old single trigger. */
		json_t *single = json_deep_copy(json_object_get(l->globals, types.items[0]));

		if (!single)
			single = json_object();
		json_object_set_new(single, "type", json_string(types.items[0]));
		json_object_set_new(m, "trigger", wp_spin__sorted(single));
	}
	json_object_set(m, "triggers", l->globals);
	if (wp_spin__tstr(app, "version"))
		json_object_set_new(m, "version", json_string(wp_spin__tstr(app, "version")));
	wp_strv_release(&types);
	wp_strv_release(&authors);
	return wp_spin__sorted(m);
}

/* Where Spin's cache is (sources named by URL) and where the components' files go: the
 * caller's folder, a new temp folder (kept: the locked app points into it), or none when
 * they are only collected. */
static int loader_folders(loader *l, const wp_spin_opts *opts)
{
	_cleanup_free_ char *a = NULL;

	if (opts && opts->cache_dir)
		l->cache = wp_xstrdup(opts->cache_dir);
	else if (getenv("XDG_CACHE_HOME") && *getenv("XDG_CACHE_HOME"))
		l->cache = wp_xstrdup(getenv("XDG_CACHE_HOME"));
	else
		l->cache = wp_str_fmt("%s/.cache", getenv("HOME") ? getenv("HOME") : "");
	if (l->collect) {
		l->assets = wp_xstrdup("/nonexistent-wasmpack-assets");
	} else if (opts && opts->assets_dir) {
		l->assets = realpath(opts->assets_dir, NULL);
		if (!l->assets && wp_fs_mkdir_p(opts->assets_dir, 0755, l->err) == 0)
			l->assets = realpath(opts->assets_dir, NULL);
	} else {
		/* Kept after the run, as Spin keeps its: the locked app points into it. */
		const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		_cleanup_free_ char *tmpl = wp_str_fmt("%s/wasmpack-spin.XXXXXX", tmp);

		l->assets = tmpl && mkdtemp(tmpl) ? wp_xstrdup(tmpl) : NULL;
		l->assets_tmp = l->assets ? wp_xstrdup(l->assets) : NULL;
	}
	if (!l->assets)
		return wp_error_sys(l->err, WP_EIO, "making a folder for the app's files");
	a = wp_str_fmt("%s/assets", l->assets);
	free(l->assets);
	l->assets = wp_xstrdup(a);
	return 0;
}

/* The manifest read and parsed as its version says (v1 or v2); allowed_http_hosts is
 * judged then, as Spin judges it, before any component is loaded. */
static int locked_app(loader *l, json_t **locked)
{
	json_t *triggers = json_array(), *comps = json_array(), *out;
	bool host_reqs = false;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < l->ntrigs; i++) {
		if (!l->trigs[i].component || !wp_spin__find_comp(l, l->trigs[i].component))
			rc = wp_error_set(l->err, WP_EINVALID, "Trigger `%s` refers to component `%s`, which does not exist",
					  l->trigs[i].id, l->trigs[i].component ? l->trigs[i].component : "(none)");
		else
			json_array_append_new(triggers, trigger_json(&l->trigs[i]));
	}
	for (size_t i = 0; rc == 0 && i < l->ncomps; i++) {
		json_t *c = NULL;

		if ((rc = load_component(l, &l->comps[i], &c)) == 0)
			json_array_append_new(comps, c);
	}
	if (rc == 0)
		rc = reassign_trigger_deps(l, triggers, comps);
	for (size_t i = 0; rc == 0 && i < json_array_size(comps); i++) {
		json_t *c = canonical_component(json_incref(json_array_get(comps, i)));

		host_reqs |= json_object_get(c, "host_requirements") != NULL;
		json_array_set_new(comps, i, c);
	}
	if (rc == 0) {
		out = json_object();
		json_object_set_new(out, "spin_lock_version", json_integer(host_reqs ? 1 : 0));
		if (host_reqs)
			json_object_set_new(out, "must_understand", json_pack("[s]", "component_host_requirements"));
		json_object_set_new(out, "metadata", metadata_json(l));
		if (json_object_size(l->variables))
			json_object_set(out, "variables", l->variables);
		json_object_set(out, "triggers", triggers);
		json_object_set(out, "components", comps);
		*locked = out;
	}
	json_decref(triggers);
	json_decref(comps);
	return rc;
}

int wp_spin_lock(const char *manifest_path, const wp_spin_opts *opts, json_t **locked, wp_error *err)
{
	loader l;
	char real[PATH_MAX];
	int rc;

	memset(&l, 0, sizeof(l));
	l.rootfd = -1;
	l.err = err;
	l.collect = opts ? opts->collect : NULL;
	*locked = NULL;
	if (!realpath(manifest_path, real))
		return wp_error_sys(err, WP_EIO, "Failed to read Spin app manifest from \"%s\"", manifest_path);
	l.manifest = wp_xstrdup(real);
	*strrchr(real, '/') = '\0';
	l.root = wp_xstrdup(real[0] ? real : "/");
	l.follow_links = opts && opts->follow_links;
	l.rootfd = open(real[0] ? real : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l.rootfd < 0)
		rc = wp_error_sys(err, WP_EIO, "opening the app folder '%s'", real[0] ? real : "/");
	else if ((rc = loader_folders(&l, opts)) == 0 && (rc = wp_spin__load_manifest(&l)) < 0)
		wp_error_prefix(err, "Failed to read Spin app manifest from \"%s\"", l.manifest);
	else if (rc == 0 && (rc = locked_app(&l, locked)) < 0)
		wp_error_prefix(err, "Failed to load Spin app from \"%s\"", l.manifest);
	if (l.assets_tmp) {
		/* A temp folder no one asked for goes, unless the locked app points into it. */
		_cleanup_free_ char *a = wp_str_fmt("%s/assets", l.assets_tmp);

		if (rc < 0 || !wp_fs_exists(a))
			wp_fs_rm_rf(l.assets_tmp, NULL);
		else
			wp_warn("the app's files were copied under %s, where the locked app points: remove it when done, "
				"or choose the folder with --assets-dir", l.assets_tmp);
	}
	wp_spin__loader_release(&l);
	return rc;
}
