/* The options of `wasmpack run`, in a file of their own: the front (cli/front/front.c)
 * parses a warm run with this same table, so the two cannot drift apart. */
#include "cli/cli.h"
#include "common/util.h"
#include "node/engine.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const wp_opt wp_cmd_run_opts[] = {
	WP_VALUE("engine", 0, "NAME", "wasmtime, wasmedge, wasmer, node, jco, spin or spin-jco (default: the first found "
	  "that runs the app; a Spin HTTP app: spin when installed, else wasmpack's own trigger, spin-jco)", "wasmtime wasmedge wasmer node jco spin spin-jco", &wp_opts.engine),
	WP_LIST("env", 'e', "K=V", "an environment variable added to the app's", NULL, &wp_opts.env),
	WP_LIST("volume", 'v', "HOST:GUEST[:ro]", "a host folder the app sees at GUEST (absolute, or relative as a "
		"WASI preopen's name), read-only with :ro (as docker's -v; wasmpack's own verbose is --verbose here)",
		"@dir", &wp_opts.dirs),
	WP_LIST("dir", 0, "HOST:GUEST[:ro]", "the same as --volume", "@dir", &wp_opts.dirs),
	WP_VALUE("workdir", 'w', "DIR", "the app's working folder (its PWD: WASI has no other)", NULL, &wp_opts.workdir),
	WP_FLAG("rm", 0, "accepted for docker's habit: a run keeps no container (its unpacked image stays in the node "
		"cache, shared)", &wp_opts.rm),
	WP_VALUE("network", 0, "MODE", "none (default: a network namespace with only a loopback) or host (the "
	  "host's network)", "none host", &wp_opts.network),
	WP_VALUE("platform", 0, "OS/ARCH", "pick this platform when pulling an index", "wasip1/wasm wasip2/wasm wasi/wasm", &wp_opts.platform),
	WP_VALUE("policy", 0, "FILE", "the signature policy (default $WASMPACK_POLICY, else /etc/wasmpack/policy.toml)", "@file", &wp_opts.policy),
	WP_VALUE("listen", 0, "ADDR", "where a Spin HTTP app serves (default 127.0.0.1:3000)", NULL, &wp_opts.listen),
	WP_LIST("variable", 0, "NAME=VALUE", "a Spin variable's value (over SPIN_VARIABLE_NAME)", NULL, &wp_opts.variables),
	WP_INT("workers", 0, "N", "worker threads of a Spin HTTP app, each one request at a time (default: "
	  "one per core)", NULL, 1, 256, &wp_opts.workers),
	WP_VALUE("state-dir", 0, "DIR", "where a Spin app's key-value stores are kept (default: in memory)", "@dir", &wp_opts.state_dir),
	WP_VALUE("runtime-config-file", 0, "FILE", "a Spin runtime config (its [key_value_store.NAME] tables)", "@file", &wp_opts.runtime_config_file),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

void wp_cli_run_spec(wp_run_spec *spec)
{
	spec->engine = wp_opts.engine;
	spec->env = wp_opts.env;
	spec->dirs = wp_opts.dirs;
	spec->workdir = wp_opts.workdir;
	spec->network_host = wp_opts.network && !strcmp(wp_opts.network, "host");
	spec->network_none = wp_opts.network && !strcmp(wp_opts.network, "none");
	spec->listen = wp_opts.listen;
	spec->variables = wp_opts.variables;
	spec->state_dir = wp_opts.state_dir;
	spec->runtime_config = wp_opts.runtime_config_file;
	spec->workers = (int)wp_opts.workers;
}

void wp_cli_run_hints(const wp_cli *cli)
{
	for (size_t i = 1; i < cli->args_before_dashdash && i < cli->args.len; i++) {
		const char *a = cli->args.items[i], *colon = strchr(a, ':');
		_cleanup_free_ char *host = colon && colon > a ? wp_xstrndup(a, (size_t)(colon - a)) : NULL;
		struct stat st;

		/* "/data:/data" after the image: a docker user's volume, not an argument */
		if (host && host[0] == '/' && stat(host, &st) == 0 && S_ISDIR(st.st_mode))
			fprintf(stderr, "wasmpack: hint: '%s' goes to the app as an argument; to mount it, give it as "
				"-v %s (put app arguments after --)\n", a, a);
		else if (!strncmp(a, "\xe2\x80\x94", 3) || !strncmp(a, "\xe2\x80\x93", 3))
			fprintf(stderr, "wasmpack: hint: '%s' goes to the app as an argument: it starts with a dash that is "
				"not '-' (a typographic dash)\n", a);
	}
}
