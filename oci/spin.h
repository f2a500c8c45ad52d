/* Spin apps: spin.toml (manifest v1 and v2) loaded into Spin's locked app JSON, with
 * Spin's semantics (crates/manifest, crates/loader, crates/locked-app of the Spin project
 * are the reference; the conformance cases are in ../shared/spin-loader-tests). */
#ifndef WP_OCI_SPIN_H
#define WP_OCI_SPIN_H

#include <jansson.h>

#include "common/error.h"

typedef struct wp_spin_opts {
	/* Files of each component are copied into <assets_dir>/<component id> and mounted at
	 * "/", as Spin's loader does; NULL makes a new temp folder. */
	const char *assets_dir;
	/* Spin's cache, where sources named by URL live: <cache_dir>/spin/registry/wasm/<digest>.
	 * NULL means $XDG_CACHE_HOME, else ~/.cache. */
	const char *cache_dir;
} wp_spin_opts;

/* Loads a manifest into a locked app (the local form: sources and files as file:// URLs). */
int wp_spin_lock(const char *manifest_path, const wp_spin_opts *opts, json_t **locked, wp_error *err);

/* Matches a relative path against a glob pattern: '*' and '?' within one path segment,
 * '[...]' classes, and '**' for any number of whole segments. */
int wp_glob_match(const char *pattern, const char *path);

#endif
