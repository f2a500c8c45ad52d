/* libFuzzer target: the TOML parser on arbitrary bytes. */
#include "common/toml.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wp_toml *doc = NULL;
	wp_error err;

	if (wp_toml_parse((const char *)data, size, &doc, &err) == 0) {
		wp_toml_get_str(doc, "spin_manifest_version");
		wp_toml_free(doc);
	}
	return 0;
}
