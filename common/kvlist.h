/* A string map kept sorted by key (annotations, labels): binary search on lookup, so
 * emitting it gives keys in order and equal maps give equal bytes. */
#ifndef WP_COMMON_KVLIST_H
#define WP_COMMON_KVLIST_H

#include <jansson.h>
#include <stddef.h>

typedef struct wp_kv {
	char *key;
	char *value;
} wp_kv;

typedef struct wp_kvlist {
	wp_kv *items;
	size_t len;
} wp_kvlist;

void wp_kvlist_set(wp_kvlist *l, const char *key, const char *value);
const char *wp_kvlist_get(const wp_kvlist *l, const char *key);
void wp_kvlist_remove(wp_kvlist *l, const char *key);
void wp_kvlist_release(wp_kvlist *l);
void wp_kvlist_copy(wp_kvlist *dst, const wp_kvlist *src);
/* A JSON object of strings; from_json keeps the string members of an object and ignores
 * anything else (a missing or non-object j leaves l as it is). */
json_t *wp_kvlist_to_json(const wp_kvlist *l);
void wp_kvlist_from_json(const json_t *j, wp_kvlist *l);

#endif
