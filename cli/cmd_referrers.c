/* wasmpack attach REF --artifact-type TYPE [FILE[:MEDIATYPE]...]: an artifact manifest whose
 * subject is REF's manifest, pushed beside it (and recorded in the fallback tag where the
 * registry has no referrers API). wasmpack discover REF: what refers to an image, as a tree.
 * The work is trust/trust.h's; registry/referrers.h has the protocol. */
#include "cli/cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/path.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "oci/store.h"
#include "registry/referrers.h"
#include "registry/remote.h"
#include "registry/transfer.h"
#include "trust/trust.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A file's layer media type when FILE gives none: what oras writes. */
#define FILE_MT "application/vnd.oci.image.layer.v1.tar"

int wp_cli_registry_ref(wp_cli *cli, const char *what, wp_ref *ref)
{
	int rc;

	if (!wp_cli_names_registry(what))
		return wp_error_set(&cli->err, WP_EUSAGE, "'%s': name the image with its registry (localhost:5000/app:v1)",
				    what);
	if ((rc = wp_ref_parse(what, ref, &cli->err)) < 0)
		return rc;
	return 0;
}

/* FILE[:MEDIATYPE] into the store, as a layer descriptor titled by the file's name. */
static int file_layer(wp_cli *cli, wp_store *s, const char *arg, wp_descriptor *d)
{
	const char *colon = strrchr(arg, ':');
	_cleanup_free_ char *path = colon && strchr(colon, '/') ? wp_xstrndup(arg, (size_t)(colon - arg)) : wp_xstrdup(arg);
	const char *mt = colon && strchr(colon, '/') ? colon + 1 : FILE_MT;
	char digest[WP_DIGEST_BUFSZ];
	struct stat st;
	int64_t size;
	int rc;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return wp_error_sys(&cli->err, WP_ENOTFOUND, "'%s': not a file", path);
	if ((rc = wp_store_ingest_file(s, path, &st, digest, &size, &cli->err)) < 0)
		return rc;
	wp_descriptor_init(d, mt, digest, size);
	wp_kvlist_set(&d->annotations, WP_ANN_TITLE, wp_path_basename(path));
	return 0;
}

static const wp_opt attach_opts[] = {
	WP_VALUE("artifact-type", 0, "TYPE", "the artifact's type, a media type (required)", NULL, &wp_opts.artifact_type),
	WP_LIST("annotation", 0, "K=V", "an annotation of the artifact", NULL, &wp_opts.annotations),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_attach(wp_cli *cli)
{
	const char *type = wp_opts.artifact_type;
	const wp_strv *ann = &wp_opts.annotations;
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_store s = WP_STORE_INIT;
	wp_ref ref = { 0 };
	wp_descriptor subject = { 0 }, art = { 0 }, *layers = NULL;
	wp_kvlist kv = { 0 };
	size_t n = 0;
	bool api = false;
	int rc;

	if (!type || !strchr(type, '/'))
		return wp_error_set(&cli->err, WP_EUSAGE, "attach needs --artifact-type TYPE, a media type "
				    "(application/spdx+json, application/vnd.example.sbom)");
	for (size_t i = 0; i < ann->len; i++)
		if (!strchr(ann->items[i], '=') || ann->items[i][0] == '=')
			return wp_error_set(&cli->err, WP_EUSAGE, "--annotation '%s': want KEY=VALUE", ann->items[i]);
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_cli_registry_ref(cli, cli->args.items[0], &ref)) < 0)
		return rc;
	for (size_t i = 0; i < ann->len; i++) {
		const char *eq = strchr(ann->items[i], '=');
		_cleanup_free_ char *k = wp_xstrndup(ann->items[i], (size_t)(eq - ann->items[i]));

		wp_kvlist_set(&kv, k, eq + 1);
	}
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0 ||
	    (rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) < 0 || (rc = wp_remote_describe(r, &ref, &subject, &cli->err)) < 0)
		goto done;
	layers = wp_xcalloc(cli->args.len, sizeof(*layers));
	for (size_t i = 1; i < cli->args.len; i++, n++)
		if ((rc = file_layer(cli, &s, cli->args.items[i], &layers[n])) < 0)
			goto done;
	if ((rc = wp_trust_attach(r, &s, &ref, &subject, type, layers, n, &kv, &art, &api, &cli->err)) < 0)
		goto done;
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:b}", "digest", art.digest, "artifactType", type, "subject",
				      subject.digest, "size", (json_int_t)art.size, "referrersApi", api);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else {
		fprintf(cli->out, "%s\n", art.digest);
	}
