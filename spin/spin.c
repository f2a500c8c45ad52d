#include "spin/spin.h"
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

/* The messages of every bad outbound host, and the hosts once their templates are
 * expanded, at most. */
#define HOST_ERRORS_MAX (1u << 16)
#define HOSTS_EXPANDED_MAX (1u << 16)

#define MANIFEST_MAX (16u << 20)

/* ---- small helpers ---- */

static const wp_toml *tget(const wp_toml *t, const char *k)
{
	return wp_toml_get(t, k);
}

static const char *tstr(const wp_toml *t, const char *k)
{
	return wp_toml_get_str(t, k);
}

/* Orders positions of a table's keys by key (strcmp, as Spin's BTreeMaps), then by
 * position: deterministic whatever qsort does with equal keys. */
static int cmp_key_pos(const void *a, const void *b, void *keys)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(((char **)keys)[x], ((char **)keys)[y]);

	return c ? c : (x > y) - (x < y);
}

/* TOML to JSON the way Spin's loader serialises toml values: tables with sorted keys.
 * NULL when out of memory. */
static json_t *toml_to_json(const wp_toml *v)
{
	json_t *o;

	switch (v->type) {
	case WP_TOML_TABLE: {
		size_t n = v->u.tab.len, *idx = wp_xmalloc((n + 1) * sizeof(size_t));

		o = json_object();
		if (!o) {
			free(idx);
			return NULL;
		}
		for (size_t i = 0; i < n; i++)
			idx[i] = i;
		qsort_r(idx, n, sizeof(*idx), cmp_key_pos, v->u.tab.keys);
		for (size_t i = 0; i < n; i++) {
			json_t *child = toml_to_json(v->u.tab.vals[idx[i]]);

			if (!child || json_object_set_new(o, v->u.tab.keys[idx[i]], child) < 0) {
				json_decref(o);
				o = NULL;
				break;
			}
		}
		free(idx);
		return o;
	}
	case WP_TOML_ARRAY:
		o = json_array();
		for (size_t i = 0; o && i < v->u.arr.len; i++) {
			json_t *child = toml_to_json(v->u.arr.items[i]);

			if (!child || json_array_append_new(o, child) < 0) {
				json_decref(o);
				o = NULL;
			}
		}
		return o;
	case WP_TOML_STRING:
		return json_stringn(v->u.str.s, v->u.str.len);
	case WP_TOML_INTEGER:
		return json_integer(v->u.i);
	case WP_TOML_FLOAT:
		return json_real(v->u.f);
	case WP_TOML_BOOL:
		return json_boolean(v->u.b);
	default:
		return json_string(v->u.str.s);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts an object's keys (Spin's maps are BTreeMaps); takes o. NULL when out of memory. */
static json_t *sorted(json_t *o)
{
	const char **keys;
	size_t n = json_object_size(o), i = 0;
	const char *k;
	json_t *v, *out;

	if (!json_is_object(o))
		return o;
	keys = wp_xmalloc((n + 1) * sizeof(*keys));
	out = json_object();
	if (!out) {
		free(keys);
		json_decref(o);
		return NULL;
	}
	json_object_foreach(o, k, v)
		keys[i++] = k;
	/* object keys are unique: no ties */
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++) {
		if (json_object_set(out, keys[i], json_object_get(o, keys[i])) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	free(keys);
	json_decref(o);
	return out;
}

/* Spin's identifiers: DELIM-separated words, each starting with an ASCII letter, then
 * letters and digits, all lowercase. */
static const char *id_problem(const char *id, char delim)
{
	const char *w = id;

	if (!*id)
		return "empty";
	if (strchr(id, delim == '-' ? '_' : '-'))
		return delim == '-' ? "words must be separated with '-', not '_'" : "words must be separated with '_', not '-'";
	for (;;) {
		const char *end = strchr(w, delim);
		size_t len = end ? (size_t)(end - w) : strlen(w);

		if (len == 0)
			return "separated words must not be empty";
		if (!isalpha((unsigned char)w[0]))
			return "separated words must start with an ASCII letter";
		for (size_t i = 0; i < len; i++) {
			if (!isalnum((unsigned char)w[i]))
				return "separated words may only contain alphanumeric ASCII";
			if (isupper((unsigned char)w[i]))
				return "identifiers must be all lowercase";
		}
		if (!end)
			return NULL;
		w = end + 1;
	}
}

static bool str_array(const wp_toml *a, wp_strv *out)
{
	if (!a)
		return true;
	if (a->type != WP_TOML_ARRAY)
		return false;
	for (size_t i = 0; i < a->u.arr.len; i++) {
		if (a->u.arr.items[i]->type != WP_TOML_STRING)
			return false;
		wp_strv_push(out, a->u.arr.items[i]->u.str.s);
	}
	return true;
}

/* ---- glob ---- */

static int match_class(const char **pp, char c)
{
	const char *p = *pp + 1;
	bool neg = false, hit = false;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	if (*p == ']') {
		hit = c == ']';
		p++;
	}
	for (; *p && *p != ']'; p++) {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hit |= c >= p[0] && c <= p[2];
			p += 2;
		} else {
			hit |= *p == c;
		}
	}
	if (*p != ']')
		return -1;
	*pp = p;
	return hit != neg;
}

int wp_spin_glob_match(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (p[0] == '*' && p[1] == '*' && (p[2] == '/' || !p[2])) {
			const char *rest = p[2] ? p + 3 : p + 2;

			/* "**" matches any number of whole segments, including none. */
			if (!*rest)
				return 1;
			for (const char *t = s;; ) {
				if (wp_spin_glob_match(rest, t))
					return 1;
				t = strchr(t, '/');
				if (!t)
					return 0;
				t++;
			}
		}
		if (*p == '*') {
			for (const char *t = s;; t++) {
				if (wp_spin_glob_match(p + 1, t))
					return 1;
				if (!*t || *t == '/')
					return 0;
			}
		}
		if (!*s)
			return 0;
		if (*p == '?') {
			if (*s == '/')
				return 0;
			continue;
		}
		if (*p == '[') {
			int r = match_class(&p, *s);

			if (r <= 0 || *s == '/')
				return 0;
			continue;
		}
		if (*p != *s)
			return 0;
	}
	return !*s;
}

