/* Image signatures the way Sigstore and cosign 3 make them, with a key pair (no Fulcio,
 * no Rekor: keyless signing needs the network): a Sigstore bundle (v0.3) holding a DSSE
 * envelope whose payload is an in-toto statement (v1) about the image's manifest digest,
 * predicate type https://sigstore.dev/cosign/sign/v1. The bundle travels as an OCI 1.1
 * referrer of the image (artifactType WP_MT_SIGSTORE_BUNDLE: registry/referrers.h).
 *
 * Keys are PEM files as openssl makes them (`openssl ecparam -name prime256v1 -genkey`,
 * PKCS#8 or SEC1, encrypted PEM with a passphrase too); ECDSA P-256 with SHA-256, as
 * cosign's own keys are. The bundle names the key by a hint: base64 of the sha256 of its
 * DER SubjectPublicKeyInfo. */
#ifndef WP_OCI_SIGSTORE_H
#define WP_OCI_SIGSTORE_H

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/strv.h"

#include <stdbool.h>

#define WP_MT_SIGSTORE_BUNDLE "application/vnd.dev.sigstore.bundle.v0.3+json"
#define WP_COSIGN_SIGN_PREDICATE "https://sigstore.dev/cosign/sign/v1"
#define WP_SIGSTORE_BUNDLE_MAX (1u << 20)

/* The bundle signing digest (sha256:...) of the image named name ("registry/repo"), with
 * the private key in key_path (passphrase for an encrypted one, or NULL). */
int wp_sigstore_sign(const char *key_path, const char *passphrase, const char *name, const char *digest,
		     wp_buf *bundle, wp_error *err);

typedef struct wp_sigstore_verified {
	char hint[64];           /* the key's hint */
	char predicate_type[256];
	char content[32];        /* "dsse-envelope" or "message-signature" */
} wp_sigstore_verified;

/* Verifies that bundle is a signature of digest by the public key in pub_path: its
 * signature with the key, then that what it signs is digest, and, for a DSSE bundle, that
 * its statement's predicateType is one of predicate_types (NULL or empty: only
 * WP_COSIGN_SIGN_PREDICATE): an SBOM or a provenance signed with the same key is an
 * attestation, not a signature. A message-signature bundle (a signature over the manifest
 * digest itself) counts wherever cosign's sign predicate does. WP_EDIGEST saying why not (wrong key,
 * another image, another kind of statement, malformed). */
int wp_sigstore_verify(const char *bundle, size_t len, const char *pub_path, const char *digest,
		       const wp_strv *predicate_types, wp_sigstore_verified *out, wp_error *err);
/* Is type one of predicate_types (NULL or empty: the cosign signature's)? */
bool wp_sigstore_predicate_accepted(const wp_strv *predicate_types, const char *type);

/* The hint of the public key in pub_path (or of a private key's public half). */
int wp_sigstore_key_hint(const char *path, char hint[64], wp_error *err);

#endif
