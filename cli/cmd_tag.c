#include "cli/cli.h"
#include "common/json.h"
#include "oci/ref.h"

#include <stdlib.h>

static const wp_opt opts[] = { { 0 } };

/* Each DST as a full reference; every one is checked before any tag is written. */
static int parse_targets(wp_cli *cli, wp_strv *out)
{
	for (size_t i = 1; i < cli->args.len; i++) {
		wp_ref ref;
		char *full;
		int rc;

		if ((rc = wp_ref_parse(cli->args.items[i], &ref, &cli->err)) < 0)
			return rc;
		if (ref.digest) {
			wp_ref_release(&ref);
			return wp_error_set(&cli->err, WP_EUSAGE, "'%s': a tag cannot name a digest", cli->args.items[i]);
		}
		full = wp_ref_string(&ref);
		wp_ref_release(&ref);
		wp_strv_push(out, full);
		free(full);
	}
	return 0;
}

static int run(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT;
	wp_descriptor d;
	wp_strv targets = { 0 };
	json_t *report = NULL;
	int rc;

	if ((rc = parse_targets(cli, &targets)) < 0 || (rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) < 0) {
		wp_strv_release(&targets);
		return rc;
	}
	if ((rc = wp_store_resolve(&s, cli->args.items[0], &d, NULL, &cli->err)) == 0) {
		report = json_array();
		for (size_t i = 0; rc == 0 && i < targets.len; i++) {
			rc = wp_store_tag(&s, targets.items[i], &d, &cli->err);
			if (rc == 0 && cli->json)
				json_array_append_new(report, json_pack("{s:s,s:s}", "name", targets.items[i], "digest", d.digest));
			else if (rc == 0 && cli->verbosity > 0)
				fprintf(cli->out, "%s %s\n", targets.items[i], d.digest);
		}
		/* one DST: its object, as before; several: an array of them */
		if (rc == 0 && cli->json)
			wp_json_print(targets.len == 1 ? json_array_get(report, 0) : report, cli->out);
		json_decref(report);
		wp_descriptor_release(&d);
	}
	wp_store_close(&s);
	wp_strv_release(&targets);
	return rc;
}

const wp_cmd wp_cmd_tag = {
	.name = "tag",
	.args = "SRC DST...",
	.summary = "give an image in the store other names",
	.opts = opts,
	.min_args = 2,
	.max_args = -1,
	.args_complete = "@ref",
	.run = run,
	.examples = "wasmpack tag app:v1 localhost:5000/demo/app:v1\n"
		"wasmpack tag sha256:3f2a... app:latest\n",
};
