/* File system helpers: atomic writes, whole-file reads, recursive mkdir and removal. */
#ifndef WP_COMMON_FS_H
#define WP_COMMON_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

/* What one read or write moves when a file is copied or hashed. */
#define WP_IO_CHUNK (1u << 16)

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

/* Lock files (flock) belong to their owner alone: flock needs only a read descriptor, so
 * a lock file another user can open is one that user can hold forever.
 * wp_fs_private_dir makes dir (0700) or tightens it when it is the caller's and more open
 * (earlier versions made 0755); wp_fs_lock_open opens path, made 0600, never through a
 * link; one of the caller's that others could open is replaced by a new 0600 file (another
 * user may hold the old one open and locked already). A descriptor, or -1 with err set. */
int wp_fs_private_dir(const char *dir, wp_error *err);
int wp_fs_lock_open(const char *path, wp_error *err);
/* flock(fd, op) that waits at most $WASMPACK_LOCK_TIMEOUT seconds (default 30): past it,
 * WP_ETIMEOUT naming path (someone holds the lock: a hung process, or another user). */
int wp_fs_lock_wait(int fd, int op, const char *path, wp_error *err);

/* A folder whose contents decide what runs (a store, its .wasmpack/, the node cache and
 * its .users/) must be the running user's: owned by them and, for root, writable by no
 * group or other user; else another user could change what root starts (as git refuses a
 * repository someone else owns). A folder that is not there yet passes (it is made as the
 * caller's); $WASMPACK_SAFE_DIRS (':'-separated paths, or '*') allows others. what names
 * the folder in the error ("the store"). */
int wp_fs_check_owner(const char *path, const char *what, wp_error *err);

/* wasmpack's settings file: $WASMPACK_CONFIG, else $XDG_CONFIG_HOME/wasmpack/config.toml,
 * else ~/.config/wasmpack/config.toml; malloc'ed, NULL when none can be named. */
char *wp_config_path(void);

#endif
