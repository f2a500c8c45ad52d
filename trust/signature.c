/* Signatures as referrers: a Sigstore bundle (trust/sigstore.h) of an image's manifest
 * digest, in an artifact manifest whose subject is that manifest. */
#include "trust/trust.h"
#include "common/str.h"
#include "common/util.h"
#include "oci/graph.h"
#include "oci/mediatype.h"
#include "registry/referrers.h"
#include "registry/remote.h"

#include <string.h>
#include <time.h>

int wp_trust_sign(wp_client *r, wp_store *s, const wp_ref *ref, const wp_descriptor *subject, const char *key,
		  const char *password, wp_descriptor *art, char bundle[WP_DIGEST_BUFSZ], bool *api, wp_error *err)
{
	_cleanup_free_ char *name = wp_ref_name(ref);
	wp_descriptor layer = { 0 };
	wp_kvlist ann = { 0 };
	char created[32];
	time_t now = time(NULL);
	wp_buf b;
	int rc;

	memset(art, 0, sizeof(*art));
	wp_buf_init(&b, WP_SIGSTORE_BUNDLE_MAX);
	if ((rc = wp_sigstore_sign(key, password, name, subject->digest, &b, err)) < 0 ||
	    (rc = wp_store_put_blob(s, b.data, b.len, bundle, err)) < 0)
		goto done;
	wp_descriptor_init(&layer, WP_MT_SIGSTORE_BUNDLE, bundle, (int64_t)b.len);
	/* the annotations cosign's bundle specification lists */
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	wp_kvlist_set(&ann, "dev.sigstore.bundle.content", "dsse-envelope");
	wp_kvlist_set(&ann, "dev.sigstore.bundle.predicateType", WP_COSIGN_SIGN_PREDICATE);
	wp_kvlist_set(&ann, "org.opencontainers.image.created", created);
	rc = wp_trust_attach(r, s, ref, subject, WP_MT_SIGSTORE_BUNDLE, &layer, 1, &ann, art, api, err);
done:
	wp_kvlist_release(&ann);
	wp_descriptor_release(&layer);
	wp_buf_release(&b);
	return rc;
}

/* The Sigstore bundle a signature artifact holds (its first layer of a bundle type). */
static int bundle_of(const wp_blob_source *src, const wp_descriptor *art, wp_buf *out, wp_error *err)
{
	/* a referrer is a manifest, whatever the listing said of its type */
	wp_descriptor as_manifest = { .media_type = (char *)WP_MT_OCI_MANIFEST, .size = art->size };
	wp_manifest m;
	int rc;

	memcpy(as_manifest.digest, art->digest, sizeof(as_manifest.digest));
	if ((rc = wp_graph_read_manifest(src, &as_manifest, &m, err)) < 0)
		return rc;
	rc = wp_error_set(err, WP_EDIGEST, "the signature artifact %s holds no Sigstore bundle", art->digest);
	for (size_t i = 0; i < m.n_layers; i++)
		if (m.layers[i].media_type && wp_str_has_prefix(m.layers[i].media_type, "application/vnd.dev.sigstore.bundle")) {
			rc = wp_graph_read_blob(src, &m.layers[i], WP_SIGSTORE_BUNDLE_MAX, out, err);
			break;
		}
	wp_manifest_release(&m);
	return rc;
}

int wp_trust_verify_signed(wp_client *r, const wp_ref *ref, const char *digest, const wp_strv *keys,
			   const wp_strv *predicate_types, wp_sigstore_verified *v, char sig[WP_DIGEST_BUFSZ],
			   wp_error *err)
{
	_cleanup_free_ char *name = wp_ref_name(ref);
	wp_remote_repo repo = { .r = r, .repository = ref->repository };
	wp_blob_source src = wp_remote_source(&repo);
	wp_index ix = { 0 };
	wp_error last = WP_ERROR_INIT;
	bool api = false, good = false;
	int rc;

	if ((rc = wp_referrers_list(r, ref->repository, digest, WP_MT_SIGSTORE_BUNDLE, &ix, &api, err)) < 0)
		return rc;
	/* every signature of the image is tried, with every key: one that verifies is enough */
	for (size_t i = 0; i < ix.n_manifests && !good; i++) {
		wp_buf b;

		wp_buf_init(&b, WP_SIGSTORE_BUNDLE_MAX);
		if ((rc = bundle_of(&src, &ix.manifests[i], &b, &last)) == 0)
			for (size_t k = 0; k < keys->len && !good; k++)
				if (wp_sigstore_verify(b.data ? b.data : "", b.len, keys->items[k], digest, predicate_types, v,
						       &last) == 0) {
					good = true;
					wp_str_copy(sig, ix.manifests[i].digest, WP_DIGEST_BUFSZ);
				}
		wp_buf_release(&b);
		/* a registry that stopped answering is no verdict on the image */
		if (!good && rc < 0 && rc != WP_EDIGEST && rc != WP_ENOTFOUND && rc != WP_EINVALID) {
			if (err)
				*err = last;
			wp_index_release(&ix);
			return rc;
		}
	}
	rc = 0;
	if (!good && !ix.n_manifests)
		rc = wp_error_set(err, WP_EDIGEST, "%s@%s is not signed: no Sigstore bundle refers to it", name, digest);
	else if (!good)
		rc = wp_error_set(err, WP_EDIGEST, "%s@%s: none of its %zu signature(s) verifies with %s%s: %s", name, digest,
				  ix.n_manifests, keys->len == 1 ? keys->items[0] : "any of the keys",
				  keys->len == 1 ? "" : " given", last.msg);
	wp_index_release(&ix);
	return rc;
}
