#include "oci/descriptor.h"
#include "common/json.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_or_null(const char *s)
{
	return s ? wp_xstrdup(s) : NULL;
}

void wp_descriptor_init(wp_descriptor *d, const char *media_type, const char *digest, int64_t size)
{
	memset(d, 0, sizeof(*d));
	d->media_type = wp_xstrdup(media_type);
	wp_str_copy(d->digest, digest, sizeof(d->digest));
	d->size = size;
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

void wp_descriptor_copy(wp_descriptor *dst, const wp_descriptor *src)
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

bool wp_descriptor_platform_matches(const wp_platform *p, const char *want)
{
	_cleanup_free_ char *w = wp_xstrdup(want);
	char *slash = strchr(w, '/');

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
