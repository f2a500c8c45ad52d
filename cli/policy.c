/* The node's signature policy, applied where an image is about to run: wasmpack run and
 * unpack, and __shim-verify for the containerd shim (node/policy.h has the file). */
#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "node/policy.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "oci/sigstore.h"
#include "registry/remote.h"

#include <stdlib.h>
#include <string.h>

/* One rule's demand for the image as name: satisfied when remembered, or when a signature
 * in name's repository verifies with one of its keys. */
/* The index tag_ref names now in the registry, when it is one that lists digest: a
 * signature of it covers its manifests (cosign signs what a tag names, an index for a
 * multi-platform image). 0 with its digest in out. */
static int index_of(wp_client *r, const wp_ref *tag_ref, const char *digest, char out[WP_DIGEST_BUFSZ], wp_error *err)
{
	_cleanup_free_ char *mt = NULL;
	wp_index ix = { 0 };
	wp_buf body;
	int rc;

	if (!tag_ref->tag)
		return WP_ENOTFOUND;
	wp_buf_init(&body, WP_MANIFEST_MAX);
	rc = wp_remote_manifest(r, tag_ref, tag_ref->tag, &body, &mt, out, err);
	if (rc == 0 && (!wp_mediatype_is_index(mt) || wp_index_parse(body.data, body.len, &ix, err) < 0))
		rc = WP_ENOTFOUND;
	if (rc == 0) {
		rc = WP_ENOTFOUND;
		for (size_t i = 0; i < ix.n_manifests; i++)
			if (!strcmp(ix.manifests[i].digest, digest))
				rc = 0;
	}
	wp_index_release(&ix);
	wp_buf_release(&body);
	return rc;
}

static int satisfy(wp_cli *cli, const wp_policy *p, const wp_policy_rule *rule, const char *name, const char *digest,
		   const char *cache_root, const char *tag_ref)
{
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_ref ref = { 0 };
	wp_sigstore_verified v;
	char sig[WP_DIGEST_BUFSZ];
	int rc;

	if (cache_root && wp_policy_remembered(cache_root, digest, rule)) {
		wp_debug("signature policy: %s was verified before under the rule '%s'", digest, rule->match);
		return 0;
	}
	if (!name)
		return wp_error_set(&cli->err, WP_EDIGEST, "the signature policy %s (rule '%s', line %d) requires a "
				    "signature, and an image with no name has no registry to hold one: run it by its name",
				    p->path, rule->match, rule->line);
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_ref_parse(name, &ref, &cli->err)) < 0)
		return rc;
	if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
		rc = wp_cli_verify_signed(r, &ref, digest, &rule->keys, &rule->predicate_types, &v, sig, &cli->err);
	if (rc == WP_EDIGEST && tag_ref) {
		/* the manifest is not signed itself: the index its tag names may be */
		wp_ref tr;
		wp_error ierr, verr;
		char ix[WP_DIGEST_BUFSZ];

		if (wp_ref_parse(tag_ref, &tr, &ierr) == 0) {
			if (!strcmp(tr.registry, ref.registry) && !strcmp(tr.repository, ref.repository) &&
			    index_of(r, &tr, digest, ix, &ierr) == 0 &&
			    wp_cli_verify_signed(r, &ref, ix, &rule->keys, &rule->predicate_types, &v, sig, &verr) == 0) {
				wp_info("signature policy: %s is in the index %s, which is signed", digest, ix);
				rc = 0;
			}
			wp_ref_release(&tr);
		}
	}
	if (rc == 0) {
		wp_info("signature policy: %s@%s is signed by the key %s (rule '%s')", name, digest, v.hint, rule->match);
		if (cache_root)
			wp_policy_remember(cache_root, digest, rule);
	} else if (rc == WP_EDIGEST) {
		wp_error_prefix(&cli->err, "the signature policy %s (rule '%s', line %d) refuses it", p->path, rule->match,
				rule->line);
	} else {
		/* the registry could not be asked: closed, not open */
		wp_error_prefix(&cli->err, "the signature policy %s (rule '%s', line %d) cannot check %s's signature, so "
				"it does not run (fail closed)", p->path, rule->match, rule->line, name);
		rc = cli->err.code = WP_EDIGEST;
	}
	wp_client_close(r);
	wp_ref_release(&ref);
	return rc;
}

