/* Sample app: prints its arguments and environment, then the static file named by
 * $HELLO_FILE (default /static/greeting.txt). Built to wasm32-wasi by the Makefile. Run as
 * a CGI program (Spin's WAGI executor sets GATEWAY_INTERFACE), it starts its output with
 * the CGI header that says what follows. */
#include <stdio.h>
#include <stdlib.h>

extern char **environ;

int main(int argc, char **argv)
{
	const char *path = getenv("HELLO_FILE");
	char buf[4096];
	size_t n;
	FILE *f;

	if (getenv("GATEWAY_INTERFACE"))
		printf("Content-Type: text/plain\n\n");
	for (int i = 0; i < argc; i++)
		printf("arg[%d]=%s\n", i, argv[i]);
	for (char **e = environ; e && *e; e++)
		printf("env %s\n", *e);
	if (!path)
		path = "/static/greeting.txt";
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "hello: cannot open %s\n", path);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}
