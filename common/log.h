/* Diagnostics for people: a level and a sink the program hands over (stderr for the CLI). */
#ifndef WP_COMMON_LOG_H
#define WP_COMMON_LOG_H

#include <stdio.h>

enum wp_log_level { WP_LOG_QUIET = 0, WP_LOG_WARN = 1, WP_LOG_INFO = 2, WP_LOG_DEBUG = 3 };

void wp_log_setup(FILE *sink, int level);
int wp_log_level(void);
void wp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define wp_debug(...) wp_log(WP_LOG_DEBUG, __VA_ARGS__)
#define wp_info(...) wp_log(WP_LOG_INFO, __VA_ARGS__)
#define wp_warn(...) wp_log(WP_LOG_WARN, __VA_ARGS__)

#endif
