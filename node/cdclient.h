/* A client of containerd's gRPC API, for what the shim needs to find an artifact image:
 * Containers.Get, Images.Get, Content.Read (and Containers.Create/Delete for tests and
 * tools). gRPC is HTTP/2 with prior knowledge over containerd's unix socket, each message
 * framed by a 1-byte compressed flag and a big-endian uint32 length; the status comes in
 * the grpc-status trailer. The namespace travels in the containerd-namespace header. */
#ifndef WP_NODE_CDCLIENT_H
#define WP_NODE_CDCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/strv.h"
#include "oci/store.h"

typedef struct wp_cdclient {
	const char *socket;     /* containerd's gRPC socket path */
	const char *ns;         /* namespace */
} wp_cdclient;

/* One message handed to on_msg; a non-zero return stops the call with that code. */
typedef int (*wp_cdclient_msg_fn)(void *ctx, const uint8_t *msg, size_t len, wp_error *err);

/* Calls method ("/containerd.services.containers.v1.Containers/Get") with req; each
 * response message goes to on_msg. A grpc-status other than 0 becomes an error
 * (NOT_FOUND: WP_ENOTFOUND) carrying grpc-message. */
int wp_cdclient_call(const wp_cdclient *cd, const char *method, const wp_buf *req, wp_cdclient_msg_fn on_msg, void *ctx, wp_error *err);

/* The image reference a container was created from (malloc'ed; "" when none). */
int wp_cdclient_container_image(const wp_cdclient *cd, const char *id, char **image, wp_error *err);
/* The parent of the snapshot a container's rootfs was prepared on (malloc'ed; "" when it
 * has none): for an image, the chain id of its last layer. WP_ENOTFOUND when the
 * container has no snapshot. */
int wp_cdclient_container_snapshot_parent(const wp_cdclient *cd, const char *id, char **parent, wp_error *err);
/* 0 when containerd's content store holds digest, WP_ENOTFOUND when it does not, another
 * error when it could not be asked. */
int wp_cdclient_content_exists(const wp_cdclient *cd, const char *digest, wp_error *err);
/* The descriptor an image name points at. */
int wp_cdclient_image_target(const wp_cdclient *cd, const char *name, wp_descriptor *target, wp_error *err);
/* Every name containerd holds an image of digest (its target) under. */
int wp_cdclient_image_names(const wp_cdclient *cd, const char *digest, wp_strv *names, wp_error *err);
/* Copies a blob from containerd's content store into s, checked against digest and size
 * (-1: unknown). */
int wp_cdclient_fetch_blob(const wp_cdclient *cd, wp_store *s, const char *digest, int64_t size, wp_error *err);
/* containerd's content store as a blob source (oci/graph.h): what is read is copied into
 * the store into first (a temp store of the caller's), capped and checked there. */
typedef struct wp_cdclient_content {
	const wp_cdclient *cd;
	wp_store *into;
} wp_cdclient_content;
wp_blob_source wp_cdclient_source(wp_cdclient_content *c);

/* Creates a container record {id, image, runtime, spec (OCI runtime spec JSON), labels
 * none}; for tests and tools that start artifact images ctr cannot. */
int wp_cdclient_container_create(const wp_cdclient *cd, const char *id, const char *image, const char *runtime,
			   const char *spec_json, wp_error *err);
int wp_cdclient_container_delete(const wp_cdclient *cd, const char *id, wp_error *err);

#endif
