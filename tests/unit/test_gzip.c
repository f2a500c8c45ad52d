/* oci/gzip.c: reproducible parallel gzip, byte for byte against zlib where it must be,
 * the same bytes whatever the threads or the way contents are handed in. */
#include "tap.h"
#include "common/buf.h"
#include "common/util.h"
#include "oci/gzip.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

static int sink(void *ctx, const void *data, size_t len, wp_error *err)
{
	(void)err;
	return wp_buf_append(ctx, data, len);
}

static void gzip_case(size_t n, int level)
{
	unsigned char *in = malloc(n + 1), *back = malloc(n + 1);
	wp_buf a, b;
	wp_gzip *g;
	wp_error err;
	z_stream zs;
	int rc;

	for (size_t i = 0; i < n; i++)
		in[i] = (unsigned char)((i * 7 + i / 1000) % 251 < 128 ? (size_t)'a' + i % 7 : (size_t)rand());
	wp_buf_init(&a, WP_BUF_UNLIMITED);
	wp_buf_init(&b, WP_BUF_UNLIMITED);
	wp_gzip_new(&g, level, 0, sink, &a, &err);
	wp_gzip_write(g, in, n, &err);
	wp_gzip_finish(g, &err);
	wp_gzip_free(g);
	wp_gzip_new(&g, level, 2, sink, &b, &err);
	for (size_t off = 0; off < n; off += 70001)
		wp_gzip_write(g, in + off, n - off < 70001 ? n - off : 70001, &err);
	wp_gzip_finish(g, &err);
	wp_gzip_free(g);
	ok(a.len == b.len && !memcmp(a.data, b.data, a.len), "gzip of %zu bytes: same bytes with 0 and 2 threads", n);
	memset(&zs, 0, sizeof(zs));
	inflateInit2(&zs, 16 + 15);
	zs.next_in = (unsigned char *)b.data;
	zs.avail_in = (uInt)b.len;
	zs.next_out = back;
	zs.avail_out = (uInt)n + 1;
	rc = inflate(&zs, Z_FINISH);
	ok(rc == Z_STREAM_END && zs.total_out == n && !memcmp(in, back, n), "gzip of %zu bytes inflates back (CRC and size check)", n);
	inflateEnd(&zs);
	wp_buf_release(&a);
	wp_buf_release(&b);
	free(in);
	free(back);
}

/* A tar-like stream with hints: framing (a header-like block, zero padding) around file
 * contents that are random or text. Random contents are stored as they are (found verbatim
 * in the output), framing and text are compressed, and the output is the same whatever the
 * threads or the sizes of the writes. */
static void gzip_hint_case(int files)
{
	size_t cap = (size_t)files * (600u << 10), n = 0, random_bytes = 0, other = 0;
	unsigned char *in = malloc(cap), *back = malloc(cap);
	size_t *cuts = calloc((size_t)files * 3 + 2, sizeof(size_t)), ncuts = 0;
	uint64_t st = 0x243f6a8885a308d3ull;
	wp_buf out[4];
	wp_error err;
	z_stream zs;
	bool verbatim = true;
	int rc;

	for (int f = 0; f < files; f++) {
		size_t len = (size_t)(100 + (f * 7919) % (f % 3 ? 300000 : 9000));

		memset(in + n, 0, 512);
		snprintf((char *)in + n, 512, "static/file-%d.bin\n0000644\n%zu\nustar", f, len);
		n += 512;
		cuts[ncuts++] = n;
		for (size_t i = 0; i < len; i++) {
			st ^= st << 13;
			st ^= st >> 7;
			st ^= st << 17;
			in[n + i] = f % 2 ? (unsigned char)st : (unsigned char)"lorem ipsum dolor sit amet, consectetur "[(i + (st % 64 == 0)) % 40];
		}
		if (f % 2)
			random_bytes += len;
		else
			other += len;
		n += len;
		cuts[ncuts++] = n;
		memset(in + n, 0, (512 - len % 512) % 512);
		n += (512 - len % 512) % 512;
		other += 512 + (512 - len % 512) % 512;
	}
	/* 0: inline, 1: two threads, 2: writes of 7,001 bytes, 3: contents through reserve/commit */
	for (int v = 0; v < 4; v++) {
		wp_gzip *g;
		size_t off = 0, step = v == 2 ? 7001 : n;

		wp_buf_init(&out[v], WP_BUF_UNLIMITED);
		wp_gzip_new(&g, 4, v ? 2 : 0, sink, &out[v], &err);
		/* framing until cuts[0], content until cuts[1], ... */
		for (size_t c = 0; c <= ncuts; c++) {
			size_t end = c < ncuts ? cuts[c] : n;

			wp_gzip_hint(g, c % 2 ? WP_GZIP_CONTENT : WP_GZIP_FRAMING);
			for (off = off; off < end;) {
				size_t k = end - off < step ? end - off : step, room;
				unsigned char *dst;

				if (v == 3 && c % 2 && (dst = wp_gzip_reserve(g, &room, &err))) {
					k = k < room ? k : room;
					memcpy(dst, in + off, k);
					wp_gzip_commit(g, k, &err);
				} else {
					wp_gzip_write(g, in + off, k, &err);
				}
				off += k;
			}
		}
		wp_gzip_finish(g, &err);
		wp_gzip_free(g);
	}
	ok(out[0].len == out[1].len && !memcmp(out[0].data, out[1].data, out[0].len) && out[1].len == out[2].len &&
	   !memcmp(out[1].data, out[2].data, out[1].len) && out[1].len == out[3].len &&
	   !memcmp(out[1].data, out[3].data, out[1].len),
	   "hinted gzip of %d entries: same bytes with 0 and 2 threads, any write sizes, or reserve/commit", files);
	memset(&zs, 0, sizeof(zs));
	inflateInit2(&zs, 16 + 15);
	zs.next_in = (unsigned char *)out[1].data;
	zs.avail_in = (uInt)out[1].len;
	zs.next_out = back;
	zs.avail_out = (uInt)cap;
	rc = inflate(&zs, Z_FINISH);
	ok(rc == Z_STREAM_END && zs.total_out == n && !memcmp(in, back, n), "hinted gzip of %zu bytes inflates back", n);
	inflateEnd(&zs);
	ok(out[1].len > random_bytes && out[1].len < random_bytes + random_bytes / 100 + other / 4,
	   "random contents cost their size, framing and text shrink (%zu bytes for %zu random and %zu other)",
	   out[1].len, random_bytes, other);
	/* a long random run lies in the output byte for byte (stored, not deflated), apart
	 * from the block framing at each 128 KiB chunk */
	for (size_t c = 0; c + 1 < ncuts; c += 2) {
		size_t len = cuts[c + 1] - cuts[c], at = cuts[c] + 4096;

		if (at / (128u << 10) != (at + 4095) / (128u << 10))
			at = (at / (128u << 10) + 1) * (128u << 10);
		if ((c / 2) % 2 && len >= 16384 && at + 4096 <= cuts[c + 1] && !memmem(out[1].data, out[1].len, in + at, 4096)) {
			printf("# entry %zu: %zu random bytes at %zu not stored\n", c / 2, len, cuts[c]);
			verbatim = false;
		}
	}
	ok(verbatim, "random file contents are stored verbatim");
	for (int v = 0; v < 4; v++)
		wp_buf_release(&out[v]);
	free(cuts);
	free(in);
	free(back);
}

