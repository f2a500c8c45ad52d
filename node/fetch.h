/* The shim's artifact path, run as `wasmpack-core __shim-fetch` so the long-lived shim
 * never loads libcurl, libarchive or OpenSSL: the container's image read through
 * containerd's API (Containers.Get, Images.Get, Content.Read) into a temp store next to
 * the node cache, the platform's manifest picked from an index (default wasip1/wasm,
 * wasi/wasm alike), and unpacked once per manifest digest. */
#ifndef WP_NODE_FETCH_H
#define WP_NODE_FETCH_H

#include <stdbool.h>

#include "common/error.h"
#include "oci/digest.h"
#include "oci/manifest.h"

/* The container's image as containerd holds it now. */
typedef struct wp_fetch_target {
	char *image;                    /* the name the container was made from */
	wp_descriptor top;              /* what that name points at (an index, or the manifest) */
	wp_descriptor manifest;         /* the platform's manifest */
	const char *layout;             /* wp_manifest_layout's: "image", "wasm", "spin" */
	char chain_id[WP_DIGEST_BUFSZ]; /* the image layout: the chain id of its config's diff_ids */
} wp_fetch_target;

int wp_fetch_resolve(const char *address, const char *ns, const char *id, const char *cache_root, const char *platform,
		     wp_fetch_target *t, wp_error *err);
void wp_fetch_target_release(wp_fetch_target *t);

/* entry_out: the node cache folder of the app (malloc'ed). With want_digest, the manifest
 * must be that one (the one the policy verified), else WP_EDIGEST. An image of files (the
 * image layout) is refused unless files (a container with no snapshot): its app is in the
 * container's rootfs, and a command missing there is no reason to unpack it here. */
int wp_fetch_app(const char *address, const char *ns, const char *id, const char *cache_root, const char *platform,
		 const char *want_digest, bool files, char **entry_out, wp_error *err);

#endif
