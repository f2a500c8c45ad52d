/* Pieces the layouts share (oci/build.c and oci/spin_build.c); not a public interface. */
#ifndef WP_OCI_BUILD_INTERNAL_H
#define WP_OCI_BUILD_INTERNAL_H

#include "common/buf.h"
#include "oci/build.h"
#include "oci/layer.h"
#include "oci/statcache.h"

/* created, git provenance, then --annotation (which wins). */
int wp_build_annotate(wp_manifest *m, const wp_build_opts *o, const char *created, wp_error *err);
/* Stores the manifest and fills res. */
int wp_build_finish(wp_store *s, wp_manifest *m, wp_build_result *res, wp_error *err);
/* Stores a JSON document and points desc at it. */
int wp_build_put_doc(wp_store *s, const wp_buf *data, const char *media_type, wp_descriptor *desc, wp_error *err);
/* "os/arch" (default wasip1/wasm). */
int wp_build_platform(const char *p, char **os, char **arch, wp_error *err);
/* Builds the layers the stat cache does not hold, at the same time. */
int wp_build_layers(wp_store *s, wp_statcache *cache, wp_layer_list **lists, size_t n, const wp_build_opts *o,
		    wp_layer_result *out, int *reused, wp_error *err);
/* The --file SRC[:DEST] arguments as layer entries (folders expanded). */
/* How --file folders treat symbolic links. A link that stays inside its folder (judged as
 * the kernel follows it, common/links.h) is kept as a link (KEEP_LINKS: the image and wasm
 * layouts) or followed (Spin's, which has no links); one that leaves is an error naming
 * it, unless FOLLOW_ALL (--follow-links) says to copy what it points at. */
enum { WP_FILES_KEEP_LINKS = 1, WP_FILES_FOLLOW_ALL = 2 };
int wp_build_collect_files(const wp_strv *args, unsigned flags, wp_layer_list *out, wp_error *err);
/* The Spin layouts (spin, image, wasm) of the app in o->spin_manifest. */
int wp_build_spin(wp_store *s, const wp_build_opts *o, wp_build_result *res, wp_error *err);

#endif
