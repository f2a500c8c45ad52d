#include "cli/cli.h"
#include "common/json.h"
#include "oci/mediatype.h"
#include "oci/index.h"
#include "oci/ref.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* The tags an id names, as listed in the refusal, at most. */
#define TAGS_LISTED_MAX 4096

static const wp_opt opts[] = {
	WP_FLAG("force", 'f', "by id, remove every tag of the image even when there are several (as docker rmi -f)",
		&wp_opts.force),
	{ 0 },
};

/* Whether what names the image by digest (sha256:..., NAME@DIGEST, or hex digits of
 * its digest) rather than by one of its tags. */
static bool names_digest(const char *what, const char *digest)
{
	size_t n = strlen(what);

	return wp_str_has_prefix(what, "sha256:") || strchr(what, '@') ||
	       (n >= WP_INDEX_MIN_PREFIX && n <= 64 && strspn(what, "0123456789abcdef") == n && !strncmp(digest + 7, what, n));
}

/* By name, the one tag; by digest, every tag pointing at that image. */
static int rmi_one(wp_cli *cli, wp_store *s, const char *what, json_t *report)
{
	wp_descriptor d;
	wp_index ix;
	wp_strv names = { 0 };
	char *name = NULL;
	int rc;

	if ((rc = wp_store_resolve(s, what, &d, &name, &cli->err)) < 0)
		return rc;
	if (names_digest(what, d.digest)) {
		rc = wp_store_index_read(s, &ix, &cli->err);
		for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++) {
			const char *n = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);

			if (n && !strcmp(ix.manifests[i].digest, d.digest))
				wp_strv_push(&names, n);
		}
		if (rc == 0)
			wp_index_release(&ix);
		/* as docker: an id that names several tags removes none of them unless forced */
		if (rc == 0 && names.len > 1 && !wp_opts.force) {
			wp_buf list;

			wp_buf_init(&list, TAGS_LISTED_MAX);
			for (size_t i = 0; i < names.len; i++)
				if (wp_buf_printf(&list, "%s%s", i ? ", " : "", names.items[i]) < 0)
					break;
			rc = wp_error_set(&cli->err, WP_EFAIL, "'%s' is the id of an image tagged %zu times (%s): remove the "
					  "tags by name, or all of them with rmi -f", what, names.len, list.data ? list.data : "");
			wp_buf_release(&list);
		}
	} else if (name) {
		wp_strv_push(&names, name);
	}
	for (size_t i = 0; rc == 0 && i < names.len; i++) {
		rc = wp_store_untag(s, names.items[i], &cli->err);
		if (rc == 0 && !cli->json && cli->verbosity > 0)
			fprintf(cli->out, "untagged: %s\n", names.items[i]);
	}
	if (rc == 0 && report) {
		json_t *o = json_pack("{s:s,s:[]}", "digest", d.digest, "untagged");

		for (size_t i = 0; i < names.len; i++)
			json_array_append_new(json_object_get(o, "untagged"), json_string(names.items[i]));
		json_array_append_new(report, o);
	}
	wp_descriptor_release(&d);
	free(name);
	wp_strv_release(&names);
	return rc;
}

static int run(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT;
	json_t *report = cli->json ? json_array() : NULL;
	int rc;

	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) < 0) {
		json_decref(report);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < cli->args.len; i++)
		rc = rmi_one(cli, &s, cli->args.items[i], report);
	/* one REF: its object, as before; several: an array of them */
	if (rc == 0 && report)
		wp_json_print(cli->args.len == 1 ? json_array_get(report, 0) : report, cli->out);
	json_decref(report);
	wp_store_close(&s);
	return rc;
}

const wp_cmd wp_cmd_rmi = {
	.name = "rmi",
	.args = "REF...",
	.summary = "remove tags from the store (blobs go at the next gc)",
	.opts = opts,
	.min_args = 1,
	.max_args = -1,
	.args_complete = "@ref",
	.run = run,
	.examples = "wasmpack rmi app:v1\n"
		"wasmpack rmi -f 3f2a5c1b9d0e    # an id and every tag it has\n"
		"wasmpack images -q | xargs wasmpack rmi -f && wasmpack gc\n",
};
