#include "cli/cli.h"
#include "common/json.h"
#include "oci/ref.h"

#include <stdlib.h>

static const wp_opt opts[] = { { 0 } };

static int run(wp_cli *cli)
{
	wp_store s;
	wp_descriptor d;
	wp_ref ref;
	char *full;
	int rc;

	if ((rc = wp_ref_parse(cli->args.items[1], &ref, &cli->err)) < 0)
		return rc;
	if (ref.digest) {
		wp_ref_release(&ref);
		return wp_error_set(&cli->err, WP_EUSAGE, "'%s': a tag cannot name a digest", cli->args.items[1]);
	}
	full = wp_ref_string(&ref);
	wp_ref_release(&ref);
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) == 0) {
		rc = wp_store_resolve(&s, cli->args.items[0], &d, NULL, &cli->err);
		if (rc == 0) {
			rc = wp_store_tag(&s, full, &d, &cli->err);
			if (rc == 0 && cli->json) {
				json_t *o = json_pack("{s:s,s:s}", "name", full, "digest", d.digest);

				wp_json_print(o, cli->out);
				json_decref(o);
			} else if (rc == 0 && cli->verbosity > 0) {
				fprintf(cli->out, "%s %s\n", full, d.digest);
			}
			wp_descriptor_release(&d);
		}
		wp_store_close(&s);
	}
	free(full);
	return rc;
}

const wp_cmd wp_cmd_tag = {
	"tag", "SRC DST", "give an image in the store another name", opts, 2, 2, NULL, run, false,
};
