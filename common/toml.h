/* A TOML 1.0.0 parser (https://toml.io/en/v1.0.0), checked against the toml-test suite.
 * Errors name the line and column. Values keep the line they were defined on so that
 * readers of spin.toml can point at the right place. */
#ifndef WP_COMMON_TOML_H
#define WP_COMMON_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef enum {
	WP_TOML_TABLE,
	WP_TOML_ARRAY,
	WP_TOML_STRING,
	WP_TOML_INTEGER,
	WP_TOML_FLOAT,
	WP_TOML_BOOL,
	WP_TOML_DATETIME,        /* offset date-time */
	WP_TOML_DATETIME_LOCAL,
	WP_TOML_DATE_LOCAL,
	WP_TOML_TIME_LOCAL,
} wp_toml_type;

typedef struct wp_toml wp_toml;

struct wp_toml {
	wp_toml_type type;
	unsigned flags;          /* parser bookkeeping */
	int line;
	void *arena;             /* on the document root: every allocation of the parse */
	union {
		struct {
			char **keys;     /* may hold NUL: see klens */
			size_t *klens;
			wp_toml **vals;
			size_t len, cap;
			size_t *slots;   /* past a few keys: open-addressing index, position + 1 (0: empty) */
			size_t nslots;   /* a power of two, at least twice len */
		} tab;
		struct {
			wp_toml **items;
			size_t len, cap;
		} arr;
		struct {
			char *s;         /* strings: decoded UTF-8; date/times: RFC 3339 text with 'T' and 'Z' */
			size_t len;
		} str;
		int64_t i;
		double f;
		bool b;
	} u;
};

#define WP_TOML_MAX_DEPTH 128

int wp_toml_parse(const char *data, size_t len, wp_toml **out, wp_error *err);
/* Frees a document returned by wp_toml_parse (its root), all at once. */
void wp_toml_free(wp_toml *root);

/* Lookups; NULL when absent or of another type. */
const wp_toml *wp_toml_get(const wp_toml *table, const char *key);
const char *wp_toml_get_str(const wp_toml *table, const char *key);
const wp_toml *wp_toml_get_table(const wp_toml *table, const char *key);
const wp_toml *wp_toml_get_array(const wp_toml *table, const char *key);
const char *wp_toml_type_name(wp_toml_type t);

#endif
