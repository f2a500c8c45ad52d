#include "oci/graph.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/mediatype.h"

#include <jansson.h>
#include <string.h>

static int read_doc(const wp_blob_source *src, const wp_descriptor *desc, wp_buf *out, wp_error *err)
{
	return src->read(src->ctx, desc->digest, desc->media_type, WP_MANIFEST_MAX, out, err);
}

int wp_graph_read_blob(const wp_blob_source *src, const wp_descriptor *desc, size_t max, wp_buf *out, wp_error *err)
{
	return src->read(src->ctx, desc->digest, desc->media_type, max, out, err);
}

int wp_graph_read_index(const wp_blob_source *src, const wp_descriptor *desc, wp_index *ix, wp_error *err)
{
	wp_buf data;
	int rc;

	memset(ix, 0, sizeof(*ix));
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = read_doc(src, desc, &data, err)) == 0)
		rc = wp_index_parse(data.data, data.len, ix, err);
	wp_buf_release(&data);
	return rc;
}

int wp_graph_read_manifest(const wp_blob_source *src, const wp_descriptor *desc, wp_manifest *m, wp_error *err)
{
	wp_buf data;
	int rc;

	memset(m, 0, sizeof(*m));
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = read_doc(src, desc, &data, err)) == 0)
		rc = wp_manifest_parse(data.data, data.len, m, err);
	wp_buf_release(&data);
	return rc;
}

int wp_graph_read_json(const wp_blob_source *src, const wp_descriptor *desc, json_t **out, wp_error *err)
{
	wp_buf data;
	int rc;

	*out = NULL;
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = src->read(src->ctx, desc->digest, NULL, WP_MANIFEST_MAX, &data, err)) == 0)
		rc = wp_json_parse(data.data, data.len, WP_MANIFEST_MAX, out, err);
	wp_buf_release(&data);
	return rc;
}

int wp_graph_pick(const wp_index *ix, const char *ix_digest, const char *platform, wp_descriptor *out, wp_error *err)
{
	const wp_descriptor *hit = wp_index_pick_wasm(ix, platform);

	memset(out, 0, sizeof(*out));
	if (!hit)
		return wp_error_set(err, WP_ENOTFOUND, "the index %s has no manifest for platform %s", ix_digest,
				    wp_index_wanted(platform));
	wp_debug("%s is an index of %zu manifests: picked %s for %s", ix_digest, ix->n_manifests, hit->digest,
		 wp_index_wanted(platform));
	wp_descriptor_copy(out, hit);
	return 0;
}

int wp_graph_resolve(const wp_blob_source *src, const wp_descriptor *top, const char *platform, wp_descriptor *out,
		     wp_error *err)
{
	wp_descriptor at;
	int rc = 0;

	wp_descriptor_copy(&at, top);
	for (int depth = 0; rc == 0 && !wp_mediatype_is_manifest(at.media_type); depth++) {
		wp_index ix;
		wp_descriptor next;

		if (!wp_mediatype_is_index(at.media_type))
			rc = wp_error_set(err, WP_EINVALID, "%s is a '%s', neither an image manifest nor an index", at.digest,
					  at.media_type ? at.media_type : "");
		else if (depth >= WP_GRAPH_MAX_DEPTH)
			rc = wp_error_set(err, WP_EINVALID, "image indexes nested too deeply (more than %d)", WP_GRAPH_MAX_DEPTH);
		else if ((rc = wp_graph_read_index(src, &at, &ix, err)) == 0) {
			rc = wp_graph_pick(&ix, at.digest, platform, &next, err);
			wp_index_release(&ix);
			if (rc == 0) {
				wp_descriptor_release(&at);
				at = next;
			}
		}
	}
	if (rc < 0) {
		wp_descriptor_release(&at);
		memset(out, 0, sizeof(*out));
		return rc;
	}
	*out = at;
	return 0;
}

/* ---- walk ---- */

typedef struct walker {
	const wp_blob_source *src;
	unsigned flags;
	const char *platform;
	wp_graph_visit_fn visit;
	void *ctx;
	json_t *seen;               /* "digest media-type" visited, as an object's keys: a hash set */
} walker;

struct wp_graph_seen {
	json_t *set;
};

wp_graph_seen *wp_graph_seen_new(void)
{
	wp_graph_seen *s = wp_xcalloc(1, sizeof(*s));

	s->set = json_object();
	return s;
}

void wp_graph_seen_free(wp_graph_seen *s)
{
	if (s)
		json_decref(s->set);
	free(s);
}

static int walk(walker *w, const wp_descriptor *d, wp_graph_role role, int depth, wp_error *err);

static int visit(walker *w, const wp_graph_node *n, wp_error *err)
{
	int rc = w->visit(w->ctx, n, err);

	return rc == WP_GRAPH_PRUNE && (w->flags & WP_GRAPH_CHILDREN_FIRST) ? 0 : rc;
}

