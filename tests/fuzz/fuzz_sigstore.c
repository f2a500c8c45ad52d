/* libFuzzer target: a Sigstore bundle as a registry would serve it to verify (and to the
 * node's policy). Whatever the bytes, verification must end in 0 or an error, never in a
 * crash; and it may only succeed for a bundle signed by the key, which the fuzzer cannot
 * make: success is a finding. The key is made once, in a temp file. */
#include "trust/sigstore.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char key_path[] = "/tmp/wasmpack-fuzz-key.XXXXXX";

static void remove_key(void)
{
	unlink(key_path);
}

static void make_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	int fd = mkstemp(key_path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!k || !f || PEM_write_PUBKEY(f, k) != 1)
		abort();
	fclose(f);
	EVP_PKEY_free(k);
	atexit(remove_key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	wp_sigstore_verified v;
	wp_error err;

	if (!ready) {
		make_key();
		ready = 1;
	}
	if (wp_sigstore_verify((const char *)data, size, key_path,
			       "sha256:9c9ffd5f73ce028e5fac85e3c84b39490b48ed4daa258b5ca08dd58dd01d431c", NULL, &v, &err) == 0)
		abort();
	return 0;
}
