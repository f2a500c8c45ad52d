/* `wasmpack build` from flags: an app model (wasm files, static files, env, args) turned
 * into an image in the store in the `image` or `wasm` layout. Tagging is the caller's.
 * The pieces it builds with are public too, for layouts made elsewhere (spin/build.c):
 * layers, the config and manifest tail, annotations. */
#ifndef WP_OCI_BUILD_H
#define WP_OCI_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/strv.h"
#include "oci/layer.h"
#include "oci/manifest.h"
#include "oci/statcache.h"
#include "oci/store.h"

/* The layers' gzip level unless --gzip-level says otherwise: 4 deflates nearly as well as
 * 6 on the text a site carries, in two thirds of the time. */
#define WP_BUILD_GZIP_LEVEL 4

typedef struct wp_build_opts {
	const char *path;        /* the app folder: where git provenance is looked up */
	const char *layout;      /* "spin" (default for a spin.toml), "image" (default), "wasm" */
	const char *spin_manifest; /* a spin.toml: build that app instead of the flags' */
	wp_strv wasm;            /* wasm files; the first is the entrypoint */
	wp_strv files;           /* "SRC[:DEST]" */
	wp_strv env;             /* "K=V" */
	wp_strv args;
	wp_strv annotations;     /* "K=V" */
	const char *platform;    /* "os/arch[/variant]" or NULL */
	int gzip_level;          /* 1-9, or -1 for WP_BUILD_GZIP_LEVEL */
	int threads;             /* 0 for one per processor */
	bool follow_links;       /* copy what links leaving a --file folder or the app folder point at */
	struct wp_progress *progress; /* layers being built report their bytes to it, or NULL */
	/* Fetches a source named by URL into the store, checked against digest (Spin apps);
	 * NULL: such sources are refused. Set by the CLI (registry/fetch.c). */
	int (*fetch)(void *ctx, wp_store *s, const char *url, const char *digest, wp_error *err);
	void *fetch_ctx;
} wp_build_opts;

typedef struct wp_build_result {
	wp_descriptor manifest;  /* what to tag */
	wp_manifest m;           /* its content */
	int layers_reused;       /* layers found in the stat cache */
} wp_build_result;

/* The image or wasm layout from flags; a Spin app (o->spin_manifest, or layout "spin")
 * is spin/build.h's. */
int wp_build(wp_store *s, const wp_build_opts *o, wp_build_result *res, wp_error *err);

/* ---- the pieces, for layouts built elsewhere ---- */
/* created, git provenance, then --annotation (which wins). */
int wp_build_annotate(wp_manifest *m, const wp_build_opts *o, const char *created, wp_error *err);
/* The image layout's tail: the config completed (platform from o unless set, created) and
 * stored, the manifest annotated (wp_build_annotate), typed and stored (wp_build_finish). */
struct wp_config_image;
int wp_build_image_finish(wp_store *s, struct wp_config_image *cfg, wp_manifest *m, const wp_build_opts *o,
			  const char *created, wp_build_result *res, wp_error *err);
/* Stores the manifest and fills res. */
int wp_build_finish(wp_store *s, wp_manifest *m, wp_build_result *res, wp_error *err);
/* Stores a JSON document and points desc at it. */
int wp_build_put_doc(wp_store *s, const wp_buf *data, const char *media_type, wp_descriptor *desc, wp_error *err);
/* "os/arch" (default wasip1/wasm). */
int wp_build_platform(const char *p, char **os, char **arch, wp_error *err);
/* Builds the layers the stat cache does not hold, at the same time. */
int wp_build_layers(wp_store *s, wp_statcache *cache, wp_layer_list **lists, size_t n, const wp_build_opts *o,
		    wp_layer_result *out, int *reused, wp_error *err);
/* The --file SRC[:DEST] arguments as layer entries (folders expanded). How --file folders treat symbolic links. A link that stays inside its folder (judged as
 * the kernel follows it, common/links.h) is kept as a link (KEEP_LINKS: the image and wasm
 * layouts) or followed (Spin's, which has no links); one that leaves is an error naming
 * it, unless FOLLOW_ALL (--follow-links) says to copy what it points at. */
enum { WP_FILES_KEEP_LINKS = 1, WP_FILES_FOLLOW_ALL = 2 };
int wp_build_collect_files(const wp_strv *args, unsigned flags, wp_layer_list *out, wp_error *err);

void wp_build_result_release(wp_build_result *res);

/* "created" from SOURCE_DATE_EPOCH or git, as RFC 3339 UTC in out (>= 32 bytes); empty
 * when neither is known. */
int wp_build_created(const char *path, char *out, size_t outsz, wp_error *err);

#endif
