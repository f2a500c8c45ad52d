/* `wasmpack build` from flags: an app model (wasm files, static files, env, args) turned
 * into an image in the store in the `image` or `wasm` layout. Tagging is the caller's. */
#ifndef WP_OCI_BUILD_H
#define WP_OCI_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/strv.h"
#include "oci/store.h"
#include "oci/manifest.h"
#include "oci/store.h"

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
	int gzip_level;          /* -1 for the default (6) */
	int threads;             /* 0 for one per processor */
	bool follow_links;       /* copy what links leaving a --file folder or the app folder point at */
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

int wp_build(wp_store *s, const wp_build_opts *o, wp_build_result *res, wp_error *err);
void wp_build_result_release(wp_build_result *res);

/* "created" from SOURCE_DATE_EPOCH or git, as RFC 3339 UTC in out (>= 32 bytes); empty
 * when neither is known. */
int wp_build_created(const char *path, char *out, size_t outsz, wp_error *err);

#endif