static bool looks_like_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* ---- the loader ---- */

typedef struct trig {
	char *type;
	char *id;
	char *component;
	const wp_toml *table;   /* the trigger's own table (config keys) */
	json_t *config;         /* v1: the component's [component.trigger] */
} trig;

typedef struct comp {
	char *id;
	const wp_toml *t;
	bool v1;
} comp;

typedef struct loader {
	wp_spin_files *collect;
	char *root;
	int rootfd;           /* root, open: files' links are judged against it */
	bool follow_links;
	char *manifest;
	char *assets;
	char *assets_tmp;    /* the temp folder made for them when no one named one */
	char *cache;
	bool own_assets;
	wp_toml *doc;
	json_t *variables;    /* name -> locked variable */
	json_t *defaults;     /* name -> default value, for checking templates */
	trig *trigs;
	size_t ntrigs;
	comp *comps;
	size_t ncomps;
	json_t *comp_pos;     /* component id -> position in comps: lookups stay O(1) */
	json_t *globals;      /* trigger type -> global config */
	int version;
	wp_error *err;
} loader;

static void loader_release(loader *l)
{
	if (l->rootfd >= 0)
		close(l->rootfd);
	for (size_t i = 0; i < l->ntrigs; i++) {
		free(l->trigs[i].type);
		free(l->trigs[i].id);
		free(l->trigs[i].component);
		json_decref(l->trigs[i].config);
	}
	for (size_t i = 0; i < l->ncomps; i++)
		free(l->comps[i].id);
	free(l->trigs);
	free(l->assets_tmp);
	free(l->comps);
	json_decref(l->comp_pos);
	json_decref(l->variables);
	json_decref(l->defaults);
	json_decref(l->globals);
	wp_toml_free(l->doc);
	free(l->root);
	free(l->manifest);
	free(l->assets);
	free(l->cache);
}

static int add_trig(loader *l, const char *type, const char *id, const char *component, const wp_toml *table,
		    json_t *config)
{
	trig *t = wp_xrealloc(l->trigs, (l->ntrigs + 1) * sizeof(*t));

	l->trigs = t;
	t = &l->trigs[l->ntrigs++];
	t->type = wp_xstrdup(type);
	t->id = id ? wp_xstrdup(id) : NULL;
	t->component = component ? wp_xstrdup(component) : NULL;
	t->table = table;
	t->config = config;
	return 0;
}

static comp *find_comp(loader *l, const char *id)
{
	json_t *pos = l->comp_pos ? json_object_get(l->comp_pos, id) : NULL;

	return pos ? &l->comps[json_integer_value(pos)] : NULL;
}

static int add_comp(loader *l, const char *id, const wp_toml *t, bool v1)
{
	comp *c = find_comp(l, id);

	if (c) {
		/* A second v1 [[component]] with the same id replaces the first (as Spin's map). */
		c->t = t;
		return 0;
	}
	l->comps = wp_xreallocarray(l->comps, l->ncomps + 1, sizeof(*l->comps));
	l->comps[l->ncomps].id = wp_xstrdup(id);
	l->comps[l->ncomps].t = t;
	l->comps[l->ncomps].v1 = v1;
	if (!l->comp_pos)
		l->comp_pos = json_object();
	json_object_set_new(l->comp_pos, id, json_integer((json_int_t)l->ncomps));
	l->ncomps++;
	return 0;
}

/* [variables]: name = { default = "...", required = true, secret = true, description = "..." } */
static int load_variables(loader *l, const wp_toml *vars)
{
	l->variables = json_object();
	l->defaults = json_object();
	if (!vars)
		return 0;
	if (vars->type != WP_TOML_TABLE)
		return wp_error_set(l->err, WP_EINVALID, "`variables` must be a table");
	for (size_t i = 0; i < vars->u.tab.len; i++) {
		const char *name = vars->u.tab.keys[i], *why;
		const wp_toml *v = vars->u.tab.vals[i], *req, *sec;
		json_t *lv;

		if ((why = id_problem(name, '_')))
			return wp_error_set(l->err, WP_EINVALID, "invalid variable name \"%s\": %s", name, why);
		if (v->type != WP_TOML_TABLE)
			return wp_error_set(l->err, WP_EINVALID, "variable `%s` must be a table", name);
		req = tget(v, "required");
		sec = tget(v, "secret");
		if ((req && req->type == WP_TOML_BOOL && req->u.b) == (tstr(v, "default") != NULL))
			return wp_error_set(l->err, WP_EINVALID, "variable `%s`: must be `required` OR have a `default`", name);
		lv = json_object();
		if (tstr(v, "description"))
			json_object_set_new(lv, "description", json_string(tstr(v, "description")));
		if (tstr(v, "default")) {
			json_object_set_new(lv, "default", json_string(tstr(v, "default")));
			json_object_set_new(l->defaults, name, json_string(tstr(v, "default")));
		}
		if (sec && sec->type == WP_TOML_BOOL && sec->u.b)
			json_object_set_new(lv, "secret", json_true());
		json_object_set_new(l->variables, name, lv);
	}
	l->variables = sorted(l->variables);
	return 0;
}

