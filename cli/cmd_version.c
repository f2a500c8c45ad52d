#include "cli/cli.h"
#include "common/json.h"
#include "gen/version.h"

#include <archive.h>
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

static const wp_opt version_opts[] = { { 0 } };

static int run_version(wp_cli *cli)
{
	int major, minor, rev;
	const char *arch = archive_version_string(), *curl = curl_version_info(CURLVERSION_NOW)->version;
	char git[32];

	git_libgit2_version(&major, &minor, &rev);
	snprintf(git, sizeof(git), "%d.%d.%d", major, minor, rev);
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "version", WP_VERSION, "commit",
				      WP_GIT_COMMIT, "built", WP_BUILD_DATE, "libraries", "libarchive", arch, "libcurl", curl,
				      "openssl", OpenSSL_version(OPENSSL_VERSION), "jansson", jansson_version_str(), "libgit2",
				      git, "zlib", zlibVersion());

		wp_json_print(o, cli->out);
		json_decref(o);
	} else if (cli->verbosity == 0) {
		fprintf(cli->out, "%s\n", WP_VERSION);
	} else {
		/* as running, not as built against: what a bug report needs */
		fprintf(cli->out, "wasmpack %s (commit %s, built %s)\n  %s, libcurl %s, %s, jansson %s, libgit2 %s, zlib %s\n",
			WP_VERSION, WP_GIT_COMMIT, WP_BUILD_DATE, arch, curl, OpenSSL_version(OPENSSL_VERSION),
			jansson_version_str(), git, zlibVersion());
	}
	return 0;
}

const wp_cmd wp_cmd_version = {
	.name = "version",
	.args = "",
	.summary = "print the version",
	.opts = version_opts,
	.min_args = 0,
	.max_args = 0,
	.run = run_version,
	.examples = "wasmpack version\n"
		"wasmpack version --format json | jq .libraries\n",
};

static const wp_opt completion_opts[] = { { 0 } };

static int run_completion(wp_cli *cli)
{
	if (wp_cli_print_completion(cli->out, cli->args.items[0]) < 0)
		return wp_error_set(&cli->err, WP_EUSAGE, "completion: '%s' is not one of bash, zsh, fish", cli->args.items[0]);
	return 0;
}

const wp_cmd wp_cmd_completion = {
	.name = "completion",
	.args = "bash|zsh|fish",
	.summary = "print a shell completion script",
	.opts = completion_opts,
	.min_args = 1,
	.max_args = 1,
	.args_complete = "bash zsh fish",
	.run = run_completion,
	.examples = "wasmpack completion bash > ~/.local/share/bash-completion/completions/wasmpack\n"
		"wasmpack completion zsh > \"${fpath[1]}/_wasmpack\"\n",
};

static int run_man(wp_cli *cli)
{
	wp_cli_print_man(cli->out);
	return 0;
}

const wp_cmd wp_cmd_man = {
	.name = "__man",
	.args = "",
	.summary = "print the man page source",
	.opts = completion_opts,
	.min_args = 0,
	.max_args = 0,
	.run = run_man,
	.hidden = true,
};
