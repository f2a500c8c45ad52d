/* libFuzzer target: `load` of an OCI archive (tar entries, index.json, blob names). */
#include "common/fs.h"
#include "oci/archive.h"
#include "oci/store.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char fuzz_dir[64];

/* The store made for the run goes when the fuzzer exits. */
static void remove_fuzz_dir(void)
{
	wp_error err;

	wp_fs_rm_rf(fuzz_dir, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static wp_store store;
	static int ready;
	char path[64];
	wp_strv names = { 0 };
	wp_error err;
	int fd;

	if (!ready) {
		strcpy(fuzz_dir, "/tmp/wasmpack-fuzz.XXXXXX");
		if (!mkdtemp(fuzz_dir) || wp_store_open(&store, fuzz_dir, WP_STORE_SHARED, &err) < 0)
			abort();
		atexit(remove_fuzz_dir);
		ready = 1;
	}
	fd = memfd_create("archive", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	wp_archive_load(&store, path, &names, &err);
	wp_strv_release(&names);
	close(fd);
	return 0;
}
