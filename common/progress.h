/* Progress on a terminal, as docker, oras and cargo draw it: one line per item in flight
 * (its bytes against its size), a total line (bytes, rate, ETA), redrawn in place at most
 * ten times a second; an item that finishes becomes a line that stays ("uploaded 12.3
 * MiB"). Only for a terminal the caller hands over: with NULL every call does nothing,
 * so callers need not ask (the CLI passes stderr only when it is a terminal and neither
 * --quiet nor --no-progress was given). Calls may come from several threads. */
#ifndef WP_COMMON_PROGRESS_H
#define WP_COMMON_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct wp_progress wp_progress;

/* A display on out ("pushing", "pulling", "unpacking" names the work), or NULL when out
 * is NULL. */
wp_progress *wp_progress_new(FILE *out, const char *verb);
/* An item of total bytes (0: unknown), labelled (a digest is shortened to 19 characters);
 * its number for the calls below. */
size_t wp_progress_item(wp_progress *p, const char *label, int64_t total);
/* The item's bytes done so far (absolute: a retried transfer may go back). */
void wp_progress_set(wp_progress *p, size_t item, int64_t done);
void wp_progress_add(wp_progress *p, size_t item, int64_t bytes);
/* The item is done: its line stays, with outcome ("uploaded", "skipped", ...). */
void wp_progress_item_done(wp_progress *p, size_t item, const char *outcome);
/* Clears the live lines and frees p. */
void wp_progress_end(wp_progress *p);

/* "12.3 MiB" into out. */
void wp_progress_size(char *out, size_t outsz, double bytes);

#endif
