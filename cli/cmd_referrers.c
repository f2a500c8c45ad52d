/* wasmpack attach REF --artifact-type TYPE [FILE[:MEDIATYPE]...]: an artifact manifest whose
 * subject is REF's manifest, pushed beside it (and recorded in the fallback tag where the
 * registry has no referrers API). wasmpack discover REF: what refers to an image, as a tree.
 * registry/referrers.h has the protocol. */
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

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The digest of "{}", the empty config every artifact manifest names (image-spec 1.1). */
#define EMPTY_JSON "{}"
/* A file's layer media type when FILE gives none: what oras writes. */
#define FILE_MT "application/vnd.oci.image.layer.v1.tar"
/* How deep discover follows referrers of referrers (a signature of an SBOM, say). */
#define DISCOVER_DEPTH 4

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

int wp_cli_subject_of(wp_client *r, const wp_ref *ref, wp_descriptor *d, wp_error *err)
{
	_cleanup_free_ char *mt = NULL;
	char digest[WP_DIGEST_BUFSZ];
	wp_buf body;
	int rc;

	wp_buf_init(&body, WP_MANIFEST_MAX);
	rc = wp_remote_manifest(r, ref, ref->digest ? ref->digest : ref->tag, &body, &mt, digest, err);
	if (rc == 0)
		wp_descriptor_init(d, mt, digest, (int64_t)body.len);
	wp_buf_release(&body);
	return rc;
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

int wp_cli_attach(wp_cli *cli, wp_client *r, wp_store *s, const wp_ref *ref, const wp_descriptor *subject,
		  const char *type, wp_descriptor *layers, size_t n_layers, const wp_kvlist *annotations,
		  wp_descriptor *art, bool *api)
{
	wp_ref by_digest = { 0 };
	wp_manifest m = { 0 };
	wp_transfer_result res = { 0 };
	char digest[WP_DIGEST_BUFSZ];
	wp_buf data;
	int rc;

	/* the empty config, the layers (or the empty layer when there are none), the
	 * subject, the annotations */
	wp_buf_init(&data, WP_MANIFEST_MAX);
	m.media_type = wp_xstrdup(WP_MT_OCI_MANIFEST);
	m.artifact_type = wp_xstrdup(type);
	if ((rc = wp_store_put_blob(s, EMPTY_JSON, strlen(EMPTY_JSON), digest, &cli->err)) < 0)
		goto done;
	wp_descriptor_init(&m.config, WP_MT_OCI_EMPTY, digest, (int64_t)strlen(EMPTY_JSON));
	for (size_t i = 0; i < n_layers; i++) {
		wp_descriptor d;

		wp_descriptor_copy(&d, &layers[i]);
		wp_manifest_add_layer(&m, &d);
	}
	if (!n_layers) {
		wp_descriptor d;

		wp_descriptor_init(&d, WP_MT_OCI_EMPTY, digest, (int64_t)strlen(EMPTY_JSON));
		wp_manifest_add_layer(&m, &d);
	}
	m.subject = wp_xcalloc(1, sizeof(*m.subject));
	wp_descriptor_init(m.subject, subject->media_type, subject->digest, subject->size);
	if (annotations)
		wp_kvlist_copy(&m.annotations, annotations);
	if ((rc = wp_manifest_emit(&m, &data, &cli->err)) < 0 ||
	    (rc = wp_store_put_blob(s, data.data, data.len, digest, &cli->err)) < 0)
		goto done;
	wp_descriptor_init(art, WP_MT_OCI_MANIFEST, digest, (int64_t)data.len);
	art->artifact_type = wp_xstrdup(type);
	wp_kvlist_copy(&art->annotations, &m.annotations);
	/* pushed by digest beside its subject, then recorded where the registry keeps no list */
	by_digest.registry = ref->registry;
	by_digest.repository = ref->repository;
	if ((rc = wp_transfer_push(s, r, &by_digest, art, &res, &cli->err)) == 0)
		rc = wp_referrers_record(r, ref->repository, subject->digest, art, api, &cli->err);
done:
	wp_transfer_result_release(&res);
	wp_manifest_release(&m);
	wp_buf_release(&data);
	return rc;
}

static const wp_opt attach_opts[] = {
	{ "artifact-type", 0, WP_OPT_VALUE, "TYPE", "the artifact's type, a media type (required)", NULL },
	{ "annotation", 0, WP_OPT_LIST, "K=V", "an annotation of the artifact", NULL },
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_attach(wp_cli *cli)
{
	const char *type = wp_cli_value(cli, "artifact-type");
	const wp_strv *ann = wp_cli_list(cli, "annotation");
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_store s = { .lock_fd = -1 };
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
	    (rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) < 0 || (rc = wp_cli_subject_of(r, &ref, &subject, &cli->err)) < 0)
		goto done;
	layers = wp_xcalloc(cli->args.len, sizeof(*layers));
	for (size_t i = 1; i < cli->args.len; i++, n++)
		if ((rc = file_layer(cli, &s, cli->args.items[i], &layers[n])) < 0)
			goto done;
	if ((rc = wp_cli_attach(cli, r, &s, &ref, &subject, type, layers, n, &kv, &art, &api)) < 0)
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
	"attach", "REF [FILE[:MEDIATYPE]...]", "attach an artifact (an SBOM, a signature) to an image in a registry",
	attach_opts, 1, -1, NULL, run_attach, false,
	.examples = "wasmpack attach localhost:5000/app:v1 --artifact-type application/spdx+json sbom.spdx.json\n"
		    "wasmpack attach ghcr.io/me/app:v1 --artifact-type application/vnd.example.review "
		    "--annotation reviewed-by=alice\n",
};

/* ---- discover ---- */

static int by_type_digest(const void *a, const void *b)
{
	const wp_descriptor *x = a, *y = b;
	int c = strcmp(x->artifact_type ? x->artifact_type : "", y->artifact_type ? y->artifact_type : "");

	return c ? c : strcmp(x->digest, y->digest);
}

/* Where discover reads referrers: a registry (its API or fallback tags), or the store. */
typedef struct lister {
	wp_client *r;
	const char *repo;
	wp_store *s;
	bool api;       /* the registry's API answered at least once */
} lister;

static int list_referrers(lister *l, const char *digest, const char *type, wp_index *ix, wp_error *err)
{
	bool via = false;
	int rc;

	if (!l->r) {
		size_t k = 0;

		if ((rc = wp_store_referrers(l->s, digest, ix, err)) < 0 || !type)
			return rc;
		for (size_t i = 0; i < ix->n_manifests; i++) {
			if (!ix->manifests[i].artifact_type || strcmp(ix->manifests[i].artifact_type, type)) {
				wp_descriptor_release(&ix->manifests[i]);
				continue;
			}
			ix->manifests[k++] = ix->manifests[i];
		}
		ix->n_manifests = k;
		return 0;
	}
	rc = wp_referrers_list(l->r, l->repo, digest, type, ix, &via, err);
	l->api = l->api || via;
	return rc;
}

/* The referrers of digest, and theirs, as a JSON array. */
static int tree(lister *l, const char *digest, const char *type, int depth, json_t **out, wp_error *err)
{
	wp_index ix = { 0 };
	int rc;

	*out = json_array();
	if (depth >= DISCOVER_DEPTH)
		return 0;
	if ((rc = list_referrers(l, digest, depth == 0 ? type : NULL, &ix, err)) < 0)
		return rc;
	if (ix.n_manifests > 1)
		qsort(ix.manifests, ix.n_manifests, sizeof(*ix.manifests), by_type_digest);
	for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++) {
		const wp_descriptor *d = &ix.manifests[i];
		json_t *o = json_pack("{s:s?,s:s,s:s,s:I,s:o}", "artifactType", d->artifact_type, "mediaType",
				      d->media_type ? d->media_type : "", "digest", d->digest, "size", (json_int_t)d->size,
				      "annotations", wp_kvlist_to_json(&d->annotations)), *kids = NULL;

		rc = tree(l, d->digest, NULL, depth + 1, &kids, err);
		json_object_set_new(o, "referrers", kids ? kids : json_array());
		json_array_append_new(*out, o);
	}
	wp_index_release(&ix);
	return rc;
}

