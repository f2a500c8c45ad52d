/* The unpack summary's reader (node/summary.h); its writer is wp_unpack's. Kept apart
 * from node/unpack.c so the front (jansson and libc only) links it alone. */
#include "node/summary.h"
#include "common/json.h"
#include "common/str.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

int wp_unpack_summary_read(const char *entry, wp_unpack_summary *s, wp_error *err)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/" WP_UNPACK_SUMMARY, entry);
	json_t *doc = NULL;
	const char *layout, *v;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = wp_json_read_file(path, 1 << 20, &doc, err)) < 0)
		return rc;
	layout = wp_json_str(doc, "layout");
	if (!layout || (strcmp(layout, "image") && strcmp(layout, "wasm") && strcmp(layout, "spin"))) {
		json_decref(doc);
		return wp_error_set(err, WP_EINVALID, "%s names no layout wasmpack knows", path);
	}
	wp_str_copy(s->layout, layout, sizeof(s->layout));
	if ((v = wp_json_str(doc, "module")))
		s->module = wp_xstrdup(v);
	if ((v = wp_json_str(doc, "engine")))
		s->engine = wp_xstrdup(v);
	s->spin_app = json_is_true(json_object_get(doc, "spinApp"));
	json_decref(doc);
	return 0;
}

void wp_unpack_summary_release(wp_unpack_summary *s)
{
	free(s->module);
	free(s->engine);
	memset(s, 0, sizeof(*s));
}
