#include "cli/cli.h"
#include "common/progress.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/archive.h"
#include "oci/ref.h"
#include "registry/transfer.h"
#include "node/unpack.h"

#include <stdlib.h>
#include <string.h>

static const wp_opt opts[] = {
	WP_VALUE("output", 'o', "DIR", "the folder to create", "@dir", &wp_opts.output),
	WP_VALUE("platform", 0, "OS/ARCH", "pick this platform when pulling an index", "wasip1/wasm wasip2/wasm wasi/wasm", &wp_opts.platform),
	WP_VALUE("policy", 0, "FILE", "the signature policy (default $WASMPACK_POLICY, else /etc/wasmpack/policy.toml)", "@file", &wp_opts.policy),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run(wp_cli *cli)
{
	const char *out = wp_opts.output;
	wp_store s = WP_STORE_INIT;
	wp_descriptor d = { 0 };
	json_t *summary = NULL;
	int rc;

	if (!out)
		return wp_error_set(&cli->err, WP_EUSAGE, "unpack: give the folder with -o DIR");
	if (wp_str_has_prefix(cli->args.items[0], "containerd:"))
		rc = wp_cli_containerd_source(cli, cli->args.items[0], &s, &d);
	else if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) == 0)
		rc = wp_cli_resolve_source(cli, &s, cli->args.items[0], &d);
	if (rc == 0) {
		_cleanup_free_ char *cache = s.root ? wp_cli_cache_root(&s) : NULL;

		rc = wp_cli_policy_for_source(cli, &s, cli->args.items[0], &d, cache);
	}
	if (rc == 0) {
		wp_unpack_limits lim = { .progress = wp_progress_new(wp_cli_progress_out(cli), "unpacking") };

		rc = wp_unpack(&s, &d, out, &lim, &summary, &cli->err);
		wp_progress_end(lim.progress);
	}
	if (rc == 0) {
		json_object_set_new(summary, "digest", json_string(d.digest));
		json_object_set_new(summary, "path", json_string(out));
		if (cli->json)
			wp_json_print(summary, cli->out);
		else
			fprintf(cli->out, "%s: %s layout unpacked into %s\n", d.digest, wp_json_str(summary, "layout"), out);
	}
	json_decref(summary);
	wp_descriptor_release(&d);
	wp_store_close(&s);
	return rc;
}

const wp_cmd wp_cmd_unpack = {
	.name = "unpack",
	.args = "SOURCE",
	.summary = "write an image's app into a new folder (checked, confined)",
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.args_complete = "@ref",
	.run = run,
	.examples = "wasmpack unpack app:v1 -o ./app\n"
		"wasmpack unpack ghcr.io/me/app:v1 -o ./app --platform wasip2/wasm\n",
};
