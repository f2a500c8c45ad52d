/* Sample app: exits with the status given as its first argument (or $EXIT_CODE). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *code = argc > 1 ? argv[1] : getenv("EXIT_CODE");
	int status = code ? atoi(code) : 0;

	printf("exiting with %d\n", status);
	return status;
}
