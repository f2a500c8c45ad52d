/* Small helpers shared by every module: cleanup attributes and string bits. */
#ifndef WP_COMMON_UTIL_H
#define WP_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/alloc.h"

#define WP_EXPORT __attribute__((visibility("default")))
#define WP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void wp_freep(void *p) { free(*(void **)p); }
static inline void wp_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_free_ __attribute__((cleanup(wp_freep)))
#define _cleanup_close_ __attribute__((cleanup(wp_closep)))

bool wp_str_has_prefix(const char *s, const char *prefix);
bool wp_str_has_suffix(const char *s, const char *suffix);
/* Copies at most dstsz-1 bytes and always terminates; returns false when truncated. */
bool wp_strlcpy(char *dst, const char *src, size_t dstsz);
/* asprintf into a new string; never NULL (out of memory aborts, common/alloc.h). */
char *wp_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2), returns_nonnull));
/* Number of online processors, at least 1 and at most 64. */
int wp_cpu_count(void);
/* Hex encoding of len bytes into out (2*len+1 bytes). */
void wp_hex_encode(const unsigned char *in, size_t len, char *out);

#endif
