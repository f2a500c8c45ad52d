#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "spin/spin.h"

#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const wp_opt opts[] = {
	WP_VALUE("from", 'f', "MANIFEST", "the spin.toml (default PATH/spin.toml)", "@file", &wp_opts.from),
	WP_VALUE("assets-dir", 0, "DIR", "where to copy the components' files (default a new temp folder)", "@dir", &wp_opts.assets_dir),
	WP_FLAG("follow-links", 0, "copy what symbolic links leaving the app folder point at (default: refuse them)", &wp_opts.follow_links),
	{ 0 },
};

static int run(wp_cli *cli)
{
	_cleanup_free_ char *manifest = wp_cli_spin_manifest(cli->args.len ? cli->args.items[0] : NULL,
							      wp_opts.from);
	wp_spin_opts o = { .assets_dir = wp_opts.assets_dir, .follow_links = wp_opts.follow_links };
	json_t *locked = NULL;
	int rc;

	rc = wp_spin_lock(manifest, &o, &locked, &cli->err);
	if (rc == 0) {
		wp_json_print(locked, cli->out);
		json_decref(locked);
	}
	return rc;
}

const wp_cmd wp_cmd_lock = {
	.name = "lock",
	.args = "[PATH]",
	.summary = "print the locked app (Spin's spin.lock JSON) of a spin.toml",
	.opts = opts,
	.min_args = 0,
	.max_args = 1,
	.args_complete = "@file",
	.run = run,
	.examples = "wasmpack lock ./my-spin-app > spin.lock\n"
		"wasmpack lock -f my-spin-app/spin.toml --assets-dir /tmp/assets\n",
};

/* The locked app of a spin.toml (the image layout, or a container's rootfs): locked once
 * into <parent of the app folder>/spin-assets, where the components' files are copied
 * (Spin's loader mounts each component's files from a folder of its own), and found there
 * by the next start. Made in a temporary folder renamed into place: whole or absent. */
static int lock_beside(const char *toml, char **lock_path, wp_error *err)
{
	_cleanup_free_ char *appdir = wp_xstrdup(toml), *parent = NULL, *assets = NULL, *tmp = NULL, *lockp = NULL;
	wp_spin_opts so = { 0 };
	json_t *locked = NULL;
	char *slash;
	int rc;

	if ((slash = strrchr(appdir, '/')))
		*slash = '\0';
	parent = wp_xstrdup(appdir);
	if ((slash = strrchr(parent, '/')) && slash != parent)
		*slash = '\0';
	assets = wp_str_fmt("%s/spin-assets", parent);
	lockp = wp_str_fmt("%s/spin.lock", assets);
	if (wp_fs_exists(lockp))
		goto found;
	tmp = wp_str_fmt("%s/spin-assets.tmp-XXXXXX", parent);
	if (!mkdtemp(tmp))
		return wp_error_sys(err, WP_EIO, "making a folder for the Spin app's files beside '%s'", appdir);
	so.assets_dir = tmp;
	if ((rc = wp_spin_lock(toml, &so, &locked, err)) == 0) {
		/* the files' URLs name the final folder */
		_cleanup_free_ char *text = NULL, *from = wp_str_fmt("file://%s/", tmp), *to = wp_str_fmt("file://%s/", assets);
		json_t *c, *f;
		size_t i, k;

		json_array_foreach(json_object_get(locked, "components"), i, c)
			json_array_foreach(json_object_get(c, "files"), k, f) {
				const char *src = wp_json_str(f, "source");

				if (src && wp_str_has_prefix(src, from)) {
					_cleanup_free_ char *moved = wp_str_fmt("%s%s", to, src + strlen(from));

					json_object_set_new(f, "source", json_string(moved));
				}
			}
		text = json_dumps(locked, JSON_COMPACT);
		{
			_cleanup_free_ char *tlock = wp_str_fmt("%s/spin.lock", tmp);

			rc = text ? wp_fs_write_atomic(tlock, text, strlen(text), 0644, err)
				  : wp_error_set(err, WP_EINVALID, "the locked app cannot be written as JSON");
		}
	}
	json_decref(locked);
	if (rc == 0 && rename(tmp, assets) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		rc = wp_error_sys(err, WP_EIO, "putting the Spin app's files in place at '%s'", assets);
	if (wp_fs_exists(tmp)) {

		(void)wp_fs_rm_rf(tmp, NULL);
	}
	if (rc < 0)
		return wp_error_prefix(err, "locking '%s'", toml);
found:
	*lock_path = lockp;
	lockp = NULL;
	return 0;
}

static const wp_opt no_opts[] = { { 0 } };

/* For the node side (node/engine_spin.c): the locked app of the spin.toml at the root of
 * an image's rootfs ROOT, made once beside ROOT; prints its path. The manifest must be a
 * regular file right there, reached through no link (an image's rootfs could hold a link
 * to a host file, or a FIFO that would hold the lock forever). */
static int run_spin_lock(wp_cli *cli)
{
	struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
	_cleanup_free_ char *lockp = NULL, *root = realpath(cli->args.items[0], NULL), *toml = NULL;
	struct stat st;
	int rfd, fd, rc;

	if (!root)
		return wp_error_sys(&cli->err, WP_ENOTFOUND, "the Spin app's root '%s'", cli->args.items[0]);
	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = rfd < 0 ? -1 : (int)syscall(SYS_openat2, rfd, "spin.toml", &how, sizeof(how));
	if (rfd >= 0)
		close(rfd);
	if (fd < 0)
		return wp_error_sys(&cli->err, WP_ENOTFOUND, "the Spin app's spin.toml (a file at the root of its image, "
				    "not a link)");
	rc = fstat(fd, &st);
	close(fd);
	if (rc < 0 || !S_ISREG(st.st_mode))
		return wp_error_set(&cli->err, WP_EINVALID, "the image's /spin.toml is not a regular file");
	toml = wp_str_fmt("%s/spin.toml", root);
	if ((rc = lock_beside(toml, &lockp, &cli->err)) == 0)
		fprintf(cli->out, "%s\n", lockp);
	return rc;
}

const wp_cmd wp_cmd_spin_lock = {
	.name = "__spin-lock",
	.args = "ROOT",
	.summary = "lock the spin.toml at the root of an image's rootfs into spin-assets beside it (for the Spin trigger)",
	.opts = no_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_spin_lock,
	.hidden = true,
};
