#include "cli/cli.h"
#include "common/json.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "common/util.h"
#include "registry/remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const wp_opt opts[] = {
	WP_VALUE("raw", 0, "WHAT", "print the exact stored bytes of the manifest or the config", "manifest config", &wp_opts.raw),
	WP_FLAG("remote", 0, "read REF from its registry even when the store has it (nothing is pulled)", &wp_opts.remote),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

/* The locked app of a Spin image (the one rule: its config, or a layer), read through src. */
static json_t *spin_locked(const wp_blob_source *src, const char *manifest_bytes, size_t len, json_t *config)
{
	wp_manifest m;
	const wp_descriptor *ld;
	json_t *locked = NULL;

	if (wp_manifest_parse(manifest_bytes, len, &m, NULL) < 0)
		return NULL;
	ld = wp_manifest_spin_locked(&m);
	if (ld && ld == &m.config)
		locked = json_incref(config);
	else if (ld)
		wp_graph_read_json(src, ld, &locked, NULL);
	wp_manifest_release(&m);
	return locked;
}

/* What a person wants to know of a Spin app: components, triggers and routes, files. */
static json_t *spin_app(const wp_blob_source *blobs, const wp_buf *manifest, json_t *config)
{
	json_t *locked = spin_locked(blobs, manifest->data, manifest->len, config), *app, *comps, *trigs, *c, *t;
	size_t i;

	if (!locked)
		return NULL;
	comps = json_array();
	trigs = json_array();
	json_array_foreach(json_object_get(locked, "components"), i, c) {
		json_t *src = json_object_get(c, "source");
		json_t *hosts = json_object_get(json_object_get(c, "metadata"), "allowed_outbound_hosts");

		/* none listed (the locked app leaves an empty list out) is none allowed: [] */
		json_array_append_new(comps, json_pack("{s:s?,s:s?,s:i,s:o}", "id", wp_json_str(c, "id"), "source",
						       wp_json_str(src, "digest") ? wp_json_str(src, "digest") : wp_json_str(src, "source"), "files",
						       (int)json_array_size(json_object_get(c, "files")), "allowed_outbound_hosts",
						       json_is_array(hosts) ? json_incref(hosts) : json_array()));
	}
	json_array_foreach(json_object_get(locked, "triggers"), i, t) {
		json_t *tc = json_object_get(t, "trigger_config");

		json_array_append_new(trigs, json_pack("{s:s?,s:s?,s:s?,s:O?}", "id", wp_json_str(t, "id"), "type",
						       wp_json_str(t, "trigger_type"), "component", wp_json_str(tc, "component"),
						       "route", json_object_get(tc, "route")));
	}
	app = json_pack("{s:O?,s:O?,s:o,s:o}", "name", json_object_get(json_object_get(locked, "metadata"), "name"),
			"version", json_object_get(json_object_get(locked, "metadata"), "version"), "components", comps,
			"triggers", trigs);
	json_decref(locked);
	return app;
}

/* "os/arch[/variant]" of each manifest of an index. */
static json_t *platforms(const char *data, size_t len)
{
	json_t *out = json_array();
	wp_index ix;

	if (wp_index_parse(data, len, &ix, NULL) < 0)
		return out;
	for (size_t i = 0; i < ix.n_manifests; i++) {
		const wp_platform *p = ix.manifests[i].platform;
		char name[128] = "unknown";

		if (p)
			snprintf(name, sizeof(name), "%s/%s%s%s", p->os ? p->os : "?", p->architecture ? p->architecture : "?",
				 p->variant ? "/" : "", p->variant ? p->variant : "");
		json_array_append_new(out, json_pack("{s:s,s:s,s:I}", "platform", name, "digest", ix.manifests[i].digest,
						     "size", (json_int_t)ix.manifests[i].size));
	}
	wp_index_release(&ix);
	return out;
}

/* What inspect prints of the image desc read through src (the store, or a registry
 * repository: nothing is written to the store), named name: the manifest or index (with
 * its platforms), the config, a Spin app's components and routes; or, with raw, the exact
 * bytes of the manifest or the config. */
