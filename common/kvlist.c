#include "common/kvlist.h"
#include "common/alloc.h"

#include <stdlib.h>
#include <string.h>

static int kv_find(const wp_kvlist *l, const char *key, size_t *pos)
{
	size_t lo = 0, hi = l->len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->items[mid].key, key);

		if (c == 0) {
			*pos = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return 0;
}

void wp_kvlist_set(wp_kvlist *l, const char *key, const char *value)
{
	size_t pos;
	char *v = wp_xstrdup(value);

	if (kv_find(l, key, &pos)) {
		free(l->items[pos].value);
		l->items[pos].value = v;
		return;
	}
	l->items = wp_xreallocarray(l->items, l->len + 1, sizeof(*l->items));
	memmove(l->items + pos + 1, l->items + pos, (l->len - pos) * sizeof(*l->items));
	l->items[pos].key = wp_xstrdup(key);
	l->items[pos].value = v;
	l->len++;
}

void wp_kvlist_remove(wp_kvlist *l, const char *key)
{
	size_t pos;

	if (!kv_find(l, key, &pos))
		return;
	free(l->items[pos].key);
	free(l->items[pos].value);
	memmove(l->items + pos, l->items + pos + 1, (l->len - pos - 1) * sizeof(*l->items));
	l->len--;
}

const char *wp_kvlist_get(const wp_kvlist *l, const char *key)
{
	size_t pos;

	return kv_find(l, key, &pos) ? l->items[pos].value : NULL;
}

void wp_kvlist_release(wp_kvlist *l)
{
	for (size_t i = 0; i < l->len; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

void wp_kvlist_copy(wp_kvlist *dst, const wp_kvlist *src)
{
	for (size_t i = 0; i < src->len; i++)
		wp_kvlist_set(dst, src->items[i].key, src->items[i].value);
}

json_t *wp_kvlist_to_json(const wp_kvlist *l)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < l->len; i++)
		json_object_set_new(o, l->items[i].key, json_string(l->items[i].value));
	return o;
}

void wp_kvlist_from_json(const json_t *j, wp_kvlist *l)
{
	const char *k;
	json_t *v;

	if (!json_is_object(j))
		return;
	json_object_foreach((json_t *)j, k, v)
		if (json_is_string(v))
			wp_kvlist_set(l, k, json_string_value(v));
}
