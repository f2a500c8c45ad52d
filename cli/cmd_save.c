#include "cli/cli.h"
#include "oci/mediatype.h"
#include "common/json.h"
#include "oci/archive.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const wp_opt save_opts[] = {
	WP_VALUE("output", 'o', "FILE", "the OCI archive to write; - (or no -o, when standard output is not a terminal): "
		 "standard output", "@file", &wp_opts.output),
	{ 0 },
};

static int run_save(wp_cli *cli)
{
	const char *file = wp_opts.output;
	wp_store s = WP_STORE_INIT;
	wp_descriptor d;
	char *name = NULL;
	int rc;

	bool to_stdout = file ? !strcmp(file, "-") : !isatty(1);

	/* as docker's: an archive goes to a file or a pipe, never to a terminal */
	if ((to_stdout || !file) && isatty(1))
		return wp_error_set(&cli->err, WP_EUSAGE, "save: standard output is a terminal: give the archive with -o FILE, "
				    "or redirect it (wasmpack save %s > app.tar)", cli->args.items[0]);
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) < 0)
		return rc;
	rc = wp_store_resolve(&s, cli->args.items[0], &d, &name, &cli->err);
	if (rc == 0 && to_stdout) {
		rc = wp_archive_save_fd(&s, &d, name ? name : cli->args.items[0], 1, &cli->err);
		wp_descriptor_release(&d);
	} else if (rc == 0) {
		wp_manifest m = { 0 };
		wp_strv tags = { 0 };

		rc = wp_archive_save(&s, &d, name ? name : cli->args.items[0], file, &cli->err);
		/* what went into the archive: its name, and every blob's size */
		if (rc == 0 && wp_mediatype_is_manifest(d.media_type))
			wp_store_read_manifest(&s, d.digest, &m, NULL);
		if (name)
			wp_strv_push(&tags, name);
		if (rc == 0)
			rc = wp_cli_print_image(cli, &d, m.layers || m.config.media_type ? &m : NULL, &tags,
						json_pack("{s:s}", "archive", file));
		wp_strv_release(&tags);
		wp_manifest_release(&m);
		wp_descriptor_release(&d);
	}
	free(name);
	wp_store_close(&s);
	return rc;
}

const wp_cmd wp_cmd_save = {
	.name = "save",
	.args = "REF",
	.summary = "write an image to an OCI archive (an OCI layout in a tar)",
	.opts = save_opts,
	.min_args = 1,
	.max_args = 1,
	.args_complete = "@ref",
	.run = run_save,
	.examples = "wasmpack save app:v1 -o app.tar\n"
		"wasmpack save app:v1 | gzip > app.tar.gz\n",
};

static const wp_opt load_opts[] = {
	WP_VALUE("input", 'i', "FILE", "the OCI archive to read; - (or no -i, when standard input is not a terminal): "
		 "standard input", "@file", &wp_opts.input),
	{ 0 },
};

static int run_load(wp_cli *cli)
{
	const char *file = wp_opts.input;
	wp_strv names = { 0 };
	wp_store s = WP_STORE_INIT;
	int rc;

	if (!file && !isatty(0))
		file = "-";
	if (!file || (!strcmp(file, "-") && isatty(0)))
		return wp_error_set(&cli->err, WP_EUSAGE, "load: standard input is a terminal: give the archive with -i FILE, "
				    "or redirect it (wasmpack load < app.tar)");
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0)
		return rc;
	rc = wp_archive_load(&s, file, &names, &cli->err);
	wp_store_close(&s);
	if (rc == 0 && cli->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < names.len; i++)
			json_array_append_new(a, json_string(names.items[i]));
		wp_json_print(json_pack("{s:o}", "loaded", a), cli->out);
	} else if (rc == 0) {
		for (size_t i = 0; i < names.len; i++)
			fprintf(cli->out, "loaded: %s\n", names.items[i]);
	}
	wp_strv_release(&names);
	return rc;
}

const wp_cmd wp_cmd_load = {
	.name = "load",
	.args = "",
	.summary = "read images from an OCI archive into the store",
	.opts = load_opts,
	.min_args = 0,
	.max_args = 0,
	.run = run_load,
	.examples = "wasmpack load -i app.tar\n"
		"wasmpack load < app.tar\n",
};
