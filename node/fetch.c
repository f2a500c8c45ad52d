#include "node/fetch.h"
#include "node/cache.h"
#include "node/cdclient.h"
#include "node/unpack.h"
#include "common/fs.h"
#include "common/util.h"
#include "oci/config.h"
#include "oci/digest.h"
#include "oci/graph.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/store.h"

#include <stdlib.h>
#include <string.h>

/* The container's image as containerd holds it, read through src (which copies what it
 * reads into the temp store): its name, what the name points at, and the platform's
 * manifest (the one platform picker's, when it is an index). */
static int resolve(const wp_cdclient *cd, const wp_blob_source *src, const char *id, const char *platform, char **image,
		   wp_descriptor *top, wp_descriptor *man, wp_error *err)
{
	int rc;

	if ((rc = wp_cdclient_container_image(cd, id, image, err)) < 0)
		return rc;
	if (!**image)
		return wp_error_set(err, WP_ENOTFOUND, "container '%s' names no image and its rootfs holds no app", id);
	if ((rc = wp_cdclient_image_target(cd, *image, top, err)) < 0)
		return rc;
	rc = wp_graph_resolve(src, top, platform && *platform ? platform : NULL, man, err);
	return rc < 0 ? wp_error_prefix(err, "image '%s'", *image) : 0;
}

/* A temp store beside the node cache, for what is read from containerd. */
static int temp_store(const char *cache_root, char **tmp, wp_store *s, wp_error *err)
{
	int rc;

	if ((rc = wp_cache_check(cache_root, err)) < 0 || (rc = wp_fs_mkdir_p(cache_root, 0755, err)) < 0)
		return rc;
	*tmp = wp_str_fmt("%s/.tmp-shim-XXXXXX", cache_root);
	if (!mkdtemp(*tmp)) {
		free(*tmp);
		*tmp = NULL;
		return wp_error_sys(err, WP_EIO, "making a temp folder in '%s'", cache_root);
	}
	return wp_store_open(s, *tmp, WP_STORE_SHARED, err);
}

static void temp_store_close(char *tmp, wp_store *s)
{
	if (s->root)
		wp_store_close(s);
	if (tmp)
		(void)wp_fs_rm_rf(tmp, NULL);
	free(tmp);
}

/* The chain id of diff_ids (the image spec's: the first diff id, then sha256 of "PREV ID"
 * for each next), which names the snapshot of an image's last layer. */
static int chain_id(const wp_strv *diff_ids, char out[WP_DIGEST_BUFSZ], wp_error *err)
{
	int rc = 0;

	out[0] = '\0';
	for (size_t i = 0; i < diff_ids->len && rc == 0; i++) {
		if (i == 0) {
			wp_str_copy(out, diff_ids->items[0], WP_DIGEST_BUFSZ);
		} else {
			_cleanup_free_ char *pair = wp_str_fmt("%s %s", out, diff_ids->items[i]);

			rc = wp_digest_bytes(pair, strlen(pair), out, err);
		}
	}
	return rc;
}

int wp_fetch_resolve(const char *address, const char *ns, const char *id, const char *cache_root, const char *platform,
		     wp_fetch_target *t, wp_error *err)
{
	wp_cdclient cd = { .socket = wp_str_has_prefix(address, "unix://") ? address + 7 : address, .ns = ns };
	wp_store s = WP_STORE_INIT;
	wp_cdclient_content content = { .cd = &cd, .into = &s };
	wp_blob_source src = wp_cdclient_source(&content);
	char *tmp = NULL;
	wp_manifest m = { 0 };
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = temp_store(cache_root, &tmp, &s, err)) < 0 ||
	    (rc = resolve(&cd, &src, id, platform, &t->image, &t->top, &t->manifest, err)) < 0 ||
	    (rc = wp_graph_read_manifest(&src, &t->manifest, &m, err)) < 0)
		goto done;
	t->layout = wp_manifest_layout(&m);
	if (!strcmp(t->layout, "image")) {
		wp_config_image cfg = { 0 };
		wp_buf data;

		wp_buf_init(&data, WP_MANIFEST_MAX);
		if ((rc = wp_graph_read_blob(&src, &m.config, WP_MANIFEST_MAX, &data, err)) == 0 &&
		    (rc = wp_config_image_parse(data.data, data.len, &cfg, err)) == 0)
			rc = chain_id(&cfg.diff_ids, t->chain_id, err);
		wp_config_image_release(&cfg);
		wp_buf_release(&data);
	}
