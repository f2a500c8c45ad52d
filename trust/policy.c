#include "trust/policy.h"
#include "common/fs.h"
#include "common/toml.h"
#include "common/util.h"
#include "node/compile.h"
#include "oci/ref.h"
#include "trust/sigstore.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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
	/* Only a name that is not there at all means "no policy": a link whose target is
	 * gone (the file's, or its folder's), a file this user may not read, a folder or a
	 * FIFO in its place is a policy that cannot be read, which refuses every image
	 * (wp_policy_load says why). */
	if (lstat(WP_POLICY_DIR, &st) < 0)
		return errno == ENOENT ? NULL : WP_POLICY_DEFAULT;
	if (stat(WP_POLICY_DIR, &st) < 0 || !S_ISDIR(st.st_mode))
		return WP_POLICY_DEFAULT;
	if (lstat(WP_POLICY_DEFAULT, &st) < 0 && errno == ENOENT)
		return NULL;
	return WP_POLICY_DEFAULT;
}

/* The policy's text: a regular file (opened without blocking, so a FIFO in its place
 * cannot hang a run or the shim's Create), at most POLICY_MAX bytes. */
static int read_policy(const char *path, wp_buf *out, wp_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	int rc = 0;

	if (fd < 0)
		return wp_error_sys(err, WP_EINVALID, "the signature policy '%s' cannot be read%s", path,
				    errno == ENOENT ? " (a link to nothing, or a folder on its way is gone)" : "");
	if (fstat(fd, &st) < 0)
		rc = wp_error_sys(err, WP_EINVALID, "the signature policy '%s'", path);
	else if (!S_ISREG(st.st_mode))
		rc = wp_error_set(err, WP_EINVALID, "the signature policy '%s' is not a regular file (it is %s)", path,
				  S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO" : "a special file");
	close(fd);
	if (rc == 0 && (rc = wp_fs_read_file(path, POLICY_MAX, out, err)) < 0)
		rc = wp_error_prefix(err, "the signature policy");
	return rc;
}

void wp_policy_release(wp_policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		free(p->rules[i].match);
		free(p->rules[i].written);
		wp_strv_release(&p->rules[i].keys);
		wp_strv_release(&p->rules[i].predicate_types);
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
	const wp_toml *keys = wp_toml_get(t, "keys"), *m = wp_toml_get(t, "match"), *pt = wp_toml_get(t, "predicate_types");

	memset(r, 0, sizeof(*r));
	r->line = t->line;
	for (size_t i = 0; i < t->u.tab.len; i++)
		if (strcmp(t->u.tab.keys[i], "match") && strcmp(t->u.tab.keys[i], "keys") &&
		    strcmp(t->u.tab.keys[i], "predicate_types"))
			return wp_error_set(err, WP_EINVALID, "%s, line %d: unknown setting '%s' in a rule (want match, keys, "
					    "predicate_types)",
					    p->path, t->line, t->u.tab.keys[i]);
	if (!m || m->type != WP_TOML_STRING || !valid_match(m->u.str.s))
		return wp_error_set(err, WP_EINVALID, "%s, line %d: a rule needs match = \"REGISTRY[/REPOSITORY]\" or \"*\"",
				    p->path, t->line);
	if (!keys || keys->type != WP_TOML_ARRAY)
		return wp_error_set(err, WP_EINVALID, "%s, line %d: a rule needs keys = [...] (public key files; [] for none)",
				    p->path, t->line);
	if (pt && (pt->type != WP_TOML_ARRAY || !pt->u.arr.len))
		return wp_error_set(err, WP_EINVALID, "%s, line %d: predicate_types = [\"URI\", ...] (one at least)", p->path,
				    t->line);
	r->match = wp_policy_normalize(m->u.str.s);
	r->written = wp_xstrdup(m->u.str.s);
	p->n_rules++;
	for (size_t i = 0; pt && i < pt->u.arr.len; i++) {
		const wp_toml *v = pt->u.arr.items[i];

		if (v->type != WP_TOML_STRING || !*v->u.str.s)
			return wp_error_set(err, WP_EINVALID, "%s, line %d: predicate types are URIs (strings)", p->path, v->line);
		wp_strv_push(&r->predicate_types, v->u.str.s);
	}
	if (!r->predicate_types.len)
		wp_strv_push(&r->predicate_types, WP_COSIGN_SIGN_PREDICATE);
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
	if ((rc = read_policy(path, &data, err)) < 0) {
		wp_buf_release(&data);
		wp_policy_release(p);
		return rc;
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

/* Does the first component of a name name a registry host (as a reference's does:
 * a '.', a ':', "localhost", or [IPv6])? */
static bool names_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !strncasecmp(s, "localhost", 9)) || (n && s[0] == '[');
}

/* The host's one form, in place where it shrinks (a static buffer for addresses): no
 * trailing dot; an IP address as inet_ntop writes it (127.1 and 0x7f.0.0.1 are
 * 127.0.0.1, [0::1] is [::1], an IPv4-mapped [::ffff:a.b.c.d] is a.b.c.d). */
static const char *canonical_host(char *host)
{
	static __thread char text[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);
	struct in6_addr a6;
	struct in_addr a4;

	while (n > 1 && host[n - 1] == '.')
		host[--n] = '\0';
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		char inner[INET6_ADDRSTRLEN + 1];

		if (n - 2 >= sizeof(inner))
			return host;
		memcpy(inner, host + 1, n - 2);
		inner[n - 2] = '\0';
		if (inet_pton(AF_INET6, inner, &a6) != 1)
			return host;
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], 4);
			return inet_ntop(AF_INET, &a4, text, sizeof(text)) ? text : host;
		}
		text[0] = '[';
		if (!inet_ntop(AF_INET6, &a6, text + 1, sizeof(text) - 2))
			return host;
		n = strlen(text);
		text[n] = ']';
		text[n + 1] = '\0';
		return text;
	}
	/* inet_aton reads what the resolver would (127.1, 0x7f.0.0.1): only for names made
	 * of digits, dots and hex's x, never a DNS name */
	if (strspn(host, "0123456789abcdefx.") == n && inet_aton(host, &a4))
		return inet_ntop(AF_INET, &a4, text, sizeof(text)) ? text : host;
	return host;
}

