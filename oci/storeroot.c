/* Where the store is by default; apart from store.c so the front binary (cli/front) can
 * find it without linking the store. */
#include "oci/storeroot.h"

#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wp_storeroot_default(wp_buf *out, wp_error *err)
{
	const char *env = getenv("WASMPACK_STORE");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int rc;

	wp_buf_reset(out);
	if (env && *env)
		rc = wp_buf_puts(out, env);
	else if (xdg && *xdg)
		rc = wp_buf_printf(out, "%s/wasmpack", xdg);
	else if (home && *home)
		rc = wp_buf_printf(out, "%s/.local/share/wasmpack", home);
	else
		return wp_error_set(err, WP_EUSAGE, "no store: set --store, WASMPACK_STORE or HOME");
	return rc < 0 ? wp_error_set(err, WP_ETOOBIG, "store path too long") : 0;
}

char *wp_storeroot_cache(const char *store_root)
{
	const char *env = getenv("WASMPACK_CACHE");

	if (env && *env)
		return wp_xstrdup(env);
	if (geteuid() == 0 && !getenv("WASMPACK_STORE"))
		return wp_xstrdup("/var/lib/wasmpack/cache");
	return wp_str_fmt("%s/.wasmpack/cache", store_root);
}
