#include "node/wit.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WIT_MAX (4u << 20)
#define DEPTH_MAX 64

typedef struct lexer {
	const char *p, *end;
	char tok[256];
} lexer;

/* The next token: a word (letters, digits, '-', '_', '%', '.', '@', ':', '/'), or one
 * punctuation character; "" at the end. Comments are skipped. */
static const char *next(lexer *l)
{
	size_t n = 0;

	for (;;) {
		while (l->p < l->end && isspace((unsigned char)*l->p))
			l->p++;
		if (l->end - l->p >= 2 && l->p[0] == '/' && l->p[1] == '/') {
			while (l->p < l->end && *l->p != '\n')
				l->p++;
		} else if (l->end - l->p >= 2 && l->p[0] == '/' && l->p[1] == '*') {
			l->p += 2;
			while (l->end - l->p >= 2 && !(l->p[0] == '*' && l->p[1] == '/'))
				l->p++;
			l->p = l->end - l->p >= 2 ? l->p + 2 : l->end;
		} else {
			break;
		}
	}
	if (l->p >= l->end) {
		l->tok[0] = '\0';
		return l->tok;
	}
	if (isalnum((unsigned char)*l->p) || *l->p == '-' || *l->p == '_' || *l->p == '%') {
		while (l->p < l->end && n + 1 < sizeof(l->tok) &&
		       (isalnum((unsigned char)*l->p) || strchr("-_%.", *l->p)))
			l->tok[n++] = *l->p++;
	} else {
		l->tok[n++] = *l->p++;
	}
	l->tok[n] = '\0';
	return l->tok;
}

/* "wasi:sockets@0.2.12" -> "wasi:sockets" */
static void package_name(lexer *l, char *out, size_t cap)
{
	size_t n = 0;
	const char *t;

	/* the words and ':' of the name, up to '@' or ';' */
	while (*(t = next(l)) && strcmp(t, ";") && strcmp(t, "{") && strcmp(t, "@")) {
		size_t k = strlen(t);

		if (n + k + 1 < cap) {
			memcpy(out + n, t, k);
			n += k;
		}
	}
	out[n] = '\0';
	while (*t && strcmp(t, ";") && strcmp(t, "{"))
		t = next(l);
}

static void add(json_t *out, const char *pkg, const char *iface, const char *fmt_kind, const char *res, const char *fn)
{
	/* "%stream": an identifier escaped from a keyword is the identifier */
	if (res && res[0] == '%')
		res++;
	if (fn && fn[0] == '%')
		fn++;
	_cleanup_free_ char *key = wp_str_fmt("%s/%s", pkg, iface), *name = NULL;
	json_t *set = json_object_get(out, key);

	if (!set) {
		set = json_object();
		json_object_set_new(out, key, set);
	}
	if (!strcmp(fmt_kind, "constructor"))
		name = wp_str_fmt("[constructor]%s", res);
	else if (res)
		name = wp_str_fmt("[%s]%s.%s", fmt_kind, res, fn);
	else
		name = wp_xstrdup(fn);
	json_object_set_new(set, name, json_true());
}

