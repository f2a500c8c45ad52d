#include "cli/cli.h"
#include "common/json.h"

static const wp_opt opts[] = { { 0 } };

static int run(wp_cli *cli)
{
	wp_store s;
	wp_gc_result res;
	int rc;

	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_EXCLUSIVE)) < 0)
		return rc;
	rc = wp_store_gc(&s, &res, &cli->err);
	wp_store_close(&s);
	if (rc < 0)
		return rc;
	if (cli->json) {
		json_t *o = json_pack("{s:I,s:I,s:I}", "blobsRemoved", (json_int_t)res.blobs_removed, "bytesRemoved",
				      (json_int_t)res.bytes_removed, "blobsKept", (json_int_t)res.blobs_kept);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else if (cli->verbosity > 0) {
		char human[32];

		wp_cli_human_size(human, sizeof(human), (long long)res.bytes_removed);
		fprintf(cli->out, "removed %llu blobs (%s), kept %llu\n", (unsigned long long)res.blobs_removed, human,
			(unsigned long long)res.blobs_kept);
	}
	return 0;
}

const wp_cmd wp_cmd_gc = {
	"gc", "", "remove the blobs that no tag reaches", opts, 0, 0, NULL, run, false,
};
