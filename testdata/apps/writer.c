/* Sample app: tries to create the file named by its first argument and says whether it
 * could ("write PATH: ok" or "write PATH: refused"); exits 0 either way. */
#include <stdio.h>

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/written.txt";
	FILE *f = fopen(path, "w");

	printf("write %s: %s\n", path, f && fputs("x\n", f) >= 0 && fclose(f) == 0 ? "ok" : "refused");
	return 0;
}
