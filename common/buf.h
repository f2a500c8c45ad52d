/* Growable byte buffers with a hard maximum: input from files or the network never grows
 * a buffer past its cap; going past it is WP_ETOOBIG, not a bigger allocation. */
#ifndef WP_COMMON_BUF_H
#define WP_COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "common/alloc.h"

typedef struct wp_buf {
	char *data;   /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max;   /* largest len allowed */
} wp_buf;

#define WP_BUF_UNLIMITED ((size_t)-1 / 2)

void wp_buf_init(wp_buf *b, size_t max);
void wp_buf_release(wp_buf *b);
void wp_buf_reset(wp_buf *b);
/* 0, or WP_ETOOBIG past max (nothing appended); out of memory aborts (common/alloc.h).
 * The result must be looked at: a buffer grown from outside input can hit its cap. */
WP_MUST_CHECK int wp_buf_append(wp_buf *b, const void *data, size_t len);
WP_MUST_CHECK int wp_buf_puts(wp_buf *b, const char *s);
WP_MUST_CHECK int wp_buf_putc(wp_buf *b, char c);
WP_MUST_CHECK int wp_buf_printf(wp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
WP_MUST_CHECK int wp_buf_vprintf(wp_buf *b, const char *fmt, va_list ap);
/* Appends what fits under the cap and drops the rest: for text only shown (an error
 * body quoted in a message), never for data. */
void wp_buf_append_truncated(wp_buf *b, const void *data, size_t len);
/* Hands the bytes to the caller (never NULL on success: an empty string) and resets b. */
char *wp_buf_detach(wp_buf *b, size_t *len);

#endif
