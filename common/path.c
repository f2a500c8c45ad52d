#include "common/path.h"

#include <string.h>

int wp_path_clean(const char *in, wp_buf *out, wp_error *err)
{
	const char *p = in;

	wp_buf_reset(out);
	for (const char *c = in; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return wp_error_set(err, WP_EINVALID, "path '%s' has a control character", in);
	while (*p) {
		const char *end;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return wp_error_set(err, WP_EINVALID, "path '%s' escapes its root ('..')", in);
		if (!(len == 1 && p[0] == '.')) {
			if ((out->len && wp_buf_putc(out, '/') < 0) || wp_buf_append(out, p, len) < 0)
				return wp_error_set(err, WP_ETOOBIG, "path '%s' is too long", in);
		}
		p += len;
	}
	if (out->len == 0)
		return wp_error_set(err, WP_EINVALID, "path '%s' names no file below the root", in);
	return 0;
}

int wp_path_join_safe(const char *root, const char *rel, wp_buf *out, wp_error *err)
{
	wp_buf clean;
	int rc;

	wp_buf_init(&clean, WP_PATH_MAX);
	rc = wp_path_clean(rel, &clean, err);
	if (rc == 0) {
		wp_buf_reset(out);
		if (wp_buf_printf(out, "%s/%s", root, clean.data) < 0)
			rc = wp_error_set(err, WP_ETOOBIG, "path '%s' is too long", rel);
	}
	wp_buf_release(&clean);
	return rc;
}

int wp_path_dirname(const char *path, wp_buf *out)
{
	const char *slash = strrchr(path, '/');

	wp_buf_reset(out);
	if (!slash)
		return wp_buf_puts(out, ".");
	if (slash == path)
		return wp_buf_puts(out, "/");
	return wp_buf_append(out, path, (size_t)(slash - path));
}

const char *wp_path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}
