/* Minimal TAP producer for the C unit tests (run by prove). */
#ifndef WP_TESTS_TAP_H
#define WP_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

__attribute__((format(printf, 4, 5))) static int tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   Failed test at %s line %d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...) \
	(ok((long long)(got) == (long long)(want), __VA_ARGS__) || \
	 (printf("#   got %lld, want %lld\n", (long long)(got), (long long)(want)), 0))
static inline int tap_streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}
static inline const char *tap_s(const char *s)
{
	return s ? s : "(null)";
}
#define is_str(got, want, ...) \
	(ok(tap_streq((got), (want)), __VA_ARGS__) || (printf("#   got '%s'\n#  want '%s'\n", tap_s(got), tap_s(want)), 0))

static inline void tap_diag(const char *msg)
{
	printf("# %s\n", msg);
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
