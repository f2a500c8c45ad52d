#include "cli/cli.h"
#include "common/progress.h"
#include "spin/build.h"
#include "common/util.h"
#include "oci/archive.h"
#include "oci/build.h"
#include "oci/ref.h"
#include "registry/fetch.h"
#include "registry/transfer.h"

#include <stdlib.h>
#include <unistd.h>
#include <string.h>

static const wp_opt opts[] = {
	WP_LIST("tag", 't', "REF", "tag the image in the store as REF", "@ref", &wp_opts.tags),
	WP_VALUE("from", 'f', "MANIFEST", "build the Spin app of this spin.toml (default PATH/spin.toml)", "@file", &wp_opts.from),
	WP_VALUE("layout", 0, "LAYOUT", "image layout: spin (default for a spin.toml), image (default), wasm", "spin image wasm", &wp_opts.layout),
	WP_LIST("wasm", 0, "FILE", "a wasm module or component; the first is the entrypoint", "@file", &wp_opts.wasm),
	WP_LIST("file", 0, "SRC[:DEST]", "a static file or folder, placed at DEST (default: SRC)", "@file", &wp_opts.files),
	WP_FLAG("follow-links", 0, "copy what symbolic links leaving a --file folder or the app folder point at (default: refuse them)", &wp_opts.follow_links),
	WP_LIST("env", 0, "K=V", "an environment variable of the app", NULL, &wp_opts.env),
	WP_LIST("arg", 0, "ARG", "an argument passed to the app", NULL, &wp_opts.args),
	WP_LIST("annotation", 0, "K=V", "a manifest annotation (wins over computed ones)", NULL, &wp_opts.annotations),
	WP_VALUE("platform", 0, "OS/ARCH", "image platform (default wasip1/wasm)", "wasip1/wasm wasip2/wasm wasi/wasm", &wp_opts.platform),
	WP_LIST("output", 'o', "DEST", "also write the image to oci:DIR[:NAME] or oci-archive:FILE[:NAME]", "@file", &wp_opts.outputs),
	WP_INT("gzip-level", 0, "N", "gzip level of image layers, 1-9 (default 4)", "1 2 3 4 5 6 7 8 9", 1, 9, &wp_opts.gzip_level),
	WP_FLAG("push", 0, "push every tag to its registry after the build", &wp_opts.push),
	WP_FLAG("force", 0, "build for a --platform that is not wasm (an index's placeholder entry, say)", &wp_opts.force),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

/* "oci:DIR[:NAME]" / "oci-archive:FILE[:NAME]". */
static int write_output(wp_cli *cli, wp_store *s, const wp_build_result *res, const char *dest, const char *name)
{
	bool archive = wp_str_has_prefix(dest, "oci-archive:");
	_cleanup_free_ char *path = NULL;
	const char *p, *colon, *ref_name = name;
	int rc;

	if (!archive && !wp_str_has_prefix(dest, "oci:"))
		return wp_error_set(&cli->err, WP_EUSAGE, "--output '%s': want oci:DIR or oci-archive:FILE", dest);
	p = dest + (archive ? 12 : 4);
	colon = strchr(p, ':');
	path = colon ? wp_xstrndup(p, (size_t)(colon - p)) : wp_xstrdup(p);
	if (!path || !*path)
		return wp_error_set(&cli->err, WP_EUSAGE, "--output '%s': no path", dest);
	if (colon && colon[1])
		ref_name = colon + 1;
	rc = archive ? wp_archive_save(s, &res->manifest, ref_name, path, &cli->err) :
		       wp_archive_export_dir(s, &res->manifest, ref_name, path, &cli->err);
	return rc < 0 ? wp_error_prefix(&cli->err, "--output '%s'", dest) : 0;
}

/* The build's options from the command line; spin is the spin.toml found (freed by the
 * caller). */
static int build_opts(wp_cli *cli, wp_build_opts *o, char **spin)
{
	memset(o, 0, sizeof(*o));
	*spin = NULL;
	o->path = cli->args.len ? cli->args.items[0] : ".";
	if (cli->args.len && access(o->path, F_OK) < 0)
		return wp_error_sys(&cli->err, WP_EUSAGE, "build '%s': the app's folder or spin.toml", o->path);
	if (wp_opts.from || !wp_opts.wasm.len) {
		/* A Spin app: -f MANIFEST, or PATH/spin.toml when no --wasm is given. */
		*spin = wp_cli_spin_manifest(o->path, wp_opts.from);
		if (*spin && !wp_opts.from && access(*spin, F_OK) < 0) {
			free(*spin);
			*spin = NULL;
		}
		o->spin_manifest = *spin;
	}
	o->layout = wp_opts.layout;
	o->platform = wp_opts.platform;
	/* the content is wasm: a platform whose architecture is not would send it to a node
	 * that runs containers of that architecture with runc, which would exec a .wasm */
	if (o->platform && strchr(o->platform, '/') && strcmp(strchr(o->platform, '/') + 1, "wasm") && !wp_opts.force)
		return wp_error_set(&cli->err, WP_EUSAGE, "--platform '%s': the app is wasm, and a %s node would try to run "
				    "it as a native container; use wasip1/wasm, wasip2/wasm or wasi/wasm (or --force)",
				    o->platform, o->platform);
	o->gzip_level = wp_opts.gzip_level ? (int)wp_opts.gzip_level : -1;
	o->follow_links = wp_opts.follow_links;
	o->fetch = wp_fetch_to_store;
	/* the lists stay the parser's: o borrows them */
	o->wasm = wp_opts.wasm;
	o->files = wp_opts.files;
	o->env = wp_opts.env;
	o->args = wp_opts.args;
	o->annotations = wp_opts.annotations;
	return 0;
}

/* The tags (in full) and outputs, checked before anything is written. */
static int check_names(wp_cli *cli, wp_strv *tags)
{
	const wp_strv *t = &wp_opts.tags, *outs = &wp_opts.outputs;

	for (size_t i = 0; i < t->len; i++) {
		_cleanup_free_ char *full = NULL;
		wp_ref ref;

		if (wp_ref_parse(t->items[i], &ref, &cli->err) < 0)
			return wp_error_prefix(&cli->err, "--tag");
		if (ref.digest) {
			wp_ref_release(&ref);
			return wp_error_set(&cli->err, WP_EUSAGE, "--tag '%s': a tag cannot name a digest", t->items[i]);
		}
		full = wp_ref_string(&ref);
		wp_ref_release(&ref);
		wp_strv_push(tags, full);
	}
	for (size_t i = 0; i < outs->len; i++)
		if (!wp_str_has_prefix(outs->items[i], "oci:") && !wp_str_has_prefix(outs->items[i], "oci-archive:"))
			return wp_error_set(&cli->err, WP_EUSAGE, "--output '%s': want oci:DIR or oci-archive:FILE", outs->items[i]);
	return 0;
}

/* --push: every tag to its registry. */
static int push_tags(wp_cli *cli, wp_store *s, const wp_build_result *res, const wp_strv *tags)
{
	wp_client_opts ro;
	int rc;

	if (!tags->len)
		return wp_error_set(&cli->err, WP_EUSAGE, "--push needs a -t REF to push to");
	rc = wp_cli_reg_opts(cli, &ro);
	for (size_t i = 0; rc == 0 && i < tags->len; i++) {
		wp_transfer_result tr = { 0 };
		wp_client *r = NULL;
		wp_ref ref;

		if ((rc = wp_ref_parse(tags->items[i], &ref, &cli->err)) < 0)
			break;
		if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
			rc = wp_transfer_push(s, r, &ref, &res->manifest, &tr, &cli->err);
		if (rc < 0)
			wp_error_append(&cli->err, "; the image was built (%s) and tagged %s: 'wasmpack push %s' tries again",
					res->manifest.digest, tags->items[i], tags->items[i]);
		wp_transfer_result_release(&tr);
		wp_client_close(r);
		wp_ref_release(&ref);
	}
	return rc;
}

static int run(wp_cli *cli)
{
	wp_build_opts o;
	wp_build_result res;
	wp_strv tags = { 0 };
	const wp_strv *outs = &wp_opts.outputs;
	wp_store s = WP_STORE_INIT;
	_cleanup_free_ char *spin = NULL;
	int rc;

	if ((rc = build_opts(cli, &o, &spin)) < 0 || (rc = check_names(cli, &tags)) < 0 ||
	    (rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0) {
		wp_strv_release(&tags);
		return rc;
	}
	/* A Spin app (a spin.toml, or --layout spin) or an app from flags. */
	o.progress = wp_progress_new(wp_cli_progress_out(cli), "building");
	if (o.spin_manifest || (o.layout && !strcmp(o.layout, "spin")))
		rc = wp_spin_build(&s, &o, &res, &cli->err);
	else
		rc = wp_build(&s, &o, &res, &cli->err);
	wp_progress_end(o.progress);
	for (size_t i = 0; rc == 0 && i < tags.len; i++)
		rc = wp_store_tag(&s, tags.items[i], &res.manifest, &cli->err);
	for (size_t i = 0; rc == 0 && i < outs->len; i++)
		rc = write_output(cli, &s, &res, outs->items[i], tags.len ? tags.items[0] : "latest");
	if (rc == 0 && wp_opts.push)
		rc = push_tags(cli, &s, &res, &tags);
	if (rc == 0)
		rc = wp_cli_print_image(cli, &res.manifest, &res.m, &tags,
					json_pack("{s:s,s:i,s:b}", "layout", o.layout ? o.layout : spin ? "spin" : "image", "cachedLayers",
						  res.layers_reused, "pushed", wp_opts.push));
	wp_build_result_release(&res);
	fflush(cli->out); /* the digest is out before the store is let go (a waiting gc runs next) */
	wp_store_close(&s);
	wp_strv_release(&tags);
	return rc;
}

const wp_cmd wp_cmd_build = {
	.name = "build",
	.args = "[PATH]",
	.summary = "build an OCI image of a wasm app into the store",
	.opts = opts,
	.min_args = 0,
	.max_args = 1,
	.args_complete = "@dir",
	.run = run,
	.examples = "wasmpack build --wasm app.wasm --file static -t localhost:5000/demo/app:v1\n"
		"wasmpack build ./my-spin-app -t ghcr.io/me/app:v1 --push\n"
		"wasmpack build --layout wasm --wasm component.wasm -o oci-archive:app.tar\n",
};
