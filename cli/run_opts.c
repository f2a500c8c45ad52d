/* The options of `wasmpack run`, in a file of their own: the front (cli/front/front.c)
 * parses a warm run with this same table, so the two cannot drift apart. */
#include "cli/cli.h"
#include "common/util.h"
#include "node/engine.h"

#include <stdlib.h>
#include <string.h>

const wp_opt wp_cmd_run_opts[] = {
	{ "engine", 0, WP_OPT_VALUE, "NAME", "wasmtime, wasmedge, wasmer, node, jco, spin or spin-jco (default: the first found "
	  "that runs the app; a Spin HTTP app: spin when installed, else wasmpack's own trigger, spin-jco)",
	  "wasmtime wasmedge wasmer node jco spin spin-jco" },
	{ "env", 0, WP_OPT_LIST, "K=V", "an environment variable added to the app's", NULL },
	{ "dir", 0, WP_OPT_LIST, "HOST:GUEST", "a host folder the app sees at GUEST", "@dir" },
	{ "network", 0, WP_OPT_VALUE, "MODE", "none (default: a network namespace with only a loopback) or host (the "
	  "host's network)", "none host" },
	{ "platform", 0, WP_OPT_VALUE, "OS/ARCH", "pick this platform when pulling an index", "wasip1/wasm wasip2/wasm wasi/wasm" },
	{ "policy", 0, WP_OPT_VALUE, "FILE", "the signature policy (default $WASMPACK_POLICY, else /etc/wasmpack/policy.toml)",
	  "@file" },
	{ "listen", 0, WP_OPT_VALUE, "ADDR", "where a Spin HTTP app serves (default 127.0.0.1:3000)", NULL },
	{ "variable", 0, WP_OPT_LIST, "NAME=VALUE", "a Spin variable's value (over SPIN_VARIABLE_NAME)", NULL },
	{ "workers", 0, WP_OPT_VALUE, "N", "worker threads of a Spin HTTP app, each one request at a time (default: "
	  "one per core)", NULL },
	{ "state-dir", 0, WP_OPT_VALUE, "DIR", "where a Spin app's key-value stores are kept (default: in memory)", "@dir" },
	{ "runtime-config-file", 0, WP_OPT_VALUE, "FILE", "a Spin runtime config (its [key_value_store.NAME] tables)", "@file" },
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

int wp_cli_run_spec(wp_cli *cli, wp_run_spec *spec)
{
	const char *workers = wp_cli_value(cli, "workers");

	spec->engine = wp_cli_value(cli, "engine");
	spec->env = *wp_cli_list(cli, "env");
	spec->dirs = *wp_cli_list(cli, "dir");
	spec->network_host = !strcmp(wp_cli_value(cli, "network") ? wp_cli_value(cli, "network") : "none", "host");
	spec->network_none = wp_cli_value(cli, "network") && !strcmp(wp_cli_value(cli, "network"), "none");
	spec->listen = wp_cli_value(cli, "listen");
	spec->variables = *wp_cli_list(cli, "variable");
	spec->state_dir = wp_cli_value(cli, "state-dir");
	spec->runtime_config = wp_cli_value(cli, "runtime-config-file");
	if (workers) {
		char *end;
		long n = strtol(workers, &end, 10);

		if (*end || end == workers || n < 1 || n > 256)
			return wp_error_set(&cli->err, WP_EUSAGE, "--workers '%s': want a number from 1 to 256", workers);
		spec->workers = (int)n;
	}
	return 0;
}
