/* libFuzzer target: spin.toml semantics (the TOML parses; the app may be anything). */
#include "common/fs.h"
#include "spin/spin.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *fuzz_dir;

/* The app folder made for the run goes when the fuzzer exits. */
static void remove_fuzz_dir(void)
{
	wp_error err;

	if (fuzz_dir)
		wp_fs_rm_rf(fuzz_dir, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], manifest[96], assets[96];
	wp_spin_opts o;
	json_t *locked = NULL;
	wp_error err;
	FILE *f;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/wasmpack-fuzz-spin.XXXXXX");
		if (!mkdtemp(dir))
			abort();
		fuzz_dir = dir;
		atexit(remove_fuzz_dir);
		snprintf(manifest, sizeof(manifest), "%s/spin.toml", dir);
		snprintf(assets, sizeof(assets), "%s/out", dir);
		f = fopen(manifest, "w");
		if (f)
			fclose(f);
		snprintf(assets, sizeof(assets), "%s/app.wasm", dir);
		f = fopen(assets, "w");
		if (f) {
			fwrite("\0asm\1\0\0\0", 1, 8, f);
			fclose(f);
		}
		snprintf(assets, sizeof(assets), "%s/out", dir);
	}
	f = fopen(manifest, "w");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	o.assets_dir = assets;
	o.cache_dir = dir;
	if (wp_spin_lock(manifest, &o, &locked, &err) == 0)
		json_decref(locked);
	return 0;
}
