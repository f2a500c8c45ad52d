/* The toolchain app (C, clang + wasi-libc), as the Rust one does the same: what a real app
 * does with WASI, one line each, for tests/integration/toolchains.sh. The last argument,
 * when a number, is the exit code. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	char line[256] = "none", *names[64];
	const char *env = getenv("TOOLCHAIN_ENV");
	unsigned char rnd[16] = { 0 };
	int n = 0, code = 0, any = 0;
	FILE *f;
	DIR *d;
	struct dirent *de;

	printf("argv0=%s\n", argv[0]);
	printf("args=");
	for (int i = 1; i < argc; i++)
		printf("%s%s", i > 1 ? "," : "", argv[i]);
	printf("\nenv=%s\n", env ? env : "unset");
	if ((f = fopen("/static/greeting.txt", "r"))) {
		if (fgets(line, sizeof(line), f))
			line[strcspn(line, "\n")] = '\0';
		fclose(f);
	}
	printf("static=%s\n", line);
	if ((d = opendir("fs-tests.dir"))) {
		while ((de = readdir(d)) && n < 64)
			if (de->d_name[0] != '.')
				names[n++] = strdup(de->d_name);
		closedir(d);
		qsort(names, (size_t)n, sizeof(*names), cmp);
		printf("list=");
		for (int i = 0; i < n; i++)
			printf("%s%s", i ? "," : "", names[i]);
		printf("\n");
	} else {
		printf("list=none\n");
	}
	if ((f = fopen("fs-tests.dir/tmp-c", "w")) && fputs("temp", f) >= 0 && fclose(f) == 0 &&
	    (f = fopen("fs-tests.dir/tmp-c", "r")) && fgets(line, sizeof(line), f) && !strcmp(line, "temp")) {
		fclose(f);
		printf("temp=%s\n", unlink("fs-tests.dir/tmp-c") == 0 ? "ok" : "kept");
	} else {
		printf("temp=refused\n");
	}
	printf("clock=%s\n", time(NULL) > 1600000000 ? "ok" : "wrong");
	if (getentropy(rnd, sizeof(rnd)) == 0)
		for (size_t i = 0; i < sizeof(rnd); i++)
			any |= rnd[i];
	printf("random=%s\n", any ? "ok" : "none");
	if (argc > 1 && argv[argc - 1][0] >= '0' && argv[argc - 1][0] <= '9')
		code = atoi(argv[argc - 1]);
	return code;
}
