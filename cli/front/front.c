/* wasmpack, the front: a warm `wasmpack run` (the image already unpacked in the node
 * cache) is served here, by a binary that loads only libc and jansson, and every other
 * invocation is handed unchanged to wasmpack-core (next to this binary), which loads
 * libarchive, libcurl and libgit2 and their fifty libraries: 8 ms of dynamic linking that
 * a cache hit does not need. Anything the front is not sure of goes to the core, so the
 * two always behave the same. */
#include "cli/cli.h"
#include "common/buf.h"
#include "common/fs.h"
#include "node/init.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/mediatype.h"
#include "oci/index.h"
#include "oci/storeroot.h"
#include "node/cache.h"
#include "node/engine.h"
#include "trust/policy.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static void exec_core(char **argv)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	_cleanup_free_ char *core = NULL;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		core = wp_str_fmt("%s/wasmpack-core", self);
		execv(core, argv);
	}
	fprintf(stderr, "wasmpack: cannot start %s: %s\n", core ? core : "wasmpack-core", strerror(errno));
	exit(1);
}

/* The manifest digest's hex that SOURCE names in the store's index, found as the core
 * finds it (wp_index_find), or NULL: then the core decides. */
static char *resolve(const char *store, const char *src)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/index.json", store);
	wp_buf data;
	wp_index ix;
	wp_error err;
	char digest[WP_DIGEST_BUFSZ];
	size_t pos;
	char *out = NULL;

	/* the sources that are no image in the store */
	if (wp_str_has_prefix(src, "oci:") || wp_str_has_prefix(src, "oci-archive:") ||
	    wp_str_has_prefix(src, "containerd:"))
		return NULL;
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if (wp_fs_read_file(path, WP_MANIFEST_MAX, &data, &err) == 0 && wp_index_parse(data.data, data.len, &ix, &err) == 0) {
		if (wp_index_find(&ix, src, &pos, digest, &err) == 0 &&
		    wp_mediatype_is_manifest(ix.manifests[pos].media_type))
			out = wp_xstrdup(wp_digest_hex(ix.manifests[pos].digest));
		wp_index_release(&ix);
	}
	wp_buf_release(&data);
	return out;
}

/* The options a warm run takes here; any other (--platform, --format, --verbose, --help,
 * the registry's) is the core's. */
static bool served_here(void)
{
	static const char *const ok[] = { "store", "quiet", "no-progress", "engine", "env", "dir", "volume", "workdir", "rm" };
	const wp_opt *const tables[] = { wp_cmd_run_opts, wp_global_opts };

	for (size_t t = 0; t < WP_ARRAY_LEN(tables); t++)
		for (const wp_opt *o = tables[t]; o->name; o++) {
			bool known = false;

			for (size_t k = 0; k < WP_ARRAY_LEN(ok); k++)
				known = known || !strcmp(o->name, ok[k]);
			if (!known && wp_cli_opt_given(o))
				return false;
		}
	return true;
}

/* The warm path: `run` whose image is in the node cache. Returns only to defer. */
static void warm_run(int argc, char **argv)
{
	static const wp_cmd run_cmd = { .name = "run", .args = "", .summary = "", .opts = wp_cmd_run_opts, .min_args = 1,
					.max_args = -1 };
	char **args = wp_cli_hoist_globals(argc, argv);
	wp_cli cli = { 0 };
	wp_run_spec spec = { 0 };
	_cleanup_free_ char *root = NULL, *hex = NULL, *entry = NULL, *cache = NULL, *real = NULL;
	wp_unpack_summary summary = { 0 };
	int held = -1, status = 0;
	const char *store;
	wp_buf sroot;
	wp_error err;

	/* The same parser and table as the core's; what it refuses, the core explains. */
	if (strcmp(args[1], "run") || wp_cli_parse(&cli, &run_cmd, argc - 1, args + 1) < 0 || !served_here())
		goto defer;
	/* a signature policy is the core's to apply (it asks registries) */
	if (wp_policy_path(NULL))
		goto defer;
	store = wp_opts.store;
	/* A store path past PATH_MAX (or any failure here) is the core's to explain. */
	wp_buf_init(&sroot, PATH_MAX);
	if ((store ? wp_buf_puts(&sroot, store) : wp_storeroot_default(&sroot, &err)) < 0 || !sroot.data) {
		wp_buf_release(&sroot);
		goto defer;
	}
	root = wp_xstrdup(sroot.data);
	wp_buf_release(&sroot);
	{
		/* another user's store is the core's to refuse (wp_fs_check_owner) */
		_cleanup_free_ char *own = wp_str_fmt("%s/.wasmpack", root);

		if (wp_fs_check_owner(root, "the store", &err) < 0 || wp_fs_check_owner(own, "the store's", &err) < 0)
			goto defer;
	}
	if (!(hex = resolve(root, cli.args.items[0])))
		goto defer;
	cache = wp_storeroot_cache(root);
	entry = wp_str_fmt("%s/%s", cache, hex);
	/* held until the engine ends (the descriptor survives exec): gc leaves it alone */
	if ((held = wp_cache_hold(cache, hex, &err)) < 0 || wp_unpack_summary_read(entry, &summary, &err) < 0)
		goto defer;
	spec.summary = &summary;
	if ((real = realpath(root, NULL)))
		wp_cache_claim(cache, hex, real, &err);
	wp_log_setup(stderr, cli.verbosity == 0 ? WP_LOG_QUIET : WP_LOG_WARN);
	wp_cli_run_spec(&spec);
	wp_cli_run_hints(&cli);
	spec.dir = entry;
	spec.launcher_dir = cache;
	for (size_t i = 1; i < cli.args.len; i++)
		wp_strv_push(&spec.args, cli.args.items[i]);
	if (wp_engine_exec(&spec, &status, &err) == 0) {
		/* the engine ran and ended: the run ends as it did, at once (this process is
		 * confined now: no /proc for a leak checker at exit, nothing to clean up) */
		fflush(stdout);
		fflush(stderr);
		_exit(wp_init_exit_code(status));
	}
	/* The engine did not start: the core says why, as it would have. */
	wp_strv_release(&spec.args);
defer:
	wp_unpack_summary_release(&summary);
	if (held >= 0)
		close(held);
	wp_cli_release(&cli);
	if (args != argv)
		free(args);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (argc > 2 && !getenv("WASMPACK_NO_FRONT"))
		warm_run(argc, argv);
	exec_core(argv);
	return 1;
}
