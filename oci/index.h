/* OCI image indexes: a list of manifest descriptors (per platform), parsed leniently and
 * emitted in the image-spec's field order. */
#ifndef WP_OCI_INDEX_H
#define WP_OCI_INDEX_H

#include "common/buf.h"
#include "common/error.h"
#include "oci/descriptor.h"

typedef struct wp_index {
	char *media_type;
	wp_descriptor *manifests;
	size_t n_manifests;
	wp_kvlist annotations;
} wp_index;

void wp_index_release(wp_index *ix);
int wp_index_emit(const wp_index *ix, wp_buf *out, wp_error *err);
int wp_index_parse(const char *data, size_t len, wp_index *ix, wp_error *err);
/* The fewest hex digits of a digest that name an image (as `images` and docker print 12). */
#define WP_INDEX_MIN_PREFIX 4

/* The entry what names, at *pos: a digest or WP_INDEX_MIN_PREFIX+ hex digits of one, with
 * or without "sha256:" (an image tagged twice counts once), NAME@DIGEST, or a reference
 * ("app:1", "docker.io/x/app") matched against the entries' ref.name annotation in its
 * full form. WP_ENOTFOUND when no entry does, with *digest the full digest what names if
 * it names one ("" if not), so the caller may look for it elsewhere; WP_EUSAGE when the
 * digits match more than one image (the message lists them) or "sha256:" is not followed
 * by enough hex; what is no reference otherwise (wp_ref_parse's error). Bare hex that
 * matches nothing is tried as a reference ("cafe" may be an image's name). */
int wp_index_find(const wp_index *ix, const char *what, size_t *pos, char digest[WP_DIGEST_BUFSZ], wp_error *err);

/* The wasm manifest of an image index: the one for want when given (it must name that
 * platform); else wasip1/wasm (Docker's wasi/wasm alike), else wasip2/wasm (a component),
 * else the index's lone manifest when it names no platform. NULL when none fits. */
const wp_descriptor *wp_index_pick_wasm(const wp_index *ix, const char *want);
/* What wp_index_pick_wasm looked for, for messages: want, or "wasip1/wasm or wasip2/wasm". */
const char *wp_index_wanted(const char *want);

#endif
