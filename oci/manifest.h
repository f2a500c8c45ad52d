/* OCI image manifests, parsed leniently (unknown fields ignored, WP_MANIFEST_MAX cap) and
 * emitted with the field order of the image-spec's Go type and annotations sorted by key,
 * so equal content gives equal bytes. It includes the descriptor and index headers: the
 * three are the OCI model most callers want together. */
#ifndef WP_OCI_MANIFEST_H
#define WP_OCI_MANIFEST_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "oci/descriptor.h"
#include "oci/index.h"
#include "oci/mediatype.h"

typedef struct wp_manifest {
	char *media_type;
	char *artifact_type;
	wp_descriptor config;
	wp_descriptor *layers;
	size_t n_layers;
	wp_descriptor *subject;
	wp_kvlist annotations;
} wp_manifest;

void wp_manifest_release(wp_manifest *m);
/* Takes ownership of *layer (its fields move into the manifest). */
void wp_manifest_add_layer(wp_manifest *m, wp_descriptor *layer);
int wp_manifest_emit(const wp_manifest *m, wp_buf *out, wp_error *err);
int wp_manifest_parse(const char *data, size_t len, wp_manifest *m, wp_error *err);
/* The one rule for which layout a manifest is, for every reader (unpack, images, the
 * node's fetch): "spin" (a locked app as its config or a layer), "wasm" (the wasm
 * artifact: its config type, or a single application/wasm layer, as a wkg package is),
 * else "image" (layers of files). */
const char *wp_manifest_layout(const wp_manifest *m);
/* The locked app of a Spin image (its config, Spin 1.x, or a layer), or NULL. */
const wp_descriptor *wp_manifest_spin_locked(const wp_manifest *m);
/* Reads only "mediaType" (and the shape) to tell a manifest from an index. */
int wp_manifest_sniff_media_type(const char *data, size_t len, char **media_type, wp_error *err);

#endif
