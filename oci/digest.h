/* SHA-256 content digests in the OCI form "sha256:<64 lowercase hex>". */
#ifndef WP_OCI_DIGEST_H
#define WP_OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define WP_DIGEST_STRLEN 71
#define WP_DIGEST_BUFSZ 72

typedef struct wp_digest_ctx {
	void *ctx;   /* EVP_MD_CTX */
} wp_digest_ctx;

int wp_digest_init(wp_digest_ctx *h, wp_error *err);
void wp_digest_update(wp_digest_ctx *h, const void *data, size_t len);
/* Writes "sha256:<hex>" into out and resets nothing: call release next. */
void wp_digest_final(wp_digest_ctx *h, char out[WP_DIGEST_BUFSZ]);
void wp_digest_release(wp_digest_ctx *h);

int wp_digest_bytes(const void *data, size_t len, char out[WP_DIGEST_BUFSZ], wp_error *err);
/* Hashes a file by streaming it; size gets its length. */
int wp_digest_file(const char *path, char out[WP_DIGEST_BUFSZ], uint64_t *size, wp_error *err);
/* "sha256:" followed by exactly 64 lowercase hex digits (the only algorithm written). */
bool wp_digest_valid(const char *s);
int wp_digest_check(const char *s, wp_error *err);
/* The hex part of a valid digest. */
const char *wp_digest_hex(const char *digest);

#endif
