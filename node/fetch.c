#include "node/fetch.h"
#include "node/cache.h"
#include "node/cdclient.h"
#include "node/unpack.h"
#include "common/fs.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/store.h"

#include <stdlib.h>
#include <string.h>

int wp_fetch_app(const char *address, const char *ns, const char *id, const char *cache_root, const char *platform,
		      char **entry_out, wp_error *err)
{
	wp_cdclient cd = { .socket = wp_str_has_prefix(address, "unix://") ? address + 7 : address, .ns = ns };
	_cleanup_free_ char *image = NULL, *tmp = NULL, *entry = NULL;
	wp_descriptor top = { 0 }, man = { 0 };
	wp_store s = { .lock_fd = -1 };
	bool opened = false;
	const char *want = platform && *platform ? platform : NULL; /* NULL: wasip1, else wasip2 */
	wp_buf data;
	int rc;

	wp_buf_init(&data, WP_MANIFEST_MAX);
	if (!*cd.socket) {
		rc = wp_error_set(err, WP_EUSAGE, "the rootfs holds no app and containerd's address is unknown");
		goto done;
	}
	if ((rc = wp_cdclient_container_image(&cd, id, &image, err)) < 0)
		goto done;
	if (!*image) {
		rc = wp_error_set(err, WP_ENOTFOUND, "container '%s' names no image and its rootfs holds no app", id);
		goto done;
	}
	if ((rc = wp_cdclient_image_target(&cd, image, &top, err)) < 0 || (rc = wp_cache_check(cache_root, err)) < 0 ||
	    (rc = wp_fs_mkdir_p(cache_root, 0755, err)) < 0)
		goto done;
	tmp = wp_str_fmt("%s/.tmp-shim-XXXXXX", cache_root);
	if (!tmp || !mkdtemp(tmp)) {
		rc = wp_error_sys(err, WP_EIO, "making a temp folder in '%s'", cache_root);
		goto done;
	}
	if ((rc = wp_store_open(&s, tmp, WP_STORE_SHARED, err)) < 0)
		goto done;
	opened = true;
	if ((rc = wp_cdclient_fetch_blob(&cd, &s, top.digest, top.size, err)) < 0)
		goto done;
	if (wp_mediatype_is_index(top.media_type)) {
		wp_index ix = { 0 };

		if ((rc = wp_store_read_blob(&s, top.digest, WP_MANIFEST_MAX, &data, err)) < 0 ||
		    (rc = wp_index_parse(data.data, data.len, &ix, err)) < 0)
			goto done;
		{
			const wp_descriptor *hit = wp_index_pick_wasm(&ix, want);

			if (hit)
				wp_descriptor_copy(&man, hit);
			else
				rc = wp_error_set(err, WP_ENOTFOUND, "image '%s' has no manifest for %s", image,
						  wp_index_wanted(want));
		}
		wp_index_release(&ix);
		if (rc < 0 || (rc = wp_cdclient_fetch_blob(&cd, &s, man.digest, man.size, err)) < 0)
			goto done;
	} else
		wp_descriptor_copy(&man, &top);
	entry = wp_str_fmt("%s/%s", cache_root, wp_digest_hex(man.digest));
	if (!wp_fs_exists(entry)) {
		wp_manifest m = { 0 };
		json_t *summary = NULL;

		wp_buf_reset(&data);
		if ((rc = wp_store_read_blob(&s, man.digest, WP_MANIFEST_MAX, &data, err)) < 0 ||
		    (rc = wp_manifest_parse(data.data, data.len, &m, err)) < 0)
			goto done;
		rc = wp_cdclient_fetch_blob(&cd, &s, m.config.digest, m.config.size, err);
		for (size_t i = 0; rc == 0 && i < m.n_layers; i++)
			rc = wp_cdclient_fetch_blob(&cd, &s, m.layers[i].digest, m.layers[i].size, err);
		wp_manifest_release(&m);
		if (rc == 0)
			rc = wp_unpack(&s, &man, entry, NULL, &summary, err);
		/* Another container of the same image made the entry meanwhile: it is the same. */
		if (rc == WP_EEXISTS && wp_fs_exists(entry))
			rc = 0;
		json_decref(summary);
		if (rc < 0)
			goto done;
	}
	{
		/* containerd's: gc of a store leaves it (wasmpack gc does not know containerd's images) */
		_cleanup_free_ char *user = wp_str_fmt("containerd:%s", ns);
		wp_error ignored;

		wp_cache_claim(cache_root, wp_digest_hex(man.digest), user, &ignored);
	}
	*entry_out = entry;
	entry = NULL;
done:
	if (opened)
		wp_store_close(&s);
	if (tmp) {
		wp_error ignored;

		wp_fs_rm_rf(tmp, &ignored);
	}
	wp_descriptor_release(&top);
	wp_descriptor_release(&man);
	wp_buf_release(&data);
	return rc;
}
