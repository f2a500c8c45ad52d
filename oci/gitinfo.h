/* Internal to oci/ (scripts/layers.sh keeps other modules out). */
/* Provenance from the git repository holding the input (libgit2): the HEAD commit, its
 * time (the image's `created` when SOURCE_DATE_EPOCH is unset), the origin URL without
 * credentials, and whether the work tree differs from HEAD. */
#ifndef WP_OCI_GITINFO_H
#define WP_OCI_GITINFO_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

typedef struct wp_gitinfo {
	bool found;
	char *revision;      /* hex of HEAD */
	int64_t commit_time; /* seconds since the epoch */
	char *source;        /* origin URL, credentials stripped; NULL when there is no origin */
	bool dirty;
} wp_gitinfo;

/* The commit checked out at path: found stays false outside a repository, in a bare one,
 * or one with no commit yet (a repository is a hint for annotations, never an error). */
void wp_gitinfo_read(const char *path, wp_gitinfo *info);
void wp_gitinfo_release(wp_gitinfo *info);
/* "https://user:tok@host/x" -> "https://host/x"; malloc'ed. */
char *wp_gitinfo_strip_credentials(const char *url);

#endif
