/* OCI content descriptors (mediaType, digest, size, annotations, platform, artifactType),
 * read leniently (unknown fields ignored) and written in the field order of the
 * image-spec's Go type. */
#ifndef WP_OCI_DESCRIPTOR_H
#define WP_OCI_DESCRIPTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/kvlist.h"
#include "oci/digest.h"

/* The cap on a manifest or index document. */
#define WP_MANIFEST_MAX (4u << 20)

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

void wp_descriptor_init(wp_descriptor *d, const char *media_type, const char *digest, int64_t size);
void wp_descriptor_release(wp_descriptor *d);
void wp_descriptor_copy(wp_descriptor *dst, const wp_descriptor *src);
json_t *wp_descriptor_to_json(const wp_descriptor *d);
int wp_descriptor_from_json(const json_t *j, wp_descriptor *d, wp_error *err);
/* want is OS/ARCH; wasi and wasip1 name the same thing (Docker writes wasi). */
bool wp_descriptor_platform_matches(const wp_platform *p, const char *want);

#endif
