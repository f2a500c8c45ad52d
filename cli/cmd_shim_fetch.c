/* __shim-fetch: the containerd shim's helper for artifact images (node/fetch.h). It prints
 * the node cache folder of the container's app. Not for people: hidden from help. */
#include "cli/cli.h"
#include "node/fetch.h"

#include <stdlib.h>

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