static int describe(wp_cli *cli, const wp_blob_source *src, const wp_descriptor *d, const char *name, const char *raw,
		    bool remote)
{
	wp_buf data, cfg;
	json_t *o = NULL, *mj = NULL, *cj = NULL, *app = NULL;
	int rc;

	wp_buf_init(&data, WP_MANIFEST_MAX);
	wp_buf_init(&cfg, WP_MANIFEST_MAX);
	if ((rc = wp_graph_read_blob(src, d, WP_MANIFEST_MAX, &data, &cli->err)) < 0)
		goto done;
	if (raw && !strcmp(raw, "manifest")) {
		fwrite(data.data, 1, data.len, cli->out);
		goto done;
	}
	if (wp_mediatype_is_manifest(d->media_type)) {
		wp_manifest m;

		if ((rc = wp_manifest_parse(data.data, data.len, &m, &cli->err)) < 0)
			goto done;
		rc = wp_graph_read_blob(src, &m.config, WP_MANIFEST_MAX, &cfg, &cli->err);
		wp_manifest_release(&m);
		if (rc < 0)
			goto done;
		if (raw) {
			fwrite(cfg.data, 1, cfg.len, cli->out);
			goto done;
		}
	} else if (raw) {
		rc = wp_error_set(&cli->err, WP_EINVALID, "'%s' is an index: it has no config", cli->args.items[0]);
		goto done;
	}
	wp_json_parse(data.data, data.len, WP_MANIFEST_MAX, &mj, NULL);
	if (cfg.len)
		wp_json_parse(cfg.data, cfg.len, WP_MANIFEST_MAX, &cj, NULL);
	if (wp_mediatype_is_manifest(d->media_type))
		app = spin_app(src, &data, cj);
	o = json_object();
	json_object_set_new(o, "name", name ? json_string(name) : json_null());
	json_object_set_new(o, "digest", json_string(d->digest));
	json_object_set_new(o, "mediaType", json_string(d->media_type));
	json_object_set_new(o, "size", json_integer((json_int_t)data.len));
	if (remote)
		json_object_set_new(o, "remote", json_true());
	json_object_set_new(o, "manifest", mj ? mj : json_null());
	if (cj)
		json_object_set_new(o, "config", cj);
	if (app)
		json_object_set_new(o, "app", app);
	if (wp_mediatype_is_index(d->media_type))
		json_object_set_new(o, "platforms", platforms(data.data, data.len));
	wp_json_print(o, cli->out);
	json_decref(o);
done:
	wp_buf_release(&data);
	wp_buf_release(&cfg);
	return rc;
}

/* REF from its registry, each document checked against its digest, none written to the store. */
static int inspect_remote(wp_cli *cli, const char *raw)
{
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_remote_repo repo;
	wp_blob_source src;
	_cleanup_free_ char *full = NULL;
	wp_descriptor d = { 0 };
	wp_ref ref;
	int rc;

	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_ref_parse(cli->args.items[0], &ref, &cli->err)) < 0)
		return rc;
	full = wp_ref_string(&ref);
	if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0 &&
	    (rc = wp_remote_describe(r, &ref, &d, &cli->err)) == 0) {
		repo = (wp_remote_repo){ .r = r, .repository = ref.repository };
		src = wp_remote_source(&repo);
		rc = describe(cli, &src, &d, full, raw, true);
	}
	wp_descriptor_release(&d);
	wp_client_close(r);
	wp_ref_release(&ref);
	return rc;
}

static int run(wp_cli *cli)
{
	const char *raw = wp_opts.raw;
	wp_store s = WP_STORE_INIT;
	wp_blob_source src;
	wp_descriptor d = { 0 };
	_cleanup_free_ char *name = NULL;
	int rc;

	if (raw && strcmp(raw, "manifest") && strcmp(raw, "config"))
		return wp_error_set(&cli->err, WP_EUSAGE, "--raw '%s': use manifest or config", raw);
	if (wp_opts.remote)
		return inspect_remote(cli, raw);
	/* the store's image, else (a reference the store lacks) the registry's */
	rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE);
	if (rc < 0 && !(rc == WP_ENOTFOUND && wp_cli_store_is_default(cli)))
		return rc; /* a store named that is not there is the mistake to tell */
	if (rc == 0)
		rc = wp_store_resolve(&s, cli->args.items[0], &d, &name, &cli->err);
	/* a reference naming its registry host the store lacks; a short name stays local
	 * (--remote asks Docker Hub) */
	if (rc == WP_ENOTFOUND && wp_cli_names_registry(cli->args.items[0])) {
		wp_store_close(&s);
		return inspect_remote(cli, raw);
	}
	if (rc == 0) {
		src = wp_store_source(&s);
		rc = describe(cli, &src, &d, name, raw, false);
	}
	wp_descriptor_release(&d);
	wp_store_close(&s);
	return rc;
}

const wp_cmd wp_cmd_inspect = {
	.name = "inspect",
	.args = "REF",
	.summary = "show an image's manifest and config",
	.opts = opts,
	.min_args = 1,
	.max_args = 1,
	.args_complete = "@ref",
	.run = run,
	.examples = "wasmpack inspect app:v1\n"
		"wasmpack inspect ghcr.io/me/app:v1    # not in the store: from its registry, pulling nothing\n"
		"wasmpack inspect --remote app:v1      # Docker Hub's, even when the store has one\n"
		"wasmpack inspect app:v1 --raw config\n",
};
