#include "cli/cli.h"
#include "common/json.h"
#include "oci/mediatype.h"
#include "oci/ref.h"

#include <stdlib.h>
#include <string.h>

static const wp_opt opts[] = { { 0 } };

/* By name, the one tag; by digest, every tag pointing at that image. */
static int run(wp_cli *cli)
{
	wp_store s;
	wp_descriptor d;
	wp_index ix;
	wp_strv names = { 0 };
	const char *what = cli->args.items[0];
	char *name = NULL;
	bool by_digest;
	int rc;

	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) < 0)
		return rc;
	rc = wp_store_resolve(&s, what, &d, &name, &cli->err);
	if (rc < 0)
		goto out;
	by_digest = !strncmp(d.digest, what, strlen(what)) || !strcmp(d.digest + 7, what) || strchr(what, '@') ||
		    (strlen(what) >= 12 && !strncmp(d.digest + 7, what, strlen(what)));
	if (by_digest) {
		rc = wp_store_index_read(&s, &ix, &cli->err);
		for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++) {
			const char *n = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);

			if (n && !strcmp(ix.manifests[i].digest, d.digest))
				wp_strv_push(&names, n);
		}
		if (rc == 0)
			wp_index_release(&ix);
	} else if (name) {
		wp_strv_push(&names, name);
	}
	for (size_t i = 0; rc == 0 && i < names.len; i++) {
		rc = wp_store_untag(&s, names.items[i], &cli->err);
		if (rc == 0 && !cli->json && cli->verbosity > 0)
			fprintf(cli->out, "untagged: %s\n", names.items[i]);
	}
	if (rc == 0 && cli->json) {
		json_t *o = json_pack("{s:s,s:o}", "digest", d.digest, "untagged", json_array());

		for (size_t i = 0; i < names.len; i++)
			json_array_append_new(json_object_get(o, "untagged"), json_string(names.items[i]));
		wp_json_print(o, cli->out);
		json_decref(o);
	}
	wp_descriptor_release(&d);
out:
	free(name);
	wp_strv_release(&names);
	wp_store_close(&s);
	return rc;
}

const wp_cmd wp_cmd_rmi = {
	"rmi", "REF", "remove a tag from the store (blobs go at the next gc)", opts, 1, 1, NULL, run, false,
};
