/* Image configs: the OCI image config (application/vnd.oci.image.config.v1+json) and the
 * CNCF wasm artifact config (application/vnd.wasm.config.v0+json). Parsed leniently (4 MiB
 * cap, unknown fields ignored), emitted with a fixed field order so equal content gives
 * equal bytes. */
#ifndef WP_OCI_CONFIG_H
#define WP_OCI_CONFIG_H

#include "common/buf.h"
#include "common/error.h"
#include "common/strv.h"
#include "oci/manifest.h"

typedef struct wp_config_image {
	char *created;        /* RFC 3339, or NULL */
	char *author;
	char *architecture;
	char *os;
	char *variant;
	char *user;
	char *working_dir;
	wp_strv env;          /* "K=V" */
	wp_strv entrypoint;
	wp_strv cmd;
	wp_kvlist labels;
	wp_strv diff_ids;
} wp_config_image;

int wp_config_image_parse(const char *data, size_t len, wp_config_image *c, wp_error *err);
/* Field order of the image-spec's Image and ImageConfig Go types. */
int wp_config_image_emit(const wp_config_image *c, wp_buf *out, wp_error *err);
void wp_config_image_release(wp_config_image *c);

typedef struct wp_config_wasm {
	char *created;
	char *author;
	char *architecture;   /* "wasm" */
	char *os;             /* "wasip1" or "wasip2" */
	wp_strv layer_digests;
	bool component;       /* has a component section */
	wp_strv exports;
	wp_strv imports;
	char *target;         /* the WIT world, when known */
} wp_config_wasm;

int wp_config_wasm_parse(const char *data, size_t len, wp_config_wasm *c, wp_error *err);
int wp_config_wasm_emit(const wp_config_wasm *c, wp_buf *out, wp_error *err);
void wp_config_wasm_release(wp_config_wasm *c);

#endif