static int parse_v1(loader *l)
{
	const wp_toml *doc = l->doc, *trigger = tget(doc, "trigger"), *comps = tget(doc, "component");
	const char *type = trigger ? tstr(trigger, "type") : NULL;
	json_t *gc;

	if (!type)
		return wp_error_set(l->err, WP_EINVALID, "missing `trigger.type`");
	gc = toml_to_json(trigger);
	json_object_del(gc, "type");
	l->globals = json_object();
	json_object_set_new(l->globals, type, gc);
	if (load_variables(l, tget(doc, "variables")) < 0)
		return l->err->code;
	if (comps && comps->type != WP_TOML_ARRAY)
		return wp_error_set(l->err, WP_EINVALID, "`component` must be an array of tables ([[component]])");
	for (size_t i = 0; comps && i < comps->u.arr.len; i++) {
		const wp_toml *c = comps->u.arr.items[i], *ct = tget(c, "trigger");
		const char *raw = tstr(c, "id");
		_cleanup_free_ char *id = NULL, *tid = NULL;
		const char *why;

		if (!raw)
			return wp_error_set(l->err, WP_EINVALID, "component %zu has no `id`", i + 1);
		/* Spin fixes the likely mistakes of v1 ids: under_scores and mixedCase. */
		id = wp_xstrdup(raw);
		for (char *p = id; p && *p; p++)
			*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
		if ((why = id_problem(id, '-')))
			return wp_error_set(l->err, WP_EINVALID, "invalid ID \"%s\": %s", id, why);
		if (add_comp(l, id, c, true) < 0)
			return l->err->code;
		tid = wp_str_fmt("trigger-%s", id);
		if (add_trig(l, type, tid, id, NULL, ct ? toml_to_json(ct) : json_object()) < 0)
			return l->err->code;
	}
	return 0;
}

static int parse_v2(loader *l)
{
	const wp_toml *doc = l->doc, *app = tget(doc, "application"), *triggers = tget(doc, "trigger");
	const wp_toml *comps = tget(doc, "component"), *gtrig = app ? tget(app, "trigger") : NULL;
	json_t *taken, *next;

	if (!app || app->type != WP_TOML_TABLE || !tstr(app, "name"))
		return wp_error_set(l->err, WP_EINVALID, "missing `[application]` with a `name`");
	l->globals = gtrig && gtrig->type == WP_TOML_TABLE ? toml_to_json(gtrig) : json_object();
	if (load_variables(l, tget(doc, "variables")) < 0)
		return l->err->code;
	for (size_t i = 0; comps && comps->type == WP_TOML_TABLE && i < comps->u.tab.len; i++) {
		const char *why = id_problem(comps->u.tab.keys[i], '-');

		if (why)
			return wp_error_set(l->err, WP_EINVALID, "invalid component ID \"%s\": %s", comps->u.tab.keys[i], why);
		if (add_comp(l, comps->u.tab.keys[i], comps->u.tab.vals[i], false) < 0)
			return l->err->code;
	}
	for (size_t i = 0; triggers && triggers->type == WP_TOML_TABLE && i < triggers->u.tab.len; i++) {
		const char *type = triggers->u.tab.keys[i];
		const wp_toml *list = triggers->u.tab.vals[i];

		if (list->type != WP_TOML_ARRAY)
			return wp_error_set(l->err, WP_EINVALID, "`trigger.%s` must be an array of tables ([[trigger.%s]])", type, type);
		for (size_t k = 0; k < list->u.arr.len; k++) {
			const wp_toml *t = list->u.arr.items[k], *c = tget(t, "component");
			const char *cid = NULL;
			_cleanup_free_ char *inline_id = NULL;

			if (t->type != WP_TOML_TABLE)
				return wp_error_set(l->err, WP_EINVALID, "`trigger.%s` entries must be tables", type);
			if (c && c->type == WP_TOML_STRING) {
				cid = c->u.str.s;
			} else if (c && c->type == WP_TOML_TABLE) {
				/* An inline component: named after its trigger, or counted. */
				const char *tid = tstr(t, "id");

				inline_id = tid ? wp_str_fmt("%s-component", tid) : NULL;
				if (!inline_id || id_problem(inline_id, '-') || find_comp(l, inline_id)) {
					for (int n = 1;; n++) {
						free(inline_id);
						inline_id = wp_str_fmt("inline-component%d", n);
						if (!find_comp(l, inline_id))
							break;
					}
				}
				if (add_comp(l, inline_id, c, false) < 0)
					return l->err->code;
				cid = inline_id;
			}
			if (add_trig(l, type, tstr(t, "id"), cid, t, NULL) < 0)
				return l->err->code;
		}
	}
	/* Triggers without an id get "<component>-<type>-trigger", else "<type>-trigger<N>",
	 * the lowest N free. Taken ids are a set, and each type's N goes on from the last one
	 * given (all below it are taken), so naming n triggers is O(n). */
	taken = json_object();
	next = json_object();
	for (size_t i = 0; i < l->ntrigs; i++)
		if (l->trigs[i].id)
			json_object_set_new(taken, l->trigs[i].id, json_true());
	for (size_t i = 0; i < l->ntrigs; i++) {
		trig *t = &l->trigs[i];
		json_int_t counter;

		if (t->id)
			continue;
		if (t->component) {
			char *cand = wp_str_fmt("%s-%s-trigger", t->component, t->type);

			if (!json_object_get(taken, cand)) {
				t->id = cand;
				json_object_set_new(taken, cand, json_true());
				continue;
			}
			free(cand);
		}
		counter = json_integer_value(json_object_get(next, t->type));
		for (counter = counter ? counter : 1;; counter++) {
			char *cand = wp_str_fmt("%s-trigger%lld", t->type, (long long)counter);

			if (!json_object_get(taken, cand)) {
				t->id = cand;
				json_object_set_new(taken, cand, json_true());
				json_object_set_new(next, t->type, json_integer(counter + 1));
				break;
			}
			free(cand);
		}
	}
	json_decref(taken);
	json_decref(next);
	return 0;
}

/* ---- allowed hosts ---- */

