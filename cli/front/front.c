/* wasmpack, the front: a warm `wasmpack run` (the image already unpacked in the node
 * cache) is served here, by a binary that loads only libc and jansson, and every other
 * invocation is handed unchanged to wasmpack-core (next to this binary), which loads
 * libarchive, libcurl and libgit2 and their fifty libraries: 8 ms of dynamic linking that
 * a cache hit does not need. Anything the front is not sure of goes to the core, so the
 * two always behave the same. */
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/mediatype.h"
#include "oci/ref.h"
#include "oci/storeroot.h"
#include "node/engine.h"

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
		core = wp_strfmt("%s/wasmpack-core", self);
		if (core)
			execv(core, argv);
	}
	fprintf(stderr, "wasmpack: cannot start %s: %s\n", core ? core : "wasmpack-core", strerror(errno));
	exit(1);
}

/* "--name VALUE" or "--name=VALUE": the value, advancing *i; NULL if arg is not --name. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, len))
		return NULL;
	if (a[len] == '=')
		return a + len + 1;
	if (a[len] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* The manifest digest SOURCE names in the store's index, or NULL (then the core decides). */
static char *resolve(const char *store, const char *src)
{
	_cleanup_free_ char *path = wp_strfmt("%s/index.json", store);
	_cleanup_free_ char *full = NULL;
	wp_error err;
	wp_ref ref = { 0 };
	json_t *ix = NULL, *m;
	char *out = NULL;
	size_t i;

	if (!path || strchr(src, ':') == src || !strncmp(src, "oci:", 4) || !strncmp(src, "oci-archive:", 12) ||
	    !strncmp(src, "containerd:", 11) || !strncmp(src, "sha256:", 7) || strspn(src, "0123456789abcdef") == strlen(src))
		return NULL;
	if (wp_ref_parse(src, &ref, &err) < 0)
		return NULL;
	full = ref.digest ? NULL : wp_ref_string(&ref);
	wp_ref_release(&ref);
	if (!full)
		return NULL;
	if (wp_json_read_file(path, 16u << 20, &ix, &err) == 0) {
		json_array_foreach(json_object_get(ix, "manifests"), i, m) {
			const char *name = wp_json_str(json_object_get(m, "annotations"), WP_ANN_REF_NAME);

			if (name && !strcmp(name, full)) {
				const char *d = wp_json_str(m, "digest");

				if (wp_media_type_is_manifest(wp_json_str(m, "mediaType")) && wp_digest_valid(d))
					out = wp_xstrdup(wp_digest_hex(d));
				break;
			}
		}
	}
	json_decref(ix);
	return out;
}

/* The warm path: `run` whose image is in the node cache. Returns only to defer. */
static void warm_run(int argc, char **argv)
{
	const char *store = NULL, *engine = NULL, *source = NULL, *v;
	wp_run_spec spec = { 0 };
	bool quiet = false, args_only = false;
	int cmd = -1;
	_cleanup_free_ char *root = NULL, *hex = NULL, *entry = NULL, *summary = NULL, *cache = NULL;
	wp_buf sroot;
	wp_error err;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (args_only || (cmd > 0 && a[0] != '-')) {
			if (cmd < 0)
				return;
			if (!source && !args_only)
				source = a;
			else
				wp_strv_push(&spec.args, a);
		} else if (cmd > 0 && !strcmp(a, "--")) {
			args_only = true;
		} else if (cmd < 0 && !strcmp(a, "run")) {
			cmd = i;
		} else if ((v = opt_value(argc, argv, &i, "--store"))) {
			store = v;
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = true;
		} else if (!strcmp(a, "--no-progress")) {
			continue;
		} else if (cmd > 0 && (v = opt_value(argc, argv, &i, "--engine"))) {
			engine = v;
		} else if (cmd > 0 && (v = opt_value(argc, argv, &i, "--env"))) {
			wp_strv_push(&spec.env, v);
		} else if (cmd > 0 && (v = opt_value(argc, argv, &i, "--dir"))) {
			wp_strv_push(&spec.dirs, v);
		} else {
			return; /* help, other commands and options, anything unusual */
		}
	}
	if (cmd < 0 || !source)
		return;
	/* A store path past PATH_MAX (or any failure here) is the core's to explain. */
	wp_buf_init(&sroot, PATH_MAX);
	if ((store ? wp_buf_puts(&sroot, store) : wp_storeroot_default(&sroot, &err)) < 0 || !sroot.data) {
		wp_buf_release(&sroot);
		return;
	}
	root = wp_xstrdup(sroot.data);
	wp_buf_release(&sroot);
	if (!root || !(hex = resolve(root, source)))
		return;
	cache = wp_storeroot_cache(root);
	entry = cache ? wp_strfmt("%s/%s", cache, hex) : NULL;
	summary = entry ? wp_strfmt("%s/.wasmpack-unpack.json", entry) : NULL;
	if (wp_json_read_file(summary, 1u << 20, &spec.summary, &err) < 0)
		return;
	wp_log_setup(stderr, quiet ? WP_LOG_QUIET : WP_LOG_WARN);
	spec.engine = engine;
	spec.dir = entry;
	spec.launcher_dir = cache;
	wp_engine_exec(&spec, &err);
	/* The engine did not start: the core says why, as it would have. */
	json_decref(spec.summary);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (argc > 2 && !getenv("WASMPACK_NO_FRONT"))
		warm_run(argc, argv);
	exec_core(argv);
	return 1;
}