done:
	for (size_t i = 0; layers && i < cli->args.len; i++)
		wp_descriptor_release(&layers[i]);
	free(layers);
	wp_kvlist_release(&kv);
	wp_descriptor_release(&art);
	wp_descriptor_release(&subject);
	wp_client_close(r);
	wp_store_close(&s);
	wp_ref_release(&ref);
	return rc;
}

const wp_cmd wp_cmd_attach = {
	.name = "attach",
	.args = "REF [FILE[:MEDIATYPE]...]",
	.summary = "attach an artifact (an SBOM, a signature) to an image in a registry",
	.opts = attach_opts,
	.min_args = 1,
	.max_args = -1,
	.run = run_attach,
	.examples = "wasmpack attach localhost:5000/app:v1 --artifact-type application/spdx+json sbom.spdx.json\n"
		"wasmpack attach ghcr.io/me/app:v1 --artifact-type application/vnd.example.review "
		"--annotation reviewed-by=alice\n",
};

/* ---- discover ---- */

static void print_tree(FILE *f, json_t *list, const char *indent)
{
	size_t i;
	json_t *o;

	json_array_foreach(list, i, o) {
		bool last = i + 1 == json_array_size(list);
		_cleanup_free_ char *more = wp_str_fmt("%s%s", indent, last ? "    " : "│   ");
		const char *k;
		json_t *v;

		fprintf(f, "%s%s %s  %s  (%lld bytes)\n", indent, last ? "└──" : "├──",
			wp_json_str(o, "artifactType") ? wp_json_str(o, "artifactType") : "(no artifactType)",
			wp_json_str(o, "digest"), (long long)json_integer_value(json_object_get(o, "size")));
		json_object_foreach(json_object_get(o, "annotations"), k, v)
			fprintf(f, "%s    %s=%s\n", more, k, json_string_value(v));
		print_tree(f, json_object_get(o, "referrers"), more);
	}
}

static const wp_opt discover_opts[] = {
	WP_VALUE("artifact-type", 0, "TYPE", "only referrers of this type", NULL, &wp_opts.artifact_type),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_discover(wp_cli *cli)
{
	const char *what = cli->args.items[0];
	wp_client_opts ro;
	wp_store s = WP_STORE_INIT;
	wp_trust_referrers l = { 0 };
	wp_ref ref = { 0 };
	wp_descriptor subject = { 0 };
	_cleanup_free_ char *name = NULL, *stored = NULL;
	json_t *list = NULL;
	int rc;

	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0)
		return rc;
	if (!wp_cli_names_registry(what)) {
		/* an image of the store: the referrers pulled or copied with it (offline) */
		if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) < 0 ||
		    (rc = wp_store_resolve(&s, what, &subject, &stored, &cli->err)) < 0)
			goto done;
		l.s = &s;
		name = wp_xstrdup(stored ? stored : what);
		if (strrchr(name, ':') && strrchr(name, ':') > strrchr(name, '/'))
			*strrchr(name, ':') = '\0';
	} else {
		if ((rc = wp_ref_parse(what, &ref, &cli->err)) < 0 ||
		    (rc = wp_client_open(&l.r, ref.registry, &ro, &cli->err)) < 0 ||
		    (rc = wp_remote_describe(l.r, &ref, &subject, &cli->err)) < 0)
			goto done;
		l.repository = ref.repository;
		name = wp_ref_name(&ref);
	}
	if ((rc = wp_trust_referrers_tree(&l, subject.digest, wp_opts.artifact_type, &list, &cli->err)) < 0)
		goto done;
	if (cli->json) {
		json_t *o = json_pack("{s:{s:s,s:s,s:s,s:I},s:O}", "subject", "reference", name, "digest", subject.digest,
				      "mediaType", subject.media_type ? subject.media_type : "", "size", (json_int_t)subject.size,
				      "referrers", list);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else {
		fprintf(cli->out, "%s@%s\n", name, subject.digest);
		print_tree(cli->out, list, "");
		if (!json_array_size(list))
			fprintf(cli->out, "(nothing refers to it)\n");
	}
	wp_debug("referrers read %s", !l.r ? "from the store" : l.api ? "through the registry's referrers API"
										     : "from the fallback tags");
done:
	json_decref(list);
	wp_descriptor_release(&subject);
	wp_client_close(l.r);
	wp_store_close(&s);
	wp_ref_release(&ref);
	return rc;
}

const wp_cmd wp_cmd_discover = {
	.name = "discover",
	.args = "REF",
	.summary = "list what refers to an image (signatures, SBOMs), as a tree: in its registry, or in the store",
	.opts = discover_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_discover,
	.examples = "wasmpack discover localhost:5000/app:v1\nwasmpack discover ghcr.io/me/app:v1 --format json\n"
		"wasmpack pull --referrers localhost:5000/app:v1 && wasmpack discover app:v1\n",
};
