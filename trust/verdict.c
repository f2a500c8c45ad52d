/* The node policy's verdict on an image about to run: wasmpack run and unpack, and
 * __shim-verify for the containerd shim (trust/policy.h has the file and its rules). */
#include "trust/trust.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/mediatype.h"
#include "registry/remote.h"
#include "trust/policy.h"

#include <stdlib.h>
#include <string.h>

/* The index tag_ref names now in the registry, when it is one that lists digest: a
 * signature of it covers its manifests (cosign signs what a tag names, an index for a
 * multi-platform image). 0 with its digest in out. */
static int index_of(wp_client *r, const wp_ref *tag_ref, const char *digest, char out[WP_DIGEST_BUFSZ], wp_error *err)
{
	wp_remote_repo repo = { .r = r, .repository = tag_ref->repository };
	wp_blob_source src = wp_remote_source(&repo);
	wp_descriptor top = { 0 };
	wp_index ix = { 0 };
	int rc;

	if (!tag_ref->tag)
		return WP_ENOTFOUND;
	if ((rc = wp_remote_describe(r, tag_ref, &top, err)) == 0 &&
	    (!wp_mediatype_is_index(top.media_type) || wp_graph_read_index(&src, &top, &ix, err) < 0))
		rc = WP_ENOTFOUND;
	if (rc == 0) {
		rc = WP_ENOTFOUND;
		for (size_t i = 0; i < ix.n_manifests; i++)
			if (!strcmp(ix.manifests[i].digest, digest))
				rc = 0;
		wp_str_copy(out, top.digest, WP_DIGEST_BUFSZ);
	}
	wp_index_release(&ix);
	wp_descriptor_release(&top);
	return rc;
}

/* The manifest not signed itself, the index its tag names may be. */
static bool index_signed(wp_client *r, const wp_ref *ref, const char *tag_ref, const wp_policy_rule *rule,
			 const char *digest, wp_sigstore_verified *v, char sig[WP_DIGEST_BUFSZ])
{
	/* the rule's refusal stands, with its own message, when this does not pass */
	wp_error why_not = WP_ERROR_INIT;
	wp_ref tr;
	char ix[WP_DIGEST_BUFSZ];
	bool good = false;

	if (!tag_ref || wp_ref_parse(tag_ref, &tr, &why_not) < 0)
		return false;
	if (!strcmp(tr.registry, ref->registry) && !strcmp(tr.repository, ref->repository) &&
	    index_of(r, &tr, digest, ix, &why_not) == 0 &&
	    wp_trust_verify_signed(r, ref, ix, &rule->keys, &rule->predicate_types, v, sig, &why_not) == 0) {
		wp_info("signature policy: %s is in the index %s, which is signed", digest, ix);
		good = true;
	}
	wp_ref_release(&tr);
	return good;
}

/* One rule's demand for the image as name: met when remembered, or when a signature in
 * name's repository verifies with one of its keys. */
static int satisfy(const wp_trust_check *c, const wp_policy *p, const wp_policy_rule *rule, const char *name,
		   const char *digest, wp_error *err)
{
	wp_client *r = NULL;
	wp_ref ref = { 0 };
	wp_sigstore_verified v;
	char sig[WP_DIGEST_BUFSZ];
	int rc;

	if (c->cache_root && wp_policy_remembered(c->cache_root, digest, rule)) {
		wp_debug("signature policy: %s was verified before under the rule '%s'", digest, rule->match);
		return 0;
	}
	if (!name)
		return wp_error_set(err, WP_EDIGEST, "the signature policy %s (rule '%s', line %d) requires a signature, "
				    "and an image with no name has no registry to hold one: run it by its name",
				    p->path, rule->match, rule->line);
	if ((rc = wp_ref_parse(name, &ref, err)) < 0)
		return rc;
	if ((rc = wp_client_open(&r, ref.registry, c->registry, err)) == 0)
		rc = wp_trust_verify_signed(r, &ref, digest, &rule->keys, &rule->predicate_types, &v, sig, err);
	if (rc == WP_EDIGEST && index_signed(r, &ref, c->tag_ref, rule, digest, &v, sig))
		rc = 0;
	if (rc == 0) {
		wp_info("signature policy: %s@%s is signed by the key %s (rule '%s')", name, digest, v.hint, rule->match);
		if (c->cache_root)
			wp_policy_remember(c->cache_root, digest, rule);
	} else if (rc == WP_EDIGEST) {
		wp_error_prefix(err, "the signature policy %s (rule '%s', line %d) refuses it", p->path, rule->match,
				rule->line);
	} else {
		/* the registry could not be asked: closed, not open */
		wp_error_prefix(err, "the signature policy %s (rule '%s', line %d) cannot check %s's signature, so it does "
				"not run (fail closed)", p->path, rule->match, rule->line, name);
		rc = WP_EDIGEST;
		if (err)
			err->code = WP_EDIGEST;
	}
	wp_client_close(r);
	wp_ref_release(&ref);
	return rc;
}

int wp_trust_policy_check(const wp_trust_check *c, const wp_strv *names, const char *digest, wp_error *err)
{
	const char *path = wp_policy_path(c->policy);
	wp_policy p;
	int rc = 0;
	bool any = false;

	if (!path)
		return 0;
	/* a policy that cannot be read refuses everything: a typo must not open the node */
	if ((rc = wp_policy_load(path, &p, err)) < 0)
		return wp_error_append(err, "; refusing to run images until it is fixed");
	/* the image is judged under every name it has: one content under two names meets the
	 * rules of both (a pod asking for a name a rule covers gets no pass from another) */
	for (size_t i = 0; rc == 0 && i < (names->len ? names->len : 1); i++) {
		const char *name = names->len ? names->items[i] : NULL;
		const wp_policy_rule *rule = wp_policy_match(&p, name);

		if (!rule || !rule->keys.len)
			continue;
		any = true;
		rc = satisfy(c, &p, rule, name, digest, err);
	}
	if (!any)
		wp_debug("signature policy %s: no rule asks %s for a signature", path, digest);
	wp_policy_release(&p);
	return rc;
}

void wp_trust_policy_add_name(wp_strv *names, const char *reference)
{
	_cleanup_free_ char *n = NULL;
	wp_ref ref;

	if (!reference || wp_ref_parse(reference, &ref, NULL) < 0)
		return;
	n = wp_str_fmt("%s/%s", ref.registry, ref.repository);
	if (!wp_strv_contains(names, n))
		wp_strv_push(names, n);
	wp_ref_release(&ref);
}

void wp_trust_policy_store_names(wp_store *s, const char *digest, wp_strv *names)
{
	wp_index ix = { 0 };

	if (!s || !s->root || wp_store_index_read(s, &ix, NULL) < 0)
		return;
	for (size_t i = 0; i < ix.n_manifests; i++)
		if (!strcmp(ix.manifests[i].digest, digest))
			wp_trust_policy_add_name(names, wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME));
	wp_index_release(&ix);
}
