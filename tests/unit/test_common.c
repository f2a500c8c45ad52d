/* common/: safe paths, capped buffers, JSON limits, CRC-32 against zlib. */
#include "tap.h"
#include "common/buf.h"
#include "common/path.h"
#include "common/crc32.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/str.h"
#include "common/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

int main(void)
{
	wp_error err;
	wp_buf b;
	json_t *o;

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

	/* the nearest candidates, nearest first, within the distance asked */
	{
		const char *tags[] = { "v2", "latest", NULL, "v1", "v10", "v1.0.0" }, *out[4];
		size_t n = wp_str_nearest("v11", tags, 6, 3, out, 4);

		ok(n == 3 && !strcmp(out[0], "v1") && !strcmp(out[1], "v10") && !strcmp(out[2], "v2"),
		   "wp_str_nearest: v11's nearest are v1 and v10 (1 edit), then v2 (2); v1.0.0 (4) and latest are too far");
		is_int(wp_str_nearest("v11", tags, 6, 3, out, 2), 2, "at most the number asked for");
		is_int(wp_str_nearest("zzzzzzzz", tags, 6, 3, out, 4), 0, "none for a word nothing is near");
	}
	return done_testing();
}
