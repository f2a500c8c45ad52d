#include "cli/cli.h"
#include "common/json.h"

#include <archive.h>
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <openssl/opensslv.h>
#include <string.h>
#include <zlib.h>

static const wp_opt version_opts[] = { { 0 } };

static int run_version(wp_cli *cli)
{
	int major, minor, rev;

	git_libgit2_version(&major, &minor, &rev);
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "version", WP_VERSION, "libraries",
				      "libarchive", archive_version_string(), "libcurl", curl_version_info(CURLVERSION_NOW)->version,
				      "openssl", OPENSSL_VERSION_TEXT, "jansson", JANSSON_VERSION, "libgit2", LIBGIT2_VERSION,
				      "zlib", zlibVersion());

		wp_json_print(o, cli->out);
		json_decref(o);
	} else {
		fprintf(cli->out, "wasmpack %s\n", WP_VERSION);
	}
	return 0;
}

const wp_cmd wp_cmd_version = {
	"version", "", "print the version", version_opts, 0, 0, NULL, run_version, false,
};

static const wp_opt completion_opts[] = { { 0 } };

static int run_completion(wp_cli *cli)
{
	if (wp_cli_print_completion(cli->out, cli->args.items[0]) < 0)
		return wp_error_set(&cli->err, WP_EUSAGE, "completion: '%s' is not one of bash, zsh, fish", cli->args.items[0]);
	return 0;
}

const wp_cmd wp_cmd_completion = {
	"completion", "bash|zsh|fish", "print a shell completion script", completion_opts, 1, 1, "bash zsh fish",
	run_completion, false,
};

static int run_man(wp_cli *cli)
{
	wp_cli_print_man(cli->out);
	return 0;
}

const wp_cmd wp_cmd_man = {
	"__man", "", "print the man page source", completion_opts, 0, 0, NULL, run_man, true,
};
