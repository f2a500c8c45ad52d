/* spin.toml's TOML as JSON (Spin's BTreeMap order), and the checks of ids and string
 * arrays every part of the loader uses. */
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

/* ---- small helpers ---- */

const wp_toml *wp_spin__tget(const wp_toml *t, const char *k)
{
	return wp_toml_get(t, k);
}

const char *wp_spin__tstr(const wp_toml *t, const char *k)
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

/* TOML to JSON the way Spin's loader serialises toml values: tables with wp_spin__sorted keys.
 * NULL when out of memory. */
json_t *wp_spin__toml_to_json(const wp_toml *v)
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
			json_t *child = wp_spin__toml_to_json(v->u.tab.vals[idx[i]]);

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
			json_t *child = wp_spin__toml_to_json(v->u.arr.items[i]);

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
json_t *wp_spin__sorted(json_t *o)
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
const char *wp_spin__id_problem(const char *id, char delim)
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

bool wp_spin__str_array(const wp_toml *a, wp_strv *out)
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
