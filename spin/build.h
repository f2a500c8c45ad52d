/* `wasmpack build` of a Spin app: the spin.toml in o->spin_manifest (or, with --layout
 * spin, the flags' wasm and files as a one-component command app) loaded by spin/spin.h and
 * built in Spin's layout (default), or in the image or wasm layout, with oci/build.h's
 * pieces. Tagging is the caller's. */
#ifndef WP_SPIN_BUILD_H
#define WP_SPIN_BUILD_H

#include "common/error.h"
#include "oci/build.h"
#include "oci/store.h"

int wp_spin_build(wp_store *s, const wp_build_opts *o, wp_build_result *res, wp_error *err);

#endif
