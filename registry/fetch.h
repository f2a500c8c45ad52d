/* Plain HTTP(S) downloads into the store, checked against a digest (Spin sources named
 * by URL). */
#ifndef WP_REGISTRY_FETCH_H
#define WP_REGISTRY_FETCH_H

#include "common/error.h"
#include "oci/store.h"

/* Downloads url into the store unless digest is already there; the bytes must hash to
 * digest or nothing is stored (WP_EDIGEST). */
int wp_fetch_to_store(void *ctx, wp_store *s, const char *url, const char *digest, wp_error *err);

#endif
