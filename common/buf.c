#include "common/alloc.h"
#include "common/buf.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wp_buf_init(wp_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void wp_buf_release(wp_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void wp_buf_reset(wp_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(wp_buf *b, size_t extra)
{
	size_t need, ncap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return WP_ETOOBIG;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > ((size_t)-1) / 4 ? need : ncap * 2;
	p = wp_xrealloc(b->data, ncap);
	b->data = p;
	b->cap = ncap;
	return 0;
}

int wp_buf_append(wp_buf *b, const void *data, size_t len)
{
	int rc = grow(b, len);

	if (rc < 0)
		return rc;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void wp_buf_append_truncated(wp_buf *b, const void *data, size_t len)
{
	size_t room = b->len < b->max ? b->max - b->len : 0;

	if (wp_buf_append(b, data, len < room ? len : room) < 0) {
		/* cannot happen: what is appended fits */
	}
}

int wp_buf_puts(wp_buf *b, const char *s)
{
	return wp_buf_append(b, s, strlen(s));
}

int wp_buf_putc(wp_buf *b, char c)
{
	return wp_buf_append(b, &c, 1);
}

int wp_buf_vprintf(wp_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, rc;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return WP_EFAIL;
	rc = grow(b, (size_t)n);
	if (rc < 0)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int wp_buf_printf(wp_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = wp_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *wp_buf_detach(wp_buf *b, size_t *len)
{
	char *p;

	if (!b->data && grow(b, 0) < 0)
		return NULL;
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}
