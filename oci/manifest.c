#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "common/json.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int kv_find(const wp_kvlist *l, const char *key, size_t *pos)
{
	size_t lo = 0, hi = l->len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(l->items[mid].key, key);

		if (c == 0) {
			*pos = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return 0;
}

void wp_kvlist_set(wp_kvlist *l, const char *key, const char *value)
{
	size_t pos;
	char *v = wp_xstrdup(value);

	if (kv_find(l, key, &pos)) {
		free(l->items[pos].value);
		l->items[pos].value = v;
		return;
	}
	l->items = wp_xreallocarray(l->items, l->len + 1, sizeof(*l->items));
	memmove(l->items + pos + 1, l->items + pos, (l->len - pos) * sizeof(*l->items));
	l->items[pos].key = wp_xstrdup(key);
	l->items[pos].value = v;
	l->len++;
}

const char *wp_kvlist_get(const wp_kvlist *l, const char *key)
{
	size_t pos;

	return kv_find(l, key, &pos) ? l->items[pos].value : NULL;
}

void wp_kvlist_release(wp_kvlist *l)
{
	for (size_t i = 0; i < l->len; i++) {
		free(l->items[i].key);
		free(l->items[i].value);
	}
	free(l->items);
	l->items = NULL;
	l->len = 0;
}

int wp_kvlist_copy(wp_kvlist *dst, const wp_kvlist *src)
{
	for (size_t i = 0; i < src->len; i++)
		wp_kvlist_set(dst, src->items[i].key, src->items[i].value);
	return 0;
}

json_t *wp_kvlist_to_json(const wp_kvlist *l)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < l->len; i++)
		json_object_set_new(o, l->items[i].key, json_string(l->items[i].value));
	return o;
}

int wp_kvlist_from_json(const json_t *j, wp_kvlist *l)
{
	const char *k;
	json_t *v;

	if (!json_is_object(j))
		return 0;
	json_object_foreach((json_t *)j, k, v)
		if (json_is_string(v))
			wp_kvlist_set(l, k, json_string_value(v));
	return 0;
}

int wp_descriptor_init(wp_descriptor *d, const char *media_type, const char *digest, int64_t size)
{
	memset(d, 0, sizeof(*d));
	d->media_type = wp_xstrdup(media_type);
	wp_strlcpy(d->digest, digest, sizeof(d->digest));
	d->size = size;
	return 0;
}

static void platform_free(wp_platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->architecture);
	free(p->variant);
	free(p);
}

void wp_descriptor_release(wp_descriptor *d)
{
	free(d->media_type);
	free(d->artifact_type);
	wp_kvlist_release(&d->annotations);
	platform_free(d->platform);
	memset(d, 0, sizeof(*d));
}

static char *dup_or_null(const char *s)
{
	return s ? wp_xstrdup(s) : NULL;
}

int wp_descriptor_copy(wp_descriptor *dst, const wp_descriptor *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->media_type = dup_or_null(src->media_type);
	memcpy(dst->digest, src->digest, sizeof(dst->digest));
	dst->size = src->size;
	dst->artifact_type = dup_or_null(src->artifact_type);
	wp_kvlist_copy(&dst->annotations, &src->annotations);
	if (src->platform) {
		dst->platform = wp_xcalloc(1, sizeof(*dst->platform));
		dst->platform->os = dup_or_null(src->platform->os);
		dst->platform->architecture = dup_or_null(src->platform->architecture);
		dst->platform->variant = dup_or_null(src->platform->variant);
	}
	return 0;
}

/* Field order of the image-spec's Descriptor: mediaType, digest, size, urls, annotations,
 * data, platform, artifactType. */
json_t *wp_descriptor_to_json(const wp_descriptor *d)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "mediaType", json_string(d->media_type));
	json_object_set_new(o, "digest", json_string(d->digest));
	json_object_set_new(o, "size", json_integer(d->size));
	if (d->annotations.len)
		json_object_set_new(o, "annotations", wp_kvlist_to_json(&d->annotations));
	if (d->platform) {
		json_t *p = json_object();

		json_object_set_new(p, "architecture", json_string(d->platform->architecture ? d->platform->architecture : ""));
		json_object_set_new(p, "os", json_string(d->platform->os ? d->platform->os : ""));
		if (d->platform->variant)
			json_object_set_new(p, "variant", json_string(d->platform->variant));
		json_object_set_new(o, "platform", p);
	}
	if (d->artifact_type)
		json_object_set_new(o, "artifactType", json_string(d->artifact_type));
	return o;
}

