/* libFuzzer target: manifest, index and config parsing, and re-emission of what parsed. */
#include "common/buf.h"
#include "oci/config.h"
#include "oci/manifest.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wp_manifest m;
	wp_index ix;
	wp_error err;
	wp_buf out;
	char *mt = NULL;

	wp_buf_init(&out, WP_MANIFEST_MAX);
	if (wp_manifest_parse((const char *)data, size, &m, &err) == 0) {
		wp_manifest_emit(&m, &out, &err);
		wp_manifest_release(&m);
	}
	if (wp_index_parse((const char *)data, size, &ix, &err) == 0) {
		wp_index_emit(&ix, &out, &err);
		wp_index_release(&ix);
	}
	if (wp_manifest_sniff_media_type((const char *)data, size, &mt, &err) == 0)
		free(mt);
	{
		wp_config_image ic;
		wp_config_wasm wc;

		if (wp_config_image_parse((const char *)data, size, &ic, &err) == 0) {
			wp_config_image_emit(&ic, &out, &err);
			wp_config_image_release(&ic);
		}
		if (wp_config_wasm_parse((const char *)data, size, &wc, &err) == 0) {
			wp_config_wasm_emit(&wc, &out, &err);
			wp_config_wasm_release(&wc);
		}
	}
	wp_buf_release(&out);
	return 0;
}
