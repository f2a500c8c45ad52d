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

/* Not being in a repository is not an error: found stays false. */
int wp_gitinfo_read(const char *path, wp_gitinfo *info, wp_error *err);
void wp_gitinfo_release(wp_gitinfo *info);
/* "https://user:tok@host/x" -> "https://host/x"; malloc'ed. */
char *wp_gitinfo_strip_credentials(const char *url);

#endif
