/* File system helpers: atomic writes, whole-file reads, recursive mkdir and removal. */
#ifndef WP_COMMON_FS_H
#define WP_COMMON_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

int wp_fs_mkdir_p(const char *path, mode_t mode, wp_error *err);
/* Writes data to a temp file beside path, fsyncs it, renames it over path and fsyncs the
 * folder: readers see the old bytes or the new ones, never a mix. */
int wp_fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, wp_error *err);
/* The same swap without waiting for the disk (no fsync), for files that may be lost, such
 * as caches: after a crash the file is the old one, the new one, or unreadable. */
int wp_fs_write_replace(const char *path, const void *data, size_t len, mode_t mode, wp_error *err);
/* Reads a whole file of at most max bytes into out (replacing its contents). */
int wp_fs_read_file(const char *path, size_t max, wp_buf *out, wp_error *err);
int wp_fs_fsync_dir(const char *dir, wp_error *err);
bool wp_fs_exists(const char *path);
/* Removes a folder tree; refuses "/" and "". */
int wp_fs_rm_rf(const char *path, wp_error *err);

#endif