/* Incompressible data goes out as stored blocks framed by wasmpack itself: the bytes must
 * be exactly zlib's at level 0 (Z_SYNC_FLUSH per 128 KiB chunk, Z_FINISH for the last), or
 * digests of existing images would change. */
static void gzip_stored_case(size_t n)
{
	const size_t chunk = 128u << 10;
	unsigned char *in = malloc(n + 1), *out = malloc(n + 65536);
	uint64_t st = 0x9e3779b97f4a7c15ull ^ n;
	wp_buf got, want;
	wp_gzip *g;
	wp_error err;
	uLong crc = crc32(0L, Z_NULL, 0);
	static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

	for (size_t i = 0; i < n; i++) {
		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		in[i] = (unsigned char)st;
	}
	wp_buf_init(&got, WP_BUF_UNLIMITED);
	wp_buf_init(&want, WP_BUF_UNLIMITED);
	wp_gzip_new(&g, 4, 2, sink, &got, &err);
	wp_gzip_write(g, in, n, &err);
	wp_gzip_finish(g, &err);
	wp_gzip_free(g);
	int appended = wp_buf_append(&want, hdr, sizeof(hdr));
	for (size_t off = 0;; off += chunk) {
		size_t len = n - off < chunk ? n - off : chunk;
		bool last = off + len == n && len < chunk;
		z_stream zs;

		memset(&zs, 0, sizeof(zs));
		/* a random chunk is stored (level 0); the empty last one is what level 4 makes */
		deflateInit2(&zs, len ? 0 : 4, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
		zs.next_in = in + off;
		zs.avail_in = (uInt)len;
		zs.next_out = out;
		zs.avail_out = (uInt)(len + 65536);
		deflate(&zs, last ? Z_FINISH : Z_SYNC_FLUSH);
		appended |= wp_buf_append(&want, out, len + 65536 - zs.avail_out);
		deflateEnd(&zs);
		crc = crc32(crc, in + off, (uInt)len);
		if (last)
			break;
	}
	for (int i = 0; i < 4; i++)
		out[i] = (unsigned char)(crc >> (8 * i)), out[4 + i] = (unsigned char)((uint64_t)n >> (8 * i));
	appended |= wp_buf_append(&want, out, 8);
	ok(appended == 0 && got.len == want.len && !memcmp(got.data, want.data, got.len),
	   "gzip of %zu random bytes: stored blocks byte for byte as zlib's level 0 (%zu and %zu bytes)", n, got.len, want.len);
	wp_buf_release(&got);
	wp_buf_release(&want);
	free(in);
	free(out);
}

int main(void)
{
	/* gzip */
	gzip_case(0, 6);
	gzip_stored_case(3 * (128u << 10) + 20000);
	gzip_stored_case(2 * 65535);
	gzip_stored_case(128u << 10);
	gzip_stored_case(65536 + 16384);
	gzip_case(1000, 6);
	gzip_case(128 << 10, 6);
	gzip_case((3u << 20) + 12345, 1);
	gzip_hint_case(60);

	return done_testing();
}
