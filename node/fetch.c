#include "node/fetch.h"
#include "node/cache.h"
#include "node/cdclient.h"
#include "node/unpack.h"
#include "common/fs.h"
#include "common/util.h"
#include "oci/config.h"
#include "oci/digest.h"
#include "oci/index.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/store.h"

#include <stdlib.h>
#include <string.h>

/* The container's image as containerd holds it, into the temp store s: its name, what the
 * name points at, and the platform's manifest (picked from an index, fetched into s). */
static int resolve(const wp_cdclient *cd, const char *id, wp_store *s, const char *platform, char **image,
		   wp_descriptor *top, wp_descriptor *man, wp_error *err)
{
	const char *want = platform && *platform ? platform : NULL; /* NULL: wasip1, else wasip2 */
	wp_buf data;
	int rc;

	if ((rc = wp_cdclient_container_image(cd, id, image, err)) < 0)
		return rc;
	if (!**image)
		return wp_error_set(err, WP_ENOTFOUND, "container '%s' names no image and its rootfs holds no app", id);
	if ((rc = wp_cdclient_image_target(cd, *image, top, err)) < 0 ||
	    (rc = wp_cdclient_fetch_blob(cd, s, top->digest, top->size, err)) < 0)
		return rc;
	if (!wp_mediatype_is_index(top->media_type)) {
		wp_descriptor_copy(man, top);
		return 0;
	}
	wp_buf_init(&data, WP_MANIFEST_MAX);
	{
		wp_index ix = { 0 };

		if ((rc = wp_store_read_blob(s, top->digest, WP_MANIFEST_MAX, &data, err)) == 0 &&
		    (rc = wp_index_parse(data.data, data.len, &ix, err)) == 0) {
			const wp_descriptor *hit = wp_index_pick_wasm(&ix, want);

			if (hit)
				wp_descriptor_copy(man, hit);
			else
				rc = wp_error_set(err, WP_ENOTFOUND, "image '%s' has no manifest for %s", *image,
						  wp_index_wanted(want));
		}
		wp_index_release(&ix);
	}
	wp_buf_release(&data);
	return rc < 0 ? rc : wp_cdclient_fetch_blob(cd, s, man->digest, man->size, err);
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
	wp_error ignored;

	if (s->root)
		wp_store_close(s);
	if (tmp)
		(void)wp_fs_rm_rf(tmp, &ignored);
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
	wp_store s = { .lock_fd = -1 };
	char *tmp = NULL;
	wp_manifest m = { 0 };
	wp_buf data;
	int rc;

	memset(t, 0, sizeof(*t));
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = temp_store(cache_root, &tmp, &s, err)) < 0 ||
	    (rc = resolve(&cd, id, &s, platform, &t->image, &t->top, &t->manifest, err)) < 0 ||
	    (rc = wp_store_read_manifest(&s, t->manifest.digest, &m, err)) < 0)
		goto done;
	t->layout = wp_manifest_layout(&m);
	if (!strcmp(t->layout, "image")) {
		wp_config_image cfg = { 0 };

		wp_buf_reset(&data);
		if ((rc = wp_cdclient_fetch_blob(&cd, &s, m.config.digest, m.config.size, err)) == 0 &&
		    (rc = wp_store_read_blob(&s, m.config.digest, WP_MANIFEST_MAX, &data, err)) == 0 &&
		    (rc = wp_config_image_parse(data.data, data.len, &cfg, err)) == 0)
			rc = chain_id(&cfg.diff_ids, t->chain_id, err);
		wp_config_image_release(&cfg);
	}
done:
	wp_manifest_release(&m);
	wp_buf_release(&data);
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

int wp_fetch_app(const char *address, const char *ns, const char *id, const char *cache_root, const char *platform,
		 const char *want_digest, bool files, char **entry_out, wp_error *err)
{
	wp_cdclient cd = { .socket = wp_str_has_prefix(address, "unix://") ? address + 7 : address, .ns = ns };
	_cleanup_free_ char *image = NULL, *entry = NULL;
	char *tmp = NULL;
	wp_descriptor top = { 0 }, man = { 0 };
	wp_store s = { .lock_fd = -1 };
	int rc;

	if (!*cd.socket) {
		rc = wp_error_set(err, WP_EUSAGE, "the rootfs holds no app and containerd's address is unknown");
		goto done;
	}
	if ((rc = temp_store(cache_root, &tmp, &s, err)) < 0 ||
	    (rc = resolve(&cd, id, &s, platform, &image, &top, &man, err)) < 0)
		goto done;
	/* The digest the policy verified is the digest that runs: a tag moved since is refused. */
	if (want_digest && *want_digest && strcmp(want_digest, man.digest)) {
		rc = wp_error_set(err, WP_EDIGEST, "image '%s' is %s now, not %s, which was verified: it changed while the "
				  "container was being created; refusing to run it", image, man.digest, want_digest);
		goto done;
	}
	entry = wp_str_fmt("%s/%s", cache_root, wp_digest_hex(man.digest));
	{
		wp_manifest m = { 0 };
		json_t *summary = NULL;

		if ((rc = wp_store_read_manifest(&s, man.digest, &m, err)) < 0)
			goto done;
		/* Only artifacts come this way: an image of files is containerd's to unpack into
		 * the container's rootfs, and is never unpacked into the node cache by the shim
		 * (a command missing from its rootfs is an error, not a reason to unpack it here). */
		if (!files && !strcmp(wp_manifest_layout(&m), "image")) {
			rc = wp_error_set(err, WP_EINVALID, "image '%s' (%s) is an image of files, whose app is in the container's "
					  "rootfs, and the rootfs holds none: containerd did not unpack it", image, man.digest);
			wp_manifest_release(&m);
			goto done;
		}
		if (wp_fs_exists(entry)) {
			wp_manifest_release(&m);
			goto claim;
		}
		rc = wp_cdclient_fetch_blob(&cd, &s, m.config.digest, m.config.size, err);
		for (size_t i = 0; rc == 0 && i < m.n_layers; i++)
			rc = wp_cdclient_fetch_blob(&cd, &s, m.layers[i].digest, m.layers[i].size, err);
		wp_manifest_release(&m);
		if (rc == 0)
			rc = wp_unpack(&s, &man, entry, NULL, &summary, err);
		/* Another container of the same image made the entry meanwhile: it is the same. */
		if (rc == WP_EEXISTS && wp_fs_exists(entry))
			rc = 0;
		/* the node cache grew: past its caps, the least recently used entries go */
		if (rc == 0)
			wp_cache_enforce(cache_root, wp_digest_hex(man.digest));
		json_decref(summary);
		if (rc < 0)
			goto done;
	}
claim:
	{
		/* containerd's, and which containerd's: gc asks it whether it still holds the
		 * image (wasmpack gc --containerd) */
		_cleanup_free_ char *user = wp_str_fmt("containerd:%s:%s", cd.socket, ns);
		wp_error ignored;

		wp_cache_claim(cache_root, wp_digest_hex(man.digest), user, &ignored);
	}
	*entry_out = entry;
	entry = NULL;
done:
	temp_store_close(tmp, &s);
	wp_descriptor_release(&top);
	wp_descriptor_release(&man);
	return rc;
}
