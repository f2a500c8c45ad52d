/* SHA-256 (FIPS 180-4) for the small programs that must not load OpenSSL (the containerd
 * shim names its socket with it). Content digests of blobs use OpenSSL (oci/digest.h). */
#ifndef WP_COMMON_SHA256_H
#define WP_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

void wp_sha256_small(const void *data, size_t len, uint8_t out[32]);

#endif
