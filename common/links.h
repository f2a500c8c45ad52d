/* Symbolic links judged as the kernel follows them. A tree handed to an engine or to any
 * other tool is safe only if no link in it leads out of it when followed: not by its text
 * alone ("x1 -> a/.." looks inside) but through the links it passes (a -> . makes a/..
 * the parent of the root). This resolver walks a link the way path lookup does with the
 * tree's folder as "/": each component is looked up in what is on disk now, a link met
 * on the way is replaced by its target, ".." goes to the parent of the folder actually
 * reached. A step above the tree's top, an absolute target, or more than 40 links in one
 * lookup (the kernel's ELOOP) makes the link unsafe.
 *
 * Only lstat and readlink are used, relative to an open folder, so judging a hostile tree
 * never follows one of its links on the host. */
#ifndef WP_COMMON_LINKS_H
#define WP_COMMON_LINKS_H

#include <stdbool.h>

#include "common/error.h"

/* Would the link at path (relative to rootfd, "a/b/link") whose text is target stay inside
 * the tree when followed? 0 if so, WP_EINVALID with a message naming the link otherwise. */
int wp_links_check(int rootfd, const char *path, const char *target, wp_error *err);
/* The same, the message calling the tree root_name ("the folder 'static'"). */
int wp_links_check_in(int rootfd, const char *path, const char *target, const char *root_name, wp_error *err);
/* Would opening path (relative to rootfd, "a/b/file"), every link on the way and at its
 * end followed, stay inside the tree? 0 if so, WP_EINVALID naming path otherwise. */
int wp_links_check_path(int rootfd, const char *path, const char *root_name, wp_error *err);
/* Every link of the tree below rootfd, at most max_entries entries walked: 0, or
 * WP_EINVALID naming the first link that leaves it (WP_ETOOBIG past the cap). */
int wp_links_check_tree(int rootfd, unsigned long long max_entries, wp_error *err);

#endif
