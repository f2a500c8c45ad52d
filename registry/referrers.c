#include "registry/referrers.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "registry/remote.h"
#include "registry/transfer.h"

#include <stdlib.h>
#include <string.h>


char *wp_referrers_tag(const char *subject_digest)
{
	return wp_str_fmt("sha256-%s", wp_digest_hex(subject_digest));
}

/* value with everything but RFC 3986's unreserved characters percent-encoded. */
static char *query_escape(const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = wp_xmalloc(strlen(value) * 3 + 1), *o = out;

	for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c)) {
			*o++ = (char)*c;
		} else {
			*o++ = '%';
			*o++ = hex[*c >> 4];
			*o++ = hex[*c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* The referrers API: 0 with its index; WP_ENOTFOUND when the registry has none (404). */
static int api_get(wp_client *r, const char *repo, const char *subject, const char *artifact_type, wp_index *out,
		   wp_error *err)
{
	_cleanup_free_ char *filter = artifact_type ? query_escape(artifact_type) : NULL;
	wp_client_req q;
	wp_client_resp p = { 0 };
	wp_buf body;
	int rc;

	wp_client_req_init(&q, "GET", wp_str_fmt("%s/v2/%s/referrers/%s%s%s", wp_client_base_url(r), repo, subject,
						 filter ? "?artifactType=" : "", filter ? filter : ""));
	q.scope = wp_client_scope(repo, "pull");
	q.accept = wp_xstrdup(WP_MT_OCI_INDEX);
	wp_buf_init(&body, WP_MANIFEST_MAX);
	q.resp_body = &body;
	wp_client_resp_init(&p);
	rc = wp_client_do(r, &q, &p, err);
	if (rc == 0 && p.status == 404)
		rc = wp_error_set(err, WP_ENOTFOUND, "the registry has no referrers API");
	else if (rc == 0 && (rc = wp_client_check(&p, "listing referrers", err)) == 0) {
		if (p.sink_failed)
			rc = wp_error_set(err, WP_ETOOBIG, "the referrers list is larger than %u bytes", WP_MANIFEST_MAX);
		else
			rc = wp_index_parse(body.data ? body.data : "", body.len, out, err);
	}
	wp_buf_release(&body);
	wp_client_req_release(&q);
	wp_client_resp_release(&p);
	return rc;
}

/* The fallback tag's index, or an empty one when the tag does not exist. */
static int tag_get(wp_client *r, const char *repo, const char *subject, wp_index *out, wp_error *err)
{
	_cleanup_free_ char *tag = wp_referrers_tag(subject), *mt = NULL;
	wp_ref ref = { 0 };
	char digest[WP_DIGEST_BUFSZ];
	wp_buf body;
	int rc;

	ref.repository = (char *)repo;
	wp_buf_init(&body, WP_MANIFEST_MAX);
	rc = wp_remote_manifest(r, &ref, tag, &body, &mt, digest, err);
	if (rc == WP_ENOTFOUND) {
		memset(out, 0, sizeof(*out));
		out->media_type = wp_xstrdup(WP_MT_OCI_INDEX);
		rc = 0;
	} else if (rc == 0 && !wp_mediatype_is_index(mt)) {
		rc = wp_error_set(err, WP_EINVALID, "the tag %s is no index (%s): it cannot hold referrers", tag, mt);
	} else if (rc == 0) {
		rc = wp_index_parse(body.data, body.len, out, err);
	}
	wp_buf_release(&body);
	return rc;
}

/* Keeps only the manifests of artifact_type, and those that are manifests at all. */
static void filter_index(wp_index *ix, const char *artifact_type)
{
	size_t k = 0;

	for (size_t i = 0; i < ix->n_manifests; i++) {
		const char *t = ix->manifests[i].artifact_type;

		if (artifact_type && (!t || strcmp(t, artifact_type))) {
			wp_descriptor_release(&ix->manifests[i]);
			continue;
		}
		if (k != i)
			ix->manifests[k] = ix->manifests[i];
		k++;
	}
	ix->n_manifests = k;
}

int wp_referrers_list(wp_client *r, const char *repo, const char *subject, const char *artifact_type, wp_index *out,
		      bool *via_api, wp_error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = wp_digest_check(subject, err)) < 0)
		return rc;
	rc = api_get(r, repo, subject, artifact_type, out, err);
	*via_api = rc == 0;
	if (rc == WP_ENOTFOUND) {
		wp_debug("%s: no referrers API, reading the tag %s", repo, subject);
		rc = tag_get(r, repo, subject, out, err);
	}
	if (rc == 0)
		filter_index(out, artifact_type); /* a registry may not have applied the filter */
	if (rc == 0 && out->n_manifests > WP_REFERRERS_MAX) {
		/* each one listed costs requests (discover's tree, pull --referrers, verify) */
		wp_warn("%s lists %zu referrers of %s: only the first %d are read", repo, out->n_manifests, subject,
			WP_REFERRERS_MAX);
		for (size_t i = WP_REFERRERS_MAX; i < out->n_manifests; i++)
			wp_descriptor_release(&out->manifests[i]);
		out->n_manifests = WP_REFERRERS_MAX;
	}
	if (rc < 0)
		wp_error_prefix(err, "referrers of %s", subject);
	return rc;
}

int wp_referrers_record(wp_client *r, const char *repo, const char *subject, const wp_descriptor *artifact,
			bool *via_api, wp_error *err)
{
	_cleanup_free_ char *tag = wp_referrers_tag(subject);
	wp_index ix = { 0 };
	char digest[WP_DIGEST_BUFSZ];
	wp_buf data;
	int rc;

	rc = api_get(r, repo, subject, NULL, &ix, err);
	*via_api = rc == 0;
	wp_index_release(&ix);
	if (rc != WP_ENOTFOUND)
		return rc;
	memset(&ix, 0, sizeof(ix));
	if ((rc = tag_get(r, repo, subject, &ix, err)) < 0)
		return wp_error_prefix(err, "the referrers tag %s", tag);
	for (size_t i = 0; i < ix.n_manifests; i++)
		if (!strcmp(ix.manifests[i].digest, artifact->digest)) {
			wp_index_release(&ix);
			return 0;
		}
	ix.manifests = wp_xreallocarray(ix.manifests, ix.n_manifests + 1, sizeof(*ix.manifests));
	wp_descriptor_copy(&ix.manifests[ix.n_manifests++], artifact);
	free(ix.media_type);
	ix.media_type = wp_xstrdup(WP_MT_OCI_INDEX);
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = wp_index_emit(&ix, &data, err)) == 0 && (rc = wp_digest_bytes(data.data, data.len, digest, err)) == 0)
		rc = wp_transfer_put_manifest(r, repo, tag, WP_MT_OCI_INDEX, &data, digest, err);
	if (rc < 0)
		wp_error_prefix(err, "updating the referrers tag %s", tag);
	wp_buf_release(&data);
	wp_index_release(&ix);
	return rc;
}
