#include "common/alloc.h"
#include "oci/config.h"
#include "common/json.h"

#include <stdlib.h>
#include <string.h>

static char *dup_str(const json_t *o, const char *key)
{
	const char *s = wp_json_str(o, key);

	return s ? wp_xstrdup(s) : NULL;
}

/* The strings of a JSON array (anything else in it, or a non-array, adds nothing). */
static void strv_from(const json_t *arr, wp_strv *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(arr, i, e)
		if (json_is_string(e))
			wp_strv_push(v, json_string_value(e));
}

static json_t *strv_to(const wp_strv *v)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < v->len; i++)
		json_array_append_new(a, json_string(v->items[i]));
	return a;
}

static void set_opt(json_t *o, const char *key, const char *val)
{
	if (val)
		json_object_set_new(o, key, json_string(val));
}

void wp_config_image_release(wp_config_image *c)
{
	free(c->created);
	free(c->author);
	free(c->architecture);
	free(c->os);
	free(c->variant);
	free(c->user);
	free(c->working_dir);
	wp_strv_release(&c->env);
	wp_strv_release(&c->entrypoint);
	wp_strv_release(&c->cmd);
	wp_kvlist_release(&c->labels);
	wp_strv_release(&c->diff_ids);
	memset(c, 0, sizeof(*c));
}

int wp_config_image_parse(const char *data, size_t len, wp_config_image *c, wp_error *err)
{
	json_t *root, *cfg, *rootfs;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = wp_json_parse(data, len, WP_MANIFEST_MAX, &root, err)) < 0)
		return wp_error_prefix(err, "parsing image config");
	if (!json_is_object(root)) {
		json_decref(root);
		return wp_error_set(err, WP_EINVALID, "parsing image config: not a JSON object");
	}
	cfg = json_object_get(root, "config");
	rootfs = json_object_get(root, "rootfs");
	c->created = dup_str(root, "created");
	c->author = dup_str(root, "author");
	c->architecture = dup_str(root, "architecture");
	c->os = dup_str(root, "os");
	c->variant = dup_str(root, "variant");
	c->user = dup_str(cfg, "User");
	c->working_dir = dup_str(cfg, "WorkingDir");
	strv_from(json_object_get(cfg, "Env"), &c->env);
	strv_from(json_object_get(cfg, "Entrypoint"), &c->entrypoint);
	strv_from(json_object_get(cfg, "Cmd"), &c->cmd);
	wp_kvlist_from_json(json_object_get(cfg, "Labels"), &c->labels);
	strv_from(json_object_get(rootfs, "diff_ids"), &c->diff_ids);
	for (size_t i = 0; rc == 0 && i < c->diff_ids.len; i++)
		if (!wp_digest_valid(c->diff_ids.items[i]))
			rc = wp_error_set(err, WP_EINVALID, "parsing image config: invalid diff_id '%s'", c->diff_ids.items[i]);
	json_decref(root);
	if (rc < 0)
		wp_config_image_release(c);
	return rc;
}

int wp_config_image_emit(const wp_config_image *c, wp_buf *out, wp_error *err)
{
	json_t *o = json_object(), *cfg = json_object();
	int rc;

	set_opt(o, "created", c->created);
	set_opt(o, "author", c->author);
	json_object_set_new(o, "architecture", json_string(c->architecture ? c->architecture : ""));
	json_object_set_new(o, "os", json_string(c->os ? c->os : ""));
	set_opt(o, "variant", c->variant);
	set_opt(cfg, "User", c->user);
	if (c->env.len)
		json_object_set_new(cfg, "Env", strv_to(&c->env));
	if (c->entrypoint.len)
		json_object_set_new(cfg, "Entrypoint", strv_to(&c->entrypoint));
	if (c->cmd.len)
		json_object_set_new(cfg, "Cmd", strv_to(&c->cmd));
	set_opt(cfg, "WorkingDir", c->working_dir);
	if (c->labels.len)
		json_object_set_new(cfg, "Labels", wp_kvlist_to_json(&c->labels));
	json_object_set_new(o, "config", cfg);
	json_object_set_new(o, "rootfs", json_pack("{s:s,s:o}", "type", "layers", "diff_ids", strv_to(&c->diff_ids)));
	rc = wp_json_emit(o, out, err);
	json_decref(o);
	return rc;
}

void wp_config_wasm_release(wp_config_wasm *c)
{
	free(c->created);
	free(c->author);
	free(c->architecture);
	free(c->os);
	wp_strv_release(&c->layer_digests);
	wp_strv_release(&c->exports);
	wp_strv_release(&c->imports);
	free(c->target);
	memset(c, 0, sizeof(*c));
}

int wp_config_wasm_parse(const char *data, size_t len, wp_config_wasm *c, wp_error *err)
{
	json_t *root, *comp;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = wp_json_parse(data, len, WP_MANIFEST_MAX, &root, err)) < 0)
		return wp_error_prefix(err, "parsing wasm config");
	if (!json_is_object(root)) {
		json_decref(root);
		return wp_error_set(err, WP_EINVALID, "parsing wasm config: not a JSON object");
	}
	comp = json_object_get(root, "component");
	c->created = dup_str(root, "created");
	c->author = dup_str(root, "author");
	c->architecture = dup_str(root, "architecture");
	c->os = dup_str(root, "os");
	c->component = json_is_object(comp);
	c->target = dup_str(comp, "target");
	strv_from(json_object_get(root, "layerDigests"), &c->layer_digests);
	strv_from(json_object_get(comp, "exports"), &c->exports);
	strv_from(json_object_get(comp, "imports"), &c->imports);
	json_decref(root);
	if (rc < 0)
		wp_config_wasm_release(c);
	return rc;
}

/* Field order of the wasm-pkg-tools reference types: created, author, architecture, os,
 * layerDigests, component {exports, imports, target}. */
int wp_config_wasm_emit(const wp_config_wasm *c, wp_buf *out, wp_error *err)
{
	json_t *o = json_object();
	int rc;

	set_opt(o, "created", c->created);
	set_opt(o, "author", c->author);
	json_object_set_new(o, "architecture", json_string(c->architecture ? c->architecture : "wasm"));
	json_object_set_new(o, "os", json_string(c->os ? c->os : "wasip1"));
	json_object_set_new(o, "layerDigests", strv_to(&c->layer_digests));
	if (c->component) {
		json_t *comp = json_pack("{s:o,s:o}", "exports", strv_to(&c->exports), "imports", strv_to(&c->imports));

		set_opt(comp, "target", c->target);
		json_object_set_new(o, "component", comp);
	}
	rc = wp_json_emit(o, out, err);
	json_decref(o);
	return rc;
}
