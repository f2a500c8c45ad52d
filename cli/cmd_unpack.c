#include "cli/cli.h"
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
	{ "output", 'o', WP_OPT_VALUE, "DIR", "the folder to create", "@dir" },
	{ "platform", 0, WP_OPT_VALUE, "OS/ARCH", "pick this platform when pulling an index", "wasip1/wasm wasip2/wasm wasi/wasm" },
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

/* SOURCE: an image in the store (by reference or digest), oci:DIR[:NAME],
 * oci-archive:FILE[:NAME], or a registry reference not in the store (pulled through it);
 * containerd:DIR@DIGEST is read in place (wp_cli_containerd_source). */
int wp_cli_resolve_source(wp_cli *cli, wp_store *s, const char *src, wp_descriptor *d);

int wp_cli_resolve_source(wp_cli *cli, wp_store *s, const char *src, wp_descriptor *d)
{
	bool dir = wp_str_has_prefix(src, "oci:"), archive = wp_str_has_prefix(src, "oci-archive:");
	int rc;

	if (dir || archive) {
		const char *p = src + (dir ? 4 : 12), *colon = strchr(p, ':');
		_cleanup_free_ char *path = colon ? wp_xstrndup(p, (size_t)(colon - p)) : wp_xstrdup(p);

		return wp_archive_import(s, path, dir, colon && colon[1] ? colon + 1 : NULL, d, NULL, &cli->err);
	}
	rc = wp_store_resolve(s, src, d, NULL, &cli->err);
	if (rc == WP_ENOTFOUND) {
		wp_client_opts ro;
		wp_client *r = NULL;
		wp_ref ref;
		wp_transfer_result res = { 0 };

		if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_ref_parse(src, &ref, &cli->err)) < 0)
			return rc;
		if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
			rc = wp_transfer_pull(s, r, &ref, wp_cli_value(cli, "platform"), 0, &res, &cli->err);
		if (rc == 0)
			rc = wp_descriptor_copy(d, &res.manifest);
		wp_transfer_result_release(&res);
		wp_client_close(r);
		wp_ref_release(&ref);
	}
	return rc;
}

/* containerd:DIR@DIGEST: a manifest (or an index, then the manifest for --platform,
 * default wasip1/wasm) read in place from containerd's content store. DIR is containerd's
 * root (/var/lib/containerd) or its io.containerd.content.v1.content folder. */
int wp_cli_containerd_source(wp_cli *cli, const char *src, wp_store *ro, wp_descriptor *d)
{
	const char *p = src + strlen("containerd:"), *at = strrchr(p, '@');
	const char *want = wp_cli_value(cli, "platform") ? wp_cli_value(cli, "platform") : "wasip1/wasm";
	_cleanup_free_ char *dir = at && at > p ? wp_xstrndup(p, (size_t)(at - p)) : NULL;
	_cleanup_free_ char *content = dir ? wp_strfmt("%s/io.containerd.content.v1.content", dir) : NULL;
	wp_descriptor top = { 0 };
	wp_index ix = { 0 };
	wp_buf data;
	int rc;

	if (!dir || !content)
		return wp_error_set(&cli->err, WP_EUSAGE, "'%s': want containerd:DIR@sha256:DIGEST", src);
	if ((rc = wp_digest_check(at + 1, &cli->err)) < 0)
		return wp_error_set(&cli->err, WP_EUSAGE, "'%s': want containerd:DIR@sha256:DIGEST", src);
	if ((rc = wp_store_open_readonly(ro, wp_fs_exists(content) ? content : dir, &cli->err)) < 0)
		return wp_error_prefix(&cli->err, "containerd content store");
	if ((rc = wp_store_describe_blob(ro, at + 1, &top, &cli->err)) < 0)
		return rc;
	if (wp_media_type_is_manifest(top.media_type)) {
		*d = top;
		return 0;
	}
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = wp_store_read_blob(ro, top.digest, WP_MANIFEST_MAX, &data, &cli->err)) == 0 &&
	    (rc = wp_index_parse(data.data, data.len, &ix, &cli->err)) == 0) {
		const wp_descriptor *hit = NULL;

		for (size_t i = 0; !hit && i < ix.n_manifests; i++)
			if (wp_platform_matches(ix.manifests[i].platform, want))
				hit = &ix.manifests[i];
		if (!hit && ix.n_manifests == 1 && !ix.manifests[0].platform)
			hit = &ix.manifests[0];
		rc = hit ? wp_descriptor_copy(d, hit)
			 : wp_error_set(&cli->err, WP_ENOTFOUND, "the index %s has no manifest for platform %s", top.digest, want);
		wp_index_release(&ix);
	}
	wp_buf_release(&data);
	wp_descriptor_release(&top);
	return rc;
}

static int run(wp_cli *cli)
{
	const char *out = wp_cli_value(cli, "output");
	wp_store s = { .lock_fd = -1 };
	wp_descriptor d = { 0 };
	json_t *summary = NULL;
	int rc;

	if (!out)
		return wp_error_set(&cli->err, WP_EUSAGE, "unpack: give the folder with -o DIR");
	if (wp_str_has_prefix(cli->args.items[0], "containerd:"))
		rc = wp_cli_containerd_source(cli, cli->args.items[0], &s, &d);
	else if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) == 0)
		rc = wp_cli_resolve_source(cli, &s, cli->args.items[0], &d);
	if (rc == 0)
		rc = wp_unpack(&s, &d, out, NULL, &summary, &cli->err);
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
	"unpack", "SOURCE", "write an image's app into a new folder (checked, confined)", opts, 1, 1, NULL, run, false,
};