int wp_descriptor_from_json(const json_t *j, wp_descriptor *d, wp_error *err)
{
	const char *mt = wp_json_str(j, "mediaType");
	const char *dg = wp_json_str(j, "digest");
	json_t *size = json_object_get(j, "size");
	json_t *plat = json_object_get(j, "platform");

	memset(d, 0, sizeof(*d));
	if (!json_is_object(j))
		return wp_error_set(err, WP_EINVALID, "descriptor is not an object");
	if (!dg || !wp_digest_valid(dg))
		return wp_error_set(err, WP_EINVALID, "descriptor has an invalid digest '%s'", dg ? dg : "");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return wp_error_set(err, WP_EINVALID, "descriptor %s has no valid size", dg);
	d->media_type = wp_xstrdup(mt ? mt : "");
	memcpy(d->digest, dg, WP_DIGEST_BUFSZ);
	d->size = json_integer_value(size);
	d->artifact_type = dup_or_null(wp_json_str(j, "artifactType"));
	wp_kvlist_from_json(json_object_get(j, "annotations"), &d->annotations);
	if (json_is_object(plat)) {
		d->platform = wp_xcalloc(1, sizeof(*d->platform));
		d->platform->os = dup_or_null(wp_json_str(plat, "os"));
		d->platform->architecture = dup_or_null(wp_json_str(plat, "architecture"));
		d->platform->variant = dup_or_null(wp_json_str(plat, "variant"));
	}
	return 0;
}

