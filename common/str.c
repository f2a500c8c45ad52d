#include "common/str.h"
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

unsigned wp_str_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned d[3][65];  /* three rows of the Damerau-Levenshtein table */

	if (la > 64 || lb > 64)
		return 255;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned *cur = d[i % 3], *prev = d[(i - 1) % 3], *prev2 = d[(i + 1) % 3];

		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1], v = prev[j - 1] + cost;

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb] > 255 ? 255 : d[la % 3][lb];
}

size_t wp_str_nearest(const char *word, const char *const *candidates, size_t n, unsigned max_dist,
		      const char **out, size_t max_out)
{
	unsigned *dist = wp_xcalloc(n ? n : 1, sizeof(*dist));
	size_t got = 0;

	for (size_t i = 0; i < n; i++)
		dist[i] = candidates[i] ? wp_str_distance(word, candidates[i]) : 255;
	for (unsigned d = 0; d <= max_dist && got < max_out; d++)
		for (size_t i = 0; i < n && got < max_out; i++)
			if (dist[i] == d)
				out[got++] = candidates[i];
	free(dist);
	return got;
}

const char *wp_str_closest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	unsigned best_d = 255, limit = strlen(word) <= 3 ? 1 : 2;

	for (size_t i = 0; i < n; i++) {
		unsigned dist;

		if (!candidates[i])
			continue;
		dist = wp_str_has_prefix(candidates[i], word) && strlen(word) >= 2 ? 1 : wp_str_distance(word, candidates[i]);
		if (dist < best_d) {
			best_d = dist;
			best = candidates[i];
		}
	}
	return best_d <= limit ? best : NULL;
}