char *wp_policy_normalize(const char *name)
{
	const char *slash, *repo;
	size_t hl;
	char *host, *out, *port = NULL, *written = NULL;

	if (!name)
		return NULL;
	if (!strcmp(name, "*"))
		return wp_xstrdup(name);
	slash = strchr(name, '/');
	hl = slash ? (size_t)(slash - name) : strlen(name);
	if (!names_host(name, hl)) {
		/* "team/app" is Docker Hub's, as a reference without a host is */
		host = wp_xstrdup(WP_REF_DOCKER_HUB);
		repo = name;
	} else {
		host = wp_xstrndup(name, hl);
		repo = slash ? slash + 1 : "";
	}
	for (char *c = host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	written = wp_xstrdup(host);
	/* HOST[:PORT] in one form: the port as a number ("09237" is 9237; 443 is https's
	 * own, dropped), the host by canonical_host. What is no such thing (other characters,
	 * a port that is no number), or a host that would no longer look like one ("myreg.:443"
	 * is "myreg", which a name would read as Docker Hub's), stays as written: the form
	 * must be its own form again. */
	{
		char *close = host[0] == '[' ? strchr(host, ']') : NULL;
		bool ok = host[0] == '[' ? close != NULL : strspn(host, "abcdefghijklmnopqrstuvwxyz0123456789.-_:") == strlen(host);
		unsigned long n = 0;

		port = host[0] == '[' ? (close && close[1] == ':' ? close + 1 : NULL) : strchr(host, ':');
		if (ok && host[0] == '[' && close && close[1] && close[1] != ':')
			ok = false;
		if (ok && port) {
			size_t digits = strspn(port + 1, "0123456789");

			ok = digits && !port[1 + digits] && digits <= 10;
			n = ok ? strtoul(port + 1, NULL, 10) : 0;
		}
		if (ok) {
			char *h = host;

			if (port)
				*port = '\0';
			host = port && n != 443 ? wp_str_fmt("%s:%lu", canonical_host(h), n) : wp_xstrdup(canonical_host(h));
			free(h);
		}
	}
	if (!names_host(host, strlen(host))) {
		free(host);
		host = written;
		written = NULL;
	}
	free(written);
	if (!strcmp(host, "index.docker.io") || !strcmp(host, WP_REF_DOCKER_HUB_API) ||
	    !strcmp(host, "registry.hub.docker.com")) {
		free(host);
		host = wp_xstrdup(WP_REF_DOCKER_HUB);
	}
	if (!*repo)
		out = host, host = NULL;
	else if (!strcmp(host, WP_REF_DOCKER_HUB) && !strchr(repo, '/'))
		out = wp_str_fmt("%s/library/%s", host, repo);
	else
		out = wp_str_fmt("%s/%s", host, repo);
	free(host);
	/* repositories are lower case (distribution's grammar): a rule written otherwise
	 * still covers what it means to */
	for (char *c = strchr(out, '/'); c && *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return out;
}

const wp_policy_rule *wp_policy_match(const wp_policy *p, const char *given)
{
	const wp_policy_rule *best = NULL;
	_cleanup_free_ char *name = wp_policy_normalize(given);
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

/* The remembered verdict's file: the digest, the rule's keys (by content) and the
 * predicate types it accepts, hashed (a verdict under other types is another verdict). */
static char *verdict_path(const char *cache_root, const char *digest, const wp_policy_rule *rule)
{
	wp_buf key;
	char name[65];

	wp_buf_init(&key, 1u << 24);
	(void)!wp_buf_printf(&key, "%s\n", digest);
	for (size_t i = 0; i < rule->predicate_types.len; i++)
		(void)!wp_buf_printf(&key, "predicate %s\n", rule->predicate_types.items[i]);
	for (size_t i = 0; i < rule->keys.len; i++) {
		wp_buf k;

		wp_buf_init(&k, KEY_MAX);
		if (wp_fs_read_file(rule->keys.items[i], KEY_MAX, &k, NULL) == 0 && k.len)
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

	if (wp_fs_mkdir_p(dir, 0755, NULL) == 0)
		(void)wp_fs_write_replace(p, digest, strlen(digest), 0644, NULL);
}
