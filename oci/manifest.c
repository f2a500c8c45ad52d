#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "common/json.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? wp_xstrdup(s) : NULL;
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

void wp_manifest_add_layer(wp_manifest *m, wp_descriptor *layer)
{
	m->layers = wp_xreallocarray(m->layers, m->n_layers + 1, sizeof(*m->layers));
	m->layers[m->n_layers++] = *layer;
	memset(layer, 0, sizeof(*layer));
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
	if (mt && !wp_mediatype_is_manifest(mt)) {
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
		if ((rc = wp_descriptor_from_json(subject, m->subject, err)) < 0)
			goto done;
	}
	wp_kvlist_from_json(json_object_get(root, "annotations"), &m->annotations);
	rc = 0;
done:
	json_decref(root);
	if (rc < 0)
		wp_manifest_release(m);
	return rc;
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

const wp_descriptor *wp_manifest_spin_locked(const wp_manifest *m)
{
	if (!strcmp(m->config.media_type, WP_MT_SPIN_CONFIG))
		return &m->config;
	for (size_t i = 0; i < m->n_layers; i++)
		if (!strcmp(m->layers[i].media_type, WP_MT_SPIN_CONFIG))
			return &m->layers[i];
	return NULL;
}

const char *wp_manifest_layout(const wp_manifest *m)
{
	if (wp_manifest_spin_locked(m))
		return "spin";
	if (!strcmp(m->config.media_type, WP_MT_WASM_CONFIG) ||
	    (m->n_layers == 1 && !strcmp(m->layers[0].media_type, WP_MT_WASM_LAYER)))
		return "wasm";
	return "image";
}
