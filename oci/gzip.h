/* Reproducible, parallel gzip. The input is cut into fixed 128 KiB chunks; each chunk is
 * coded on its own (incompressible runs stored, the rest deflated with the previous 32 KiB
 * as a preset dictionary) and ends on a byte boundary, and the pieces are joined into one
 * member (the technique pigz documents). Chunks are coded on worker threads, or by the
 * caller when there is little to deflate, and handed to the sink in order by a thread of
 * their own, which also keeps the CRC. The output depends only on the input, the hints and
 * the level, never on the threads. The header carries no name and mtime 0. */
#ifndef WP_OCI_GZIP_H
#define WP_OCI_GZIP_H

#include <stddef.h>

#include "common/error.h"

/* What the bytes written next are. Content (the default) is probed in runs of its own and
 * stored when it looks incompressible; framing (tar headers and padding) is always
 * deflated. Hints change only how the bytes are coded: the same bytes with the same hints
 * give the same output. */
typedef enum wp_gzip_kind { WP_GZIP_CONTENT = 0, WP_GZIP_FRAMING = 1 } wp_gzip_kind;

typedef int (*wp_gzip_sink)(void *ctx, const void *data, size_t len, wp_error *err);
typedef struct wp_gzip wp_gzip;

/* threads 0 compresses in the caller's thread. */
int wp_gzip_new(wp_gzip **out, int level, int threads, wp_gzip_sink sink, void *ctx, wp_error *err);
void wp_gzip_hint(wp_gzip *gz, wp_gzip_kind kind);
int wp_gzip_write(wp_gzip *gz, const void *data, size_t len, wp_error *err);
/* The same as a write, for a caller that reads straight into the chunk being filled:
 * wp_gzip_reserve gives room for at least one byte (NULL on error), wp_gzip_commit takes
 * the n bytes written there. */
void *wp_gzip_reserve(wp_gzip *gz, size_t *room, wp_error *err);
int wp_gzip_commit(wp_gzip *gz, size_t n, wp_error *err);
int wp_gzip_finish(wp_gzip *gz, wp_error *err);
void wp_gzip_free(wp_gzip *gz);

#endif
