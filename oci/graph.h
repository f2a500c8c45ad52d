/* The image graph: an index names manifests, a manifest names its config, its layers and
 * (OCI 1.1) a subject. This is the one reader of that graph for every caller (save and
 * load, gc's mark, push and pull, the node's fetch, inspect, referrers), over any place
 * blobs can be read from by digest: the store and OCI layout folders (oci/store.h), a
 * registry repository (registry/remote.h), containerd's content store (node/cdclient.h).
 *
 * Every read is capped and checked against its digest by the source; indexes nest at most
 * WP_GRAPH_MAX_DEPTH deep; a walk visits each digest once, however often it is named. */
#ifndef WP_OCI_GRAPH_H
#define WP_OCI_GRAPH_H

#include <stdbool.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/strv.h"
#include "oci/manifest.h"

/* How deep indexes may nest (an index of indexes of ... manifests): past it a walk or a
 * resolve fails, WP_EINVALID. */
#define WP_GRAPH_MAX_DEPTH 8

/* A place blobs are read from by digest. The functions belong to the source's maker; ctx
 * is theirs. */
typedef struct wp_blob_source {
	/* Appends the blob at digest (at most max bytes, checked against digest) to out:
	 * WP_ENOTFOUND, WP_ETOOBIG, WP_EDIGEST, or what reaching the source failed with.
	 * media_type is the descriptor's, NULL when unknown: a registry reads manifests and
	 * indexes through another endpoint than blobs. */
	int (*read)(void *ctx, const char *digest, const char *media_type, size_t max, wp_buf *out, wp_error *err);
	/* 1 when the source holds digest, 0 when not, < 0 when it could not be asked. */
	int (*has)(void *ctx, const char *digest, wp_error *err);
	void *ctx;
} wp_blob_source;

/* The blob at desc, at most max bytes, appended to out. */
int wp_graph_read_blob(const wp_blob_source *src, const wp_descriptor *desc, size_t max, wp_buf *out, wp_error *err);
/* The blob at desc (a manifest or an index, at most WP_MANIFEST_MAX) read from src and
 * parsed; release the result (wp_index_release / wp_manifest_release), which is zeroed on
 * failure. */
int wp_graph_read_index(const wp_blob_source *src, const wp_descriptor *desc, wp_index *ix, wp_error *err);
int wp_graph_read_manifest(const wp_blob_source *src, const wp_descriptor *desc, wp_manifest *m, wp_error *err);
/* A small JSON blob (a config, a locked app: at most WP_MANIFEST_MAX) read and parsed into
 * *out (json_decref it). */
int wp_graph_read_json(const wp_blob_source *src, const wp_descriptor *desc, json_t **out, wp_error *err);

/* The one platform picker (wp_index_pick_wasm: platform when given, else wasip1/wasm, else
 * wasip2/wasm) over an index whose digest is ix_digest (for the message), into *out (a
 * copy: release it); WP_ENOTFOUND naming what was looked for. */
int wp_graph_pick(const wp_index *ix, const char *ix_digest, const char *platform, wp_descriptor *out, wp_error *err);
/* The image manifest top stands for: top itself when it is a manifest, else the picked
 * manifest of the index (of indexes) it is, read from src. *out is a copy (release it).
 * WP_EINVALID when top is neither a manifest nor an index. */
int wp_graph_resolve(const wp_blob_source *src, const wp_descriptor *top, const char *platform, wp_descriptor *out,
		     wp_error *err);

/* How a node's parent names it. */
typedef enum { WP_GRAPH_TOP, WP_GRAPH_MANIFEST, WP_GRAPH_CONFIG, WP_GRAPH_LAYER, WP_GRAPH_SUBJECT } wp_graph_role;

typedef struct wp_graph_node {
	const wp_descriptor *desc;
	wp_graph_role role;
	int depth;                  /* 0 for top */
	/* For an index or a manifest (wp_mediatype_is_index / _is_manifest of desc): 0 when it
	 * was read and parsed, and then exactly one of index and manifest is set, with bytes
	 * its exact bytes; else (only under WP_GRAPH_READ_ERRORS) the read's or the parse's
	 * error code, with its message in the err handed to visit. Blobs (configs, layers) are
	 * not read: rc 0, all three NULL. */
	int rc;
	const wp_buf *bytes;
	const wp_index *index;
	const wp_manifest *manifest;
} wp_graph_node;

/* Return 0 to go on, WP_GRAPH_PRUNE not to go into this node's children (pre-order only),
 * < 0 to stop the walk with that code. The node and all it points at live for the call. */
#define WP_GRAPH_PRUNE 1
typedef int (*wp_graph_visit_fn)(void *ctx, const wp_graph_node *n, wp_error *err);

enum {
	/* A node is visited after everything it names (the order in which a store or a
	 * registry must receive them), not before. */
	WP_GRAPH_CHILDREN_FIRST = 1 << 0,
	/* A manifest's subject is followed too (gc keeps what a kept referrer refers to). */
	WP_GRAPH_SUBJECTS = 1 << 1,
	/* An index or manifest that cannot be read or parsed (or nests too deep) is handed to
	 * visit with its rc, rather than ending the walk; visit decides. */
	WP_GRAPH_READ_ERRORS = 1 << 2,
	/* Of an index, only the manifest the platform picker chooses (wp_graph_walk's
	 * platform; NULL for the default pick), not every platform's. */
	WP_GRAPH_ONE_PLATFORM = 1 << 3,
};

/* Visits top and everything it reaches in src, each digest once (once per kind: a digest
 * an index names both as a manifest and as something else is judged both ways). Configs
 * and layers are blobs whatever media type their descriptors claim: never read here. */
int wp_graph_walk(const wp_blob_source *src, const wp_descriptor *top, unsigned flags, const char *platform,
		  wp_graph_visit_fn visit, void *ctx, wp_error *err);
/* The same, skipping what earlier walks with the same seen set reached (gc walks every tag
 * of a store and reads each shared manifest once). */
typedef struct wp_graph_seen wp_graph_seen;
wp_graph_seen *wp_graph_seen_new(void);
void wp_graph_seen_free(wp_graph_seen *s);
int wp_graph_walk_seen(const wp_blob_source *src, const wp_descriptor *top, unsigned flags, const char *platform,
		       wp_graph_seen *seen, wp_graph_visit_fn visit, void *ctx, wp_error *err);

/* Every digest top reaches, top first (ends to be released with wp_strv_release); each
 * blob that is not a manifest is checked with src's has: WP_ENOTFOUND names a missing one. */
int wp_graph_closure(const wp_blob_source *src, const wp_descriptor *top, wp_strv *digests, wp_error *err);

#endif
