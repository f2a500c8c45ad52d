/* Images leaving and entering the store as OCI image layouts: a folder (`-o oci:DIR`) or
 * an OCI archive, which is such a layout in a tar (`save`, `load`). */
#ifndef WP_OCI_ARCHIVE_H
#define WP_OCI_ARCHIVE_H

#include <stdbool.h>

#include "common/error.h"
#include "oci/build.h"
#include "oci/manifest.h"
#include "oci/store.h"

/* Copies the image that desc names (manifest or index and everything below) into the layout
 * folder dir, creating it if needed, and points ref.name `name` at it there. */
int wp_archive_export_dir(wp_store *s, const wp_descriptor *desc, const char *name, const char *dir, wp_error *err);
/* Writes a reproducible OCI archive (sorted entries, fixed owners, modes and times). */
int wp_archive_save(wp_store *s, const wp_descriptor *desc, const char *name, const char *file, wp_error *err);
/* The same archive written to fd (a pipe, standard output) as it is made. */
int wp_archive_save_fd(wp_store *s, const wp_descriptor *desc, const char *name, int fd, wp_error *err);
/* Reads an OCI archive (file "-": standard input): every blob is checked against its name before it enters the
 * store; the archive's tags are normalised and applied only once every image they name is
 * complete. names gets the tags applied (or digests of untagged images). */
int wp_archive_load(wp_store *s, const char *file, wp_strv *names, wp_error *err);
/* Reads an OCI layout folder (is_dir) or archive into the store, checking every blob,
 * without tagging; desc gets the image named name (a ref.name), or the only one. */
int wp_archive_import(wp_store *s, const char *path, bool is_dir, const char *name, wp_descriptor *desc,
		      char **found_name, wp_error *err);
/* The digests of a manifest or index and every blob below it, manifest first. */
int wp_archive_closure(wp_store *s, const wp_descriptor *desc, wp_strv *digests, wp_error *err);

#endif