/* v1 allowed_http_hosts entry: "host[:port]" or "http(s)://host[:port][/]". */
static int http_host(const char *text, char **host, long *port, char *why, size_t whysz)
{
	const char *p = text, *h, *e;
	bool schemed = strstr(text, "//") != NULL;

	*port = -1;
	if (schemed) {
		if (!strncmp(p, "http://", 7))
			p += 7;
		else if (!strncmp(p, "https://", 8))
			p += 8;
		else {
			snprintf(why, whysz, "%s isn't a valid host or host:port string", text);
			return -1;
		}
	}
	h = p;
	if (*p == '[') {
		e = strchr(p, ']');
		if (!e) {
			snprintf(why, whysz, "%s isn't a valid host or host:port string", text);
			return -1;
		}
		p = e + 1;
	} else {
		while (*p && *p != ':' && *p != '/') {
			if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_')) {
				snprintf(why, whysz, "%s isn't a valid host or host:port string", text);
				return -1;
			}
			p++;
		}
	}
	if (p == h) {
		snprintf(why, whysz, "%s doesn't contain a host name", text);
		return -1;
	}
	*host = wp_xstrndup(h, (size_t)(p - h));
	if (*p == ':') {
		char *end;
		long v = strtol(p + 1, &end, 10);

		if (end == p + 1 || v < 0 || v > 65535) {
			snprintf(why, whysz, "%s isn't a valid host or host:port string", text);
			free(*host);
			return -1;
		}
		*port = v;
		p = end;
	}
	if (*p == '/' && p[1]) {
		snprintf(why, whysz, "%s contains a path, should be host and optional port only", text);
		free(*host);
		return -1;
	}
	if (*p && strcmp(p, "/")) {
		snprintf(why, whysz, "%s isn't a valid host or host:port string", text);
		free(*host);
		return -1;
	}
	return 0;
}

/* Spin's conversion of the old allowed_http_hosts; with allow_db, the databases that were
 * open to every component before allowed_outbound_hosts existed. */
static int convert_http_hosts(loader *l, const wp_strv *http, bool allow_db, wp_strv *out)
{
	wp_buf errs;

	if (allow_db) {
		wp_strv_push(out, "redis://*:*");
		wp_strv_push(out, "mysql://*:*");
		wp_strv_push(out, "postgres://*:*");
	}
	if (wp_strv_contains(http, "insecure:allow-all")) {
		wp_strv_push(out, "http://*:*");
		wp_strv_push(out, "https://*:*");
		wp_strv_push(out, "http://self");
		return 0;
	}
	wp_buf_init(&errs, HOST_ERRORS_MAX);
	for (size_t i = 0; i < http->len; i++) {
		char why[512], *host = NULL;
		long port;

		if (http_host(http->items[i], &host, &port, why, sizeof(why)) < 0) {
			/* past 64 KiB of reasons the list is cut: the first ones say enough */
			wp_buf_append_truncated(&errs, "\n", 1);
			wp_buf_append_truncated(&errs, why, strlen(why));
			continue;
		}
		if (!strcmp(host, "self")) {
			wp_strv_push(out, "http://self");
		} else {
			char p[24] = "";
			_cleanup_free_ char *a = NULL, *b = NULL;

			if (port >= 0)
				snprintf(p, sizeof(p), ":%ld", port);
			a = wp_str_fmt("http://%s%s", host, p);
			b = wp_str_fmt("https://%s%s", host, p);
			wp_strv_push(out, a);
			wp_strv_push(out, b);
		}
		free(host);
	}
	if (errs.len) {
		wp_error_set(l->err, WP_EINVALID, "One or more allowed_http_hosts entries was invalid:%s", errs.data);
		wp_buf_release(&errs);
		return WP_EINVALID;
	}
	wp_buf_release(&errs);
	return 0;
}

/* A host of an allowed_outbound_hosts entry: "*", "*.domain", a domain, an IPv4 address
 * (optionally CIDR), or [IPv6]. */
static bool valid_host(const char *h, size_t len)
{
	if (len == 1 && h[0] == '*')
		return true;
	if (len && h[0] == '[')
		return h[len - 1] == ']';
	if (len > 2 && h[0] == '*' && h[1] == '.') {
		h += 2;
		len -= 2;
	}
	if (!len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)h[i]) || h[i] == '-' || h[i] == '.' || h[i] == '_' || h[i] == '/'))
			return false;
	return true;
}

