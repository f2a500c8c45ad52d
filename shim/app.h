/* Internal to shim/ (scripts/layers.sh keeps other modules out). */
/* Where a task's app comes from: the container's rootfs (a classic scratch image, or an
 * image-layout app containerd unpacked into the snapshot), or, for the wasm and Spin
 * artifact layouts containerd cannot unpack, the node cache, filled by wasmpack-core
 * through containerd's content API. */
#ifndef WP_SHIM_APP_H
#define WP_SHIM_APP_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/error.h"

/* Does rootfs hold the file process.args[0] names (spin.toml when there are no args),
 * as a regular file inside it? */
bool wp_app_in_rootfs(const char *rootfs, const json_t *process);
/* The wasm process.args[0] names must be a file inside rootfs after every symlink: the
 * engine runs as root (unless process.user says otherwise) and would follow a link out of
 * the image onto the node. WP_EINVALID otherwise. */
int wp_app_check_beneath(const char *rootfs, const json_t *process, wp_error *err);

typedef struct wp_app_fetch {
	const char *address;     /* containerd's gRPC socket */
	const char *ns;          /* its namespace */
	const char *cache_root;  /* the node cache */
	/* The exit status of pid when the shim's reaper collected it before waitpid could. */
	int (*reaped_status)(void *ctx, pid_t pid);
	void *ctx;
} wp_app_fetch;

/* Runs wasmpack-core (next to this binary, else from PATH) to unpack container id's image
 * (an artifact: the wasm or Spin layout) into the node cache, once per manifest digest,
 * and sets *entry to the unpacked folder. With digest, only that manifest (the one the
 * policy verified): another is WP_EDIGEST. files: the container has no snapshot, so an
 * image of files may come this way too (else it is refused: its app is in the rootfs). A process of its own, so the shim, which lives
 * as long as its containers, never loads libcurl, libarchive or OpenSSL. WP_ENOTFOUND
 * when the image holds no app, WP_ESTATE for any other failure, with wasmpack-core's
 * message. */
int wp_app_from_containerd(const wp_app_fetch *f, const char *id, const char *digest, bool files, char **entry,
			   wp_error *err);

/* What __shim-verify found: the platform's manifest and its layout ("image", "wasm",
 * "spin"); both empty for a container with no image. */
typedef struct wp_app_verified {
	char digest[80];
	char layout[16];
} wp_app_verified;

/* Runs wasmpack-core __shim-verify: container id's image as containerd names it now,
 * resolved to the platform's manifest, and with policy (may be NULL) the node's signature
 * policy (node/policy.h) applied to that manifest, and for the image layout the
 * container's snapshot checked to come from it. 0 with v filled when it may run;
 * WP_ESTATE with the reason (which rule, which keys, why) otherwise, so Create fails
 * saying it. */
int wp_app_verify(const wp_app_fetch *f, const char *id, const char *policy, wp_app_verified *v, wp_error *err);

#endif
