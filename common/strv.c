#include "common/alloc.h"
#include "common/strv.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

void wp_strv_push(wp_strv *v, const char *s)
{
	v->items = wp_xreallocarray(v->items, v->len + 2, sizeof(*v->items));
	v->items[v->len] = wp_xstrdup(s);
	v->items[++v->len] = NULL;
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
