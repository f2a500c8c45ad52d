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
	WP_VALUE("address", 0, "SOCK", "containerd's gRPC socket", "@file", &wp_opts.address),
	WP_VALUE("namespace", 0, "NS", "the container's namespace", NULL, &wp_opts.namespace),
	WP_VALUE("cache", 0, "DIR", "the node cache", "@dir", &wp_opts.cache),
	WP_VALUE("platform", 0, "OS/ARCH", "pick this platform from an index", NULL, &wp_opts.platform),
	WP_VALUE("digest", 0, "DIGEST", "the manifest that was verified: refuse any other (exit 5)", NULL, &wp_opts.digest),
	WP_FLAG("files", 0, "the container has no snapshot: an image of files may be unpacked too", &wp_opts.with_files),
	{ 0 },
};

static int run(wp_cli *cli)
{
	const char *address = wp_opts.address, *ns = wp_opts.namespace;
	const char *cache = wp_opts.cache, *platform = wp_opts.platform;
	char *entry = NULL;
	int rc;

	if (!address || !ns || !cache)
		return wp_error_set(&cli->err, WP_EUSAGE, "__shim-fetch needs --address, --namespace and --cache");
	/* the node's choice for indexes (containerd's environment, which the shim passes on) */
	if (!platform && getenv("WASMPACK_PLATFORM") && *getenv("WASMPACK_PLATFORM"))
		platform = getenv("WASMPACK_PLATFORM");
	rc = wp_fetch_app(address, ns, cli->args.items[0], cache, platform, wp_opts.digest,
			  wp_opts.with_files, &entry, &cli->err);
	if (rc == 0)
		fprintf(cli->out, "%s\n", entry);
	free(entry);
	return rc;
}

const wp_cmd wp_cmd_shim_fetch = {
	.name = "__shim-fetch",
	.args = "CONTAINER-ID",
	.summary = "find a container's app through containerd (for the shim)",
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.run = run,
	.hidden = true,
};

/* __shim-verify: the container's image as containerd holds it now, for the shim's Create:
 * prints "MANIFEST-DIGEST LAYOUT" (the platform's manifest, not an index; the layout by the
 * one rule, node/unpack.h), so what runs is what was judged. With --policy, the node's
 * signature policy (cli/policy.c) judges that manifest under every name containerd holds
 * the image by (a signed index that lists it covers it), and for the image layout the
 * container's snapshot must have been prepared from it (its parent is the chain id of the
 * manifest's layers): else the reason on stderr, exit 5. */
static const wp_opt verify_opts[] = {
	WP_VALUE("address", 0, "SOCK", "containerd's gRPC socket", "@file", &wp_opts.address),
	WP_VALUE("namespace", 0, "NS", "the container's namespace", NULL, &wp_opts.namespace),
	WP_VALUE("cache", 0, "DIR", "the node cache (verdicts are remembered there)", "@dir", &wp_opts.cache),
	WP_VALUE("policy", 0, "FILE", "the policy file (containerd's runtime option ConfigPath)", "@file", &wp_opts.policy),
	WP_VALUE("platform", 0, "OS/ARCH", "pick this platform from an index", NULL, &wp_opts.platform),
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
	const char *address = wp_opts.address, *ns = wp_opts.namespace;
	const char *policy = wp_opts.policy, *cache = wp_opts.cache;
	const char *platform = wp_opts.platform;
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
	.name = "__shim-verify",
	.args = "CONTAINER-ID",
	.summary = "resolve a container's image and apply the node's signature policy (for the shim)",
	.opts = verify_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_verify,
	.hidden = true,
};
