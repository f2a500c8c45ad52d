/* libFuzzer target: image references; what parses must print and parse to itself. And the
 * policy's one spelling of names and rules: normalising twice gives what once did. */
#include "oci/ref.h"
#include "trust/policy.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	wp_ref r, r2;
	wp_error err;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	{
		char *n1 = wp_policy_normalize(s), *n2 = n1 ? wp_policy_normalize(n1) : NULL;

		if (n1 && (!n2 || strcmp(n1, n2)))
			abort();
		free(n1);
		free(n2);
	}
	if (wp_ref_parse(s, &r, &err) == 0) {
		char *full = wp_ref_string(&r);

		if (full && wp_ref_parse(full, &r2, &err) == 0) {
			char *again = wp_ref_string(&r2);

			if (!again || strcmp(full, again))
				abort();
			free(again);
			wp_ref_release(&r2);
		} else if (full) {
			abort();
		}
		free(full);
		wp_ref_release(&r);
	}
	free(s);
	return 0;
}
