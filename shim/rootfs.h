/* Internal to shim/ (scripts/layers.sh keeps other modules out). */
/* A container's rootfs as containerd hands it to Create: a list of mounts (the snapshot's
 * overlay or bind), decoded from the request and mounted in order on bundle/rootfs. */
#ifndef WP_SHIM_ROOTFS_H
#define WP_SHIM_ROOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/strv.h"

/* containerd's Mount message: type = 1, source = 2, target = 3, options = 4 (repeated). */
typedef struct wp_rootfs_mount {
	char *type, *source, *target;
	wp_strv options;
} wp_rootfs_mount;

/* Decodes one Mount (m starts zeroed); < 0 for a malformed one. */
int wp_rootfs_mount_decode(const uint8_t *d, size_t len, wp_rootfs_mount *m);
void wp_rootfs_mount_release(wp_rootfs_mount *m);
/* Mounts each on rootfs (or rootfs/target); on a failure, what was mounted is undone. */
int wp_rootfs_mount_all(const char *rootfs, const wp_rootfs_mount *mounts, size_t n, wp_error *err);
/* Detaches every mount stacked on target. */
void wp_rootfs_unmount_all(const char *target);

#endif