/* "scheme://host[:port][/]", each part possibly "*"; why names the problem. */
static bool valid_outbound(const char *s, char *why, size_t whysz)
{
	const char *sep = strstr(s, "://"), *host, *p;

	if (!sep) {
		snprintf(why, whysz, "Invalid allowed host \"%s\": does not contain a scheme (for example \"https://\")", s);
		return false;
	}
	for (p = s; p < sep; p++)
		if (!(isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.' || *p == '*'))
			break;
	if (p != sep || sep == s) {
		snprintf(why, whysz, "Invalid allowed host \"%s\": invalid scheme", s);
		return false;
	}
	host = sep + 3;
	if (*host == '[') {
		p = strchr(host, ']');
		p = p ? p + 1 : host + strlen(host);
	} else {
		for (p = host; *p && *p != ':' && !(*p == '/' && !p[1]); p++)
			;
	}
	if (!valid_host(host, (size_t)(p - host))) {
		snprintf(why, whysz, "Invalid allowed host \"%.*s\": invalid international domain name", (int)(p - host), host);
		return false;
	}
	if (*p == ':') {
		const char *port = ++p;

		while (*p && *p != '/')
			p++;
		for (const char *q = port; q < p; q++)
			if (!(isdigit((unsigned char)*q) || *q == '*' || *q == '-'))
				port = NULL;
		if (!port || port == p) {
			snprintf(why, whysz, "Invalid allowed host \"%s\": invalid port", s);
			return false;
		}
	}
	if (*p && strcmp(p, "/")) {
		snprintf(why, whysz, "Invalid allowed host \"%s\": must not have a path", s);
		return false;
	}
	return true;
}

/* Replaces {{ name }} with the variables' defaults; false when one has none. */
static bool expand_defaults(loader *l, const char *s, wp_buf *out)
{
	wp_buf_reset(out);
	while (*s) {
		const char *open = strstr(s, "{{"), *close;
		_cleanup_free_ char *name = NULL;
		const char *def;

		if (!open)
			return wp_buf_puts(out, s) == 0;
		if (wp_buf_append(out, s, (size_t)(open - s)) < 0)
			return false;
		close = strstr(open, "}}");
		if (!close)
			return false;
		for (open += 2; *open == ' '; open++)
			;
		name = wp_xstrndup(open, (size_t)(close - open));
		for (size_t n = strlen(name); n && name[n - 1] == ' '; n--)
			name[n - 1] = '\0';
		def = wp_json_str(l->defaults, name);
		if (!def || wp_buf_puts(out, def) < 0)
			return false;
		s = close + 2;
	}
	return true;
}

static int check_outbound(loader *l, const wp_strv *hosts)
{
	wp_buf exp;
	char why[1024];

	wp_buf_init(&exp, HOSTS_EXPANDED_MAX);
	for (size_t i = 0; i < hosts->len; i++) {
		const char *h = hosts->items[i];

		if (strstr(h, "{{")) {
			/* Templates are checked with the variables' defaults, when all have one. */
			if (expand_defaults(l, h, &exp) && !valid_outbound(exp.data ? exp.data : "", why, sizeof(why))) {
				wp_error_set(l->err, WP_EINVALID,
					     "`allowed_outbound_hosts` is malformed: using default variable value(s) with template "
					     "\"%s\" results in invalid config \"%s\": %s", h, exp.data, why);
				wp_buf_release(&exp);
				return WP_EINVALID;
			}
			continue;
		}
		if (!valid_outbound(h, why, sizeof(why))) {
			wp_buf_release(&exp);
			return wp_error_set(l->err, WP_EINVALID, "`allowed_outbound_hosts` is malformed: %s", why);
		}
	}
	wp_buf_release(&exp);
	return 0;
}

static bool service_chaining(const wp_strv *hosts)
{
	for (size_t i = 0; i < hosts->len; i++) {
		const char *sep = strstr(hosts->items[i], "://");
		const char *host = sep ? sep + 3 : hosts->items[i];
		size_t len = strcspn(host, ":/");

		if (len >= 14 && !strncmp(host + len - 14, ".spin.internal", 14))
			return true;
	}
	return false;
}

/* ---- files ---- */

void wp_spin_files_release(wp_spin_files *f)
{
	for (size_t i = 0; i < f->len; i++) {
		free(f->items[i].component);
		free(f->items[i].src);
		free(f->items[i].dest);
		free(f->items[i].app_rel);
	}
	free(f->items);
	json_decref(f->urls);
	json_decref(f->index);
	f->items = NULL;
	f->urls = NULL;
	f->index = NULL;
	f->len = 0;
}

/* dest is <assets>/<component>/<path>: when collecting, the file is listed, not copied. */
static int collect_file(loader *l, const char *src, const struct stat *st, const char *dest)
{
	const char *rest = dest + strlen(l->assets) + 1;
	const char *slash = strchr(rest, '/');
	wp_spin_file *f;

	if (!slash)
		return wp_error_set(l->err, WP_EINVALID, "file destination '%s' is not below a component", dest);
	if (!l->collect->index)
		l->collect->index = json_object();
	{
		json_t *pos = json_object_get(l->collect->index, rest);

		if (pos) {
			/* A later mount of the same destination wins, as a later copy would. */
			size_t i = (size_t)json_integer_value(pos);

			free(l->collect->items[i].src);
			free(l->collect->items[i].app_rel);
			l->collect->items[i].st = *st;
			l->collect->items[i].size = (long long)st->st_size;
			l->collect->items[i].src = wp_xstrdup(src);
			l->collect->items[i].app_rel = wp_xstrdup(src + strlen(l->root) + 1);
			return 0;
		}
		json_object_set_new(l->collect->index, rest, json_integer((json_int_t)l->collect->len));
	}
	f = wp_xrealloc(l->collect->items, (l->collect->len + 1) * sizeof(*f));
	l->collect->items = f;
	f = &f[l->collect->len++];
	memset(f, 0, sizeof(*f));
	f->st = *st;
	f->size = (long long)st->st_size;
	f->component = wp_xstrndup(rest, (size_t)(slash - rest));
	f->src = wp_xstrdup(src);
	f->dest = wp_xstrdup(slash + 1);
	f->app_rel = wp_xstrdup(src + strlen(l->root) + 1);
	return 0;
}

static int copy_file(loader *l, const char *src, const struct stat *src_st, const char *dest)
{
	wp_buf dir;
	int in, out, rc = 0;
	struct stat st;

	if (l->collect)
		return collect_file(l, src, src_st, dest);
	wp_buf_init(&dir, PATH_MAX);
	wp_path_dirname(dest, &dir);
	if (wp_fs_mkdir_p(dir.data, 0755, l->err) < 0) {
		wp_buf_release(&dir);
		return l->err->code;
	}
	wp_buf_release(&dir);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		rc = wp_error_sys(l->err, WP_EIO, "File or directory '%s' cannot be read", src);
		if (in >= 0)
			close(in);
		return rc;
	}
	out = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return wp_error_sys(l->err, WP_EIO, "Failed to copy '%s' to working path '%s'", src, dest);
	}
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			rc = wp_error_sys(l->err, WP_EIO, "Failed to copy '%s' to working path '%s'", src, dest);
			break;
		}
		left -= n;
	}
	close(in);
	close(out);
	return rc;
}

static bool excluded(const wp_strv *exclude, const char *rel)
{
	for (size_t i = 0; i < exclude->len; i++)
		if (wp_spin_glob_match(exclude->items[i], rel))
			return true;
	return false;
}

/* A file of the app named by rel (relative to the app folder) must not be reached through
 * a link that leads out of the folder (static/x -> /etc/shadow would put a host file into
 * the image), unless the user said --follow-links. */
static int file_inside(loader *l, const char *rel)
{
	_cleanup_free_ char *name = NULL;
	int rc;

	if (l->follow_links)
		return 0;
	name = wp_str_fmt("the app folder '%s'", l->root);
	if ((rc = wp_links_check_path(l->rootfd, rel, name, l->err)) == WP_EINVALID)
		return wp_error_append(l->err, "; --follow-links copies what such links point at");
	return rc;
}

/* Every regular file below root/sub (relative paths from root), matched against pattern
 * (NULL: all), copied to dest/<path relative to strip>. */
