/* libFuzzer target: reading a component's import and export names, and the functions its
 * imported instances declare (their types walked). */
#include "oci/wasm.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char head[8] = { 0, 'a', 's', 'm', 0x0d, 0, 1, 0 };
	unsigned char buf[65536];
	wp_wasm_names names;
	wp_wasm_import_funcs funcs;
	wp_error err;

	if (size > sizeof(buf) - 8)
		return 0;
	memcpy(buf, head, 8);
	memcpy(buf + 8, data, size);
	if (wp_wasm_component_names(buf, size + 8, &names, &err) == 0)
		wp_wasm_names_release(&names);
	if (wp_wasm_component_import_funcs(buf, size + 8, &funcs, &err) == 0)
		wp_wasm_import_funcs_release(&funcs);
	return 0;
}
