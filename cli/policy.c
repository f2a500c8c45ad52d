/* The node's signature policy as run, unpack and __shim-verify apply it: the image's names
 * from what the user gave, the verdict trust/'s (trust/trust.h). */
#include "cli/cli.h"
#include "common/util.h"
#include "trust/policy.h"
#include "trust/trust.h"

#include <string.h>

int wp_cli_policy_check_names(wp_cli *cli, const char *given, const wp_strv *names, const char *digest,
			      const char *cache_root, const char *tag_ref)
{
	wp_client_opts ro;
	wp_trust_check c = { .policy = given, .cache_root = cache_root, .registry = &ro, .tag_ref = tag_ref };
	int rc;

	if (!wp_policy_path(given))
		return 0;
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0)
		return rc;
	return wp_trust_policy_check(&c, names, digest, &cli->err);
}

int wp_cli_policy_for_source(wp_cli *cli, wp_store *s, const char *src, const wp_descriptor *d, const char *cache_root)
{
	bool registry = wp_cli_names_registry(src) && !wp_str_has_prefix(src, "oci:") &&
			!wp_str_has_prefix(src, "oci-archive:") && !wp_str_has_prefix(src, "containerd:");
	wp_strv names = { 0 };
	int rc;

	if (!wp_policy_path(wp_opts.policy))
		return 0;
	/* the image's names: as given when it names a registry, and every name the store
	 * holds this manifest under (one content under two names meets the rules of both) */
	if (registry)
		wp_trust_policy_add_name(&names, src);
	wp_trust_policy_store_names(s, d->digest, &names);
	rc = wp_cli_policy_check_names(cli, wp_opts.policy, &names, d->digest, cache_root,
				       registry ? src : NULL);
	wp_strv_release(&names);
	return rc;
}
