/* The unpacker: an image in any of the three layouts, from the store, turned into a folder
 * an engine can run, safely: every blob checked against its digest and size, tar entries
 * confined to the root (openat2 RESOLVE_BENEATH), nothing but files, folders and safe
 * links, sizes capped; built in a temp folder and renamed into place, or not at all. */
#ifndef WP_NODE_UNPACK_H
#define WP_NODE_UNPACK_H

#include <jansson.h>
#include <stdint.h>

#include "common/error.h"
#include "oci/manifest.h"
#include "oci/store.h"

typedef struct wp_unpack_limits {
	uint64_t max_bytes;    /* bytes written in all; 0: 4 GiB */
	uint64_t max_entries;  /* tar entries in all; 0: 1,000,000 */
	struct wp_progress *progress; /* each blob read reports its bytes here, or NULL */
} wp_unpack_limits;

/* Materialises the image desc names into dest, which must not exist yet:
 * - wasm:  dest/<file name> and dest/config.json;
 * - image: dest/rootfs/ (layers applied in order, whiteouts honoured) and dest/config.json;
 * - spin:  dest/spin.lock (sources and files as file:// paths into dest), dest/wasm/,
 *          dest/files/<component>/.
 * summary describes what was found (layout, entrypoint, components...). */
int wp_unpack(wp_store *s, const wp_descriptor *desc, const char *dest, const wp_unpack_limits *lim,
	      json_t **summary, wp_error *err);

#endif