static int copy_tree(loader *l, const char *sub, const char *pattern, size_t strip, const char *dest,
		     const wp_strv *exclude, int depth)
{
	_cleanup_free_ char *dirpath = sub[0] ? wp_str_fmt("%s/%s", l->root, sub) : wp_xstrdup(l->root);
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > 64)
		return wp_error_set(l->err, WP_EINVALID, "'%s' is nested too deeply", dirpath);
	d = opendir(dirpath);
	if (!d)
		return wp_error_sys(l->err, WP_EIO, "reading folder '%s'", dirpath);
	while (rc == 0 && (de = readdir(d))) {
		_cleanup_free_ char *rel = NULL, *full = NULL;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rel = sub[0] ? wp_str_fmt("%s/%s", sub, de->d_name) : wp_xstrdup(de->d_name);
		full = wp_str_fmt("%s/%s", l->root, rel);
		/* relative to the open folder: no walk down the whole path for each entry */
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		/* sub was judged by the caller and is never reached through a link (links to
		 * folders are not walked), so only a link here can lead out */
		if (S_ISREG(st.st_mode) && (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) &&
		    (!pattern || wp_spin_glob_match(pattern, rel)) && !excluded(exclude, rel) && (rc = file_inside(l, rel)) < 0)
			break;
		if (S_ISDIR(st.st_mode)) {
			struct stat lst;

			/* The assets folder may live below the app (never copy it into itself). */
			if (fstatat(dirfd(d), de->d_name, &lst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(lst.st_mode) &&
			    strcmp(full, l->assets))
				rc = copy_tree(l, rel, pattern, strip, dest, exclude, depth + 1);
		} else if (S_ISREG(st.st_mode) && (!pattern || wp_spin_glob_match(pattern, rel)) && !excluded(exclude, rel)) {
			_cleanup_free_ char *to = wp_str_fmt("%s/%s", dest, rel + strip);

			rc = copy_file(l, full, &st, to);
		}
	}
	closedir(d);
	return rc;
}

/* A path inside the app folder, cleaned; refuses what would leave it. */
static int inside_app(loader *l, const char *p, wp_buf *out)
{
	int rc = wp_path_clean(p, out, l->err);

	if (rc < 0)
		return wp_error_set(l->err, WP_EINVALID,
				    "\"%s\" cannot be mapped because it is outside the application directory. "
				    "Files must be within the application directory", p);
	return 0;
}

static int copy_files(loader *l, const char *id, const wp_toml *files, const wp_strv *exclude, char **mount)
{
	_cleanup_free_ char *root = wp_str_fmt("%s/%s", l->assets, id);
	wp_buf rel, dst;
	int rc = 0;

	*mount = NULL;
	if (!l->collect && wp_fs_mkdir_p(root, 0755, l->err) < 0)
		return l->err->code;
	wp_buf_init(&rel, PATH_MAX);
	wp_buf_init(&dst, PATH_MAX);
	for (size_t i = 0; rc == 0 && i < files->u.arr.len; i++) {
		const wp_toml *f = files->u.arr.items[i];

		if (f->type == WP_TOML_STRING) {
			const char *pat = f->u.str.s;
			_cleanup_free_ char *full = NULL;
			struct stat st;
			size_t plen = strlen(pat);

			if (!strcmp(pat, "..") || (plen >= 3 && !strcmp(pat + plen - 3, "/.."))) {
				rc = wp_error_set(l->err, WP_EINVALID, "A file pattern can't end in a parent directory path (..)");
				break;
			}
			if (!strcmp(pat, ".") || (plen >= 2 && !strcmp(pat + plen - 2, "/."))) {
				rc = wp_error_set(l->err, WP_EINVALID, "A file pattern can't end in a current directory path (.)");
				break;
			}
			if (looks_like_glob(pat)) {
				const char *p = pat;

				while (p[0] == '.' && p[1] == '/')
					p += 2;
				if (strstr(p, "..") || p[0] == '/') {
					rc = wp_error_set(l->err, WP_EINVALID, "\"%s\" cannot be mapped because it is outside the "
							  "application directory. Files must be within the application directory", pat);
					break;
				}
				rc = copy_tree(l, "", p, 0, root, exclude, 0);
				continue;
			}
			if ((rc = inside_app(l, pat, &rel)) < 0 || (rc = file_inside(l, rel.data)) < 0)
				break;
			full = wp_str_fmt("%s/%s", l->root, rel.data);
			if (stat(full, &st) < 0) {
				rc = wp_error_set(l->err, WP_ENOTFOUND, "\"%s\" does not exist and doesn't appear to be a glob pattern", pat);
				break;
			}
			if (S_ISDIR(st.st_mode)) {
				rc = copy_tree(l, rel.data, NULL, 0, root, exclude, 0);
			} else if (!excluded(exclude, rel.data)) {
				_cleanup_free_ char *to = wp_str_fmt("%s/%s", root, rel.data);

				rc = copy_file(l, full, &st, to);
			}
		} else if (f->type == WP_TOML_TABLE && tstr(f, "source") && tstr(f, "destination")) {
			const char *src = tstr(f, "source"), *dest = tstr(f, "destination");
			_cleanup_free_ char *full = NULL, *to = NULL;
			struct stat st;

			if ((rc = inside_app(l, src, &rel)) < 0 || (rc = file_inside(l, rel.data)) < 0)
				break;
			wp_buf_reset(&dst);
			if (dest[strspn(dest, "/")] && (rc = wp_path_clean(dest, &dst, l->err)) < 0) {
				wp_error_prefix(l->err, "file destination \"%s\"", dest);
				break;
			}
			full = wp_str_fmt("%s/%s", l->root, rel.data);
			to = dst.len ? wp_str_fmt("%s/%s", root, dst.data) : wp_xstrdup(root);
			if (stat(full, &st) < 0) {
				rc = wp_error_set(l->err, WP_ENOTFOUND, "File or directory \"%s\" does not exist", src);
				break;
			}
			rc = S_ISDIR(st.st_mode) ? copy_tree(l, rel.data, NULL, rel.len + 1, to, exclude, 0) : copy_file(l, full, &st, to);
		} else {
			rc = wp_error_set(l->err, WP_EINVALID, "`files` entries are patterns or { source, destination } tables");
		}
	}
	wp_buf_release(&rel);
	wp_buf_release(&dst);
	if (rc == 0)
		*mount = wp_str_fmt("file://%s", root);
	return rc;
}

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
	if (src && src->type == WP_TOML_TABLE && tstr(src, "url") && tstr(src, "digest")) {
		const char *url = tstr(src, "url"), *dg = tstr(src, "digest");

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
	const wp_toml *deps = tget(comp_t, "dependencies"), *dic = tget(comp_t, "dependencies_inherit_configuration");
	bool inherit_all = dic && dic->type == WP_TOML_BOOL && dic->u.b;
	json_t *o;

	*out = NULL;
	if (!deps || deps->type != WP_TOML_TABLE || !deps->u.tab.len)
		return 0;
	o = json_object();
	for (size_t i = 0; i < deps->u.tab.len; i++) {
		const char *name = deps->u.tab.keys[i];
		const wp_toml *d = deps->u.tab.vals[i], *ic = tget(d, "inherit_configuration");
		json_t *src = NULL, *dep;
		int rc;

		if (d->type == WP_TOML_STRING || (d->type == WP_TOML_TABLE && tget(d, "version"))) {
			json_decref(o);
			return wp_error_set(l->err, WP_EINVALID, "Component dependency \"%s\" names a registry package: "
					    "package registries are not supported yet (use path, url or component)", name);
		}
		if (inherit_all && ic) {
			json_decref(o);
			return wp_error_set(l->err, WP_EINVALID, "`dependencies_inherit_configuration` and per-dependency "
					    "`inherit_configuration` are mutually exclusive; use one or the other");
		}
		if (tstr(d, "component")) {
			const comp *c = find_comp(l, tstr(d, "component"));

			if (!c) {
				json_decref(o);
				return wp_error_set(l->err, WP_EINVALID, "dependency ID %s does not exist", tstr(d, "component"));
			}
			rc = source_json(l, tget(c->t, "source"), &src);
		} else if (tstr(d, "path")) {
			_cleanup_free_ char *full = wp_str_fmt("%s/%s", l->root, tstr(d, "path"));
			struct stat st;

			rc = full && stat(full, &st) == 0 ? 0 :
			     wp_error_set(l->err, WP_ENOTFOUND, "Component dependency \"%s\": \"%s\" does not exist", name, tstr(d, "path"));
			if (rc == 0)
				src = json_pack("{s:s,s:s+}", "content_type", "application/wasm", "source", "file://", full);
		} else {
			rc = source_json(l, d, &src);
		}
		if (rc < 0) {
			json_decref(o);
			return rc;
		}
		dep = json_pack("{s:o,s:s?}", "source", src, "export", tstr(d, "export"));
		if (!json_object_get(dep, "export"))
			json_object_set_new(dep, "export", json_null());
		if (inherit_all || (ic && ic->type == WP_TOML_BOOL && ic->u.b))
			json_object_set_new(dep, "inherit", json_string("All"));
		else if (ic && ic->type == WP_TOML_ARRAY && ic->u.arr.len)
			json_object_set_new(dep, "inherit", json_pack("{s:o}", "Some", toml_to_json(ic)));
		json_object_set_new(o, name, dep);
	}
	*out = sorted(o);
	return 0;
}

