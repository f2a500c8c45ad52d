/* A spin.toml read into the loader's model (spin_int.h): v1 and v2, triggers, components,
 * variables, and the allowed outbound hosts checked as Spin checks them. */
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

void wp_spin__loader_release(loader *l)
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

comp *wp_spin__find_comp(loader *l, const char *id)
{
	json_t *pos = l->comp_pos ? json_object_get(l->comp_pos, id) : NULL;

	return pos ? &l->comps[json_integer_value(pos)] : NULL;
}

static int add_comp(loader *l, const char *id, const wp_toml *t, bool v1)
{
	comp *c = wp_spin__find_comp(l, id);

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

		if ((why = wp_spin__id_problem(name, '_')))
			return wp_error_set(l->err, WP_EINVALID, "invalid variable name \"%s\": %s", name, why);
		if (v->type != WP_TOML_TABLE)
			return wp_error_set(l->err, WP_EINVALID, "variable `%s` must be a table", name);
		req = wp_spin__tget(v, "required");
		sec = wp_spin__tget(v, "secret");
		if ((req && req->type == WP_TOML_BOOL && req->u.b) == (wp_spin__tstr(v, "default") != NULL))
			return wp_error_set(l->err, WP_EINVALID, "variable `%s`: must be `required` OR have a `default`", name);
		lv = json_object();
		if (wp_spin__tstr(v, "description"))
			json_object_set_new(lv, "description", json_string(wp_spin__tstr(v, "description")));
		if (wp_spin__tstr(v, "default")) {
			json_object_set_new(lv, "default", json_string(wp_spin__tstr(v, "default")));
			json_object_set_new(l->defaults, name, json_string(wp_spin__tstr(v, "default")));
		}
		if (sec && sec->type == WP_TOML_BOOL && sec->u.b)
			json_object_set_new(lv, "secret", json_true());
		json_object_set_new(l->variables, name, lv);
	}
	l->variables = wp_spin__sorted(l->variables);
	return 0;
}

static int parse_v1(loader *l)
{
	const wp_toml *doc = l->doc, *trigger = wp_spin__tget(doc, "trigger"), *comps = wp_spin__tget(doc, "component");
	const char *type = trigger ? wp_spin__tstr(trigger, "type") : NULL;
	json_t *gc;

	if (!type)
		return wp_error_set(l->err, WP_EINVALID, "missing `trigger.type`");
	gc = wp_spin__toml_to_json(trigger);
	json_object_del(gc, "type");
	l->globals = json_object();
	json_object_set_new(l->globals, type, gc);
	if (load_variables(l, wp_spin__tget(doc, "variables")) < 0)
		return l->err->code;
	if (comps && comps->type != WP_TOML_ARRAY)
		return wp_error_set(l->err, WP_EINVALID, "`component` must be an array of tables ([[component]])");
	for (size_t i = 0; comps && i < comps->u.arr.len; i++) {
		const wp_toml *c = comps->u.arr.items[i], *ct = wp_spin__tget(c, "trigger");
		const char *raw = wp_spin__tstr(c, "id");
		_cleanup_free_ char *id = NULL, *tid = NULL;
		const char *why;

		if (!raw)
			return wp_error_set(l->err, WP_EINVALID, "component %zu has no `id`", i + 1);
		/* Spin fixes the likely mistakes of v1 ids: under_scores and mixedCase. */
		id = wp_xstrdup(raw);
		for (char *p = id; p && *p; p++)
			*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
		if ((why = wp_spin__id_problem(id, '-')))
			return wp_error_set(l->err, WP_EINVALID, "invalid ID \"%s\": %s", id, why);
		if (add_comp(l, id, c, true) < 0)
			return l->err->code;
		tid = wp_str_fmt("trigger-%s", id);
		if (add_trig(l, type, tid, id, NULL, ct ? wp_spin__toml_to_json(ct) : json_object()) < 0)
			return l->err->code;
	}
	return 0;
}

static int parse_v2(loader *l)
{
	const wp_toml *doc = l->doc, *app = wp_spin__tget(doc, "application"), *triggers = wp_spin__tget(doc, "trigger");
	const wp_toml *comps = wp_spin__tget(doc, "component"), *gtrig = app ? wp_spin__tget(app, "trigger") : NULL;
	json_t *taken, *next;

	if (!app || app->type != WP_TOML_TABLE || !wp_spin__tstr(app, "name"))
		return wp_error_set(l->err, WP_EINVALID, "missing `[application]` with a `name`");
	l->globals = gtrig && gtrig->type == WP_TOML_TABLE ? wp_spin__toml_to_json(gtrig) : json_object();
	if (load_variables(l, wp_spin__tget(doc, "variables")) < 0)
		return l->err->code;
	for (size_t i = 0; comps && comps->type == WP_TOML_TABLE && i < comps->u.tab.len; i++) {
		const char *why = wp_spin__id_problem(comps->u.tab.keys[i], '-');

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
			const wp_toml *t = list->u.arr.items[k], *c = wp_spin__tget(t, "component");
			const char *cid = NULL;
			_cleanup_free_ char *inline_id = NULL;

			if (t->type != WP_TOML_TABLE)
				return wp_error_set(l->err, WP_EINVALID, "`trigger.%s` entries must be tables", type);
			if (c && c->type == WP_TOML_STRING) {
				cid = c->u.str.s;
			} else if (c && c->type == WP_TOML_TABLE) {
				/* An inline component: named after its trigger, or counted. */
				const char *tid = wp_spin__tstr(t, "id");

				inline_id = tid ? wp_str_fmt("%s-component", tid) : NULL;
				if (!inline_id || wp_spin__id_problem(inline_id, '-') || wp_spin__find_comp(l, inline_id)) {
					for (int n = 1;; n++) {
						free(inline_id);
						inline_id = wp_str_fmt("inline-component%d", n);
						if (!wp_spin__find_comp(l, inline_id))
							break;
					}
				}
				if (add_comp(l, inline_id, c, false) < 0)
					return l->err->code;
				cid = inline_id;
			}
			if (add_trig(l, type, wp_spin__tstr(t, "id"), cid, t, NULL) < 0)
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
int wp_spin__convert_http_hosts(loader *l, const wp_strv *http, bool allow_db, wp_strv *out)
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

int wp_spin__check_outbound(loader *l, const wp_strv *hosts)
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

bool wp_spin__service_chaining(const wp_strv *hosts)
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

int wp_spin__load_manifest(loader *l)
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
	v1v = wp_spin__tget(l->doc, "spin_version");
	v2v = wp_spin__tget(l->doc, "spin_manifest_version");
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

		if (wp_spin__str_array(wp_spin__tget(l->comps[i].t, "allowed_http_hosts"), &http))
			rc = wp_spin__convert_http_hosts(l, &http, false, &converted);
		wp_strv_release(&http);
		wp_strv_release(&converted);
	}
	return rc;
}

/* The triggers (each naming a component that exists) and the components, loaded, in
 * Spin's LockedApp: its field order. */
