/* Every media type wasmpack reads or writes, in one place. */
#ifndef WP_OCI_MEDIATYPE_H
#define WP_OCI_MEDIATYPE_H

#define WP_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define WP_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define WP_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define WP_MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define WP_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define WP_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define WP_MT_OCI_EMPTY "application/vnd.oci.empty.v1+json"

#define WP_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define WP_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define WP_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define WP_MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"

/* CNCF TAG Runtime Wasm OCI artifact. */
#define WP_MT_WASM_CONFIG "application/vnd.wasm.config.v0+json"
#define WP_MT_WASM_LAYER "application/wasm"

/* Spin's layout. */
#define WP_MT_SPIN_CONFIG "application/vnd.fermyon.spin.application.v1+config"
#define WP_MT_SPIN_WASM "application/vnd.wasm.content.layer.v1+wasm"
#define WP_MT_SPIN_DATA "application/vnd.wasm.content.layer.v1+data"
#define WP_MT_SPIN_ARCHIVE "application/vnd.wasm.content.bundle.v1.tar+gzip"

#define WP_ANN_REF_NAME "org.opencontainers.image.ref.name"
/* On a store index entry only: the entry is a referrer (an SBOM, a signature) of that
 * manifest digest, kept while its subject is (wp_store_add_referrer). */
#define WP_ANN_SUBJECT "dev.wasmpack.referrer-of"
#define WP_ANN_TITLE "org.opencontainers.image.title"
#define WP_ANN_CREATED "org.opencontainers.image.created"
#define WP_ANN_SOURCE "org.opencontainers.image.source"
#define WP_ANN_REVISION "org.opencontainers.image.revision"
#define WP_ANN_VERSION "org.opencontainers.image.version"
#define WP_ANN_DIRTY "dev.wasmpack.source.dirty"
/* The engine an image prefers (wasmtime, wasmedge, wasmer, node or spin); --engine wins. */
#define WP_ANN_ENGINE "dev.wasmpack.engine"

#include <stdbool.h>

/* An index (OCI or Docker's list) or an image manifest (OCI or Docker's v2), by media type;
 * NULL is neither. No dependency beyond libc: the front (cli/front) uses these too. */
bool wp_mediatype_is_index(const char *mt);
bool wp_mediatype_is_manifest(const char *mt);

#endif
