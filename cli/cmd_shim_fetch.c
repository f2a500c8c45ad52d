/* __shim-fetch: the containerd shim's helper for artifact images (node/fetch.h). It prints
 * the node cache folder of the container's app. Not for people: hidden from help. */
#include "cli/cli.h"
#include "trust/trust.h"
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
	{ "digest", 0, WP_OPT_VALUE, "DIGEST", "the manifest that was verified: refuse any other (exit 5)", NULL },
	{ "files", 0, WP_OPT_FLAG, NULL, "the container has no snapshot: an image of files may be unpacked too", NULL },
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
	rc = wp_fetch_app(address, ns, cli->args.items[0], cache, platform, wp_cli_value(cli, "digest"),
			  wp_cli_flag(cli, "files"), &entry, &cli->err);
	if (rc == 0)
		fprintf(cli->out, "%s\n", entry);
	free(entry);
	return rc;
}

const wp_cmd wp_cmd_shim_fetch = {
	"__shim-fetch", "CONTAINER-ID", "find a container's app through containerd (for the shim)", opts, 1, 1, NULL, run, true, NULL,
};

/* __shim-verify: the container's image as containerd holds it now, for the shim's Create:
 * prints "MANIFEST-DIGEST LAYOUT" (the platform's manifest, not an index; the layout by the
 * one rule, node/unpack.h), so what runs is what was judged. With --policy, the node's
 * signature policy (cli/policy.c) judges that manifest under every name containerd holds
 * the image by (a signed index that lists it covers it), and for the image layout the
 * container's snapshot must have been prepared from it (its parent is the chain id of the
 * manifest's layers): else the reason on stderr, exit 5. */
static const wp_opt verify_opts[] = {
	{ "address", 0, WP_OPT_VALUE, "SOCK", "containerd's gRPC socket", "@file" },
	{ "namespace", 0, WP_OPT_VALUE, "NS", "the container's namespace", NULL },
	{ "cache", 0, WP_OPT_VALUE, "DIR", "the node cache (verdicts are remembered there)", "@dir" },
	{ "policy", 0, WP_OPT_VALUE, "FILE", "the policy file (containerd's runtime option ConfigPath)", "@file" },
	{ "platform", 0, WP_OPT_VALUE, "OS/ARCH", "pick this platform from an index", NULL },
	{ 0 },
};

/* The rootfs containerd prepared for the container is the image that was verified. */
static int same_rootfs(wp_cli *cli, const wp_cdclient *cd, const char *id, const wp_fetch_target *t)
{
	_cleanup_free_ char *parent = NULL;
	int rc;

	if ((rc = wp_cdclient_container_snapshot_parent(cd, id, &parent, &cli->err)) < 0) {
		wp_error_prefix(&cli->err, "cannot tell what the container's rootfs was made from, so it does not run "
				"(fail closed)");
		return cli->err.code = WP_EDIGEST;
	}
	if (strcmp(parent, t->chain_id))
		return wp_error_set(&cli->err, WP_EDIGEST, "the container's rootfs was prepared from other content (snapshot "
				    "parent %.80s) than the image %s verified now (layers %s): the tag moved while the "
				    "container was made; refusing to run it", *parent ? parent : "(none)", t->manifest.digest,
				    t->chain_id);
	return 0;
}

static int run_verify(wp_cli *cli)
{
	const char *address = wp_cli_value(cli, "address"), *ns = wp_cli_value(cli, "namespace");
	const char *policy = wp_cli_value(cli, "policy"), *cache = wp_cli_value(cli, "cache");
	const char *platform = wp_cli_value(cli, "platform");
	wp_cdclient cd = { 0 };
	_cleanup_free_ char *image = NULL;
	wp_fetch_target t = { 0 };
	wp_strv all = { 0 }, names = { 0 };
	int rc;

	if (!address || !ns || !cache)
		return wp_error_set(&cli->err, WP_EUSAGE, "__shim-verify needs --address, --namespace and --cache");
	if (!platform && getenv("WASMPACK_PLATFORM") && *getenv("WASMPACK_PLATFORM"))
		platform = getenv("WASMPACK_PLATFORM");
	cd.socket = wp_str_has_prefix(address, "unix://") ? address + 7 : address;
	cd.ns = ns;
	if ((rc = wp_cdclient_container_image(&cd, cli->args.items[0], &image, &cli->err)) < 0)
		return rc;
	if (!image || !*image)
		return policy ? wp_cli_policy_check_names(cli, policy, &names, "sha256:" WP_ZERO_HEX, NULL, NULL) : 0;
	if ((rc = wp_fetch_resolve(address, ns, cli->args.items[0], cache, platform, &t, &cli->err)) < 0)
		return rc;
	if (policy) {
		/* every name containerd holds this content under (CRI records one of them,
		 * whichever came first, not necessarily the one the pod asked for) */
		wp_strv_push(&all, image);
		if ((rc = wp_cdclient_image_names(&cd, t.top.digest, &all, &cli->err)) < 0)
			goto done;
		/* CRI's other names of an image, its id (sha256:...), are no reference */
		for (size_t i = 0; i < all.len; i++)
			if (!wp_str_has_prefix(all.items[i], "sha256:"))
				wp_trust_policy_add_name(&names, all.items[i]);
		rc = wp_cli_policy_check_names(cli, policy, &names, t.manifest.digest, cache, NULL);
		if (rc == WP_EDIGEST && strcmp(t.top.digest, t.manifest.digest)) {
			/* the manifest is not signed itself: the index that lists it (the one the
			 * name points at, which it was picked from) may be */
			wp_error first = cli->err;

			if (wp_cli_policy_check_names(cli, policy, &names, t.top.digest, cache, NULL) == 0)
				rc = 0;
			else
				cli->err = first;
		}
		if (rc == 0 && !strcmp(t.layout, "image"))
			rc = same_rootfs(cli, &cd, cli->args.items[0], &t);
	}
	if (rc == 0)
		fprintf(cli->out, "%s %s\n", t.manifest.digest, t.layout);
done:
	wp_fetch_target_release(&t);
	wp_strv_release(&all);
	wp_strv_release(&names);
	return rc;
}

const wp_cmd wp_cmd_shim_verify = {
	"__shim-verify", "CONTAINER-ID", "resolve a container's image and apply the node's signature policy (for the shim)",
	verify_opts, 1, 1, NULL, run_verify, true, NULL,
};
