/* wasmpack tags REPO: a repository's tags, read from its registry (nothing is pulled). */
#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/ref.h"
#include "registry/remote.h"

#include <stdlib.h>
#include <string.h>

static const wp_opt opts[] = {
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run(wp_cli *cli)
{
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_strv tags = { 0 };
	_cleanup_free_ char *name = NULL;
	wp_ref ref;
	int rc;

	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_ref_parse(cli->args.items[0], &ref, &cli->err)) < 0)
		return rc;
	/* a tag or digest of its own would be ignored: said instead */
	if (ref.digest || strchr(strrchr(cli->args.items[0], '/') ? strrchr(cli->args.items[0], '/') : cli->args.items[0], ':')) {
		wp_ref_release(&ref);
		return wp_error_set(&cli->err, WP_EUSAGE, "tags '%s': name a repository, without a tag or digest", cli->args.items[0]);
	}
	name = wp_ref_name(&ref);
	if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
		rc = wp_remote_tags(r, ref.repository, &tags, &cli->err);
	if (rc == 0 && cli->json) {
		json_t *o = json_pack("{s:s,s:[]}", "name", name, "tags");

		for (size_t i = 0; i < tags.len; i++)
			json_array_append_new(json_object_get(o, "tags"), json_string(tags.items[i]));
		wp_json_print(o, cli->out);
		json_decref(o);
	} else if (rc == 0) {
		for (size_t i = 0; i < tags.len; i++)
			fprintf(cli->out, "%s\n", tags.items[i]);
	}
	wp_strv_release(&tags);
	wp_client_close(r);
	wp_ref_release(&ref);
	return rc;
}

const wp_cmd wp_cmd_tags = {
	.name = "tags",
	.args = "REPOSITORY",
	.summary = "list a repository's tags in its registry",
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.run = run,
	.examples = "wasmpack tags ghcr.io/me/app\nwasmpack tags localhost:5000/demo/app --format json\n",
};
