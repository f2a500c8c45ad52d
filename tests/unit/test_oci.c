/* oci/: digests, manifests and configs byte for byte (field order of the image-spec
 * types, annotations sorted), reading back with unknown fields, wasm sniffing. */
#include "tap.h"
#include "oci/index.h"
#include "common/buf.h"
#include "common/util.h"
#include "oci/config.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/wasm.h"

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	char d[WP_DIGEST_BUFSZ];
	wp_error err;
	wp_buf b;
	wp_manifest m = { 0 };
	wp_descriptor l;

	/* digests */
	wp_digest_bytes("", 0, d, &err);
	is_str(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 of nothing");
	wp_digest_bytes("abc", 3, d, &err);
	is_str(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256 of abc");
	ok(wp_digest_valid(d), "a digest we made is valid");
	ok(!wp_digest_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"), "upper case hex refused");
	ok(!wp_digest_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "other algorithm refused");
	ok(!wp_digest_valid("sha256:ba7816bf"), "short digest refused");

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
		wp_config_image c = { 0 }, back;
		wp_config_wasm w = { 0 }, wback;
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
		wp_config_image_emit(&c, &b, &err);
		snprintf(wantbuf, sizeof(wantbuf), want, d);
		is_str(b.data, wantbuf, "image config bytes are canonical");
		ok(wp_config_image_parse(b.data, b.len, &back, &err) == 0 && back.entrypoint.len == 1 &&
		   !strcmp(back.env.items[0], "A=1") && !strcmp(back.diff_ids.items[0], d), "image config reads back");
		wp_config_image_release(&back);
		ok(wp_config_image_parse("{\"rootfs\":{\"diff_ids\":[\"nope\"]}}", 33, &back, &err) == WP_EINVALID,
		   "a bad diff_id is refused");
		w.architecture = strdup("wasm");
		w.os = strdup("wasip2");
		w.component = true;
		wp_strv_push(&w.layer_digests, d);
		wp_strv_push(&w.exports, "wasi:cli/run@0.2.0");
		wp_buf_reset(&b);
		wp_config_wasm_emit(&w, &b, &err);
		ok(wp_config_wasm_parse(b.data, b.len, &wback, &err) == 0 && wback.component && wback.exports.len == 1 &&
		   wback.imports.len == 0 && !strcmp(wback.os, "wasip2"), "wasm config reads back");
		ok(strstr(b.data, "\"layerDigests\":[") && strstr(b.data, "\"component\":{\"exports\":[\"wasi:cli/run@0.2.0\"],\"imports\":[]}"),
		   "wasm config has layerDigests and component");
		wp_config_wasm_release(&wback);
		wp_config_wasm_release(&w);
		wp_config_image_release(&c);
		wp_buf_release(&b);
	}

	/* wasm sniffing */
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm\1\0\0\0", 8), WP_WASM_MODULE, "core module preamble");
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm\x0d\0\1\0", 8), WP_WASM_COMPONENT, "component preamble");
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm\2\0\0\0", 8), WP_WASM_NONE, "unknown version");
	is_int(wp_wasm_kind_of((const unsigned char *)"\x7f" "ELF\1\0\0\0", 8), WP_WASM_NONE, "not wasm");
	is_int(wp_wasm_kind_of((const unsigned char *)"\0asm", 4), WP_WASM_NONE, "too short");

	/* finding an image in the store's index by the ids people type: digests made to share
	 * their first hex digits, which real ones rarely do */
	{
		static const char *const digests[] = {
			"sha256:abcd111111111111111111111111111111111111111111111111111111111111",
			"sha256:abcd222222222222222222222222222222222222222222222222222222222222",
			"sha256:abcd111111111111111111111111111111111111111111111111111111111111",
		};
		static const char *const names[] = { "docker.io/library/app:v1", "docker.io/library/app:v2",
						     "docker.io/library/again:v1" };
		wp_index ix = { 0 };
		char dg[WP_DIGEST_BUFSZ];
		size_t pos = 99;

		ix.manifests = wp_xcalloc(3, sizeof(*ix.manifests));
		ix.n_manifests = 3;
		for (size_t i = 0; i < 3; i++) {
			wp_descriptor_init(&ix.manifests[i], WP_MT_OCI_MANIFEST, digests[i], 100);
			wp_kvlist_set(&ix.manifests[i].annotations, WP_ANN_REF_NAME, names[i]);
		}
		is_int(wp_index_find(&ix, "abcd", &pos, dg, &err), WP_EUSAGE, "4 digits that fit two images: a usage error");
		ok(strstr(err.msg, "'abcd' matches 2 images") != NULL, "naming how many (one image tagged twice is one)");
		ok(strstr(err.msg, "app:v1") && strstr(err.msg, "app:v2"), "and listing them");
		is_int(wp_index_find(&ix, "abcd2", &pos, dg, &err), 0, "5 digits that fit one: found");
		is_int(pos, 1, "that one");
		is_int(wp_index_find(&ix, "sha256:abcd1", &pos, dg, &err), 0, "sha256: and digits: found");
		is_int(pos, 0, "the first entry of an image tagged twice");
		is_int(wp_index_find(&ix, "sha256:abc", &pos, dg, &err), WP_EUSAGE, "sha256: with 3 digits: a usage error");
		ok(strstr(err.msg, "at least 4 hex digits") != NULL, "saying how many it takes");
		is_int(wp_index_find(&ix, "again:v1", &pos, dg, &err), 0, "a name: found");
		is_int(pos, 2, "its entry");
		is_int(wp_index_find(&ix, "beef", &pos, dg, &err), WP_ENOTFOUND, "bare hex that fits nothing: tried as a name");
		wp_index_release(&ix);
	}

	return done_testing();
}
