/* JSON through jansson with the project's rules: parse with a size cap and duplicate keys
 * refused; emit with keys in the order they were set (the order the code fixes), compact
 * for documents that are hashed, indented for people. */
#ifndef WP_COMMON_JSON_H
#define WP_COMMON_JSON_H

#include <jansson.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/error.h"

int wp_json_parse(const char *data, size_t len, size_t max, json_t **out, wp_error *err);
/* Reads a file of at most max bytes and parses it (the one way the code does both): a
 * missing file is WP_ENOTFOUND. Not for files holding secrets (registry/auth.c wipes its
 * buffer; this does not). */
int wp_json_read_file(const char *path, size_t max, json_t **out, wp_error *err);
/* Compact form, no trailing newline: the bytes that get hashed. */
int wp_json_emit(const json_t *v, wp_buf *out, wp_error *err);
/* Indented form with a trailing newline, for output read by people and scripts. */
int wp_json_print(const json_t *v, FILE *f);
/* NULL unless obj[key] is a string. */
const char *wp_json_str(const json_t *obj, const char *key);
/* Sets obj[key] to a string (steals nothing); returns 0 or WP_ENOMEM. */
int wp_json_set_str(json_t *obj, const char *key, const char *val);

#endif
