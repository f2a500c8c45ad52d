#include "common/json.h"
#include "common/fs.h"

int wp_json_parse(const char *data, size_t len, size_t max, json_t **out, wp_error *err)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	if (len > max)
		return wp_error_set(err, WP_ETOOBIG, "JSON document of %zu bytes is larger than the %zu allowed", len, max);
	v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!v)
		return wp_error_set(err, WP_EINVALID, "invalid JSON at line %d column %d: %s",
				    jerr.line, jerr.column, jerr.text);
	*out = v;
	return 0;
}

static int buf_sink(const char *buffer, size_t size, void *data)
{
	return wp_buf_append(data, buffer, size) < 0 ? -1 : 0;
}

int wp_json_emit(const json_t *v, wp_buf *out, wp_error *err)
{
	wp_buf_reset(out);
	if (json_dump_callback(v, buf_sink, out, JSON_COMPACT | JSON_ENCODE_ANY) < 0)
		return wp_error_set(err, WP_ENOMEM, "serialising JSON failed");
	if (!out->data && wp_buf_append(out, "", 0) < 0)
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	return 0;
}

int wp_json_print(const json_t *v, FILE *f)
{
	if (json_dumpf(v, f, JSON_INDENT(2) | JSON_ENCODE_ANY) < 0)
		return WP_EIO;
	fputc('\n', f);
	return 0;
}

const char *wp_json_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int wp_json_set_str(json_t *obj, const char *key, const char *val)
{
	return json_object_set_new(obj, key, json_string(val)) < 0 ? WP_ENOMEM : 0;
}

int wp_json_read_file(const char *path, size_t max, json_t **out, wp_error *err)
{
	wp_buf data;
	int rc;

	*out = NULL;
	wp_buf_init(&data, max);
	rc = wp_fs_read_file(path, max, &data, err);
	if (rc == 0 && (rc = wp_json_parse(data.data, data.len, max, out, err)) < 0)
		wp_error_prefix(err, "'%s'", path);
	wp_buf_release(&data);
	return rc;
}
