/* wasmpack: dispatch to one command; only this file exits. */
#include "common/alloc.h"
#include "cli/cli.h"
#include "node/init.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every command, once, in the order `wasmpack --help` lists them; each is defined (with
 * designated initialisers) in its own file as wp_cmd_NAME. */
#define WP_COMMANDS(X)                                                                                                 \
	X(build) X(lock) X(unpack) X(run) X(push) X(pull) X(copy) X(login) X(logout) X(images) X(inspect) X(index)      \
	X(tags) X(attach) X(discover) X(sign) X(verify) X(tag) X(rmi) X(gc) X(save) X(load) X(version) X(completion)     \
	X(man) X(shim_fetch) X(shim_verify) X(spin_lock) X(complete_refs)

#define DECLARE(name) extern const wp_cmd wp_cmd_##name;
WP_COMMANDS(DECLARE)
#undef DECLARE

#define ENTRY(name) &wp_cmd_##name,
const wp_cmd *const wp_commands[] = { WP_COMMANDS(ENTRY) NULL };
#undef ENTRY

int wp_cli_print_image(wp_cli *cli, const wp_descriptor *manifest, const wp_manifest *m,
		       const wp_strv *tags, json_t *extra)
{
	json_t *o, *layers, *t;
	int64_t total = manifest->size + (m ? m->config.size : 0);

	if (!cli->json) {
		fprintf(cli->out, "%s\n", manifest->digest);
		json_decref(extra);
		return 0;
	}
	o = json_object();
	json_object_set_new(o, "digest", json_string(manifest->digest));
	json_object_set_new(o, "mediaType", json_string(manifest->media_type));
	json_object_set_new(o, "size", json_integer(manifest->size));
	t = json_array();
	for (size_t i = 0; tags && i < tags->len; i++)
		json_array_append_new(t, json_string(tags->items[i]));
	json_object_set_new(o, "tags", t);
	if (extra)
		json_object_update(o, extra);
	json_decref(extra);
	if (m) {
		json_object_set_new(o, "config", wp_descriptor_to_json(&m->config));
		layers = json_array();
		for (size_t i = 0; i < m->n_layers; i++) {
			json_array_append_new(layers, wp_descriptor_to_json(&m->layers[i]));
			total += m->layers[i].size;
		}
		json_object_set_new(o, "layers", layers);
	}
	json_object_set_new(o, "totalSize", json_integer(total));
	wp_json_print(o, cli->out);
	json_decref(o);
	return 0;
}

static int run(int argc, char **argv)
{
	wp_cli cli;
	const wp_cmd *cmd;
	int rc;

	memset(&cli, 0, sizeof(cli));
	cli.out = stdout;
	signal(SIGPIPE, SIG_IGN);
	wp_log_setup(stderr, WP_LOG_WARN);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		if (argc >= 3 && (cmd = wp_cli_find(argv[2]))) {
			wp_cli_print_cmd_help(stdout, cmd);
			return 0;
		}
		wp_cli_print_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version"))
		argv[1] = "version";
	cmd = wp_cli_find(argv[1]);
	if (!cmd) {
		const char *names[64] = { 0 }, *hit;
		size_t n = 0;

		for (size_t i = 0; wp_commands[i] && n < WP_ARRAY_LEN(names); i++)
			if (!wp_commands[i]->hidden)
				names[n++] = wp_commands[i]->name;
		bool global = false;

		for (const wp_opt *o = wp_global_opts; o->name && argv[1][0] == '-'; o++)
			global = global || (argv[1][1] == '-' && !strncmp(argv[1] + 2, o->name, strlen(o->name)) &&
					    (!argv[1][2 + strlen(o->name)] || argv[1][2 + strlen(o->name)] == '=')) ||
				 (argv[1][1] == o->short_name && !argv[1][2]);
		if (global)
			fprintf(stderr, "wasmpack: no command after '%s'; see 'wasmpack --help'\n", argv[1]);
		else if (argv[1][0] == '-')
			fprintf(stderr, "wasmpack: unknown option '%s' (before any command); see 'wasmpack --help'\n", argv[1]);
		else if ((hit = wp_str_closest(argv[1], names, n)))
			fprintf(stderr, "wasmpack: unknown command '%s'; did you mean '%s'? See 'wasmpack --help'\n", argv[1], hit);
		else
			fprintf(stderr, "wasmpack: unknown command '%s'; see 'wasmpack --help'\n", argv[1]);
		return 2;
	}
	rc = wp_cli_parse(&cli, cmd, argc - 1, argv + 1);
	if (rc == 0 && wp_opts.help) {
		wp_cli_print_cmd_help(stdout, cmd);
		wp_cli_release(&cli);
		return 0;
	}
	if (rc == 0) {
		wp_log_setup(stderr, cli.verbosity == 0 ? WP_LOG_QUIET : cli.verbosity == 2 ? WP_LOG_DEBUG : WP_LOG_WARN);
		rc = cmd->run(&cli);
	}
	if (rc < 0) {
		if (cli.err.code == WP_OK)
			cli.err.code = rc;
		fprintf(stderr, "wasmpack: %s\n", cli.err.msg[0] ? cli.err.msg : wp_error_code_name(rc));
		if (rc == WP_EUSAGE)
			fprintf(stderr, "see 'wasmpack %s --help'\n", cmd->name);
	}
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "wasmpack: writing output failed\n");
		rc = WP_EIO;
	}
	wp_cli_release(&cli);
	if (rc >= 0 && cli.engine_ran) {
		/* The run ends as its app did. This process is confined now (no /proc: a leak
		 * checker at exit could not work) and holds nothing to clean up: it leaves at once. */
		fflush(stderr);
		_exit(wp_init_exit_code(cli.engine_status));
	}
	return wp_error_exit_status(rc < 0 ? (cli.err.code ? cli.err.code : rc) : 0);
}

int main(int argc, char **argv)
{
	char **args = wp_cli_hoist_globals(argc, argv);
	int status = run(argc, args);

	if (args != argv)
		free(args);
	return status;
}
