/* Referrers over a registry or the store, and what is built on walking them: discover's
 * tree, pull and push --referrers, attach. registry/referrers.h has the protocol. */
#include "trust/trust.h"
#include "common/util.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "registry/referrers.h"
#include "registry/transfer.h"

#include <stdlib.h>
#include <string.h>

/* The empty JSON document every artifact manifest names as its config (image-spec 1.1). */
#define EMPTY_JSON "{}"

int wp_trust_referrers_list(wp_trust_referrers *at, const char *subject, const char *type, wp_index *out,
			    wp_error *err)
{
	bool via = false;
	size_t k = 0;
	int rc;

	if (at->r) {
		rc = wp_referrers_list(at->r, at->repository, subject, type, out, &via, err);
		at->api = at->api || via;
		return rc;
	}
	if ((rc = wp_store_referrers(at->s, subject, out, err)) < 0 || !type)
		return rc;
	for (size_t i = 0; i < out->n_manifests; i++) {
		if (!out->manifests[i].artifact_type || strcmp(out->manifests[i].artifact_type, type)) {
			wp_descriptor_release(&out->manifests[i]);
			continue;
		}
		out->manifests[k++] = out->manifests[i];
	}
	out->n_manifests = k;
	return 0;
}

static int walk(wp_trust_referrers *at, const char *subject, const char *type, int depth, wp_trust_referrer_fn fn,
		void *ctx, wp_error *err)
{
	wp_index ix = { 0 };
	int rc;

	if (depth >= WP_TRUST_REFERRERS_DEPTH)
		return 0;
	if ((rc = wp_trust_referrers_list(at, subject, depth == 0 ? type : NULL, &ix, err)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++)
		if ((rc = fn(ctx, subject, &ix.manifests[i], depth, err)) == 0)
			rc = walk(at, ix.manifests[i].digest, NULL, depth + 1, fn, ctx, err);
	wp_index_release(&ix);
	return rc;
}

int wp_trust_referrers_walk(wp_trust_referrers *at, const char *subject, const char *type, wp_trust_referrer_fn fn,
			    void *ctx, wp_error *err)
{
	return walk(at, subject, type, 0, fn, ctx, err);
}

/* ---- discover's tree ---- */

static int by_type_digest(const void *a, const void *b)
{
	json_t *const *x = a, *const *y = b;
	const char *tx = json_string_value(json_object_get(*x, "artifactType"));
	const char *ty = json_string_value(json_object_get(*y, "artifactType"));
	int c = strcmp(tx ? tx : "", ty ? ty : "");

	return c ? c : strcmp(json_string_value(json_object_get(*x, "digest")),
			      json_string_value(json_object_get(*y, "digest")));
}

/* Each level's nodes, by digest, as they are found: the walk hands a referrer before its
 * own referrers, so its parent's node is always there. */
typedef struct tree_ctx {
	json_t *root;       /* the top level's array */
	json_t *nodes;      /* digest -> its node */
} tree_ctx;

static int tree_add(void *ctx, const char *subject, const wp_descriptor *d, int depth, wp_error *err)
{
	tree_ctx *t = ctx;
	json_t *parent = depth ? json_object_get(json_object_get(t->nodes, subject), "referrers") : t->root;
	json_t *o = json_pack("{s:s?,s:s,s:s,s:I,s:o,s:[]}", "artifactType", d->artifact_type, "mediaType",
			      d->media_type ? d->media_type : "", "digest", d->digest, "size", (json_int_t)d->size,
			      "annotations", wp_kvlist_to_json(&d->annotations), "referrers");

	(void)err;
	json_array_append_new(parent, o);
	json_object_set(t->nodes, d->digest, o);
	return 0;
}

static void tree_sort(json_t *list)
{
	size_t n = json_array_size(list), i;
	json_t **items = wp_xcalloc(n ? n : 1, sizeof(*items)), *o;

	json_array_foreach(list, i, o)
		items[i] = json_incref(o);
	qsort(items, n, sizeof(*items), by_type_digest);
	json_array_clear(list);
	for (i = 0; i < n; i++) {
		tree_sort(json_object_get(items[i], "referrers"));
		json_array_append_new(list, items[i]);
	}
	free(items);
}

int wp_trust_referrers_tree(wp_trust_referrers *at, const char *subject, const char *type, json_t **out,
			    wp_error *err)
{
	tree_ctx t = { .root = json_array(), .nodes = json_object() };
	int rc = wp_trust_referrers_walk(at, subject, type, tree_add, &t, err);

	json_decref(t.nodes);
	if (rc < 0) {
		json_decref(t.root);
		*out = NULL;
		return rc;
	}
	tree_sort(t.root);
	*out = t.root;
	return 0;
}

/* ---- attach, pull and push ---- */

int wp_trust_attach(wp_client *r, wp_store *s, const wp_ref *ref, const wp_descriptor *subject, const char *type,
		    const wp_descriptor *layers, size_t n_layers, const wp_kvlist *annotations, wp_descriptor *art,
		    bool *api, wp_error *err)
{
	wp_ref by_digest = { .registry = ref->registry, .repository = ref->repository };
	wp_manifest m = { 0 };
	wp_transfer_result res = { 0 };
	char digest[WP_DIGEST_BUFSZ];
	wp_buf data;
	int rc;

	memset(art, 0, sizeof(*art));
	/* the empty config, the layers (or the empty layer when there are none), the
	 * subject, the annotations */
	wp_buf_init(&data, WP_MANIFEST_MAX);
	m.media_type = wp_xstrdup(WP_MT_OCI_MANIFEST);
	m.artifact_type = wp_xstrdup(type);
	if ((rc = wp_store_put_blob(s, EMPTY_JSON, strlen(EMPTY_JSON), digest, err)) < 0)
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
	if ((rc = wp_manifest_emit(&m, &data, err)) < 0 || (rc = wp_store_put_blob(s, data.data, data.len, digest, err)) < 0)
		goto done;
	wp_descriptor_init(art, WP_MT_OCI_MANIFEST, digest, (int64_t)data.len);
	art->artifact_type = wp_xstrdup(type);
	wp_kvlist_copy(&art->annotations, &m.annotations);
	/* pushed by digest beside its subject, then recorded where the registry keeps no list */
	if ((rc = wp_transfer_push(s, r, &by_digest, art, &res, err)) == 0)
		rc = wp_referrers_record(r, ref->repository, subject->digest, art, api, err);
done:
	wp_transfer_result_release(&res);
	wp_manifest_release(&m);
	wp_buf_release(&data);
	return rc;
}

typedef struct copy_ctx {
	wp_client *r;
	const wp_ref *ref;
	wp_store *s;
	size_t *count;
} copy_ctx;

static int pull_one(void *ctx, const char *subject, const wp_descriptor *d, int depth, wp_error *err)
{
	copy_ctx *c = ctx;
	wp_ref by_digest = { .registry = c->ref->registry, .repository = c->ref->repository, .digest = (char *)d->digest };
	wp_transfer_result res = { 0 };
	int rc;

	(void)depth;
	if ((rc = wp_transfer_pull(c->s, c->r, &by_digest, NULL, WP_PULL_NO_TAG, &res, err)) == 0 &&
	    (rc = wp_store_add_referrer(c->s, d, subject, err)) == 0)
		(*c->count)++;
	wp_transfer_result_release(&res);
	return rc;
}

static int push_one(void *ctx, const char *subject, const wp_descriptor *d, int depth, wp_error *err)
{
	copy_ctx *c = ctx;
	wp_ref by_digest = { .registry = c->ref->registry, .repository = c->ref->repository };
	wp_transfer_result res = { 0 };
	bool api = false;
	int rc;

	(void)depth;
	if ((rc = wp_transfer_push(c->s, c->r, &by_digest, d, &res, err)) == 0 &&
	    (rc = wp_referrers_record(c->r, c->ref->repository, subject, d, &api, err)) == 0)
		(*c->count)++;
	wp_transfer_result_release(&res);
	return rc;
}

int wp_trust_pull_referrers(wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, size_t *count,
			    wp_error *err)
{
	wp_trust_referrers at = { .r = r, .repository = ref->repository };
	copy_ctx c = { .r = r, .ref = ref, .s = s, .count = count };
	int rc = wp_trust_referrers_walk(&at, subject, NULL, pull_one, &c, err);

	return rc < 0 ? wp_error_prefix(err, "the referrers of %s", subject) : 0;
}

int wp_trust_push_referrers(wp_client *r, const wp_ref *ref, wp_store *s, const char *subject, size_t *count,
			    wp_error *err)
{
	wp_trust_referrers at = { .s = s };
	copy_ctx c = { .r = r, .ref = ref, .s = s, .count = count };
	int rc = wp_trust_referrers_walk(&at, subject, NULL, push_one, &c, err);

	return rc < 0 ? wp_error_prefix(err, "the referrers of %s", subject) : 0;
}
