/* NULL-terminated, growable lists of strings. */
#ifndef WP_COMMON_STRV_H
#define WP_COMMON_STRV_H

#include <stdbool.h>
#include <stddef.h>

typedef struct wp_strv {
	char **items;   /* NULL-terminated when len > 0 */
	size_t len;
} wp_strv;

/* Appends a copy of s (cannot fail: out of memory aborts, common/alloc.h). */
void wp_strv_push(wp_strv *v, const char *s);
bool wp_strv_contains(const wp_strv *v, const char *s);
void wp_strv_release(wp_strv *v);

#endif
