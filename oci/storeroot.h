/* The default store folder: $WASMPACK_STORE, $XDG_DATA_HOME/wasmpack or
 * ~/.local/share/wasmpack. */
#ifndef WP_OCI_STOREROOT_H
#define WP_OCI_STOREROOT_H

#include "common/buf.h"
#include "common/error.h"

int wp_store_default_root(wp_buf *out, wp_error *err);

#endif
