#include "oci/index.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "common/util.h"
#include "common/json.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The images an ambiguous id is listed with in its message, at most. */
#define AMBIGUOUS_NAMES_MAX 4096

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
	    (ms && !json_is_array(ms)) || (mt && !wp_mediatype_is_index(mt))) {
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

static bool all_hex(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
			return false;
	return true;
}

int wp_index_find(const wp_index *ix, const char *what, size_t *pos, char digest[WP_DIGEST_BUFSZ], wp_error *err)
{
	const char *hex = wp_str_has_prefix(what, "sha256:") ? what + 7 : what;
	size_t hl = strlen(hex), hits = 0;
	wp_ref ref;
	_cleanup_free_ char *full = NULL;
	int rc;

	digest[0] = '\0';
	if (hl >= WP_INDEX_MIN_PREFIX && hl <= 64 && all_hex(hex)) {
		wp_buf names;

		if (hl == 64)
			snprintf(digest, WP_DIGEST_BUFSZ, "sha256:%s", hex);
		wp_buf_init(&names, AMBIGUOUS_NAMES_MAX);
		for (size_t i = 0; i < ix->n_manifests; i++) {
			const char *d = ix->manifests[i].digest, *n;
			bool seen = false;

			if (strncmp(d, "sha256:", 7) || strncmp(d + 7, hex, hl))
				continue;
			/* one image tagged twice is one image */
			for (size_t k = 0; k < i && !seen; k++)
				seen = !strcmp(ix->manifests[k].digest, d);
			if (seen)
				continue;
			if (!hits++)
				*pos = i;
			n = wp_kvlist_get(&ix->manifests[i].annotations, WP_ANN_REF_NAME);
			if (names.len < 3000)
				(void)!wp_buf_printf(&names, "\n  %.19s  %s", d, n ? n : "(untagged)");
		}
		if (hits > 1) {
			rc = wp_error_set(err, WP_EUSAGE, "'%s' matches %zu images; give more of the digest:%s", what, hits,
					  names.data ? names.data : "");
			wp_buf_release(&names);
			return rc;
		}
		wp_buf_release(&names);
		if (hits == 1)
			return 0;
		/* digest syntax is no name: only the store could have had it */
		if (hex != what)
			return wp_error_set(err, WP_ENOTFOUND, "no image '%s'", what);
	}
	if (hex != what && hl < WP_INDEX_MIN_PREFIX)
		return wp_error_set(err, WP_EUSAGE, "'%s': give at least %d hex digits of a digest", what, WP_INDEX_MIN_PREFIX);
	if (hex != what)
		return wp_error_set(err, WP_EUSAGE, "'%s' is no digest (sha256: then lowercase hex)", what);
	if ((rc = wp_ref_parse(what, &ref, err)) < 0)
		return rc;
	full = wp_ref_string(&ref);
	if (ref.digest)
		wp_str_copy(digest, ref.digest, WP_DIGEST_BUFSZ);
	rc = wp_error_set(err, WP_ENOTFOUND, "no image '%s'", what);
	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *n = wp_kvlist_get(&ix->manifests[i].annotations, WP_ANN_REF_NAME);

		if (ref.digest ? !strcmp(ix->manifests[i].digest, ref.digest) : n && !strcmp(n, full)) {
			*pos = i;
			rc = 0;
			break;
		}
	}
	wp_ref_release(&ref);
	return rc;
}

const wp_descriptor *wp_index_pick_wasm(const wp_index *ix, const char *want)
{
	static const char *const wasm[] = { "wasip1/wasm", "wasip2/wasm" };

	for (size_t k = 0; k < (want ? 1 : WP_ARRAY_LEN(wasm)); k++)
		for (size_t i = 0; i < ix->n_manifests; i++)
			if (wp_descriptor_platform_matches(ix->manifests[i].platform, want ? want : wasm[k]))
				return &ix->manifests[i];
	/* with no platform asked for, a lone manifest that names none stands for the image;
	 * one asked for by name must be named so */
	if (!want && ix->n_manifests == 1 && !ix->manifests[0].platform)
		return &ix->manifests[0];
	return NULL;
}

const char *wp_index_wanted(const char *want)
{
	return want ? want : "wasip1/wasm or wasip2/wasm";
}
