#include "node/policy.h"
#include "common/fs.h"
#include "common/toml.h"
#include "common/util.h"
#include "node/compile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define POLICY_MAX (1u << 20)
#define KEY_MAX (64u << 10)

const char *wp_policy_path(const char *given)
{
	const char *env = getenv("WASMPACK_POLICY");
	struct stat st;

	if (given && *given)
		return given;
	if (env && *env)
		return env;
	return stat(WP_POLICY_DEFAULT, &st) == 0 ? WP_POLICY_DEFAULT : NULL;
}

void wp_policy_release(wp_policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].match);
		wp_strv_release(&p->rules[i].keys);
	}
	free(p->rules);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

/* A match is "*", a registry, or registry/repository (no scheme, tag or digest). */
static bool valid_match(const char *m)
{
	if (!strcmp(m, "*"))
		return true;
	if (!*m || strstr(m, "://") || strchr(m, '@') || m[strlen(m) - 1] == '/' || m[0] == '/')
		return false;
	for (const char *c = m; *c; c++)
		if (*c <= ' ' || *c == '*')
			return false;
	return true;
}

static int load_rule(wp_policy *p, const wp_toml *t, const char *dir, wp_error *err)
{
	wp_policy_rule *r = &p->rules[p->n_rules];
	const wp_toml *keys = wp_toml_get(t, "keys"), *m = wp_toml_get(t, "match");

	memset(r, 0, sizeof(*r));
	r->line = t->line;
	for (size_t i = 0; i < t->u.tab.len; i++)
		if (strcmp(t->u.tab.keys[i], "match") && strcmp(t->u.tab.keys[i], "keys"))
			return wp_error_set(err, WP_EINVALID, "%s, line %d: unknown setting '%s' in a rule (want match, keys)",
					    p->path, t->line, t->u.tab.keys[i]);
	if (!m || m->type != WP_TOML_STRING || !valid_match(m->u.str.s))
		return wp_error_set(err, WP_EINVALID, "%s, line %d: a rule needs match = \"REGISTRY[/REPOSITORY]\" or \"*\"",
				    p->path, t->line);
	if (!keys || keys->type != WP_TOML_ARRAY)
		return wp_error_set(err, WP_EINVALID, "%s, line %d: a rule needs keys = [...] (public key files; [] for none)",
				    p->path, t->line);
	r->match = wp_xstrdup(m->u.str.s);
	p->n_rules++;
	for (size_t i = 0; i < keys->u.arr.len; i++) {
		const wp_toml *k = keys->u.arr.items[i];
		_cleanup_free_ char *path = NULL;
		char *real;

		if (k->type != WP_TOML_STRING)
			return wp_error_set(err, WP_EINVALID, "%s, line %d: keys are file names", p->path, k->line);
		path = k->u.str.s[0] == '/' ? wp_xstrdup(k->u.str.s) : wp_str_fmt("%s/%s", dir, k->u.str.s);
		if (!(real = realpath(path, NULL)))
			return wp_error_sys(err, WP_EINVALID, "%s, line %d: the key '%s'", p->path, k->line, path);
		wp_strv_push(&r->keys, real);
		free(real);
	}
	return 0;
}

int wp_policy_load(const char *path, wp_policy *p, wp_error *err)
{
	wp_buf data;
	wp_toml *doc = NULL;
	const wp_toml *rules;
	_cleanup_free_ char *dir = NULL;
	char *slash;
	int rc;

	memset(p, 0, sizeof(*p));
	p->path = wp_xstrdup(path);
	wp_buf_init(&data, POLICY_MAX);
	if ((rc = wp_fs_read_file(path, POLICY_MAX, &data, err)) < 0) {
		wp_buf_release(&data);
		return wp_error_prefix(err, "the signature policy");
	}
	rc = wp_toml_parse(data.data ? data.data : "", data.len, &doc, err);
	wp_buf_release(&data);
	if (rc < 0)
		return wp_error_prefix(err, "the signature policy %s", path);
	dir = wp_xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else {
		free(dir);
		dir = wp_xstrdup(".");
	}
	for (size_t i = 0; i < doc->u.tab.len && rc == 0; i++)
		if (strcmp(doc->u.tab.keys[i], "rule"))
			rc = wp_error_set(err, WP_EINVALID, "%s: unknown setting '%s' (want [[rule]] tables)", path,
					  doc->u.tab.keys[i]);
	rules = wp_toml_get_array(doc, "rule");
	if (rc == 0 && rules) {
		p->rules = wp_xcalloc(rules->u.arr.len, sizeof(*p->rules));
		for (size_t i = 0; i < rules->u.arr.len && rc == 0; i++)
			rc = rules->u.arr.items[i]->type == WP_TOML_TABLE
				     ? load_rule(p, rules->u.arr.items[i], dir, err)
				     : wp_error_set(err, WP_EINVALID, "%s: rule must be [[rule]] tables", path);
	}
	wp_toml_free(doc);
	if (rc < 0)
		wp_policy_release(p);
	return rc;
}

const wp_policy_rule *wp_policy_match(const wp_policy *p, const char *name)
{
	const wp_policy_rule *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < p->n_rules; i++) {
		const char *m = p->rules[i].match;
		size_t ml = strlen(m);

		if (!strcmp(m, "*")) {
			if (!best)
				best = &p->rules[i];
			continue;
		}
		/* at a boundary: "reg/team" matches reg/team and reg/team/app, not reg/teamx */
		if (name && !strncmp(name, m, ml) && (name[ml] == '\0' || name[ml] == '/') &&
		    (ml > best_len || !best || !strcmp(best->match, "*"))) {
			best = &p->rules[i];
			best_len = ml;
		}
	}
	return best;
}

/* The remembered verdict's file: the digest and the rule's keys (by content), hashed. */
static char *verdict_path(const char *cache_root, const char *digest, const wp_policy_rule *rule)
{
	wp_buf key;
	char name[65];
	wp_error ignored;

	wp_buf_init(&key, 1u << 24);
	(void)!wp_buf_printf(&key, "%s\n", digest);
	for (size_t i = 0; i < rule->keys.len; i++) {
		wp_buf k;

		wp_buf_init(&k, KEY_MAX);
		if (wp_fs_read_file(rule->keys.items[i], KEY_MAX, &k, &ignored) == 0 && k.len)
			(void)!wp_buf_append(&key, k.data, k.len);
		(void)!wp_buf_printf(&key, "\n--\n");
		wp_buf_release(&k);
	}
	wp_compile_hex_digest(key.data ? key.data : "", key.len, name);
	wp_buf_release(&key);
	return wp_str_fmt("%s/verified/%s", cache_root, name);
}

bool wp_policy_remembered(const char *cache_root, const char *digest, const wp_policy_rule *rule)
{
	_cleanup_free_ char *p = verdict_path(cache_root, digest, rule);

	return wp_fs_exists(p);
}

void wp_policy_remember(const char *cache_root, const char *digest, const wp_policy_rule *rule)
{
	_cleanup_free_ char *p = verdict_path(cache_root, digest, rule), *dir = wp_str_fmt("%s/verified", cache_root);
	wp_error ignored;

	if (wp_fs_mkdir_p(dir, 0755, &ignored) == 0)
		(void)wp_fs_write_replace(p, digest, strlen(digest), 0644, &ignored);
}
