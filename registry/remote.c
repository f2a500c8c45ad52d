#include "registry/remote.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"

#include <stdlib.h>
#include <string.h>

#define ACCEPT_MANIFESTS WP_MT_OCI_MANIFEST ", " WP_MT_OCI_INDEX ", " WP_MT_DOCKER_MANIFEST ", " WP_MT_DOCKER_LIST
#define TAGS_PAGE_MAX (4u << 20)
#define TAGS_PAGES_MAX 1000

int wp_remote_manifest(wp_client *r, const wp_ref *ref, const char *reference, wp_buf *body, char **media_type,
		       char digest[WP_DIGEST_BUFSZ], wp_error *err)
{
	wp_client_req q;
	wp_client_resp p = { 0 };
	int rc;

	*media_type = NULL;
	wp_client_req_init(&q, "GET", wp_str_fmt("%s/v2/%s/manifests/%s", wp_client_base_url(r), ref->repository, reference));
	q.scope = wp_client_scope(ref->repository, "pull");
	q.accept = wp_xstrdup(ACCEPT_MANIFESTS);
	q.resp_body = body;
	wp_client_resp_init(&p);
	rc = wp_client_do(r, &q, &p, err);
	if (rc == 0)
		rc = wp_client_check(&p, "getting the manifest", err);
	if (rc == 0 && p.sink_failed)
		rc = wp_error_set(err, WP_ETOOBIG, "the manifest is larger than %u bytes", WP_MANIFEST_MAX);
	if (rc == 0 && (rc = wp_digest_bytes(body->data, body->len, digest, err)) == 0) {
		if (wp_digest_valid(reference) && strcmp(reference, digest))
			rc = wp_error_set(err, WP_EDIGEST, "the manifest has digest %s, not the %s asked for", digest, reference);
		else if (p.docker_content_digest && wp_digest_valid(p.docker_content_digest) &&
			 strcmp(p.docker_content_digest, digest))
			rc = wp_error_set(err, WP_EDIGEST, "the manifest has digest %s, the registry says %s", digest,
					  p.docker_content_digest);
	}
	if (rc == 0) {
		rc = wp_manifest_sniff_media_type(body->data, body->len, media_type, err);
		if (rc == 0 && p.content_type && (wp_mediatype_is_index(p.content_type) || wp_mediatype_is_manifest(p.content_type))) {
			free(*media_type);
			*media_type = wp_xstrndup(p.content_type, strcspn(p.content_type, ";"));
		}
	}
	wp_client_req_release(&q);
	wp_client_resp_release(&p);
	return rc;
}

int wp_remote_blob(wp_client *r, const char *repo, const char *digest, size_t max, wp_buf *out, wp_error *err)
{
	wp_client_req q;
	wp_client_resp p = { 0 };
	char got[WP_DIGEST_BUFSZ];
	int rc;

	if ((rc = wp_digest_check(digest, err)) < 0)
		return rc;
	wp_client_req_init(&q, "GET", wp_str_fmt("%s/v2/%s/blobs/%s", wp_client_base_url(r), repo, digest));
	q.scope = wp_client_scope(repo, "pull");
	q.resp_body = out;
	wp_client_resp_init(&p);
	rc = wp_client_do(r, &q, &p, err);
	if (rc == 0)
		rc = wp_client_check(&p, "getting a blob", err);
	if (rc == 0 && (p.sink_failed || out->len > max))
		rc = wp_error_set(err, WP_ETOOBIG, "blob %s is larger than %zu bytes", digest, max);
	if (rc == 0 && (rc = wp_digest_bytes(out->data, out->len, got, err)) == 0 && strcmp(got, digest))
		rc = wp_error_set(err, WP_EDIGEST, "blob %s arrived with digest %s", digest, got);
	wp_client_req_release(&q);
	wp_client_resp_release(&p);
	return rc;
}

int wp_remote_describe(wp_client *r, const wp_ref *ref, wp_descriptor *d, wp_error *err)
{
	_cleanup_free_ char *mt = NULL;
	char digest[WP_DIGEST_BUFSZ];
	wp_buf body;
	int rc;

	memset(d, 0, sizeof(*d));
	wp_buf_init(&body, WP_MANIFEST_MAX);
	rc = wp_remote_manifest(r, ref, ref->digest ? ref->digest : ref->tag, &body, &mt, digest, err);
	if (rc == 0)
		wp_descriptor_init(d, mt, digest, (int64_t)body.len);
	wp_buf_release(&body);
	return rc;
}

