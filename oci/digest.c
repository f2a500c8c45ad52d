#include "oci/digest.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wp_sha256_init(wp_sha256 *h, wp_error *err)
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

void wp_sha256_update(wp_sha256 *h, const void *data, size_t len)
{
	if (len)
		EVP_DigestUpdate(h->ctx, data, len);
}

void wp_sha256_final(wp_sha256 *h, char out[WP_DIGEST_BUFSZ])
{
	unsigned char md[32];
	unsigned int mdlen = sizeof(md);

	EVP_DigestFinal_ex(h->ctx, md, &mdlen);
	memcpy(out, "sha256:", 7);
	wp_hex_encode(md, 32, out + 7);
}

void wp_sha256_release(wp_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int wp_digest_bytes(const void *data, size_t len, char out[WP_DIGEST_BUFSZ], wp_error *err)
{
	wp_sha256 h;
	int rc = wp_sha256_init(&h, err);

	if (rc < 0)
		return rc;
	wp_sha256_update(&h, data, len);
	wp_sha256_final(&h, out);
	wp_sha256_release(&h);
	return 0;
}

int wp_digest_file(const char *path, char out[WP_DIGEST_BUFSZ], uint64_t *size, wp_error *err)
{
	enum { CHUNK = 1 << 20 };
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ unsigned char *buf = NULL;
	uint64_t total = 0;
	wp_sha256 h;
	int rc;

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "opening '%s'", path);
	buf = wp_xmalloc(CHUNK);
	rc = wp_sha256_init(&h, err);
	if (rc < 0)
		return rc;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			wp_sha256_release(&h);
			return wp_error_sys(err, WP_EIO, "reading '%s'", path);
		}
		if (n == 0)
			break;
		wp_sha256_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	wp_sha256_final(&h, out);
	wp_sha256_release(&h);
	if (size)
		*size = total;
	return 0;
}
