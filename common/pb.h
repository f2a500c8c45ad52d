/* Protocol buffers wire format, by hand, for the few messages the shim speaks (ttrpc
 * frames, containerd's task and event messages, its gRPC API). Decoding never trusts a
 * length: every field is checked against the end of its buffer. */
#ifndef WP_COMMON_PB_H
#define WP_COMMON_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"

enum { WP_PB_VARINT = 0, WP_PB_I64 = 1, WP_PB_LEN = 2, WP_PB_I32 = 5 };

typedef struct wp_pb_reader {
	const uint8_t *p, *end;
} wp_pb_reader;

typedef struct wp_pb_field {
	uint32_t num;
	int wire;
	uint64_t v;          /* VARINT, I64, I32 */
	const uint8_t *data; /* LEN */
	size_t len;
} wp_pb_field;

void wp_pb_reader_init(wp_pb_reader *r, const void *data, size_t len);
/* 1 with the next field in f, 0 at the end, -1 on malformed input. */
int wp_pb_next(wp_pb_reader *r, wp_pb_field *f);
/* A LEN field's bytes as a new NUL-terminated string (malloc'ed: the caller frees it);
 * NULL when it holds a NUL byte. */
char *wp_pb_strdup(const wp_pb_field *f);

/* Writers append one field to b; empty strings and zero numbers are left out, as proto3
 * leaves out defaults. 0 or WP_ENOMEM / WP_ETOOBIG. */
int wp_pb_put_varint(wp_buf *b, uint32_t num, uint64_t v);
int wp_pb_put_bytes(wp_buf *b, uint32_t num, const void *data, size_t len);
int wp_pb_put_str(wp_buf *b, uint32_t num, const char *s);
int wp_pb_put_msg(wp_buf *b, uint32_t num, const wp_buf *msg);
/* google.protobuf.Timestamp {seconds = 1, nanos = 2}, always written (even at zero). */
int wp_pb_put_timestamp(wp_buf *b, uint32_t num, const struct timespec *ts);
/* google.protobuf.Any {type_url = 1, value = 2}. */
int wp_pb_put_any(wp_buf *b, uint32_t num, const char *type_url, const wp_buf *value);
/* A raw varint (no tag). */
int wp_pb_put_raw_varint(wp_buf *b, uint64_t v);

#endif
