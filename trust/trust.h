/* The supply chain as a library: the referrers of an image (signatures, SBOMs,
 * attestations) over a registry or the store, Sigstore signatures made and verified as
 * referrers, and the node policy's verdict on an image. The CLI's commands (attach,
 * discover, pull/push --referrers, sign, verify, run, unpack), `__shim-verify` for the
 * containerd shim and the tests all call these; they take plain arguments, never print
 * (but for the log), and fill a wp_error.
 *
 * The policy's file format and its rules are trust/policy.h; Sigstore bundles are
 * trust/sigstore.h; the registry's referrers API and fallback tags are
 * registry/referrers.h. */
#ifndef WP_TRUST_TRUST_H
#define WP_TRUST_TRUST_H

#include <jansson.h>
#include <stdbool.h>

#include "common/error.h"
#include "common/kvlist.h"
#include "common/strv.h"
#include "oci/ref.h"
#include "oci/store.h"
#include "registry/client.h"
#include "trust/sigstore.h"

/* ---- referrers ---- */

/* How deep referrers of referrers are followed (a signature of an SBOM, say). */
#define WP_TRUST_REFERRERS_DEPTH 4

/* Where referrers are listed: a registry repository (r and repository; its referrers API,
 * else its fallback tags), or, when r is NULL, the store s (what was pulled or copied with
 * an image). api becomes true once the registry's API answered. */
typedef struct wp_trust_referrers {
	wp_client *r;
	const char *repository;
	wp_store *s;
	bool api;
} wp_trust_referrers;

/* The referrers of subject at at, as an index's manifests (release it), of type only when
 * given. No referrers is an empty index. */
int wp_trust_referrers_list(wp_trust_referrers *at, const char *subject, const char *type, wp_index *out,
			    wp_error *err);

/* Called for each referrer found, before its own referrers are listed; a negative return
 * stops the walk with that code. */
typedef int (*wp_trust_referrer_fn)(void *ctx, const char *subject, const wp_descriptor *referrer, int depth,
				    wp_error *err);
/* The referrers of subject (of type only at the first level, when given), theirs, and so
 * on to WP_TRUST_REFERRERS_DEPTH, each handed to fn in the registry's or store's order. */
int wp_trust_referrers_walk(wp_trust_referrers *at, const char *subject, const char *type, wp_trust_referrer_fn fn,
			    void *ctx, wp_error *err);
/* The same as a JSON array (json_decref it) of {artifactType, mediaType, digest, size,
 * annotations, referrers}, each level sorted by type and digest: what discover prints. */
int wp_trust_referrers_tree(wp_trust_referrers *at, const char *subject, const char *type, json_t **out,
			    wp_error *err);

/* An artifact manifest of type with layers (blobs already in s; none gives the empty
 * layer) and annotations, whose subject is subject, stored in s, pushed by digest to ref's
 * repository and recorded as subject's referrer; art is its descriptor (artifactType and
 * annotations set: release it), *api whether the registry's referrers API holds it. */
int wp_trust_attach(wp_client *r, wp_store *s, const wp_ref *ref, const wp_descriptor *subject, const char *type,
		    const wp_descriptor *layers, size_t n_layers, const wp_kvlist *annotations, wp_descriptor *art,
		    bool *api, wp_error *err);
/* The referrers of subject (and theirs) from ref's repository into the store, kept there
 * with their subject; and the store's referrers of subject pushed to ref's repository and
 * recorded there. *count gains one per artifact. */
int wp_trust_pull_referrers(wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, size_t *count,
			    wp_error *err);
int wp_trust_push_referrers(wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, size_t *count,
			    wp_error *err);

/* ---- signatures ---- */

/* subject (in ref's repository) signed with the private key file key (password, may be
 * NULL, for an encrypted one): a Sigstore bundle (the shape cosign 3 writes) stored in s
 * and attached as subject's referrer. art is the signature artifact (release it), bundle
 * the bundle blob's digest. */
int wp_trust_sign(wp_client *r, wp_store *s, const wp_ref *ref, const wp_descriptor *subject, const char *key,
		  const char *password, wp_descriptor *art, char bundle[WP_DIGEST_BUFSZ], bool *api, wp_error *err);
/* 0 when a Sigstore bundle referring to digest in ref's repository verifies with one of
 * keys (of one of predicate_types; NULL or empty: cosign's signature type); v and sig say
 * which. WP_EDIGEST saying why not; other codes when the registry could not be asked. */
int wp_trust_verify_signed(wp_client *r, const wp_ref *ref, const char *digest, const wp_strv *keys,
			   const wp_strv *predicate_types, wp_sigstore_verified *v, char sig[WP_DIGEST_BUFSZ],
			   wp_error *err);

/* ---- the policy's verdict ---- */

/* What a policy check is given besides the image. */
typedef struct wp_trust_check {
	const char *policy;             /* --policy; NULL: $WASMPACK_POLICY, else /etc/wasmpack/policy.toml */
	const char *cache_root;         /* the node cache, where verdicts are remembered; NULL: none */
	const wp_client_opts *registry; /* how registries are reached to read signatures */
	/* the reference the image was asked for by tag, when it has one: a manifest that is
	 * not signed itself passes when the index its tag names lists it and is signed */
	const char *tag_ref;
} wp_trust_check;

/* The node's signature policy on an image whose manifest is digest, known under names
 * (registry/repository each; none: an image with no name): 0 when no rule applies or
 * every rule one of its names falls under is met (verdicts remembered); WP_EDIGEST saying
 * which rule, which keys and why not; a registry that cannot be asked, or a policy that
 * cannot be read, fails closed. */
int wp_trust_policy_check(const wp_trust_check *c, const wp_strv *names, const char *digest, wp_error *err);
/* The name a policy judges a reference by (registry/repository), added to names once;
 * nothing for what is no reference. */
void wp_trust_policy_add_name(wp_strv *names, const char *reference);
/* Every name the store s holds the manifest digest under, added to names as above. */
void wp_trust_policy_store_names(wp_store *s, const char *digest, wp_strv *names);

#endif