int wp_wit_parse(const char *text, size_t len, json_t *out, wp_error *err)
{
	lexer l = { text, text + len, { 0 } };
	char pkg[256] = "", iface[256] = "", res[256] = "", prev[256] = "";
	/* what each open brace is: 'i' interface, 'r' resource, 'o' other */
	char stack[DEPTH_MAX];
	int depth = 0;
	const char *t;

	while (*(t = next(&l))) {
		char kind = depth ? stack[depth - 1] : 0;

		if (!strcmp(t, "package") && depth == 0) {
			package_name(&l, pkg, sizeof(pkg));
			if (!strcmp(l.tok, "{")) /* package wasi:x@1 { ... } */
				stack[depth++] = 'o';
			prev[0] = '\0';
			continue;
		}
		if (!strcmp(t, "{")) {
			if (depth >= DEPTH_MAX)
				return wp_error_set(err, WP_EINVALID, "WIT nested too deep");
			stack[depth++] = 'o';
		} else if (!strcmp(t, "}")) {
			if (!depth)
				return wp_error_set(err, WP_EINVALID, "WIT with an unmatched '}'");
			if (stack[--depth] == 'r')
				res[0] = '\0';
		} else if (!strcmp(t, "interface") && (depth == 0 || kind == 'o')) {
			wp_str_copy(iface, next(&l), sizeof(iface));
			if (strcmp(next(&l), "{"))
				continue;
			if (depth >= DEPTH_MAX)
				return wp_error_set(err, WP_EINVALID, "WIT nested too deep");
			stack[depth++] = 'i';
			{
				/* an interface with no function (only resources, types) is one too */
				_cleanup_free_ char *key = wp_str_fmt("%s/%s", pkg, iface);

				if (!json_object_get(out, key))
					json_object_set_new(out, key, json_object());
			}
		} else if (!strcmp(t, "resource") && kind == 'i') {
			char name[256];

			wp_str_copy(name, next(&l), sizeof(name));
			if (!strcmp(next(&l), "{")) {
				if (depth >= DEPTH_MAX)
					return wp_error_set(err, WP_EINVALID, "WIT nested too deep");
				stack[depth++] = 'r';
				wp_str_copy(res, name, sizeof(res));
			}
		} else if (!strcmp(t, "constructor") && kind == 'r') {
			add(out, pkg, iface, "constructor", res, NULL);
		} else if (!strcmp(t, ":") && (kind == 'i' || kind == 'r') && *prev) {
			/* NAME: [static] [async] func(...) */
			char fn[256];
			bool is_static = false;

			wp_str_copy(fn, prev, sizeof(fn));
			while (*(t = next(&l)) && (!strcmp(t, "static") || !strcmp(t, "async")))
				is_static = is_static || !strcmp(t, "static");
			if (!strcmp(t, "func"))
				add(out, pkg, iface, is_static ? "static" : "method", kind == 'r' ? res : NULL, fn);
			else if (!strcmp(t, "{")) /* never after ':', but keep the braces whole */
				stack[depth < DEPTH_MAX ? depth++ : depth - 1] = 'o';
			wp_str_copy(prev, t, sizeof(prev));
			continue;
		}
		wp_str_copy(prev, t, sizeof(prev));
	}
	return depth ? wp_error_set(err, WP_EINVALID, "WIT with an unclosed '{'") : 0;
}

static int load_file(const char *path, json_t *out, wp_error *err)
{
	wp_buf text;
	int rc;

	wp_buf_init(&text, WIT_MAX);
	if ((rc = wp_fs_read_file(path, WIT_MAX, &text, err)) == 0 && (rc = wp_wit_parse(text.data ? text.data : "", text.len, out, err)) < 0)
		wp_error_prefix(err, "'%s'", path);
	wp_buf_release(&text);
	return rc;
}

/* The .wit files of dir and its folders, depth levels down. */
static int load_tree(const char *dir, int depth, json_t *out, wp_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return wp_error_sys(err, WP_ENOTFOUND, "the WIT folder '%s'", dir);
	while (rc == 0 && (e = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		p = wp_str_fmt("%s/%s", dir, e->d_name);
		if (stat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth > 0)
			rc = load_tree(p, depth - 1, out, err);
		else if (S_ISREG(st.st_mode) && wp_str_has_suffix(e->d_name, ".wit"))
			rc = load_file(p, out, err);
	}
	closedir(d);
	return rc;
}

int wp_wit_functions(const char *dir, const char *prefix, json_t **out, wp_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	json_t *all = json_object();
	int rc = 0;

	*out = NULL;
	if (!d) {
		json_decref(all);
		return wp_error_sys(err, WP_ENOTFOUND, "the WIT folder '%s'", dir);
	}
	while (rc == 0 && (e = readdir(d))) {
		_cleanup_free_ char *p = NULL;

		if (e->d_name[0] == '.' || (prefix && !wp_str_has_prefix(e->d_name, prefix)))
			continue;
		p = wp_str_fmt("%s/%s", dir, e->d_name);
		rc = load_tree(p, 2, all, err);
	}
	closedir(d);
	if (rc == 0 && !json_object_size(all))
		rc = wp_error_set(err, WP_ENOTFOUND, "no WIT interface under '%s'", dir);
	if (rc < 0)
		json_decref(all);
	else
		*out = all;
	return rc;
}
