/* Reading a registry without pulling into a store: a repository's tags, a manifest or
 * index by reference, a small blob (a config). Everything read is checked against its
 * digest and capped. */
#ifndef WP_REGISTRY_REMOTE_H
#define WP_REGISTRY_REMOTE_H

#include "common/buf.h"
#include "common/error.h"
#include "common/strv.h"
#include "oci/digest.h"
#include "oci/graph.h"
#include "oci/ref.h"
#include "registry/client.h"

/* The manifest or index ref names (by tag or digest: reference), its bytes in body (at
 * most WP_MANIFEST_MAX), its media type (malloc'ed) and digest; WP_EDIGEST when the bytes
 * do not match the digest asked for or the one the registry states. */
int wp_remote_manifest(wp_client *r, const wp_ref *ref, const char *reference, wp_buf *body, char **media_type,
		       char digest[WP_DIGEST_BUFSZ], wp_error *err);
/* The manifest or index ref names (its digest, else its tag) as a descriptor: media type,
 * digest and size as the registry serves it, checked as wp_remote_manifest checks. */
int wp_remote_describe(wp_client *r, const wp_ref *ref, wp_descriptor *d, wp_error *err);
/* A repository of a registry, as a blob source for the image-graph reader (oci/graph.h):
 * manifests and indexes are read by digest from its manifests endpoint, other blobs from
 * its blobs endpoint; has asks with HEAD. repo (r, repository) outlives the source. */
typedef struct wp_remote_repo {
	wp_client *r;
	const char *repository;
} wp_remote_repo;
wp_blob_source wp_remote_source(wp_remote_repo *repo);
/* A blob of at most max bytes into out, checked against digest. */
int wp_remote_blob(wp_client *r, const char *repo, const char *digest, size_t max, wp_buf *out, wp_error *err);
/* Every tag of repo, in the registry's order, following its pages (Link: rel="next"). */
int wp_remote_tags(wp_client *r, const char *repo, wp_strv *tags, wp_error *err);

#endif
