/* push and pull between the local store and a registry. */
#ifndef WP_REGISTRY_TRANSFER_H
#define WP_REGISTRY_TRANSFER_H

#include "common/error.h"
#include "oci/manifest.h"
#include "oci/ref.h"
#include "oci/store.h"
#include "registry/client.h"

typedef struct wp_blob_report {
	char digest[WP_DIGEST_BUFSZ];
	int64_t size;
	const char *media_type;
	const char *outcome;     /* "uploaded", "skipped", "mounted", "downloaded", "present" */
} wp_blob_report;

typedef struct wp_transfer_result {
	wp_descriptor manifest;  /* what was pushed, or pulled and tagged */
	char *index_digest;      /* pull: the index the platform was picked from, if any */
	wp_blob_report *blobs;
	size_t n_blobs;
	wp_client_stats stats;
} wp_transfer_result;

void wp_transfer_result_release(wp_transfer_result *res);

/* Pushes the image desc names from the store to ref (its tag, or its digest). Blobs first
 * (skipped when present, mounted from another repository of the same registry when the
 * store knows one, else uploaded), the manifest last: a failed push leaves no manifest
 * that points at missing blobs. */
int wp_transfer_push(wp_store *s, wp_client *r, const wp_ref *ref, const wp_descriptor *desc,
		     wp_transfer_result *res, wp_error *err);
/* The same for an index: every manifest it names (each must be in the store), then the
 * index under ref's tag; with platform ("os/arch"), that platform's manifest alone. */
int wp_transfer_push_platform(wp_store *s, wp_client *r, const wp_ref *ref, const wp_descriptor *desc,
			      const char *platform, wp_transfer_result *res, wp_error *err);

/* PUTs a manifest or index's bytes under reference (a tag or its digest); WP_EDIGEST when
 * the registry stored it under another digest than digest. */
int wp_transfer_put_manifest(wp_client *r, const char *repo, const char *reference, const char *media_type,
			     const wp_buf *data, const char *digest, wp_error *err);

/* Pulls ref into the store and tags it; an index is resolved to the manifest for platform
 * ("os/arch"; wasip1/wasm also matches wasi/wasm). Every blob is checked against its size
 * and digest before it becomes visible in the store. */
enum { WP_PULL_NO_TAG = 1, WP_PULL_ALL_PLATFORMS = 2 /* an index whole: every manifest, then the index */ };
int wp_transfer_pull(wp_store *s, wp_client *r, const wp_ref *ref, const char *platform, unsigned flags,
		     wp_transfer_result *res, wp_error *err);

/* The store's memory of where blobs live: "registry/repository" names, for mounts. */
int wp_transfer_origins_add(wp_store *s, const char *repo_name, const char **digests, size_t n);
/* A repository of registry other than not_repo known to hold digest (a blob mount's
 * source), as "repository"; malloc'ed, NULL when none is known. */
char *wp_transfer_origins_find(wp_store *s, const char *digest, const char *registry, const char *not_repo);

#endif
