#include "common/str.h"
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool wp_str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool wp_str_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool wp_str_copy(char *dst, const char *src, size_t dstsz)
{
	size_t len = strlen(src);

	if (dstsz == 0)
		return false;
	if (len >= dstsz) {
		memcpy(dst, src, dstsz - 1);
		dst[dstsz - 1] = '\0';
		return false;
	}
	memcpy(dst, src, len + 1);
	return true;
}

char *wp_str_fmt(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out, fmt, ap);
	va_end(ap);
	if (n < 0)
		wp_alloc_oom();
	return out;
}
