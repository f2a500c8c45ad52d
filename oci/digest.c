#include "oci/digest.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wp_digest_init(wp_digest_ctx *h, wp_error *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->ctx = NULL;
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return wp_error_set(err, WP_ENOMEM, "starting a SHA-256 digest failed");
	}
	h->ctx = ctx;
	return 0;
}

void wp_digest_update(wp_digest_ctx *h, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(h->ctx, data, len);
}

void wp_digest_final(wp_digest_ctx *h, char out[WP_DIGEST_BUFSZ])
{
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);

	EVP_DigestFinal_ex(h->ctx, md, &mdlen);
	memcpy(out, "sha256:", 7);
	wp_util_hex_encode(md, 32, out + 7);
}

void wp_digest_release(wp_digest_ctx *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int wp_digest_bytes(const void *data, size_t len, char out[WP_DIGEST_BUFSZ], wp_error *err)
{
	wp_digest_ctx h;
	int rc = wp_digest_init(&h, err);

	if (rc < 0)
		return rc;
	wp_digest_update(&h, data, len);
	wp_digest_final(&h, out);
	wp_digest_release(&h);
	return 0;
}

int wp_digest_file(const char *path, char out[WP_DIGEST_BUFSZ], uint64_t *size, wp_error *err)
{
	enum { CHUNK = 1 << 20 };
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ unsigned char *buf = NULL;
	uint64_t total = 0;
	wp_digest_ctx h;
	int rc;

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening '%s'", path);
	buf = wp_xmalloc(CHUNK);
	rc = wp_digest_init(&h, err);
	if (rc < 0)
		return rc;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			wp_digest_release(&h);
			return wp_error_sys(err, WP_EIO, "reading '%s'", path);
		}
		if (n == 0)
			break;
		wp_digest_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	wp_digest_final(&h, out);
	wp_digest_release(&h);
	if (size)
		*size = total;
	return 0;
}
