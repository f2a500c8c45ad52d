/* Sample app for the hostile-image tests: does what each argument says and reports it.
 *   r:PATH   read PATH: "read PATH: <first line>" or "read PATH: refused"
 *   w:PATH   create PATH: "write PATH: ok" or "write PATH: refused"
 *   l:PATH   list the folder PATH: "list PATH: name name ..." or "list PATH: refused"
 *   s:N      say "prober waiting", then sleep N seconds (for a look at the engine)
 *   i        read a line of stdin: "stdin: <line>" or "stdin: none"
 *   e:TEXT   write TEXT and a newline to stderr
 * Exits 0. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void probe_read(const char *path)
{
	char line[256] = "";
	FILE *f = fopen(path, "r");

	if (!f || !fgets(line, sizeof(line), f)) {
		printf("read %s: refused\n", path);
	} else {
		line[strcspn(line, "\n")] = '\0';
		printf("read %s: %s\n", path, line);
	}
	if (f)
		fclose(f);
}

static void probe_write(const char *path)
{
	FILE *f = fopen(path, "w");

	printf("write %s: %s\n", path, f && fputs("pwned\n", f) >= 0 && fclose(f) == 0 ? "ok" : "refused");
}

static void probe_stdin(void)
{
	char line[256];

	if (!fgets(line, sizeof(line), stdin)) {
		printf("stdin: none\n");
		return;
	}
	line[strcspn(line, "\n")] = '\0';
	printf("stdin: %s\n", line);
}

static void probe_list(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		printf("list %s: refused\n", path);
		return;
	}
	printf("list %s:", path);
	while ((de = readdir(d)))
		printf(" %s", de->d_name);
	printf("\n");
	closedir(d);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strncmp(a, "r:", 2))
			probe_read(a + 2);
		else if (!strncmp(a, "w:", 2))
			probe_write(a + 2);
		else if (!strncmp(a, "l:", 2))
			probe_list(a + 2);
		else if (!strcmp(a, "i"))
			probe_stdin();
		else if (!strncmp(a, "e:", 2))
			fprintf(stderr, "%s\n", a + 2);
		else if (!strncmp(a, "s:", 2)) {
			printf("prober waiting\n");
			fflush(stdout);
			sleep((unsigned)atoi(a + 2));
		}
		fflush(stdout);
	}
	return 0;
}
