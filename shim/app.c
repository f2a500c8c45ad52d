#include "shim/app.h"
#include "common/path.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "node/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The command's first word: the wasm in the rootfs; NULL for none, or for "/", which
 * SpinKube's pods give (a Spin app: its spin.toml is what is looked for). */
static const char *arg0(const json_t *process)
{
	const char *a0 = json_string_value(json_array_get(json_object_get(process, "args"), 0));

	return a0 && *a0 && strcmp(a0, "/") ? a0 : NULL;
}

bool wp_app_in_rootfs(const char *rootfs, const json_t *process)
{
	const char *a0 = arg0(process);
	wp_buf p;
	wp_error err;
	struct stat st;
	bool found;

	/* args[0] comes from the image: ".." cannot climb out of the rootfs */
	wp_buf_init(&p, WP_PATH_MAX);
	found = wp_path_join_safe(rootfs, a0 ? a0 : "spin.toml", &p, &err) == 0 && stat(p.data, &st) == 0 &&
		S_ISREG(st.st_mode);
	wp_buf_release(&p);
	return found;
}

int wp_app_check_beneath(const char *rootfs, const json_t *process, wp_error *err)
{
	const char *a0 = arg0(process);
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	wp_buf clean;
	wp_error perr;
	int root, fd = -1;

	if (!a0)
		return 0; /* a Spin app's spin.toml: spin reads it */
	wp_buf_init(&clean, WP_PATH_MAX);
	if (wp_path_clean(a0, &clean, &perr) == 0 && (root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fd = (int)syscall(SYS_openat2, root, clean.data, &how, sizeof(how));
		close(root);
	}
	wp_buf_release(&clean);
	if (fd < 0)
		return wp_error_set(err, WP_EINVALID, "the wasm '%.100s' named by process.args[0] is not a file inside the rootfs",
				    a0);
	close(fd);
	return 0;
}

/* wasmpack-core ACTION --address --namespace --cache ID, its stdout in out and its
 * stderr in errbuf (both small: the path, or an error line or two), its exit status. */
static int run_core(const wp_app_fetch *f, const char *action, const char *id, const char *opt, const char *optval,
		    const char *flag, char *out, size_t outcap, size_t *got_out, char *errbuf, size_t errcap, int *status,
		    wp_error *err)
{
	_cleanup_free_ char *core = wp_engine_core_path();
	const char *argv[16];
	size_t n = 0;

	if (!core)
		return wp_error_set(err, WP_ENOTFOUND, "wasmpack-core is not beside the shim nor on PATH");
	argv[n++] = "wasmpack-core";
	argv[n++] = action;
	argv[n++] = "--address";
	argv[n++] = f->address;
	argv[n++] = "--namespace";
	argv[n++] = f->ns;
	argv[n++] = "--cache";
	argv[n++] = f->cache_root;
	if (opt && optval) {
		argv[n++] = opt;
		argv[n++] = optval;
	}
	if (flag)
		argv[n++] = flag;
	argv[n++] = id;
	argv[n] = NULL;

	{
		wp_core_call call = { .core = core, .argv = argv, .out = out, .outcap = outcap, .errbuf = errbuf,
				      .errcap = errcap, .reaped_status = f->reaped_status, .ctx = f->ctx };

		return wp_engine_core_call(&call, got_out, status, err);
	}
}

static const char *core_message(const char *e)
{
	return wp_str_has_prefix(e, "wasmpack: ") ? e + strlen("wasmpack: ") : e;
}

int wp_app_from_containerd(const wp_app_fetch *f, const char *id, const char *digest, bool files, char **entry,
			   wp_error *err)
{
	char out[PATH_MAX + 1], errbuf[1024];
	size_t got_out = 0;
	int status = 0, rc;

	*entry = NULL;
	if (!f->address || !*f->address)
		return wp_error_set(err, WP_ESTATE, "the rootfs holds no app and containerd's address is unknown");
	if ((rc = run_core(f, "__shim-fetch", id, digest ? "--digest" : NULL, digest, files ? "--files" : NULL, out,
			   sizeof(out), &got_out, errbuf, sizeof(errbuf), &status, err)) < 0)
		return rc;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !got_out) {
		const char *e = core_message(errbuf);

		return wp_error_set(err, WIFEXITED(status) && WEXITSTATUS(status) == 3 ? WP_ENOTFOUND
				    : WIFEXITED(status) && WEXITSTATUS(status) == 5 ? WP_EDIGEST : WP_ESTATE, "%s",
				    *e ? e : "finding the app through containerd failed");
	}
	*entry = wp_xstrdup(out);
	return 0;
}

int wp_app_verify(const wp_app_fetch *f, const char *id, const char *policy, wp_app_verified *v, wp_error *err)
{
	char out[256], errbuf[2048];
	size_t got_out = 0;
	int status = 0, rc;
	char *sp;

	memset(v, 0, sizeof(*v));
	if (!f->address || !*f->address)
		return wp_error_set(err, WP_ESTATE, "a signature policy is in effect and containerd's address is unknown");
	if ((rc = run_core(f, "__shim-verify", id, policy ? "--policy" : NULL, policy, NULL, out, sizeof(out), &got_out,
			   errbuf, sizeof(errbuf), &status, err)) < 0)
		return rc;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *e = core_message(errbuf);

		return wp_error_set(err, WP_ESTATE, "%s",
				    *e ? e : "checking the image's signature failed");
	}
	/* "DIGEST LAYOUT", or nothing for a container with no image */
	if (got_out && (sp = strchr(out, ' '))) {
		*sp = '\0';
		wp_str_copy(v->digest, out, sizeof(v->digest));
		wp_str_copy(v->layout, sp + 1, sizeof(v->layout));
	}
	return 0;
}
