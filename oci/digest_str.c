/* Digest strings: checked without OpenSSL, so the front binary (cli/front) can parse
 * references without loading it. */
#include "oci/digest.h"

#include <string.h>

bool wp_digest_valid(const char *s)
{
	if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != WP_DIGEST_STRLEN)
		return false;
	for (s += 7; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int wp_digest_check(const char *s, wp_error *err)
{
	if (!wp_digest_valid(s))
		return wp_error_set(err, WP_EINVALID,
				    "invalid digest '%s': want sha256: and 64 lowercase hex digits", s ? s : "");
	return 0;
}

const char *wp_digest_hex(const char *digest)
{
	return digest + 7;
}
