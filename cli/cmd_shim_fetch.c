/* __shim-fetch: the containerd shim's helper for artifact images (node/fetch.h). It prints
 * the node cache folder of the container's app. Not for people: hidden from help. */
#include "cli/cli.h"
#include "common/util.h"
#include "node/cdclient.h"
#include "node/fetch.h"
#include "oci/ref.h"

#include <stdlib.h>
#include <string.h>

#define WP_ZERO_HEX "0000000000000000000000000000000000000000000000000000000000000000"

static const wp_opt opts[] = {
	{ "address", 0, WP_OPT_VALUE, "SOCK", "containerd's gRPC socket", "@file" },
	{ "namespace", 0, WP_OPT_VALUE, "NS", "the container's namespace", NULL },
	{ "cache", 0, WP_OPT_VALUE, "DIR", "the node cache", "@dir" },
	{ "platform", 0, WP_OPT_VALUE, "OS/ARCH", "pick this platform from an index", NULL },
	{ 0 },
};

static int run(wp_cli *cli)
{
	const char *address = wp_cli_value(cli, "address"), *ns = wp_cli_value(cli, "namespace");
	const char *cache = wp_cli_value(cli, "cache"), *platform = wp_cli_value(cli, "platform");
	char *entry = NULL;
	int rc;

	if (!address || !ns || !cache)
		return wp_error_set(&cli->err, WP_EUSAGE, "__shim-fetch needs --address, --namespace and --cache");
	/* the node's choice for indexes (containerd's environment, which the shim passes on) */
	if (!platform && getenv("WASMPACK_PLATFORM") && *getenv("WASMPACK_PLATFORM"))
		platform = getenv("WASMPACK_PLATFORM");
	rc = wp_fetch_app(address, ns, cli->args.items[0], cache, platform, &entry, &cli->err);
	if (rc == 0)
		fprintf(cli->out, "%s\n", entry);
	free(entry);
	return rc;
}

const wp_cmd wp_cmd_shim_fetch = {
	"__shim-fetch", "CONTAINER-ID", "find a container's app through containerd (for the shim)", opts, 1, 1, NULL, run, true, NULL,
};

/* __shim-verify: the node's signature policy for the container's image (cli/policy.c),
 * for the shim's Create. Silent and exit 0 when it may run; the reason on stderr, exit 5,
 * when not. The image's name and the digest its tag pointed to come from containerd. */
static const wp_opt verify_opts[] = {
	{ "address", 0, WP_OPT_VALUE, "SOCK", "containerd's gRPC socket", "@file" },
	{ "namespace", 0, WP_OPT_VALUE, "NS", "the container's namespace", NULL },
	{ "cache", 0, WP_OPT_VALUE, "DIR", "the node cache (verdicts are remembered there)", "@dir" },
	{ "policy", 0, WP_OPT_VALUE, "FILE", "the policy file (containerd's runtime option ConfigPath)", "@file" },
	{ 0 },
};

static int run_verify(wp_cli *cli)
{
	const char *address = wp_cli_value(cli, "address"), *ns = wp_cli_value(cli, "namespace");
	wp_cdclient cd = { 0 };
	_cleanup_free_ char *image = NULL;
	wp_descriptor top = { 0 };
	wp_strv all = { 0 }, names = { 0 };
	int rc;

	if (!address || !ns)
		return wp_error_set(&cli->err, WP_EUSAGE, "__shim-verify needs --address and --namespace");
	cd.socket = wp_str_has_prefix(address, "unix://") ? address + 7 : address;
	cd.ns = ns;
	if ((rc = wp_cdclient_container_image(&cd, cli->args.items[0], &image, &cli->err)) < 0)
		return rc;
	if (!image || !*image)
		return wp_cli_policy_check_names(cli, wp_cli_value(cli, "policy"), &names, "sha256:" WP_ZERO_HEX, NULL);
	if ((rc = wp_cdclient_image_target(&cd, image, &top, &cli->err)) < 0)
		return rc;
	/* every name containerd holds this content under (CRI records one of them, whichever
	 * came first, not necessarily the one the pod asked for) */
	wp_strv_push(&all, image);
	if ((rc = wp_cdclient_image_names(&cd, top.digest, &all, &cli->err)) == 0) {
		/* CRI's other names of an image, its id (sha256:...), are no reference */
		for (size_t i = 0; i < all.len; i++)
			if (!wp_str_has_prefix(all.items[i], "sha256:"))
				wp_cli_policy_add_name(&names, all.items[i]);
		rc = wp_cli_policy_check_names(cli, wp_cli_value(cli, "policy"), &names, top.digest, wp_cli_value(cli, "cache"));
	}
	wp_strv_release(&all);
	wp_strv_release(&names);
	wp_descriptor_release(&top);
	return rc;
}

const wp_cmd wp_cmd_shim_verify = {
	"__shim-verify", "CONTAINER-ID", "apply the node's signature policy to a container's image (for the shim)",
	verify_opts, 1, 1, NULL, run_verify, true, NULL,
};