static int source_read(void *ctx, const char *digest, const char *media_type, size_t max, wp_buf *out, wp_error *err)
{
	wp_remote_repo *repo = ctx;
	wp_ref ref = { .repository = (char *)repo->repository };
	_cleanup_free_ char *mt = NULL;
	char got[WP_DIGEST_BUFSZ];
	int rc;

	if (!media_type || (!wp_mediatype_is_manifest(media_type) && !wp_mediatype_is_index(media_type)))
		return wp_remote_blob(repo->r, repo->repository, digest, max, out, err);
	if ((rc = wp_digest_check(digest, err)) < 0)
		return rc;
	rc = wp_remote_manifest(repo->r, &ref, digest, out, &mt, got, err);
	if (rc == 0 && out->len > max)
		rc = wp_error_set(err, WP_ETOOBIG, "manifest %s is larger than %zu bytes", digest, max);
	return rc;
}

static int source_has(void *ctx, const char *digest, wp_error *err)
{
	wp_remote_repo *repo = ctx;
	wp_client_req q;
	wp_client_resp p = { 0 };
	int rc;

	if ((rc = wp_digest_check(digest, err)) < 0)
		return rc;
	wp_client_req_init(&q, "HEAD", wp_str_fmt("%s/v2/%s/blobs/%s", wp_client_base_url(repo->r), repo->repository, digest));
	q.scope = wp_client_scope(repo->repository, "pull");
	wp_client_resp_init(&p);
	rc = wp_client_do(repo->r, &q, &p, err);
	if (rc == 0 && p.status != 404 && (rc = wp_client_check(&p, "asking for a blob", err)) == 0)
		rc = 1;
	wp_client_req_release(&q);
	wp_client_resp_release(&p);
	return rc;
}

wp_blob_source wp_remote_source(wp_remote_repo *repo)
{
	return (wp_blob_source){ .read = source_read, .has = source_has, .ctx = repo };
}

/* The next page's URL from a Link header (<URL>; rel="next"), or NULL. */
static char *next_page(wp_client *r, const char *link)
{
	const char *lt = link ? strchr(link, '<') : NULL, *gt = lt ? strchr(lt, '>') : NULL;
	_cleanup_free_ char *u = NULL, *base = NULL;
	char *next;

	if (!lt || !gt || !strstr(gt, "rel=\"next\""))
		return NULL;
	u = wp_xstrndup(lt + 1, (size_t)(gt - lt - 1));
	next = wp_client_url(r, u);
	/* The registry's credentials go with every request, so the next page must be on the
	 * registry itself: a link to another host, scheme or port ends the listing. */
	base = wp_str_fmt("%s/v2/", wp_client_base_url(r));
	if (next && strncmp(next, base, strlen(base)) != 0) {
		wp_warn("the tag list may be incomplete: the registry sent its next page elsewhere (%s), not followed", next);
		free(next);
		next = NULL;
	}
	return next;
}

int wp_remote_tags(wp_client *r, const char *repo, wp_strv *tags, wp_error *err)
{
	char *url = wp_str_fmt("%s/v2/%s/tags/list?n=1000", wp_client_base_url(r), repo);
	int rc = 0, pages = 0;

	while (url && rc == 0) {
		wp_client_req q;
		wp_client_resp p = { 0 };
		wp_buf body;
		json_t *doc = NULL, *v;
		size_t i;

		if (++pages > TAGS_PAGES_MAX) {
			free(url);
			return wp_error_set(err, WP_ETOOBIG, "%s has more than %d pages of tags", repo, TAGS_PAGES_MAX);
		}
		wp_buf_init(&body, TAGS_PAGE_MAX);
		wp_client_req_init(&q, "GET", url);
		q.scope = wp_client_scope(repo, "pull");
		q.resp_body = &body;
		wp_client_resp_init(&p);
		url = NULL;
		rc = wp_client_do(r, &q, &p, err);
		if (rc == 0)
			rc = wp_client_check(&p, "listing tags", err);
		if (rc == 0 && p.sink_failed)
			rc = wp_error_set(err, WP_ETOOBIG, "a page of tags is larger than %u bytes", TAGS_PAGE_MAX);
		if (rc == 0 && (rc = wp_json_parse(body.data, body.len, TAGS_PAGE_MAX, &doc, err)) == 0) {
			json_array_foreach(json_object_get(doc, "tags"), i, v)
				if (json_is_string(v))
					wp_strv_push(tags, json_string_value(v));
			url = next_page(r, p.link);
		}
		json_decref(doc);
		wp_buf_release(&body);
		wp_client_req_release(&q);
		wp_client_resp_release(&p);
	}
	free(url);
	if (rc < 0)
		wp_error_prefix(err, "tags of %s", repo);
	return rc;
}
