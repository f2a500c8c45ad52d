/* libFuzzer target: WWW-Authenticate challenges. */
#include "registry/auth.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	wp_auth_challenge c;
	wp_error err;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (wp_auth_challenge_parse(s, &c, &err) == 0)
		wp_auth_challenge_release(&c);
	free(s);
	return 0;
}