void wp_manifest_release(wp_manifest *m)
{
	free(m->media_type);
	free(m->artifact_type);
	wp_descriptor_release(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		wp_descriptor_release(&m->layers[i]);
	free(m->layers);
	if (m->subject) {
		wp_descriptor_release(m->subject);
		free(m->subject);
	}
	wp_kvlist_release(&m->annotations);
	memset(m, 0, sizeof(*m));
}

int wp_manifest_add_layer(wp_manifest *m, wp_descriptor *layer)
{
	wp_descriptor *l = wp_xrealloc(m->layers, (m->n_layers + 1) * sizeof(*l));

	if (!l)
		return WP_ENOMEM;
	m->layers = l;
	l[m->n_layers++] = *layer;
	memset(layer, 0, sizeof(*layer));
	return 0;
}

/* Field order of the image-spec's Manifest: schemaVersion, mediaType, artifactType,
 * config, layers, subject, annotations. */
int wp_manifest_emit(const wp_manifest *m, wp_buf *out, wp_error *err)
{
	json_t *o = json_object(), *layers = json_array();
	int rc;

	json_object_set_new(o, "schemaVersion", json_integer(2));
	json_object_set_new(o, "mediaType", json_string(m->media_type ? m->media_type : WP_MT_OCI_MANIFEST));
	if (m->artifact_type)
		json_object_set_new(o, "artifactType", json_string(m->artifact_type));
	json_object_set_new(o, "config", wp_descriptor_to_json(&m->config));
	for (size_t i = 0; i < m->n_layers; i++)
		json_array_append_new(layers, wp_descriptor_to_json(&m->layers[i]));
	json_object_set_new(o, "layers", layers);
	if (m->subject)
		json_object_set_new(o, "subject", wp_descriptor_to_json(m->subject));
	if (m->annotations.len)
		json_object_set_new(o, "annotations", wp_kvlist_to_json(&m->annotations));
	rc = wp_json_emit(o, out, err);
	json_decref(o);
	return rc;
}

int wp_manifest_parse(const char *data, size_t len, wp_manifest *m, wp_error *err)
{
	json_t *root = NULL, *layers, *subject;
	const char *mt;
	int rc;
	size_t i;

	memset(m, 0, sizeof(*m));
	rc = wp_json_parse(data, len, WP_MANIFEST_MAX, &root, err);
	if (rc < 0)
		return wp_error_prefix(err, "parsing manifest");
	if (!json_is_object(root)) {
		rc = wp_error_set(err, WP_EINVALID, "parsing manifest: not a JSON object");
		goto done;
	}
	if (json_integer_value(json_object_get(root, "schemaVersion")) != 2) {
		rc = wp_error_set(err, WP_EINVALID, "parsing manifest: schemaVersion is not 2");
		goto done;
	}
	mt = wp_json_str(root, "mediaType");
	if (mt && !wp_media_type_is_manifest(mt)) {
		rc = wp_error_set(err, WP_EINVALID, "parsing manifest: media type '%s' is not an image manifest", mt);
		goto done;
	}
	m->media_type = wp_xstrdup(mt ? mt : WP_MT_OCI_MANIFEST);
	m->artifact_type = dup_or_null(wp_json_str(root, "artifactType"));
	rc = wp_descriptor_from_json(json_object_get(root, "config"), &m->config, err);
	if (rc < 0) {
		wp_error_prefix(err, "parsing manifest config");
		goto done;
	}
	layers = json_object_get(root, "layers");
	if (layers && !json_is_array(layers)) {
		rc = wp_error_set(err, WP_EINVALID, "parsing manifest: layers is not an array");
		goto done;
	}
	m->layers = wp_xcalloc(json_array_size(layers) + 1, sizeof(*m->layers));
	for (i = 0; i < json_array_size(layers); i++) {
		rc = wp_descriptor_from_json(json_array_get(layers, i), &m->layers[i], err);
		m->n_layers = i + 1;
		if (rc < 0) {
			wp_error_prefix(err, "parsing manifest layer %zu", i);
			goto done;
		}
	}
	subject = json_object_get(root, "subject");
	if (json_is_object(subject)) {
		m->subject = wp_xcalloc(1, sizeof(*m->subject));
		if (!m->subject || (rc = wp_descriptor_from_json(subject, m->subject, err)) < 0) {
			rc = rc < 0 ? rc : wp_error_set(err, WP_ENOMEM, "out of memory");
			goto done;
		}
	}
	wp_kvlist_from_json(json_object_get(root, "annotations"), &m->annotations);
	rc = 0;
done:
	json_decref(root);
	if (rc < 0)
		wp_manifest_release(m);
	return rc;
}

void wp_index_release(wp_index *ix)
{
	free(ix->media_type);
	for (size_t i = 0; i < ix->n_manifests; i++)
		wp_descriptor_release(&ix->manifests[i]);
	free(ix->manifests);
	wp_kvlist_release(&ix->annotations);
	memset(ix, 0, sizeof(*ix));
}

int wp_index_emit(const wp_index *ix, wp_buf *out, wp_error *err)
{
	json_t *o = json_object(), *ms = json_array();
	int rc;

	json_object_set_new(o, "schemaVersion", json_integer(2));
	json_object_set_new(o, "mediaType", json_string(ix->media_type ? ix->media_type : WP_MT_OCI_INDEX));
	for (size_t i = 0; i < ix->n_manifests; i++)
		json_array_append_new(ms, wp_descriptor_to_json(&ix->manifests[i]));
	json_object_set_new(o, "manifests", ms);
	if (ix->annotations.len)
		json_object_set_new(o, "annotations", wp_kvlist_to_json(&ix->annotations));
	rc = wp_json_emit(o, out, err);
	json_decref(o);
	return rc;
}

int wp_index_parse(const char *data, size_t len, wp_index *ix, wp_error *err)
{
	json_t *root = NULL, *ms;
	const char *mt;
	int rc;

	memset(ix, 0, sizeof(*ix));
	rc = wp_json_parse(data, len, WP_MANIFEST_MAX, &root, err);
	if (rc < 0)
		return wp_error_prefix(err, "parsing index");
	mt = wp_json_str(root, "mediaType");
	ms = json_object_get(root, "manifests");
	if (!json_is_object(root) || json_integer_value(json_object_get(root, "schemaVersion")) != 2 ||
	    (ms && !json_is_array(ms)) || (mt && !wp_media_type_is_index(mt))) {
		json_decref(root);
		return wp_error_set(err, WP_EINVALID, "parsing index: not an OCI image index");
	}
	ix->media_type = wp_xstrdup(mt ? mt : WP_MT_OCI_INDEX);
	ix->manifests = wp_xcalloc(json_array_size(ms) + 1, sizeof(*ix->manifests));
	for (size_t i = 0; i < json_array_size(ms); i++) {
		rc = wp_descriptor_from_json(json_array_get(ms, i), &ix->manifests[i], err);
		ix->n_manifests = i + 1;
		if (rc < 0) {
			json_decref(root);
			wp_index_release(ix);
			return wp_error_prefix(err, "parsing index entry %zu", i);
		}
	}
	wp_kvlist_from_json(json_object_get(root, "annotations"), &ix->annotations);
	json_decref(root);
	return 0;
}

int wp_manifest_sniff_media_type(const char *data, size_t len, char **media_type, wp_error *err)
{
	json_t *root = NULL;
	const char *mt;
	int rc = wp_json_parse(data, len, WP_MANIFEST_MAX, &root, err);

	*media_type = NULL;
	if (rc < 0)
		return rc;
	mt = wp_json_str(root, "mediaType");
	if (!mt)
		mt = json_is_array(json_object_get(root, "manifests")) ? WP_MT_OCI_INDEX : WP_MT_OCI_MANIFEST;
	*media_type = wp_xstrdup(mt);
	json_decref(root);
	return 0;
}

bool wp_platform_matches(const wp_platform *p, const char *want)
{
	_cleanup_free_ char *w = wp_xstrdup(want);
	char *slash = w ? strchr(w, '/') : NULL;

	if (!p || !p->os || !p->architecture || !slash)
		return false;
	*slash = '\0';
	if (strcmp(p->architecture, slash + 1))
		return false;
	if (!strcasecmp(p->os, w))
		return true;
	/* Docker writes wasi/wasm for what others call wasip1/wasm. */
	return (!strcmp(w, "wasip1") && !strcasecmp(p->os, "wasi")) || (!strcmp(w, "wasi") && !strcasecmp(p->os, "wasip1"));
}
