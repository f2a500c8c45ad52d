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

#include <stdlib.h>
#include <string.h>

/* One rule's demand for the image as name: satisfied when remembered, or when a signature
 * in name's repository verifies with one of its keys. */
static int satisfy(wp_cli *cli, const wp_policy *p, const wp_policy_rule *rule, const char *name, const char *digest,
		   const char *cache_root)
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
		rc = wp_cli_verify_signed(r, &ref, digest, &rule->keys, &v, sig, &cli->err);
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

int wp_cli_policy_check_names(wp_cli *cli, const char *given, const wp_strv *names, const char *digest,
			      const char *cache_root)
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
		rc = satisfy(cli, &p, rule, name, digest, cache_root);
	}
	if (!any)
		wp_debug("signature policy %s: no rule asks %s for a signature", path, digest);
	wp_policy_release(&p);
	return rc;
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

/* registry/repository of a reference, added to names once. */
static void add_name(wp_strv *names, const char *reference)
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
		add_name(&names, src);
	if (s && s->root && wp_store_index_read(s, &ix, &ignored) == 0) {
		for (size_t i = 0; i < ix.n_manifests; i++)
			if (!strcmp(ix.manifests[i].digest, d->digest))
				add_name(&names, wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME));
		wp_index_release(&ix);
	}
	rc = wp_cli_policy_check_names(cli, wp_cli_value(cli, "policy"), &names, d->digest, cache_root);
	wp_strv_release(&names);
	return rc;
}