done:
	wp_manifest_release(&m);
	temp_store_close(tmp, &s);
	if (rc < 0)
		wp_fetch_target_release(t);
	return rc;
}

void wp_fetch_target_release(wp_fetch_target *t)
{
	free(t->image);
	wp_descriptor_release(&t->top);
	wp_descriptor_release(&t->manifest);
	memset(t, 0, sizeof(*t));
}

/* Each blob an image's manifest names, fetched into the temp store with its size checked. */
static int fetch_visit(void *ctx, const wp_graph_node *n, wp_error *err)
{
	wp_cdclient_content *c = ctx;

	return n->bytes ? 0 : wp_cdclient_fetch_blob(c->cd, c->into, n->desc->digest, n->desc->size, err);
}

/* The app of image (its manifest man, read into s) unpacked into the cache entry. */
static int fetch_unpack(wp_cdclient_content *content, const char *image, const wp_descriptor *man, bool files,
			const char *cache_root, const char *entry, wp_error *err)
{
	wp_blob_source src = wp_cdclient_source(content);
	wp_manifest m = { 0 };
	int rc;

	if ((rc = wp_graph_read_manifest(&src, man, &m, err)) < 0)
		return rc;
	/* Only artifacts come this way: an image of files is containerd's to unpack into the
	 * container's rootfs, and is never unpacked into the node cache by the shim (a command
	 * missing from its rootfs is an error, not a reason to unpack it here). */
	if (!files && !strcmp(wp_manifest_layout(&m), "image"))
		rc = wp_error_set(err, WP_EINVALID, "image '%s' (%s) is an image of files, whose app is in the container's "
				  "rootfs, and the rootfs holds none: containerd did not unpack it", image, man->digest);
	wp_manifest_release(&m);
	if (rc < 0 || wp_fs_exists(entry))
		return rc;
	if ((rc = wp_graph_walk(&src, man, 0, NULL, fetch_visit, content, err)) == 0) {
		json_t *summary = NULL;

		rc = wp_unpack(content->into, man, entry, NULL, &summary, err);
		json_decref(summary);
	}
	/* Another container of the same image made the entry meanwhile: it is the same. */
	if (rc == WP_EEXISTS && wp_fs_exists(entry))
		rc = 0;
	/* the node cache grew: past its caps, the least recently used entries go */
	if (rc == 0)
		wp_cache_enforce(cache_root, wp_digest_hex(man->digest));
	return rc;
}

int wp_fetch_app(const char *address, const char *ns, const char *id, const char *cache_root, const char *platform,
		 const char *want_digest, bool files, char **entry_out, wp_error *err)
{
	wp_cdclient cd = { .socket = wp_str_has_prefix(address, "unix://") ? address + 7 : address, .ns = ns };
	_cleanup_free_ char *image = NULL, *entry = NULL, *user = NULL;
	char *tmp = NULL;
	wp_descriptor top = { 0 }, man = { 0 };
	wp_store s = WP_STORE_INIT;
	wp_cdclient_content content = { .cd = &cd, .into = &s };
	wp_blob_source src = wp_cdclient_source(&content);
	int rc;

	if (!*cd.socket) {
		rc = wp_error_set(err, WP_EUSAGE, "the rootfs holds no app and containerd's address is unknown");
		goto done;
	}
	if ((rc = temp_store(cache_root, &tmp, &s, err)) < 0 ||
	    (rc = resolve(&cd, &src, id, platform, &image, &top, &man, err)) < 0)
		goto done;
	/* The digest the policy verified is the digest that runs: a tag moved since is refused. */
	if (want_digest && *want_digest && strcmp(want_digest, man.digest)) {
		rc = wp_error_set(err, WP_EDIGEST, "image '%s' is %s now, not %s, which was verified: it changed while the "
				  "container was being created; refusing to run it", image, man.digest, want_digest);
		goto done;
	}
	entry = wp_str_fmt("%s/%s", cache_root, wp_digest_hex(man.digest));
	if ((rc = fetch_unpack(&content, image, &man, files, cache_root, entry, err)) < 0)
		goto done;
	/* containerd's, and which containerd's: gc asks it whether it still holds the image
	 * (wasmpack gc --containerd) */
	user = wp_str_fmt("containerd:%s:%s", cd.socket, ns);
	wp_cache_claim(cache_root, wp_digest_hex(man.digest), user, NULL);
	*entry_out = entry;
	entry = NULL;
done:
	temp_store_close(tmp, &s);
	wp_descriptor_release(&top);
	wp_descriptor_release(&man);
	return rc;
}