static int load_component(loader *l, const comp *c, json_t **out)
{
	const wp_toml *t = c->t, *src = tget(t, "source"), *files = tget(t, "files"), *env = tget(t, "environment");
	const wp_toml *vars = tget(t, c->v1 ? "config" : "variables"), *build = tget(t, "build");
	const wp_toml *aoh = tget(t, "allowed_outbound_hosts");
	wp_strv http = { 0 }, outbound = { 0 }, exclude = { 0 }, kv = { 0 }, dbs = { 0 }, ai = { 0 };
	json_t *o = NULL, *meta = json_object(), *source = NULL, *deps_json = NULL;
	char *mount = NULL;
	int rc = 0;

	if (!str_array(tget(t, "allowed_http_hosts"), &http) || !str_array(aoh, &outbound) ||
	    !str_array(tget(t, "exclude_files"), &exclude) || !str_array(tget(t, "key_value_stores"), &kv) ||
	    !str_array(tget(t, "sqlite_databases"), &dbs) || !str_array(tget(t, "ai_models"), &ai)) {
		rc = wp_error_set(l->err, WP_EINVALID, "a list field holds something other than strings");
		goto done;
	}
	/* v1 components without allowed_outbound_hosts kept the old open database access. */
	if ((rc = convert_http_hosts(l, &http, c->v1 && !aoh, &outbound)) < 0)
		goto done;
	if ((rc = check_outbound(l, &outbound)) < 0)
		goto done;
	if (tstr(t, "description"))
		json_object_set_new(meta, "description", json_string(tstr(t, "description")));
	if (outbound.len) {
		json_t *a = json_array();

		for (size_t i = 0; i < outbound.len; i++)
			json_array_append_new(a, json_string(outbound.items[i]));
		json_object_set_new(meta, "allowed_outbound_hosts", a);
	}
	if (kv.len)
		json_object_set_new(meta, "key_value_stores", toml_to_json(tget(t, "key_value_stores")));
	if (dbs.len)
		json_object_set_new(meta, "databases", toml_to_json(tget(t, "sqlite_databases")));
	if (ai.len)
		json_object_set_new(meta, "ai_models", toml_to_json(tget(t, "ai_models")));
	if (build && build->type == WP_TOML_TABLE)
		json_object_set_new(meta, "build", toml_to_json(build));
	meta = sorted(meta);
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
		json_object_set_new(o, "env", toml_to_json(env));
	if (files && files->type == WP_TOML_ARRAY && files->u.arr.len) {
		if ((rc = copy_files(l, c->id, files, &exclude, &mount)) < 0)
			goto done;
		json_object_set_new(o, "files", json_pack("[{s:s,s:s}]", "source", mount, "path", "/"));
	}
	if (vars && vars->type == WP_TOML_TABLE && vars->u.tab.len)
		json_object_set_new(o, "config", toml_to_json(vars));
	if (deps_json && json_object_size(deps_json))
		json_object_set(o, "dependencies", deps_json);
	if (service_chaining(&outbound))
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
			json_object_set_new(config, k, toml_to_json(t->table->u.tab.vals[i]));
		}
	}
	if (t->component)
		json_object_set_new(config, "component", json_string(t->component));
	return json_pack("{s:s,s:s,s:o}", "id", t->id, "trigger_type", t->type, "trigger_config", sorted(config));
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
			json_object_set_new(out, order[i], sorted(json_deep_copy(v)));
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
	const wp_toml *deps = t->table ? tget(t->table, "dependencies") : NULL;
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

			if (tstr(d, "component")) {
				json_t *c = json_object_get(comp_ix, tstr(d, "component"));

				if (!c) {
					json_decref(o);
					return wp_error_set(l->err, WP_EINVALID, "dependency ID %s does not exist", tstr(d, "component"));
				}
				src = json_deep_copy(json_object_get(c, "source"));
			} else if (tstr(d, "path")) {
				wp_buf rel;
				_cleanup_free_ char *full = NULL;

				wp_buf_init(&rel, PATH_MAX);
				if (inside_app(l, tstr(d, "path"), &rel) < 0) {
					wp_buf_release(&rel);
					json_decref(o);
					return l->err->code;
				}
				full = wp_str_fmt("file://%s/%s", l->root, rel.data);
				wp_buf_release(&rel);
				src = json_pack("{s:s,s:s}", "content_type", "application/wasm", "source", full);
			} else if (tstr(d, "url") && tstr(d, "digest") && wp_digest_valid(tstr(d, "digest"))) {
				src = json_pack("{s:s,s:s+++}", "content_type", "application/wasm", "source", "file://", l->cache,
						"/spin/registry/wasm/", tstr(d, "digest"));
			} else {
				json_decref(o);
				return wp_error_set(l->err, WP_EINVALID, "trigger `%s`: a dependency needs `path`, `component`, "
						    "or `url` and `digest`", t->id);
			}
			json_array_append_new(arr, json_pack("{s:o,s:n}", "source", src, "export"));
		}
	}
	*out = sorted(o);
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
	const wp_toml *app = l->version == 1 ? l->doc : tget(l->doc, "application");
	json_t *m = json_object();
	wp_strv types = { 0 };
	wp_strv authors = { 0 };

	str_array(tget(app, "authors"), &authors);
	if (authors.len)
		json_object_set_new(m, "authors", toml_to_json(tget(app, "authors")));
	if (tstr(app, "description"))
		json_object_set_new(m, "description", json_string(tstr(app, "description")));
	json_object_set_new(m, "name", json_string(tstr(app, "name")));
	json_object_set_new(m, "origin", json_pack("s++", "file://", l->manifest, ""));
	/* distinct types: only whether there is exactly one matters */
	for (size_t i = 0; i < l->ntrigs && types.len < 2; i++)
		if (!wp_strv_contains(&types, l->trigs[i].type))
			wp_strv_push(&types, l->trigs[i].type);
	if (l->version == 1 && !types.len) {
		const char *t = tstr(tget(l->doc, "trigger"), "type");

		if (t)
			wp_strv_push(&types, t);
	}
	if (types.len == 1) {
		/* One trigger type: its global config, with "type", as the old single trigger. */
		json_t *single = json_deep_copy(json_object_get(l->globals, types.items[0]));

		if (!single)
			single = json_object();
		json_object_set_new(single, "type", json_string(types.items[0]));
		json_object_set_new(m, "trigger", sorted(single));
	}
	json_object_set(m, "triggers", l->globals);
	if (tstr(app, "version"))
		json_object_set_new(m, "version", json_string(tstr(app, "version")));
	wp_strv_release(&types);
	wp_strv_release(&authors);
	return sorted(m);
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
static int load_manifest(loader *l)
{
	const wp_toml *v1v, *v2v;
	wp_buf data;
	int rc;

	wp_buf_init(&data, MANIFEST_MAX);
	rc = wp_fs_read_file(l->manifest, MANIFEST_MAX, &data, l->err);
	if (rc == 0)
		rc = wp_toml_parse(data.data, data.len, &l->doc, l->err);
	wp_buf_release(&data);
	if (rc < 0)
		return rc;
	v1v = tget(l->doc, "spin_version");
	v2v = tget(l->doc, "spin_manifest_version");
	if (v2v && ((v2v->type == WP_TOML_INTEGER && v2v->u.i == 2) || (v2v->type == WP_TOML_STRING && !strcmp(v2v->u.str.s, "2")))) {
		l->version = 2;
		rc = parse_v2(l);
	} else if (!v2v && v1v && v1v->type == WP_TOML_STRING && !strcmp(v1v->u.str.s, "1")) {
		l->version = 1;
		rc = parse_v1(l);
	} else if (v2v || v1v) {
		const wp_toml *v = v2v ? v2v : v1v;

		if (v->type == WP_TOML_STRING)
			rc = wp_error_set(l->err, WP_EINVALID, "invalid manifest version: \"%s\"", v->u.str.s);
		else
			rc = wp_error_set(l->err, WP_EINVALID, "invalid manifest version: %lld", (long long)v->u.i);
	} else {
		rc = wp_error_set(l->err, WP_EINVALID, "no manifest version: want `spin_manifest_version = 2`");
	}
	for (size_t i = 0; rc == 0 && i < l->ncomps; i++) {
		wp_strv http = { 0 }, converted = { 0 };

		if (str_array(tget(l->comps[i].t, "allowed_http_hosts"), &http))
			rc = convert_http_hosts(l, &http, false, &converted);
		wp_strv_release(&http);
		wp_strv_release(&converted);
	}
	return rc;
}

/* The triggers (each naming a component that exists) and the components, loaded, in
 * Spin's LockedApp: its field order. */
static int locked_app(loader *l, json_t **locked)
{
	json_t *triggers = json_array(), *comps = json_array(), *out;
	bool host_reqs = false;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < l->ntrigs; i++) {
		if (!l->trigs[i].component || !find_comp(l, l->trigs[i].component))
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
	else if ((rc = loader_folders(&l, opts)) == 0 && (rc = load_manifest(&l)) < 0)
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
	loader_release(&l);
	return rc;
}
