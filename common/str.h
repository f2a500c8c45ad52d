/* Strings: prefix and suffix tests, a bounded copy, printf into a new string. */
#ifndef WP_COMMON_STR_H
#define WP_COMMON_STR_H

#include <stdbool.h>
#include <stddef.h>

bool wp_str_has_prefix(const char *s, const char *prefix);
bool wp_str_has_suffix(const char *s, const char *suffix);
/* Copies at most dstsz-1 bytes and always terminates; returns false when truncated. */
bool wp_str_copy(char *dst, const char *src, size_t dstsz);
/* Edit distance (insertions, deletions, substitutions, swaps of neighbours), capped at
 * 255 (longer words are not compared further). */
unsigned wp_str_distance(const char *a, const char *b);
/* The candidate closest to word if it is close enough to be a typo of it (at most 2
 * edits, fewer for short words, or word is its prefix), else NULL: for "did you mean". */
const char *wp_str_closest(const char *word, const char *const *candidates, size_t n);
/* The candidates at most max_dist edits from word, nearest first (ties in their order),
 * into out (at most max_out); how many. NULL candidates are skipped. For "the nearest it
 * has: ..." lists. */
size_t wp_str_nearest(const char *word, const char *const *candidates, size_t n, unsigned max_dist,
		      const char **out, size_t max_out);
/* asprintf into a new string; never NULL (out of memory aborts, common/alloc.h). */
char *wp_str_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2), returns_nonnull));

#endif
