/* Small helpers shared by every module: cleanup attributes, array length, the processor
 * count, hex; it brings the allocation and string helpers along (alloc.h, str.h). */
#ifndef WP_COMMON_UTIL_H
#define WP_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/str.h"

#define WP_EXPORT __attribute__((visibility("default")))
#define WP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static inline void wp_freep(void *p) { free(*(void **)p); }
static inline void wp_closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_free_ __attribute__((cleanup(wp_freep)))
#define _cleanup_close_ __attribute__((cleanup(wp_closep)))

/* Number of online processors, at least 1 and at most 64. */
int wp_util_cpu_count(void);
/* Hex encoding of len bytes into out (2*len+1 bytes). */
void wp_util_hex_encode(const unsigned char *in, size_t len, char *out);

#endif
