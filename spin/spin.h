/* Spin apps: spin.toml (manifest v1 and v2) loaded into Spin's locked app JSON, with
 * Spin's semantics (crates/manifest, crates/loader, crates/locked-app of the Spin project
 * are the reference; the conformance cases are in ../shared/spin-loader-tests). */
#ifndef WP_SPIN_SPIN_H
#define WP_SPIN_SPIN_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "common/error.h"

/* The files of the components, when they are collected instead of copied. */
typedef struct wp_spin_file {
	char *component;   /* component id */
	char *src;         /* absolute path in the app folder */
	char *dest;        /* path below the component's files mount ("/"), no leading slash */
	char *app_rel;     /* src relative to the app folder */
	char digest[72];   /* filled by the image build */
	long long size;
	struct stat st;    /* of src when it was collected (its size, times, identity) */
} wp_spin_file;

typedef struct wp_spin_files {
	wp_spin_file *items;
	size_t len;
	json_t *urls;      /* digest -> URL of the sources named by URL */
	json_t *index;     /* "component/dest" -> position */
} wp_spin_files;

void wp_spin_files_release(wp_spin_files *f);

typedef struct wp_spin_opts {
	/* Files of each component are copied into <assets_dir>/<component id> and mounted at
	 * "/", as Spin's loader does; NULL makes a new temp folder. */
	const char *assets_dir;
	/* Spin's cache, where sources named by URL live: <cache_dir>/spin/registry/wasm/<digest>.
	 * NULL means $XDG_CACHE_HOME, else ~/.cache. */
	const char *cache_dir;
	/* When set, files are listed here instead of copied (what an image build needs). */
	wp_spin_files *collect;
	/* Files reached through a symbolic link that leads out of the app folder are refused
	 * (naming the link) unless this is set; links that stay inside are followed. */
	bool follow_links;
} wp_spin_opts;

/* Loads a manifest into a locked app (the local form: sources and files as file:// URLs). */
int wp_spin_lock(const char *manifest_path, const wp_spin_opts *opts, json_t **locked, wp_error *err);

/* Matches a relative path against a glob pattern: '*' and '?' within one path segment,
 * '[...]' classes, and '**' for any number of whole segments. */
int wp_spin_glob_match(const char *pattern, const char *path);

#endif
