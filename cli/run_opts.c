/* The options of `wasmpack run`, in a file of their own: the front (cli/front/front.c)
 * parses a warm run with this same table, so the two cannot drift apart. */
#include "cli/cli.h"

const wp_opt wp_cmd_run_opts[] = {
	{ "engine", 0, WP_OPT_VALUE, "NAME", "wasmtime, wasmedge, wasmer, node, jco or spin (default: the first found that runs "
	  "the app)", "wasmtime wasmedge wasmer node jco spin" },
	{ "env", 0, WP_OPT_LIST, "K=V", "an environment variable added to the app's", NULL },
	{ "dir", 0, WP_OPT_LIST, "HOST:GUEST", "a host folder the app sees at GUEST", "@dir" },
	{ "network", 0, WP_OPT_VALUE, "MODE", "none (default: a network namespace with only a loopback) or host (the "
	  "host's network)", "none host" },
	{ "platform", 0, WP_OPT_VALUE, "OS/ARCH", "pick this platform when pulling an index", "wasip1/wasm wasip2/wasm wasi/wasm" },
	{ "policy", 0, WP_OPT_VALUE, "FILE", "the signature policy (default $WASMPACK_POLICY, else /etc/wasmpack/policy.toml)",
	  "@file" },
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};