static int check_names(wp_cli *cli, const char *given, const wp_strv *names, const char *digest,
		       const char *cache_root, const char *tag_ref)
{
	const char *path = wp_policy_path(given);
	wp_policy p;
	int rc = 0;
	bool any = false;

	if (!path)
		return 0;
	/* a policy that cannot be read refuses everything: a typo must not open the node */
	if ((rc = wp_policy_load(path, &p, &cli->err)) < 0)
		return wp_error_append(&cli->err, "; refusing to run images until it is fixed");
	/* the image is judged under every name it has: one content under two names meets the
	 * rules of both (a pod asking for a name a rule covers gets no pass from another) */
	for (size_t i = 0; rc == 0 && i < (names->len ? names->len : 1); i++) {
		const char *name = names->len ? names->items[i] : NULL;
		const wp_policy_rule *rule = wp_policy_match(&p, name);

		if (!rule || !rule->keys.len)
			continue;
		any = true;
		rc = satisfy(cli, &p, rule, name, digest, cache_root, tag_ref);
	}
	if (!any)
		wp_debug("signature policy %s: no rule asks %s for a signature", path, digest);
	wp_policy_release(&p);
	return rc;
}

int wp_cli_policy_check_names(wp_cli *cli, const char *given, const wp_strv *names, const char *digest,
			      const char *cache_root)
{
	return check_names(cli, given, names, digest, cache_root, NULL);
}

int wp_cli_policy_check(wp_cli *cli, const char *given, const char *name, const char *digest, const char *cache_root)
{
	wp_strv names = { 0 };
	int rc;

	if (name)
		wp_strv_push(&names, name);
	rc = wp_cli_policy_check_names(cli, given, &names, digest, cache_root);
	wp_strv_release(&names);
	return rc;
}

void wp_cli_policy_add_name(wp_strv *names, const char *reference)
{
	wp_ref ref;
	wp_error ignored;

	if (!reference || wp_ref_parse(reference, &ref, &ignored) < 0)
		return;
	{
		_cleanup_free_ char *n = wp_str_fmt("%s/%s", ref.registry, ref.repository);
		bool seen = false;

		for (size_t k = 0; k < names->len && !seen; k++)
			seen = !strcmp(names->items[k], n);
		if (!seen)
			wp_strv_push(names, n);
	}
	wp_ref_release(&ref);
}

int wp_cli_policy_for_source(wp_cli *cli, wp_store *s, const char *src, const wp_descriptor *d, const char *cache_root)
{
	wp_strv names = { 0 };
	wp_index ix = { 0 };
	wp_error ignored;
	int rc;

	if (!wp_policy_path(wp_cli_value(cli, "policy")))
		return 0;
	/* the image's names: as given when it names a registry, and every name the store
	 * holds this manifest under (one content under two names meets the rules of both) */
	if (wp_cli_names_registry(src) && !wp_str_has_prefix(src, "oci:") && !wp_str_has_prefix(src, "oci-archive:") &&
	    !wp_str_has_prefix(src, "containerd:"))
		wp_cli_policy_add_name(&names, src);
	if (s && s->root && wp_store_index_read(s, &ix, &ignored) == 0) {
		for (size_t i = 0; i < ix.n_manifests; i++)
			if (!strcmp(ix.manifests[i].digest, d->digest))
				wp_cli_policy_add_name(&names, wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME));
		wp_index_release(&ix);
	}
	rc = check_names(cli, wp_cli_value(cli, "policy"), &names, d->digest, cache_root,
			 wp_cli_names_registry(src) && !wp_str_has_prefix(src, "containerd:") ? src : NULL);
	wp_strv_release(&names);
	return rc;
}
