/* The shim's artifact path, run as `wasmpack-core __shim-fetch` so the long-lived shim
 * never loads libcurl, libarchive or OpenSSL: the container's image read through
 * containerd's API (Containers.Get, Images.Get, Content.Read) into a temp store next to
 * the node cache, the platform's manifest picked from an index (default wasip1/wasm,
 * wasi/wasm alike), and unpacked once per manifest digest. */
#ifndef WP_NODE_FETCH_H
#define WP_NODE_FETCH_H

#include "common/error.h"

/* entry_out: the node cache folder of the app (malloc'ed). */
int wp_fetch_app(const char *address, const char *ns, const char *id, const char *cache_root, const char *platform,
		      char **entry_out, wp_error *err);

#endif
