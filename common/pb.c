#include "common/alloc.h"
#include "common/pb.h"

#include <stdlib.h>
#include <string.h>

void wp_pb_reader_init(wp_pb_reader *r, const void *data, size_t len)
{
	r->p = data;
	r->end = r->p + len;
}

static int varint(wp_pb_reader *r, uint64_t *out)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -1;
		uint8_t c = *r->p++;

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return 0;
		}
	}
	return -1;
}

int wp_pb_next(wp_pb_reader *r, wp_pb_field *f)
{
	uint64_t key, n;

	if (r->p >= r->end)
		return 0;
	if (varint(r, &key) < 0 || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return -1;
	memset(f, 0, sizeof(*f));
	f->num = (uint32_t)(key >> 3);
	f->wire = (int)(key & 7);
	switch (f->wire) {
	case WP_PB_VARINT:
		return varint(r, &f->v) < 0 ? -1 : 1;
	case WP_PB_I64:
		if (r->end - r->p < 8)
			return -1;
		for (int i = 7; i >= 0; i--)
			f->v = (f->v << 8) | r->p[i];
		r->p += 8;
		return 1;
	case WP_PB_I32:
		if (r->end - r->p < 4)
			return -1;
		for (int i = 3; i >= 0; i--)
			f->v = (f->v << 8) | r->p[i];
		r->p += 4;
		return 1;
	case WP_PB_LEN:
		if (varint(r, &n) < 0 || n > (uint64_t)(r->end - r->p))
			return -1;
		f->data = r->p;
		f->len = (size_t)n;
		r->p += n;
		return 1;
	default:
		return -1; /* groups (3, 4) are not used by any message here */
	}
}

char *wp_pb_strdup(const wp_pb_field *f)
{
	if (f->wire != WP_PB_LEN || memchr(f->data, 0, f->len))
		return NULL;
	return wp_xstrndup((const char *)f->data, f->len);
}

int wp_pb_put_raw_varint(wp_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return wp_buf_append(b, tmp, n);
}

static int tag(wp_buf *b, uint32_t num, int wire)
{
	return wp_pb_put_raw_varint(b, ((uint64_t)num << 3) | (uint64_t)wire);
}

int wp_pb_put_varint(wp_buf *b, uint32_t num, uint64_t v)
{
	int rc;

	if (!v)
		return 0;
	if ((rc = tag(b, num, WP_PB_VARINT)) < 0)
		return rc;
	return wp_pb_put_raw_varint(b, v);
}

int wp_pb_put_bytes(wp_buf *b, uint32_t num, const void *data, size_t len)
{
	int rc;

	if ((rc = tag(b, num, WP_PB_LEN)) < 0 || (rc = wp_pb_put_raw_varint(b, len)) < 0)
		return rc;
	return len ? wp_buf_append(b, data, len) : 0;
}

int wp_pb_put_str(wp_buf *b, uint32_t num, const char *s)
{
	return s && *s ? wp_pb_put_bytes(b, num, s, strlen(s)) : 0;
}

int wp_pb_put_msg(wp_buf *b, uint32_t num, const wp_buf *msg)
{
	return wp_pb_put_bytes(b, num, msg->data, msg->len);
}

int wp_pb_put_timestamp(wp_buf *b, uint32_t num, const struct timespec *ts)
{
	wp_buf heap;
	int rc;

	wp_buf_init(&heap, 64);
	if ((rc = wp_pb_put_varint(&heap, 1, (uint64_t)ts->tv_sec)) == 0 &&
	    (rc = wp_pb_put_varint(&heap, 2, (uint64_t)ts->tv_nsec)) == 0)
		rc = wp_pb_put_msg(b, num, &heap);
	wp_buf_release(&heap);
	return rc;
}

int wp_pb_put_any(wp_buf *b, uint32_t num, const char *type_url, const wp_buf *value)
{
	wp_buf any;
	int rc;

	wp_buf_init(&any, WP_BUF_UNLIMITED);
	if ((rc = wp_pb_put_str(&any, 1, type_url)) == 0 && (rc = wp_pb_put_bytes(&any, 2, value->data, value->len)) == 0)
		rc = wp_pb_put_msg(b, num, &any);
	wp_buf_release(&any);
	return rc;
}
