/* The OCI model: descriptors, image manifests, image indexes and image configs, parsed
 * leniently (unknown fields ignored, 4 MiB cap) and emitted with the field order of the
 * image-spec's Go types and annotations sorted by key, so equal content gives equal bytes. */
#ifndef WP_OCI_MANIFEST_H
#define WP_OCI_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "oci/mediatype.h"
#include "oci/digest.h"

#define WP_MANIFEST_MAX (4u << 20)

typedef struct wp_kv {
	char *key;
	char *value;
} wp_kv;

/* A string map kept sorted by key. */
typedef struct wp_kvlist {
	wp_kv *items;
	size_t len;
} wp_kvlist;

void wp_kvlist_set(wp_kvlist *l, const char *key, const char *value);
const char *wp_kvlist_get(const wp_kvlist *l, const char *key);
void wp_kvlist_release(wp_kvlist *l);
int wp_kvlist_copy(wp_kvlist *dst, const wp_kvlist *src);

typedef struct wp_platform {
	char *os;
	char *architecture;
	char *variant;
} wp_platform;

typedef struct wp_descriptor {
	char *media_type;
	char digest[WP_DIGEST_BUFSZ];
	int64_t size;
	char *artifact_type;
	wp_kvlist annotations;
	wp_platform *platform;   /* NULL when absent */
} wp_descriptor;

typedef struct wp_manifest {
	char *media_type;
	char *artifact_type;
	wp_descriptor config;
	wp_descriptor *layers;
	size_t n_layers;
	wp_descriptor *subject;
	wp_kvlist annotations;
} wp_manifest;

typedef struct wp_index {
	char *media_type;
	wp_descriptor *manifests;
	size_t n_manifests;
	wp_kvlist annotations;
} wp_index;

int wp_descriptor_init(wp_descriptor *d, const char *media_type, const char *digest, int64_t size);
/* want is OS/ARCH; wasi and wasip1 name the same thing (Docker writes wasi). */
bool wp_platform_matches(const wp_platform *p, const char *want);
void wp_descriptor_release(wp_descriptor *d);
int wp_descriptor_copy(wp_descriptor *dst, const wp_descriptor *src);
json_t *wp_descriptor_to_json(const wp_descriptor *d);
int wp_descriptor_from_json(const json_t *j, wp_descriptor *d, wp_error *err);

void wp_manifest_release(wp_manifest *m);
/* Takes ownership of *layer (its fields move into the manifest). */
int wp_manifest_add_layer(wp_manifest *m, wp_descriptor *layer);
int wp_manifest_emit(const wp_manifest *m, wp_buf *out, wp_error *err);
int wp_manifest_parse(const char *data, size_t len, wp_manifest *m, wp_error *err);

void wp_index_release(wp_index *ix);
int wp_index_emit(const wp_index *ix, wp_buf *out, wp_error *err);
int wp_index_parse(const char *data, size_t len, wp_index *ix, wp_error *err);

/* Reads only "mediaType" (and the shape) to tell a manifest from an index. */
int wp_manifest_sniff_media_type(const char *data, size_t len, char **media_type, wp_error *err);

json_t *wp_kvlist_to_json(const wp_kvlist *l);
int wp_kvlist_from_json(const json_t *j, wp_kvlist *l);

#endif
