#include "common/alloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void wp_alloc_oom(void)
{
	static const char msg[] = "wasmpack: out of memory\n";

	/* write(2), not stdio: stdio may itself need memory */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to say */
	}
	abort();
}

void *wp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		wp_alloc_oom();
	return p;
}

void *wp_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		wp_alloc_oom();
	return p;
}

void *wp_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		wp_alloc_oom();
	return q;
}

void *wp_xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);

	if (!q)
		wp_alloc_oom();
	return q;
}

char *wp_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		wp_alloc_oom();
	return p;
}

char *wp_xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		wp_alloc_oom();
	return p;
}

static void *json_alloc(size_t n)
{
	return wp_xmalloc(n);
}

/* Before main, in every program linked with the library (the CLI, the front, the shim,
 * the tests and fuzzers): jansson allocates through the wrapper too. */
__attribute__((constructor)) static void wp_alloc_init(void)
{
	json_set_alloc_funcs(json_alloc, free);
}
