/* The default store folder: $WASMPACK_STORE, $XDG_DATA_HOME/wasmpack or
 * ~/.local/share/wasmpack. */
#ifndef WP_OCI_STOREROOT_H
#define WP_OCI_STOREROOT_H

#include "common/buf.h"
#include "common/error.h"

int wp_storeroot_default(wp_buf *out, wp_error *err);
/* The node cache `run` unpacks into, for the store at store_root: $WASMPACK_CACHE, else
 * /var/lib/wasmpack/cache for root with the default store, else <store>/.wasmpack/cache.
 * Malloc'ed. */
char *wp_storeroot_cache(const char *store_root);

#endif