static int walk_children(walker *w, const wp_graph_node *n, wp_error *err)
{
	int rc = 0;

	if (n->index && (w->flags & WP_GRAPH_ONE_PLATFORM)) {
		wp_descriptor pick;

		if ((rc = wp_graph_pick(n->index, n->desc->digest, w->platform, &pick, err)) == 0)
			rc = walk(w, &pick, WP_GRAPH_MANIFEST, n->depth + 1, err);
		wp_descriptor_release(&pick);
		return rc;
	}
	for (size_t i = 0; n->index && rc == 0 && i < n->index->n_manifests; i++)
		rc = walk(w, &n->index->manifests[i], WP_GRAPH_MANIFEST, n->depth + 1, err);
	if (!n->manifest)
		return rc;
	if (rc == 0)
		rc = walk(w, &n->manifest->config, WP_GRAPH_CONFIG, n->depth + 1, err);
	for (size_t i = 0; rc == 0 && i < n->manifest->n_layers; i++)
		rc = walk(w, &n->manifest->layers[i], WP_GRAPH_LAYER, n->depth + 1, err);
	if (rc == 0 && n->manifest->subject && (w->flags & WP_GRAPH_SUBJECTS))
		rc = walk(w, n->manifest->subject, WP_GRAPH_SUBJECT, n->depth + 1, err);
	return rc;
}

/* An index or a manifest: read, parsed, visited around its children. */
static int walk_document(walker *w, wp_graph_node *n, wp_error *err)
{
	wp_buf data;
	wp_index ix = { 0 };
	wp_manifest m = { 0 };
	bool is_index = wp_mediatype_is_index(n->desc->media_type);
	int rc;

	wp_buf_init(&data, WP_MANIFEST_MAX);
	if (n->depth > WP_GRAPH_MAX_DEPTH)
		n->rc = wp_error_set(err, WP_EINVALID, "image indexes nested too deeply (more than %d)", WP_GRAPH_MAX_DEPTH);
	else if ((n->rc = read_doc(w->src, n->desc, &data, err)) == 0)
		n->rc = is_index ? wp_index_parse(data.data, data.len, &ix, err) : wp_manifest_parse(data.data, data.len, &m, err);
	if (n->rc < 0) {
		rc = (w->flags & WP_GRAPH_READ_ERRORS) ? w->visit(w->ctx, n, err) : n->rc;
		rc = rc == WP_GRAPH_PRUNE ? 0 : rc;
		goto done;
	}
	n->bytes = &data;
	n->index = is_index ? &ix : NULL;
	n->manifest = is_index ? NULL : &m;
	rc = (w->flags & WP_GRAPH_CHILDREN_FIRST) ? 0 : visit(w, n, err);
	if (rc == WP_GRAPH_PRUNE) {
		rc = 0;
		goto done;
	}
	if (rc == 0)
		rc = walk_children(w, n, err);
	if (rc == 0 && (w->flags & WP_GRAPH_CHILDREN_FIRST))
		rc = visit(w, n, err);
done:
	wp_index_release(&ix);
	wp_manifest_release(&m);
	wp_buf_release(&data);
	return rc;
}

/* Whether a node is a document the walk reads: the top, an index's entries and a subject
 * when their type says manifest or index. A config or a layer is a blob whatever type its
 * descriptor claims: it is never parsed as a manifest nor followed. */
static bool is_document(const wp_descriptor *d, wp_graph_role role)
{
	if (role == WP_GRAPH_CONFIG || role == WP_GRAPH_LAYER)
		return false;
	return wp_mediatype_is_index(d->media_type) || wp_mediatype_is_manifest(d->media_type);
}

static int walk(walker *w, const wp_descriptor *d, wp_graph_role role, int depth, wp_error *err)
{
	wp_graph_node n = { .desc = d, .role = role, .depth = depth };
	bool doc = is_document(d, role);
	/* once per digest and kind: a digest named again as another kind is judged again */
	_cleanup_free_ char *key = wp_str_fmt("%s %s", d->digest, doc ? (d->media_type ? d->media_type : "") : "blob");

	if (json_object_get(w->seen, key))
		return 0;
	json_object_set_new(w->seen, key, json_true());
	return doc ? walk_document(w, &n, err) : visit(w, &n, err);
}

int wp_graph_walk_seen(const wp_blob_source *src, const wp_descriptor *top, unsigned flags, const char *platform,
		       wp_graph_seen *seen, wp_graph_visit_fn visit_fn, void *ctx, wp_error *err)
{
	walker w = { .src = src, .flags = flags, .platform = platform, .visit = visit_fn, .ctx = ctx,
		     .seen = seen ? json_incref(seen->set) : json_object() };
	int rc = walk(&w, top, WP_GRAPH_TOP, 0, err);

	json_decref(w.seen);
	return rc < 0 ? rc : 0;
}

int wp_graph_walk(const wp_blob_source *src, const wp_descriptor *top, unsigned flags, const char *platform,
		  wp_graph_visit_fn visit_fn, void *ctx, wp_error *err)
{
	return wp_graph_walk_seen(src, top, flags, platform, NULL, visit_fn, ctx, err);
}

/* ---- closure ---- */

typedef struct closure_ctx {
	const wp_blob_source *src;
	wp_strv *out;
} closure_ctx;

static int closure_visit(void *ctx, const wp_graph_node *n, wp_error *err)
{
	closure_ctx *c = ctx;
	int rc;

	if (!n->bytes && (rc = c->src->has(c->src->ctx, n->desc->digest, err)) <= 0)
		return rc < 0 ? rc : wp_error_set(err, WP_ENOTFOUND, "blob %s is not in the store", n->desc->digest);
	if (!wp_strv_contains(c->out, n->desc->digest))
		wp_strv_push(c->out, n->desc->digest);
	return 0;
}

int wp_graph_closure(const wp_blob_source *src, const wp_descriptor *top, wp_strv *digests, wp_error *err)
{
	closure_ctx c = { .src = src, .out = digests };

	return wp_graph_walk(src, top, 0, NULL, closure_visit, &c, err);
}
