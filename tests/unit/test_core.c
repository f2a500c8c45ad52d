/* common/ and oci/ pieces: digests, safe paths, capped buffers, JSON emission order,
 * reproducible parallel gzip, wasm sniffing, manifests, blob ingest. */
#include "tap.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/config.h"
#include "oci/digest.h"
#include "oci/gzip.h"
#include "common/crc32.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/store.h"
#include "oci/wasm.h"

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
	char d[WP_DIGEST_BUFSZ];
	wp_error err;
	wp_buf b;
	wp_manifest m = { 0 };
	wp_descriptor l;
	json_t *o;

	/* digests */
	wp_digest_bytes("", 0, d, &err);
	is_str(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 of nothing");
	wp_digest_bytes("abc", 3, d, &err);
	is_str(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of abc");
	ok(wp_digest_valid(d), "a digest we made is valid");
	ok(!wp_digest_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"), "upper case hex refused");
	ok(!wp_digest_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "other algorithm refused");
	ok(!wp_digest_valid("sha256:ba7816bf"), "short digest refused");

	/* safe paths */
	wp_buf_init(&b, 4096);
	ok(wp_path_clean("/static//./a.txt", &b, &err) == 0 && !strcmp(b.data, "static/a.txt"), "clean '/static//./a.txt'");
	ok(wp_path_clean("../x", &b, &err) == WP_EINVALID && strstr(err.msg, "escapes"), "'../x' escapes");
	ok(wp_path_clean("a/../../x", &b, &err) == WP_EINVALID, "'a/../../x' escapes");
	ok(wp_path_clean("a/..", &b, &err) == WP_EINVALID, "any '..' is refused");
	ok(wp_path_clean("/", &b, &err) == WP_EINVALID, "'/' names no file");
	ok(wp_path_clean("a\nb", &b, &err) == WP_EINVALID, "control characters refused");
	ok(wp_path_join_safe("/root", "x/./y", &b, &err) == 0 && !strcmp(b.data, "/root/x/y"), "join below a root");

	/* capped buffers */
	wp_buf_release(&b);
	wp_buf_init(&b, 8);
	ok(wp_buf_append(&b, "12345678", 8) == 0, "a buffer fills to its cap");
	ok(wp_buf_append(&b, "9", 1) == WP_ETOOBIG, "and refuses to grow past it");
	wp_buf_release(&b);

	/* JSON */
	ok(wp_json_parse("{\"a\":1,\"a\":2}", 13, 100, &o, &err) == WP_EINVALID, "duplicate JSON keys refused");
	ok(wp_json_parse("{\"a\":1}", 7, 3, &o, &err) == WP_ETOOBIG, "JSON over its cap refused");

	/* manifests: exact bytes, field order of the image-spec types, annotations sorted */
	wp_descriptor_init(&m.config, WP_MT_OCI_CONFIG, d, 3);
	wp_descriptor_init(&l, WP_MT_OCI_LAYER_GZIP, d, 10);
	wp_kvlist_set(&l.annotations, "z", "1");
	wp_kvlist_set(&l.annotations, "a", "2");
	wp_manifest_add_layer(&m, &l);
	wp_kvlist_set(&m.annotations, "org.opencontainers.image.title", "t");
	wp_buf_init(&b, WP_MANIFEST_MAX);
	wp_manifest_emit(&m, &b, &err);
	{
		char want[1024];

		snprintf(want, sizeof(want),
			 "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":"
			 "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":3},"
			 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"%s\","
			 "\"size\":10,\"annotations\":{\"a\":\"2\",\"z\":\"1\"}}],"
			 "\"annotations\":{\"org.opencontainers.image.title\":\"t\"}}", d, d);
		is_str(b.data, want, "manifest bytes are canonical");
	}
	{
		wp_manifest back;
		const char *extra = "{\"schemaVersion\":2,\"future\":{\"x\":1},\"config\":{\"mediaType\":\"x\",\"digest\":"
				    "\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0,\"new\":1},\"layers\":[]}";

		ok(wp_manifest_parse(extra, strlen(extra), &back, &err) == 0, "unknown fields are tolerated on read");
		wp_manifest_release(&back);
		ok(wp_manifest_parse("{\"schemaVersion\":1}", 19, &back, &err) == WP_EINVALID, "schemaVersion 1 refused");
	}
	wp_manifest_release(&m);
	wp_buf_release(&b);

	/* configs: emitted in a fixed order, read back whole, unknown fields tolerated */
	{
		wp_image_config c = { 0 }, back;
		wp_wasm_config w = { 0 }, wback;
		const char *want = "{\"created\":\"2024-01-02T03:04:05Z\",\"architecture\":\"wasm\",\"os\":\"wasip1\","
				   "\"config\":{\"Env\":[\"A=1\"],\"Entrypoint\":[\"/app.wasm\"],\"Cmd\":[\"x\"]},"
				   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}";
		char wantbuf[512];

		c.created = strdup("2024-01-02T03:04:05Z");
		c.architecture = strdup("wasm");
		c.os = strdup("wasip1");
		wp_strv_push(&c.env, "A=1");
		wp_strv_push(&c.entrypoint, "/app.wasm");
		wp_strv_push(&c.cmd, "x");
		wp_strv_push(&c.diff_ids, d);
		wp_buf_init(&b, WP_MANIFEST_MAX);
		wp_image_config_emit(&c, &b, &err);
		snprintf(wantbuf, sizeof(wantbuf), want, d);
		is_str(b.data, wantbuf, "image config bytes are canonical");
		ok(wp_image_config_parse(b.data, b.len, &back, &err) == 0 && back.entrypoint.len == 1 &&
		   !strcmp(back.env.items[0], "A=1") && !strcmp(back.diff_ids.items[0], d), "image config reads back");
		wp_image_config_release(&back);
		ok(wp_image_config_parse("{\"rootfs\":{\"diff_ids\":[\"nope\"]}}", 33, &back, &err) == WP_EINVALID,
		   "a bad diff_id is refused");
		w.architecture = strdup("wasm");
		w.os = strdup("wasip2");
		w.component = true;
		wp_strv_push(&w.layer_digests, d);
		wp_strv_push(&w.exports, "wasi:cli/run@0.2.0");
		wp_buf_reset(&b);
		wp_wasm_config_emit(&w, &b, &err);
		ok(wp_wasm_config_parse(b.data, b.len, &wback, &err) == 0 && wback.component && wback.exports.len == 1 &&
		   wback.imports.len == 0 && !strcmp(wback.os, "wasip2"), "wasm config reads back");
		ok(strstr(b.data, "\"layerDigests\":[") && strstr(b.data, "\"component\":{\"exports\":[\"wasi:cli/run@0.2.0\"],\"imports\":[]}"),
		   "wasm config has layerDigests and component");
		wp_wasm_config_release(&wback);
		wp_wasm_config_release(&w);
		wp_image_config_release(&c);
		wp_buf_release(&b);
	}

	/* wasm sniffing */
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm\1\0\0\0", 8), WP_WASM_MODULE, "core module preamble");
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm\x0d\0\1\0", 8), WP_WASM_COMPONENT, "component preamble");
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm\2\0\0\0", 8), WP_WASM_NONE, "unknown version");
	is_int(wp_wasm_kind_of((const unsigned char *)"\x7f" "ELF\1\0\0\0", 8), WP_WASM_NONE, "not wasm");
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm", 4), WP_WASM_NONE, "too short");

	/* CRC-32: the folded form against zlib's, at every alignment and many lengths */
	{
		size_t n = (1u << 20) + 64;
		unsigned char *bytes = malloc(n);
		int bad = 0;

		for (size_t i = 0; i < n; i++)
			bytes[i] = (unsigned char)(rand() >> 7);
		for (int t = 0; t < 3000; t++) {
			size_t off = (size_t)t % 64, len = t < 2000 ? (size_t)t : (size_t)rand() % (n - 64);
			uint32_t c = (uint32_t)rand() * 2654435761u;

			bad += wp_crc32(c, bytes + off, len) != (uint32_t)crc32_z(c, bytes + off, len);
		}
		is_int(bad, 0, "wp_crc32 equals zlib's crc32 at 3000 lengths and alignments");
		free(bytes);
	}

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

	/* blob ingest: a digest mismatch leaves no blob */
	{
		char tmpl[] = "/tmp/wasmpack-unit.XXXXXX";
		wp_store s;
		wp_blob_writer *w;
		char got[WP_DIGEST_BUFSZ];
		int64_t size;

		ok(mkdtemp(tmpl) && wp_store_open(&s, tmpl, WP_STORE_SHARED, &err) == 0, "open a store");
		wp_blob_writer_new(&s, &w, &err);
		wp_blob_writer_write(w, "abc", 3, &err);
		ok(wp_blob_writer_commit(w, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", got, &size, &err) == WP_EDIGEST,
		   "commit with the wrong digest fails with WP_EDIGEST");
		ok(!wp_store_has_blob(&s, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", NULL), "and stores nothing");
		wp_blob_writer_new(&s, &w, &err);
		for (int i = 0; i < 3000; i++)
			wp_blob_writer_write(w, "abcdefghij", 10, &err);
		ok(wp_blob_writer_commit(w, NULL, got, &size, &err) == 0 && size == 30000, "a 30000-byte blob streams in");
		ok(wp_store_has_blob(&s, got, NULL), "and is stored under its digest");
		wp_buf_init(&b, 100000);
		ok(wp_store_read_blob(&s, got, 100000, &b, &err) == 0 && b.len == 30000, "and reads back verified");
		wp_buf_release(&b);
		wp_store_close(&s);
		wp_fs_rm_rf(tmpl, &err);
	}
	return done_testing();
}
