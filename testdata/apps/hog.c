/* Sample app: allocates and touches memory, 1 MiB at a time, up to the MiB given as its
 * first argument (default and at most 4000), printing how far it got: a task that meets its memory
 * limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kept, so the compiler cannot drop the allocations as unused. */
static char *volatile kept[4096];

int main(int argc, char **argv)
{
	int mib = argc > 1 ? atoi(argv[1]) : 4000;

	if (mib > 4000)
		mib = 4000;
	for (int i = 1; i <= mib; i++) {
		char *p = malloc(1 << 20);

		if (!p) {
			printf("hog: out of memory after %d MiB\n", i - 1);
			return 2;
		}
		memset(p, i, 1 << 20);
		kept[i] = p;
		if (i % 64 == 0) {
			printf("hog: %d MiB\n", i);
			fflush(stdout);
		}
	}
	printf("hog: done\n");
	return 0;
}
