/* The node's signature policy, applied where an image is about to run: wasmpack run and
 * unpack, and __shim-verify for the containerd shim (node/policy.h has the file). */
#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "node/policy.h"
#include "oci/ref.h"
#include "oci/sigstore.h"

#include <stdlib.h>
#include <string.h>

int wp_cli_policy_check(wp_cli *cli, const char *given, const char *name, const char *digest, const char *cache_root)
{
	const char *path = wp_policy_path(given);
	const wp_policy_rule *rule;
	wp_policy p;
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_ref ref = { 0 };
	wp_sigstore_verified v;
	char sig[WP_DIGEST_BUFSZ];
	int rc;

	if (!path)
		return 0;
	/* a policy that cannot be read refuses everything: a typo must not open the node */
	if ((rc = wp_policy_load(path, &p, &cli->err)) < 0)
		return wp_error_append(&cli->err, "; refusing to run images until it is fixed");
	rule = wp_policy_match(&p, name);
	if (!rule || !rule->keys.len) {
		wp_debug("signature policy %s: %s", path,
			 !rule ? "no rule matches the image" : "its rule asks for no signature");
		wp_policy_release(&p);
		return 0;
	}
	if (cache_root && wp_policy_remembered(cache_root, digest, rule)) {
		wp_debug("signature policy: %s was verified before under the rule '%s'", digest, rule->match);
		wp_policy_release(&p);
		return 0;
	}
	if (!name) {
		rc = wp_error_set(&cli->err, WP_EDIGEST, "the signature policy %s (rule '%s', line %d) requires a signature, "
				  "and an image with no name has no registry to hold one: run it by its name", path,
				  rule->match, rule->line);
		goto done;
	}
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_ref_parse(name, &ref, &cli->err)) < 0)
		goto done;
	if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
		rc = wp_cli_verify_signed(r, &ref, digest, &rule->keys, &v, sig, &cli->err);
	if (rc == 0) {
		wp_info("signature policy: %s@%s is signed by the key %s (rule '%s')", name, digest, v.hint, rule->match);
		if (cache_root)
			wp_policy_remember(cache_root, digest, rule);
	} else if (rc == WP_EDIGEST) {
		wp_error_prefix(&cli->err, "the signature policy %s (rule '%s', line %d) refuses it", path, rule->match,
				rule->line);
	} else {
		/* the registry could not be asked: closed, not open */
		wp_error_prefix(&cli->err, "the signature policy %s (rule '%s', line %d) cannot check %s's signature, so "
				"it does not run (fail closed)", path, rule->match, rule->line, name);
		rc = WP_EDIGEST;
		cli->err.code = WP_EDIGEST;
	}
done:
	wp_client_close(r);
	wp_ref_release(&ref);
	wp_policy_release(&p);
	return rc;
}

int wp_cli_policy_for_source(wp_cli *cli, wp_store *s, const char *src, const wp_descriptor *d, const char *cache_root)
{
	_cleanup_free_ char *stored = NULL, *name = NULL;
	wp_descriptor found = { 0 };
	wp_error ignored;
	wp_ref ref;

	if (!wp_policy_path(wp_cli_value(cli, "policy")))
		return 0;
	/* the image's name: as given when it names a registry, else the store's for it */
	if (wp_cli_names_registry(src) && !wp_str_has_prefix(src, "oci:") && !wp_str_has_prefix(src, "oci-archive:") &&
	    !wp_str_has_prefix(src, "containerd:"))
		stored = wp_xstrdup(src);
	else if (s && s->root && wp_store_resolve(s, src, &found, &stored, &ignored) == 0)
		wp_descriptor_release(&found);
	if (stored && wp_ref_parse(stored, &ref, &ignored) == 0) {
		name = wp_str_fmt("%s/%s", ref.registry, ref.repository);
		wp_ref_release(&ref);
	}
	return wp_cli_policy_check(cli, wp_cli_value(cli, "policy"), name, d->digest, cache_root);
}