int wp_cli_pull_referrers(wp_cli *cli, wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, int depth,
			  size_t *count)
{
	wp_index ix = { 0 };
	bool api = false;
	int rc;

	if (depth >= DISCOVER_DEPTH)
		return 0;
	if ((rc = wp_referrers_list(r, ref->repository, subject, NULL, &ix, &api, &cli->err)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++) {
		wp_ref by_digest = { 0 };
		wp_transfer_result res = { 0 };

		by_digest.registry = ref->registry;
		by_digest.repository = ref->repository;
		by_digest.digest = ix.manifests[i].digest;
		if ((rc = wp_transfer_pull(s, r, &by_digest, NULL, WP_PULL_NO_TAG, &res, &cli->err)) == 0 &&
		    (rc = wp_store_add_referrer(s, &ix.manifests[i], subject, &cli->err)) == 0) {
			(*count)++;
			rc = wp_cli_pull_referrers(cli, r, ref, s, ix.manifests[i].digest, depth + 1, count);
		}
		wp_transfer_result_release(&res);
	}
	wp_index_release(&ix);
	if (rc < 0 && depth == 0)
		wp_error_prefix(&cli->err, "the referrers of %s", subject);
	return rc;
}

int wp_cli_push_referrers(wp_cli *cli, wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, int depth,
			  size_t *count)
{
	wp_index ix = { 0 };
	int rc;

	if (depth >= DISCOVER_DEPTH)
		return 0;
	if ((rc = wp_store_referrers(s, subject, &ix, &cli->err)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++) {
		wp_ref by_digest = { 0 };
		wp_transfer_result res = { 0 };
		bool api = false;

		by_digest.registry = ref->registry;
		by_digest.repository = ref->repository;
		if ((rc = wp_transfer_push(s, r, &by_digest, &ix.manifests[i], &res, &cli->err)) == 0 &&
		    (rc = wp_referrers_record(r, ref->repository, subject, &ix.manifests[i], &api, &cli->err)) == 0) {
			(*count)++;
			rc = wp_cli_push_referrers(cli, r, ref, s, ix.manifests[i].digest, depth + 1, count);
		}
		wp_transfer_result_release(&res);
	}
	wp_index_release(&ix);
	if (rc < 0 && depth == 0)
		wp_error_prefix(&cli->err, "the referrers of %s", subject);
	return rc;
}

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
	{ "artifact-type", 0, WP_OPT_VALUE, "TYPE", "only referrers of this type", NULL },
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_discover(wp_cli *cli)
{
	const char *what = cli->args.items[0];
	wp_client_opts ro;
	wp_store s = { .lock_fd = -1 };
	lister l = { 0 };
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
		    (rc = wp_cli_subject_of(l.r, &ref, &subject, &cli->err)) < 0)
			goto done;
		l.repo = ref.repository;
		name = wp_ref_name(&ref);
	}
	if ((rc = tree(&l, subject.digest, wp_cli_value(cli, "artifact-type"), 0, &list, &cli->err)) < 0)
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
	"discover", "REF", "list what refers to an image (signatures, SBOMs), as a tree: in its registry, or in the store",
	discover_opts, 1, 1, NULL, run_discover, false,
	.examples = "wasmpack discover localhost:5000/app:v1\nwasmpack discover ghcr.io/me/app:v1 --format json\n"
		    "wasmpack pull --referrers localhost:5000/app:v1 && wasmpack discover app:v1\n",
};
