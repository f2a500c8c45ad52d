#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/mediatype.h"

#include <string.h>

static const wp_opt opts[] = { { 0 } };

/* Size of an image as it would be transferred: manifest, config and layers. */
static int64_t image_size(wp_store *s, const wp_descriptor *d, const char **layout)
{
	wp_manifest m;
	int64_t total = d->size;

	*layout = "";
	if (!wp_mediatype_is_manifest(d->media_type))
		return total;
	if (wp_store_read_manifest(s, d->digest, &m, NULL) == 0) {
		total += m.config.size;
		for (size_t i = 0; i < m.n_layers; i++)
			total += m.layers[i].size;
		*layout = wp_manifest_layout(&m);
		wp_manifest_release(&m);
	}
	return total;
}

static int run(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT;
	wp_index ix;
	json_t *arr = NULL;
	int rc;

	rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE);
	if (rc == WP_ENOTFOUND && wp_cli_store_is_default(cli)) {
		/* nothing built or pulled yet: an empty list, and no store made for it */
		memset(&ix, 0, sizeof(ix));
		s = (wp_store){ .lock_fd = -1 };
		rc = 0;
	} else if (rc < 0 || (rc = wp_store_index_read(&s, &ix, &cli->err)) < 0) {
		wp_store_close(&s);
		return rc;
	}
	if (cli->json)
		arr = json_array();
	else if (cli->verbosity > 0)
		fprintf(cli->out, "%-50s %-19s %-6s %s\n", "REFERENCE", "DIGEST", "LAYOUT", "SIZE");
	for (size_t i = 0; i < ix.n_manifests; i++) {
		const wp_descriptor *d = &ix.manifests[i];
		const char *name = wp_kvlist_get(&d->annotations, WP_ANN_REF_NAME);
		const char *layout;
		int64_t size;

		if (wp_kvlist_get(&d->annotations, WP_ANN_SUBJECT))
			continue; /* a referrer (an SBOM, a signature) kept with its image: discover lists it */

		if (!cli->json && cli->verbosity == 0) {
			/* -q: the ids, each image once (as docker images -q), for scripts */
			bool seen = false;

			for (size_t k = 0; k < i && !seen; k++)
				seen = !strcmp(ix.manifests[k].digest, d->digest);
			if (!seen)
				fprintf(cli->out, "%.19s\n", d->digest);
			continue;
		}
		size = image_size(&s, d, &layout);

		if (cli->json) {
			json_array_append_new(arr, json_pack("{s:s?,s:s,s:s,s:s,s:I}", "name", name, "digest", d->digest,
							     "mediaType", d->media_type, "layout", layout, "size", (json_int_t)size));
		} else {
			char human[32];

			wp_cli_human_size(human, sizeof(human), size);
			fprintf(cli->out, "%-50s %.19s %-6s %s\n", name ? name : "<none>", d->digest, layout, human);
		}
	}
	if (cli->json) {
		wp_json_print(arr, cli->out);
		json_decref(arr);
	}
	wp_index_release(&ix);
	wp_store_close(&s);
	return 0;
}

const wp_cmd wp_cmd_images = {
	.name = "images",
	.args = "",
	.summary = "list the images in the store",
	.opts = opts,
	.min_args = 0,
	.max_args = 0,
	.run = run,
	.examples = "wasmpack images\nwasmpack images -q | xargs wasmpack rmi && wasmpack gc\n",
};

/* For the shell completions: each image's name as people type it (docker.io/library/
 * dropped), one per line; nothing, and no store made, when there is none. */
static int run_complete(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT;
	wp_index ix;

	if (wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE) < 0)
		return 0;
	if (wp_store_index_read(&s, &ix, &cli->err) == 0) {
		for (size_t i = 0; i < ix.n_manifests; i++) {
			const char *n = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);

			if (n)
				fprintf(cli->out, "%s\n",
					wp_str_has_prefix(n, "docker.io/library/") ? n + 18 :
					wp_str_has_prefix(n, "docker.io/") ? n + 10 : n);
		}
		wp_index_release(&ix);
	}
	wp_store_close(&s);
	return 0;
}

const wp_cmd wp_cmd_complete_refs = {
	.name = "__complete-refs",
	.args = "",
	.summary = "print the store's image names (for the shell completions)",
	.opts = opts,
	.min_args = 0,
	.max_args = 0,
	.run = run_complete,
	.hidden = true,
};
