/* wasmpack index create REF SRC...: an OCI image index of images in the store (a wasm
 * variant beside linux ones), each entry's platform from its image config, as
 * `docker manifest create` or `crane index append` make them. */
#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/mediatype.h"
#include "oci/ref.h"

#include <stdlib.h>
#include <string.h>

static const wp_opt opts[] = { { 0 } };

/* The platform of a manifest, from its config's os, architecture and variant. */
static int platform_of(wp_store *s, const wp_descriptor *d, wp_platform **out, wp_error *err)
{
	wp_blob_source src = wp_store_source(s);
	wp_manifest m = { 0 };
	json_t *cfg = NULL;
	int rc;

	*out = NULL;
	if ((rc = wp_graph_read_manifest(&src, d, &m, err)) == 0 && (rc = wp_graph_read_json(&src, &m.config, &cfg, err)) == 0) {
		if (!wp_json_str(cfg, "os") || !wp_json_str(cfg, "architecture")) {
			rc = wp_error_set(err, WP_EINVALID, "%s's config names no os and architecture", d->digest);
		} else {
			*out = wp_xcalloc(1, sizeof(**out));
			(*out)->os = wp_xstrdup(wp_json_str(cfg, "os"));
			(*out)->architecture = wp_xstrdup(wp_json_str(cfg, "architecture"));
			if (wp_json_str(cfg, "variant"))
				(*out)->variant = wp_xstrdup(wp_json_str(cfg, "variant"));
		}
	}
	json_decref(cfg);
	wp_manifest_release(&m);
	return rc;
}

static int run_create(wp_cli *cli, wp_store *s)
{
	wp_index ix = { .media_type = wp_xstrdup(WP_MT_OCI_INDEX) };
	wp_descriptor desc = { 0 };
	_cleanup_free_ char *name = NULL;
	char digest[WP_DIGEST_BUFSZ];
	wp_buf out;
	wp_ref ref;
	int rc;

	if ((rc = wp_ref_parse(cli->args.items[1], &ref, &cli->err)) < 0)
		goto done;
	if (ref.digest) {
		wp_ref_release(&ref);
		rc = wp_error_set(&cli->err, WP_EUSAGE, "'%s': an index gets a tag, not a digest", cli->args.items[1]);
		goto done;
	}
	name = wp_ref_string(&ref);
	wp_ref_release(&ref);
	ix.manifests = wp_xcalloc(cli->args.len, sizeof(*ix.manifests));
	for (size_t i = 2; i < cli->args.len; i++) {
		wp_descriptor *e = &ix.manifests[ix.n_manifests];

		if ((rc = wp_store_resolve(s, cli->args.items[i], e, NULL, &cli->err)) < 0)
			goto done;
		ix.n_manifests++;
		if (!wp_mediatype_is_manifest(e->media_type)) {
			rc = wp_error_set(&cli->err, WP_EUSAGE, "'%s' is an index itself: name the images", cli->args.items[i]);
			goto done;
		}
		if ((rc = platform_of(s, e, &e->platform, &cli->err)) < 0)
			goto done;
		for (size_t k = 0; k + 1 < ix.n_manifests; k++)
			if (!strcmp(ix.manifests[k].platform->os, e->platform->os) &&
			    !strcmp(ix.manifests[k].platform->architecture, e->platform->architecture) &&
			    !strcmp(ix.manifests[k].platform->variant ? ix.manifests[k].platform->variant : "",
				    e->platform->variant ? e->platform->variant : "")) {
				rc = wp_error_set(&cli->err, WP_EUSAGE, "'%s' and an earlier image are both %s/%s: one image per platform",
						  cli->args.items[i], e->platform->os, e->platform->architecture);
				goto done;
			}
	}
	wp_buf_init(&out, WP_MANIFEST_MAX);
	if ((rc = wp_index_emit(&ix, &out, &cli->err)) == 0 && (rc = wp_store_put_blob(s, out.data, out.len, digest, &cli->err)) == 0) {
		wp_descriptor_init(&desc, WP_MT_OCI_INDEX, digest, (int64_t)out.len);
		if ((rc = wp_store_tag(s, name, &desc, &cli->err)) == 0)
			fprintf(cli->out, "%s\n", digest);
	}
	wp_buf_release(&out);
done:
	wp_descriptor_release(&desc);
	wp_index_release(&ix);
	return rc;
}

static int run(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT;
	int rc;

	if (strcmp(cli->args.items[0], "create"))
		return wp_error_set(&cli->err, WP_EUSAGE, "index: '%s' is no subcommand (there is create)", cli->args.items[0]);
	if (cli->args.len < 3)
		return wp_error_set(&cli->err, WP_EUSAGE, "index create REF SRC...: name the index and at least one image");
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) < 0)
		return rc;
	rc = run_create(cli, &s);
	wp_store_close(&s);
	return rc;
}

const wp_cmd wp_cmd_index = {
	.name = "index",
	.args = "create REF SRC...",
	.summary = "make an image index of images in the store, one per platform",
	.opts = opts,
	.min_args = 3,
	.max_args = -1,
	.run = run,
	.examples = "wasmpack index create app:multi app:wasm app:linux-amd64\nwasmpack push app:multi\n",
};
