#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>

static FILE *log_sink;
static int log_level = WP_LOG_WARN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void wp_log_setup(FILE *sink, int level)
{
	log_sink = sink;
	log_level = level;
}

int wp_log_level(void)
{
	return log_level;
}

void wp_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (!log_sink || level > log_level)
		return;
	pthread_mutex_lock(&log_lock);
	fputs(level == WP_LOG_WARN ? "warning: " : level == WP_LOG_DEBUG ? "debug: " : "", log_sink);
	va_start(ap, fmt);
	vfprintf(log_sink, fmt, ap);
	va_end(ap);
	fputc('\n', log_sink);
	pthread_mutex_unlock(&log_lock);
}
