/* Path strings, without touching the file system: cleaning a path meant to stay below a
 * root (the first check on every name an image, a spin.toml or a layer gives), joining
 * it to the root, and the folder and file parts of a path. */
#ifndef WP_COMMON_PATH_H
#define WP_COMMON_PATH_H

#include "common/buf.h"
#include "common/error.h"

/* The longest path the kernel takes (Linux's PATH_MAX): the cap on every path made,
 * joined or cleaned here. */
#define WP_PATH_MAX 4096

/* Normalises a path meant to live below a root: leading and repeated slashes and "."
 * components go, a ".." component, an empty result or a control character is refused.
 * The result is relative ("a/b"), without a trailing slash. */
int wp_path_clean(const char *in, wp_buf *out, wp_error *err);
/* root + "/" + wp_path_clean(rel). */
int wp_path_join_safe(const char *root, const char *rel, wp_buf *out, wp_error *err);
/* The folder part of path ("." when there is none), in out. */
int wp_path_dirname(const char *path, wp_buf *out);
/* The part after the last slash (path itself when there is none). */
const char *wp_path_basename(const char *path);

#endif
