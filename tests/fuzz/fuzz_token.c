/* libFuzzer target: a token service's answer. What is accepted must be a bearer token that
 * cannot add a header line, with a lifetime of 1 s to a day. */
#include "registry/auth.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *token = NULL;
	long long ttl = 0;
	wp_error err;

	if (wp_auth_token_parse((const char *)data, size, &token, &ttl, &err) == 0) {
		if (!token[0] || ttl < 1 || ttl > 86400)
			abort();
		for (const char *p = token; *p; p++)
			if (!isgraph((unsigned char)*p))
				abort();
		free(token);
	} else if (token) {
		abort();
	}
	return 0;
}
