/* Deterministic filesystem layers: sorted entries, uid/gid 0, no user names, fixed modes,
 * mtime 0, pax format (libarchive), gzip from oci/gzip. One pass over the input computes
 * the content digest of each file, the diff_id and the blob digest. */
#ifndef WP_OCI_LAYER_H
#define WP_OCI_LAYER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "common/error.h"
#include "oci/digest.h"
#include "oci/store.h"

typedef struct wp_layer_entry {
	char *dest;        /* cleaned path inside the layer, no leading slash */
	char *src;         /* NULL for a folder or a link */
	char *link;        /* a symbolic link's target text; NULL for a file or folder */
	unsigned mode;
	struct stat st;    /* of src when the input was scanned */
	char digest[WP_DIGEST_BUFSZ];   /* content digest; when known before writing, not hashed again */
} wp_layer_entry;

typedef struct wp_layer_list {
	wp_layer_entry *items;
	size_t len;
	bool no_diff_id;   /* the layer's uncompressed digest is not needed (Spin's archives) */
	void *index;       /* dest -> position, so large trees stay linear */
	struct wp_progress *progress;  /* file bytes read go to this display's item, or NULL */
	size_t progress_item;
} wp_layer_list;

typedef struct wp_layer_result {
	char digest[WP_DIGEST_BUFSZ];
	char diff_id[WP_DIGEST_BUFSZ];   /* empty for lists marked no_diff_id */
	int64_t size;
} wp_layer_result;

/* Adds a file (src stat'ed now) or, with src NULL, a folder. A dest already present is
 * WP_EEXISTS. */
int wp_layer_list_add(wp_layer_list *l, const char *dest, const char *src, const struct stat *st,
		      unsigned mode, wp_error *err);
/* Adds a symbolic link to target (kept as text; the caller has judged it). */
int wp_layer_list_add_link(wp_layer_list *l, const char *dest, const char *target, wp_error *err);
/* Adds the missing parent folders and sorts by path. */
int wp_layer_list_finish(wp_layer_list *l, wp_error *err);
/* The entry written to dest, or NULL. */
const wp_layer_entry *wp_layer_list_get(const wp_layer_list *l, const char *dest);
void wp_layer_list_release(wp_layer_list *l);
/* A key naming the layer's content: the same key means the same blob (given level). */
int wp_layer_list_key(const wp_layer_list *l, int level, char key[WP_DIGEST_BUFSZ], wp_error *err);

int wp_layer_write_tar_gzip(wp_store *s, wp_layer_list *l, int level, int threads,
			    wp_layer_result *res, wp_error *err);

#endif
