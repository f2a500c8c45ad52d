#include "cli/cli.h"
#include "common/json.h"

static const wp_opt opts[] = {
	{ "verify", 0, WP_OPT_FLAG, NULL, "also hash every kept blob and remove those that do not match", NULL },
	{ 0 },
};

static int run(wp_cli *cli)
{
	wp_store s;
	wp_gc_result res;
	int rc;

	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_EXCLUSIVE)) < 0)
		return rc;
	rc = wp_store_gc(&s, wp_cli_flag(cli, "verify"), &res, &cli->err);
	wp_store_close(&s);
	if (rc < 0)
		return rc;
	if (cli->json) {
		json_t *o = json_pack("{s:I,s:I,s:I,s:I}", "blobsRemoved", (json_int_t)res.blobs_removed, "bytesRemoved",
				      (json_int_t)res.bytes_removed, "blobsKept", (json_int_t)res.blobs_kept, "blobsDamaged",
				      (json_int_t)res.blobs_damaged);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else if (cli->verbosity > 0) {
		char human[32];

		wp_cli_human_size(human, sizeof(human), (long long)res.bytes_removed);
		fprintf(cli->out, "removed %llu blobs (%s), kept %llu\n", (unsigned long long)res.blobs_removed, human,
			(unsigned long long)res.blobs_kept);
		if (res.blobs_damaged)
			fprintf(cli->out, "%llu damaged blobs removed: rebuild or pull the images that used them\n",
				(unsigned long long)res.blobs_damaged);
	}
	return 0;
}

const wp_cmd wp_cmd_gc = {
	"gc", "", "remove the blobs that no tag reaches", opts, 0, 0, NULL, run, false,
};
