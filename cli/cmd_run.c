#include "cli/cli.h"
#include "common/progress.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/storeroot.h"
#include "node/cache.h"
#include "node/engine.h"
#include "node/unpack.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The store is a user of the entry (gc of another store leaves it); bookkeeping only. */
static void claim(const char *cache_root, const char *hex, const char *store_root)
{
	_cleanup_free_ char *store = realpath(store_root, NULL);
	wp_error err;

	if (store && wp_cache_claim(cache_root, hex, store, &err) < 0)
		wp_info("%s", err.msg);
}

static int run(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT, ro = WP_STORE_INIT;
	wp_descriptor d = { 0 };
	bool containerd = wp_str_has_prefix(cli->args.items[0], "containerd:");
	wp_run_spec spec = { 0 };
	_cleanup_free_ char *root = NULL, *entry = NULL;
	wp_unpack_summary summary = { 0 };
	json_t *found = NULL;
	int rc, status = 0;
	const char *net = wp_opts.network;

	/* what the command line got wrong, before any pull or unpack */
	if ((rc = wp_engine_check_name(wp_opts.engine, &cli->err)) < 0 ||
	    (rc = wp_engine_check_dirs(&wp_opts.dirs, &cli->err)) < 0)
		return rc;
	if (net && strcmp(net, "none") && strcmp(net, "host"))
		return wp_error_set(&cli->err, WP_EUSAGE, "--network '%s': want none (a loopback only, the default) or host",
				    net);
	wp_cli_run_hints(cli);
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0)
		return rc;
	rc = containerd ? wp_cli_containerd_source(cli, cli->args.items[0], &ro, &d)
			: wp_cli_resolve_source(cli, &s, cli->args.items[0], &d);
	if (rc < 0)
		goto done;
	root = wp_cli_cache_root(&s);
	/* the node's signature policy, before anything of the image is unpacked or run */
	if ((rc = wp_cli_policy_for_source(cli, containerd ? NULL : &s, cli->args.items[0], &d, root)) < 0)
		goto done;
	entry = wp_str_fmt("%s/%s", root, wp_digest_hex(d.digest));
	if ((rc = wp_fs_mkdir_p(root, 0755, &cli->err)) < 0)
		goto done;
	/* held until the engine ends (the descriptor survives exec): gc leaves it alone */
	if (wp_cache_hold(root, wp_digest_hex(d.digest), &cli->err) < 0) {
		rc = cli->err.code;
		goto done;
	}
	wp_debug("%s is %s; node cache %s: %s", cli->args.items[0], d.digest, wp_fs_exists(entry) ? "hit" : "miss, unpacking",
		 entry);
	if (!wp_fs_exists(entry)) {
		wp_unpack_limits lim = { .progress = wp_progress_new(wp_cli_progress_out(cli), "unpacking") };

		rc = wp_unpack(containerd ? &ro : &s, &d, entry, &lim, &found, &cli->err);
		wp_progress_end(lim.progress);
		/* A run racing this one made the entry first: it is the same. */
		if (rc == WP_EEXISTS && wp_fs_exists(entry))
			rc = 0;
		if (rc < 0)
			goto done;
		json_decref(found);
		/* the node cache grew: past its caps, the least recently used entries go */
		wp_cache_enforce(root, wp_digest_hex(d.digest));
	}
	if ((rc = wp_unpack_summary_read(entry, &summary, &cli->err)) < 0)
		goto done;
	spec.summary = &summary;
	if (!containerd)
		claim(root, wp_digest_hex(d.digest), s.root);
	spec.dir = entry;
	spec.launcher_dir = root;
	for (size_t i = 1; i < cli->args.len; i++)
		wp_strv_push(&spec.args, cli->args.items[i]);
	wp_cli_run_spec(&spec);
	wp_store_close(&s);
	wp_store_close(&ro);
	if ((rc = wp_engine_exec(&spec, &status, &cli->err)) == 0) {
		cli->engine_ran = true;
		cli->engine_status = status;
	}
	wp_strv_release(&spec.args);
	wp_unpack_summary_release(&summary);
	wp_descriptor_release(&d);
	return rc;
done:
	wp_unpack_summary_release(&summary);
	wp_descriptor_release(&d);
	wp_store_close(&s);
	wp_store_close(&ro);
	return rc;
}

const wp_cmd wp_cmd_run = {
	.name = "run",
	.args = "SOURCE [-- ARGS...]",
	.summary = "run an image's app through a wasm engine (unpacked once into the node cache)",
	.opts = wp_cmd_run_opts,
	.min_args = 1,
	.max_args = -1,
	.args_complete = "@ref",
	.run = run,
	.examples = "wasmpack run app:v1 -- --name world\n"
		"wasmpack run --engine wasmtime --dir ./data:/data localhost:5000/demo/app:v1\n"
		"wasmpack run sha256:82a3f1e5b398    # an id that images prints\n",
};
