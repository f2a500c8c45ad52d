/* What wp_unpack found, kept beside the unpacked app (.wasmpack-unpack.json in the cache
 * entry) so a later run needs no image: one typed reader for every user (run, the front,
 * the shim, the engines), the file's name in one place. */
#ifndef WP_NODE_SUMMARY_H
#define WP_NODE_SUMMARY_H

#include <stdbool.h>

#include "common/error.h"

#define WP_UNPACK_SUMMARY ".wasmpack-unpack.json"

typedef struct wp_unpack_summary {
	char layout[8];  /* "image", "wasm" or "spin" */
	char *module;    /* the wasm layout: the module's file in the entry */
	bool spin_app;   /* the image layout: a rootfs with /spin.toml (Spin's shim layout) */
	char *engine;    /* the image's preferred engine (dev.wasmpack.engine), or NULL */
} wp_unpack_summary;

/* Reads entry's summary; WP_EINVALID for one that is not what wp_unpack writes. */
int wp_unpack_summary_read(const char *entry, wp_unpack_summary *s, wp_error *err);
void wp_unpack_summary_release(wp_unpack_summary *s);

#endif
