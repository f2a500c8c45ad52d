#include "common/strv.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

int wp_strv_push(wp_strv *v, const char *s)
{
	char **items = realloc(v->items, (v->len + 2) * sizeof(*items));

	if (!items)
		return WP_ENOMEM;
	v->items = items;
	items[v->len] = strdup(s);
	if (!items[v->len])
		return WP_ENOMEM;
	items[++v->len] = NULL;
	return 0;
}

bool wp_strv_contains(const wp_strv *v, const char *s)
{
	for (size_t i = 0; i < v->len; i++)
		if (!strcmp(v->items[i], s))
			return true;
	return false;
}

void wp_strv_release(wp_strv *v)
{
	for (size_t i = 0; i < v->len; i++)
		free(v->items[i]);
	free(v->items);
	v->items = NULL;
	v->len = 0;
}
