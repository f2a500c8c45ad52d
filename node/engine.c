#include "node/engine.h"
#include "node/engine_int.h"
#include "node/listen.h"
#include "common/path.h"
#include "node/compile.h"
#include "node/confine.h"
#include "node/init.h"
#include "node/seccomp.h"
#include "node/wit.h"
#include "oci/wasm.h"
#include "common/links.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The engine's command line as logged, at most. */
#define COMMAND_LOG_MAX (1u << 16)

/* A launcher is written once into the node cache (and again only when this version's
 * differs): a warm run reads it instead of writing and syncing it every time. */
int wp_engine__launcher_write(const char *path, const char *text, wp_error *err)
{
	wp_buf have;
	size_t len = strlen(text);
	bool same;

	wp_buf_init(&have, len + 1);
	same = wp_fs_read_file(path, len + 1, &have, NULL) == 0 && have.len == len && !memcmp(have.data, text, len);
	wp_buf_release(&have);
	return same ? 0 : wp_fs_write_atomic(path, text, len, 0644, err);
}

/* prog's full path on PATH, or NULL. */
char *wp_engine__find_on_path(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = path ? wp_xstrdup(path) : NULL;
	char *save = NULL;

	/* As execvp looks: an executable file (a folder of that name, say a build tree's
	 * node/, is passed over). */
	for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save)) {
		char *full = wp_str_fmt("%s/%s", d, prog);
		struct stat st;

		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
			return full;
		free(full);
	}
	return NULL;
}

char *wp_engine_core_path(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *core;

	self[n > 0 ? n : 0] = '\0';
	if (n > 0 && strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	core = wp_str_fmt("%s/wasmpack-core", self);
	if (n > 0 && access(core, X_OK) == 0)
		return core;
	free(core);
	return wp_engine__find_on_path("wasmpack-core");
}

/* Appends what fd has to buf (cap - 1 bytes kept, the rest dropped); false at its end. */
static bool read_some(int fd, char *buf, size_t cap, size_t *got)
{
	char sink[512];
	ssize_t n = read(fd, *got < cap - 1 ? buf + *got : sink, *got < cap - 1 ? cap - 1 - *got : sizeof(sink));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n > 0 && *got < cap - 1)
		*got += (size_t)n;
	return n > 0;
}

static size_t trimmed(char *buf, size_t got)
{
	buf[got] = '\0';
	while (got && buf[got - 1] == '\n')
		buf[--got] = '\0';
	return got;
}

int wp_engine_core_call(const wp_core_call *c, size_t *got_out, int *status, wp_error *err)
{
	_cleanup_free_ char *failed = wp_str_fmt("running %s failed", c->core);
	int po[2], pe[2];
	size_t got = 0, egot = 0;
	struct pollfd p[2];
	pid_t pid;

	if (pipe2(po, O_CLOEXEC) < 0)
		return wp_error_sys(err, WP_EIO, "pipe");
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]), close(po[1]);
		return wp_error_sys(err, WP_EIO, "pipe");
	}
	if ((pid = fork()) == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		if (c->alarm_s)
			alarm(c->alarm_s);
		execv(c->core, (char *const *)c->argv);
		/* only async-signal-safe calls here: the parent may have threads (the shim) */
		(void)!write(2, failed, strlen(failed));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]), close(pe[0]);
		return wp_error_sys(err, WP_EIO, "fork");
	}
	/* both at once: a child that fills one pipe while the other is read would wait forever */
	p[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents && !read_some(po[0], c->out, c->outcap, &got))
			p[0].fd = -1;
		if (p[1].revents && !read_some(pe[0], c->errbuf, c->errcap, &egot))
			p[1].fd = -1;
	}
	close(po[0]);
	close(pe[0]);
	*got_out = trimmed(c->out, got);
	trimmed(c->errbuf, egot);
	/* The caller's reaper may collect it first; its status then comes from the caller. */
	if (waitpid(pid, status, 0) != pid)
		*status = c->reaped_status ? c->reaped_status(c->ctx, pid) : 1 << 8;
	return 0;
}

bool wp_engine__on_path(const char *prog)
{
	_cleanup_free_ char *full = wp_engine__find_on_path(prog);

	return full != NULL;
}

static void app_release(app *a)
{
	free(a->wasm);
	free(a->spin_args[1]);
	wp_strv_release(&a->argv);
	json_decref(a->env);
	json_decref(a->preopens);
	json_decref(a->writable);
}

static void env_from(json_t *env, const char *kv)
{
	const char *eq = strchr(kv, '=');

	if (eq && eq != kv) {
		_cleanup_free_ char *k = wp_xstrndup(kv, (size_t)(eq - kv));

		json_object_set_new(env, k, json_string(eq + 1));
	}
}

/* The image layout in a container's rootfs (the shim): the OCI process names the wasm. */
static int describe_rootfs(const wp_run_spec *s, app *a, wp_error *err)
{
	json_t *args = json_object_get(s->process, "args"), *v;
	size_t i;
	wp_buf clean;
	int rc = 0;

	json_array_foreach(json_object_get(s->process, "env"), i, v)
		if (json_is_string(v))
			env_from(a->env, json_string_value(v));
	{
		_cleanup_free_ char *toml = wp_str_fmt("%s/spin.toml", s->rootfs);
		const char *a0 = json_string_value(json_array_get(args, 0));

		/* Spin's shim layout: spin.toml at the root of the rootfs, whatever the command
		 * (SpinKube's pods say "/", as containerd-shim-spin ignores it) */
		if (wp_fs_exists(toml) && (!a0 || !strcmp(a0, "/") || !*a0)) {
			a->needs_spin = true;
			a->spin_args[0] = "-f";
			a->spin_args[1] = toml;
			toml = NULL;
			return 0;
		}
	}
	if (!json_array_size(args))
		return wp_error_set(err, WP_EINVALID, "the container's process names no wasm to run (process.args is empty)");
	json_array_foreach(args, i, v)
		wp_strv_push(&a->argv, json_is_string(v) ? json_string_value(v) : "");
	wp_buf_init(&clean, WP_PATH_MAX);
	if (wp_path_clean(a->argv.items[0], &clean, err) < 0)
		rc = wp_error_set(err, WP_EINVALID, "process.args[0] '%s' is not a path in the rootfs", a->argv.items[0]);
	else
		a->wasm = wp_str_fmt("%s/%s", s->rootfs, clean.data);
	wp_buf_release(&clean);
	if (rc == 0 && access(a->wasm, R_OK) < 0)
		rc = wp_error_sys(err, WP_ENOTFOUND, "the wasm '%s' named by process.args[0]", a->argv.items[0]);
	json_object_set_new(a->preopens, "/", json_string(s->rootfs));
	return rc;
}

/* A host folder the app sees at guest: it must exist and be a folder; the engine gets
 * its real path (the confined engine sees host paths at the same place). */
/* A preopen's guest name: absolute ("/data") or relative ("fs-tests.dir", "."), as
 * wasmtime's --dir and Node.js's preopens take them; never empty nor a control character. */
static bool guest_ok(const char *guest)
{
	if (!*guest)
		return false;
	for (const char *p = guest; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int add_preopen(app *a, const char *guest, const char *host, bool writable, wp_error *err)
{
	char *real = realpath(host, NULL);
	struct stat st;
	int rc = 0;

	if (!real)
		return wp_error_sys(err, WP_ENOTFOUND, "the host folder '%s'", host);
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		rc = wp_error_set(err, WP_EUSAGE, "'%s' is not a folder", host);
	else if (!guest_ok(guest))
		rc = wp_error_set(err, WP_EUSAGE, "the app's path '%s' is empty or not printable", guest);
	else {
		json_object_set_new(a->preopens, guest, json_string(real));
		json_object_set_new(a->writable, real, json_boolean(writable));
	}
	free(real);
	return rc;
}

/* An OCI mount that binds a host path ("bind" type, or a bind/rbind option). */
static bool is_bind(json_t *m)
{
	json_t *o;
	size_t i;

	if (!strcmp(wp_json_str(m, "type") ? wp_json_str(m, "type") : "", "bind"))
		return true;
	json_array_foreach(json_object_get(m, "options"), i, o)
		if (json_is_string(o) && (!strcmp(json_string_value(o), "bind") || !strcmp(json_string_value(o), "rbind")))
			return true;
	return false;
}

/* A bind mount the spec marks "ro". */
static bool is_readonly(json_t *m)
{
	json_t *o;
	size_t i;

	json_array_foreach(json_object_get(m, "options"), i, o)
		if (json_is_string(o) && !strcmp(json_string_value(o), "ro"))
			return true;
	return false;
}

/* The wasm layout: one module, named in the unpack summary. */
static int describe_wasm(const wp_run_spec *s, app *a, wp_error *err)
{
	const char *module = s->summary->module;

	if (!module)
		return wp_error_set(err, WP_EINVALID, "the unpacked app names no module");
	a->wasm = wp_str_fmt("%s/%s", s->dir, module);
	/* argv[0] is the wasm's absolute path in the app's root, in every layout */
	{
		_cleanup_free_ char *abs = wp_str_fmt("/%s", module);

		wp_strv_push(&a->argv, abs);
	}
	return 0;
}

/* A classic scratch image: the config's Entrypoint (the wasm, a path in the rootfs), Cmd
 * (unless the run gives arguments) and Env; the rootfs is the app's "/". Spin's shim
 * layout (spin.toml at the root) is run by spin. */
static int describe_image(const wp_run_spec *s, app *a, wp_error *err)
{
	_cleanup_free_ char *cfgp = NULL;
	json_t *cfg = NULL, *c, *ep, *cmd, *v;
	wp_buf clean;
	size_t i;
	int rc;

	if (s->summary->spin_app) {
		a->needs_spin = true;
		a->spin_args[0] = "-f";
		a->spin_args[1] = wp_str_fmt("%s/rootfs/spin.toml", s->dir);
		return 0;
	}
	cfgp = wp_str_fmt("%s/config.json", s->dir);
	if ((rc = wp_json_read_file(cfgp, 16u << 20, &cfg, err)) < 0)
		return rc;
	c = json_object_get(cfg, "config");
	ep = json_object_get(c, "Entrypoint");
	cmd = json_object_get(c, "Cmd");
	if (s->process && json_array_size(json_object_get(s->process, "args"))) {
		/* a container's command (containerd made it of the image's Entrypoint and Cmd,
		 * or the pod's own): its first word is the wasm, which must be in the image; the
		 * rest follow (describe_additions) */
		const char *a0 = json_string_value(json_array_get(json_object_get(s->process, "args"), 0));
		_cleanup_free_ char *in_root = NULL;
		wp_buf p;
		struct stat st;
		bool there;

		wp_buf_init(&p, WP_PATH_MAX);
		in_root = wp_str_fmt("%s/rootfs", s->dir);
		there = a0 && wp_path_join_safe(in_root, a0, &p, err) == 0 && stat(p.data, &st) == 0 && S_ISREG(st.st_mode);
		wp_buf_release(&p);
		if (!there) {
			json_decref(cfg);
			return wp_error_set(err, WP_ENOTFOUND, "the command '%.200s' is not in the container's rootfs",
					    a0 ? a0 : "");
		}
		wp_strv_push(&a->argv, a0);
	} else {
		if (!json_array_size(ep) && !json_array_size(cmd)) {
			json_decref(cfg);
			return wp_error_set(err, WP_EINVALID, "the image names no entrypoint");
		}
		json_array_foreach(ep, i, v)
			wp_strv_push(&a->argv, json_string_value(v));
		if (!s->args.len)
			json_array_foreach(cmd, i, v)
				wp_strv_push(&a->argv, json_string_value(v));
	}
	json_array_foreach(json_object_get(c, "Env"), i, v)
		env_from(a->env, json_string_value(v));
	wp_buf_init(&clean, WP_PATH_MAX);
	if (!a->argv.len || wp_path_clean(a->argv.items[0], &clean, err) < 0)
		rc = wp_error_set(err, WP_EINVALID, "the entrypoint is not a path in the image");
	else {
		a->wasm = wp_str_fmt("%s/rootfs/%s", s->dir, clean.data);
		/* argv[0] is the wasm's absolute path in the app's root, as the image's
		 * Entrypoint may name it relative */
		free(a->argv.items[0]);
		a->argv.items[0] = wp_str_fmt("/%s", clean.data);
	}
	wp_buf_release(&clean);
	json_object_set_new(a->preopens, "/", json_pack("s++", s->dir, "/rootfs", ""));
	json_decref(cfg);
	return rc;
}

/* A Spin app from its lock file: run here when it is a command-trigger app (its first
 * command component, with that component's env and first files folder at "/"), else by
 * spin (needs_spin). */
static int describe_spin(const wp_run_spec *s, app *a, wp_error *err)
{
	_cleanup_free_ char *lockp = wp_str_fmt("%s/spin.lock", s->dir);
	json_t *locked = NULL, *t, *c = NULL, *v;
	const char *cid = NULL, *k;
	size_t i;
	int rc;

	if ((rc = wp_json_read_file(lockp, 16u << 20, &locked, err)) < 0)
		return rc;
	json_array_foreach(json_object_get(locked, "triggers"), i, t) {
		if (strcmp(wp_json_str(t, "trigger_type") ? wp_json_str(t, "trigger_type") : "", "command"))
			a->needs_spin = true;
		else if (!cid)
			cid = wp_json_str(json_object_get(t, "trigger_config"), "component");
	}
	json_array_foreach(json_object_get(locked, "components"), i, v)
		if (cid && !strcmp(wp_json_str(v, "id") ? wp_json_str(v, "id") : "", cid))
			c = v;
	a->spin_args[0] = "--from";
	a->spin_args[1] = wp_str_fmt("%s/spin.lock", s->dir);
	if (c && !a->needs_spin) {
		const char *src = wp_json_str(json_object_get(c, "source"), "source");
		const char *files = wp_json_str(json_array_get(json_object_get(c, "files"), 0), "source");

		a->wasm = src && !strncmp(src, "file://", 7) ? wp_xstrdup(src + 7) : NULL;
		wp_strv_push(&a->argv, cid);
		json_object_foreach(json_object_get(c, "env"), k, v)
			json_object_set(a->env, k, v);
		if (files && !strncmp(files, "file://", 7))
			json_object_set_new(a->preopens, "/", json_string(files + 7));
	}
	json_decref(locked);
	if (!a->wasm && !a->needs_spin)
		return wp_error_set(err, WP_EINVALID, "the Spin app has no command-trigger component to run");
	return 0;
}

/* How each unpacked layout names what to run (the summary's "layout"; anything else is
 * a Spin app's lock). */
static const struct {
	const char *layout;
	int (*describe)(const wp_run_spec *s, app *a, wp_error *err);
} layouts[] = {
	{ "wasm", describe_wasm },
	{ "image", describe_image },
};

/* HOST:GUEST split at the first colon; NULL when there is none. */
/* HOST:GUEST[:ro|:rw] (--dir, -v): the host folder (malloc'ed, NULL when there is no
 * colon), the guest name in *guest (pointing into the copy), and whether it is read-only. */
static char *split_dir(const char *spec, const char **guest, bool *ro)
{
	char *hg = wp_xstrdup(spec), *colon = strchr(hg, ':'), *mode;

	*ro = false;
	if (!colon) {
		free(hg);
		return NULL;
	}
	*colon = '\0';
	*guest = colon + 1;
	if ((mode = strrchr(colon + 1, ':')) && (!strcmp(mode, ":ro") || !strcmp(mode, ":rw"))) {
		*ro = !strcmp(mode, ":ro");
		*mode = '\0';
	}
	return hg;
}

int wp_engine_check_dirs(const wp_strv *dirs, wp_error *err)
{
	for (size_t i = 0; dirs && i < dirs->len; i++) {
		const char *guest = NULL;
		bool ro;
		_cleanup_free_ char *host = split_dir(dirs->items[i], &guest, &ro);
		struct stat st;

		if (!host || !*host)
			return wp_error_set(err, WP_EUSAGE, "'%s': want HOST:GUEST[:ro] (a host folder, then where the app "
					    "sees it)", dirs->items[i]);
		if (stat(host, &st) < 0)
			return wp_error_sys(err, WP_ENOTFOUND, "'%s': the host folder '%s'", dirs->items[i], host);
		if (!S_ISDIR(st.st_mode))
			return wp_error_set(err, WP_EUSAGE, "'%s': '%s' is not a folder", dirs->items[i], host);
		if (!guest_ok(guest))
			return wp_error_set(err, WP_EUSAGE, "'%s': the app's path '%s' is empty or not printable",
					    dirs->items[i], guest);
	}
	return 0;
}

static int describe_additions(const wp_run_spec *s, app *a, wp_error *err)
{
	json_t *v, *m;
	size_t i;
	int rc;

	if (s->process && !s->rootfs) {
		json_array_foreach(json_object_get(s->process, "env"), i, v)
			if (json_is_string(v))
				env_from(a->env, json_string_value(v));
		json_array_foreach(json_object_get(s->process, "args"), i, v)
			if (i > 0 && json_is_string(v) && !s->args.len)
				wp_strv_push(&a->argv, json_string_value(v));
	}
	/* WASI has no working folder: the container's (workingDir) reaches the app as PWD,
	 * which an app may chdir to (wasi-libc resolves relative paths against its own) */
	if (s->process && wp_json_str(s->process, "cwd") && strcmp(wp_json_str(s->process, "cwd"), "/") &&
	    !json_object_get(a->env, "PWD"))
		json_object_set_new(a->env, "PWD", json_string(wp_json_str(s->process, "cwd")));
	for (i = 0; i < s->args.len; i++)
		wp_strv_push(&a->argv, s->args.items[i]);
	for (i = 0; i < s->env.len; i++)
		env_from(a->env, s->env.items[i]);
	if ((rc = wp_engine_check_dirs(&s->dirs, err)) < 0)
		return rc;
	for (i = 0; i < s->dirs.len; i++) {
		const char *guest = NULL;
		bool ro;
		_cleanup_free_ char *host = split_dir(s->dirs.items[i], &guest, &ro);

		if ((rc = add_preopen(a, guest, host, !ro, err)) < 0)
			return wp_error_prefix(err, "'%s'", s->dirs.items[i]);
	}
	/* -w: where a docker user would have the app start; WASI has no working folder, so
	 * it is PWD, which wasi-libc resolves relative paths against */
	if (s->workdir)
		json_object_set_new(a->env, "PWD", json_string(s->workdir));
	json_array_foreach(s->mounts, i, m) {
		const char *src = wp_json_str(m, "source"), *dst = wp_json_str(m, "destination");
		struct stat st;

		if (!src || !dst || dst[0] != '/' || !is_bind(m) || stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (wp_str_has_prefix(dst, "/proc") || wp_str_has_prefix(dst, "/sys") || wp_str_has_prefix(dst, "/dev"))
			continue;
		if ((rc = add_preopen(a, dst, src, !is_readonly(m), err)) < 0)
			return wp_error_prefix(err, "the container's mount '%s'", dst);
	}
	return 0;
}

/* What to run: from the container's rootfs (the shim) or the unpacked app's layout. */
static int describe(const wp_run_spec *s, app *a, wp_error *err)
{
	const char *layout = s->summary ? s->summary->layout : NULL;
	int (*fn)(const wp_run_spec *, app *, wp_error *) = describe_spin;
	int rc;

	a->env = json_object();
	a->preopens = json_object();
	a->writable = json_object();
	if (s->rootfs)
		fn = describe_rootfs;
	else
		for (size_t i = 0; layout && i < WP_ARRAY_LEN(layouts); i++)
			if (!strcmp(layout, layouts[i].layout))
				fn = layouts[i].describe;
	if ((rc = fn(s, a, err)) < 0 || a->needs_spin)
		return rc;
	return describe_additions(s, a, err);
}

/* What the confined engine sees besides its own files: the app (a container's rootfs as
 * the container's own, writable unless the spec says otherwise; a shared cache entry
 * read-only, so an app cannot change what the next run starts from), its other folders
 * the engine's own files (launchers, compiled forms). */
static int plan_view(const wp_run_spec *s, const app *a, const wp_strv *ro, const char *exe, wp_confine *view,
		     wp_error *err)
{
	const char *host;
	json_t *w;
	int rc;

	if (s->rootfs && (rc = wp_confine_add(view, s->rootfs, s->rootfs_readonly ? WP_CONFINE_RO : WP_CONFINE_RW, err)) < 0)
		return rc;
	if (s->dir && (rc = wp_confine_add(view, s->dir, WP_CONFINE_RO, err)) < 0)
		return rc;
	for (size_t i = 0; i < ro->len; i++)
		if ((rc = wp_confine_add(view, ro->items[i], WP_CONFINE_RO, err)) < 0)
			return rc;
	json_object_foreach(a->writable, host, w)
		if ((rc = wp_confine_add(view, host, json_is_true(w) ? WP_CONFINE_RW : WP_CONFINE_RO, err)) < 0)
			return rc;
	return wp_confine_add_engine(view, exe, err);
}

/* ---- the engines: one handler each, its command line from the app ---- */

/* The app's environment for node and jco: one JSON value in the engine's environment. */
int wp_engine__app_env(engine_ctx *x, wp_error *err)
{
	_cleanup_free_ char *envj = json_dumps(x->a->env, JSON_COMPACT), *kv = NULL;

	if (!envj)
		return wp_error_set(err, WP_EINVALID, "the app's environment cannot be written as JSON");
	kv = wp_str_fmt("WASMPACK_APP_ENV=%s", envj);
	wp_strv_push(&x->env, kv);
	return 0;
}

const char *wp_engine__kind_name(int kind)
{
	return kind == WP_WASM_COMPONENT ? "a wasm component (wasip2)" : "a wasm module (wasip1)";
}

/* Opens the app's wasm beneath root (the folder the app's paths stay in) and tells a
 * module from a component; an error says what the file is instead: an image for another
 * platform must not reach an engine (whose error would be about bytes). */
int wp_engine__open_wasm(const char *root, const char *file, const char *platform, const char *shown, int *fd_out,
			 int *kind, wp_error *err)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	size_t rl = root ? strlen(root) : 0;
	unsigned char m[8] = { 0 };
	ssize_t n = -1;
	int fd;

	*fd_out = -1;
	if (root && !strncmp(file, root, rl) && file[rl] == '/') {
		int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		fd = rfd < 0 ? -1 : (int)syscall(SYS_openat2, rfd, file + rl + 1, &how, sizeof(how));
		if (rfd >= 0)
			close(rfd);
	} else
		fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return wp_error_sys(err, WP_ENOTFOUND, "the app's wasm '%s'", shown);
	n = pread(fd, m, sizeof(m), 0);
	*kind = wp_wasm_kind_of(m, n > 0 ? (size_t)n : 0);
	if (*kind != WP_WASM_NONE) {
		*fd_out = fd;
		return 0;
	}
	close(fd);
	wp_error_set(err, WP_EINVALID, "'%s' is not wasm: it is %s", shown,
		     n >= 4 && !memcmp(m, "\177ELF", 4) ? "a native program (ELF)"
		     : n >= 2 && m[0] == '#' && m[1] == '!' ? "a script (#!)"
		     : n <= 0 ? "empty"
		     : n >= 4 && !memcmp(m, "\0asm", 4) ? "of a wasm version no engine here runs"
							: "no wasm module or component (no \\0asm magic)");
	if (platform && strcmp(platform, "/"))
		wp_error_append(err, "; the image is for %s", platform);
	return wp_error_append(err, "; wasmpack runs wasm images (wasip1/wasm, wasip2/wasm)");
}

/* The image's platform ("linux/amd64"), from the unpacked config, for messages; malloc'ed
 * or NULL. */
static char *image_platform(const wp_run_spec *s)
{
	_cleanup_free_ char *cfgp = s->dir ? wp_str_fmt("%s/config.json", s->dir) : NULL;
	json_t *cfg = NULL;
	char *out = NULL;

	if (cfgp && wp_json_read_file(cfgp, 16u << 20, &cfg, NULL) == 0 && wp_json_str(cfg, "os"))
		out = wp_str_fmt("%s/%s", wp_json_str(cfg, "os"),
				 wp_json_str(cfg, "architecture") ? wp_json_str(cfg, "architecture") : "?");
	json_decref(cfg);
	return out;
}

void wp_engine_serving_release(wp_engine_serving *s)
{
	free(s->listen);
	s->listen = NULL;
	if (s->has_plan && s->plan_fd >= 0)
		close(s->plan_fd);
	s->has_plan = false;
	s->plan_fd = -1;
}

int wp_engine_command(const wp_run_spec *s, wp_strv *out, wp_strv *env, wp_confine *view, wp_engine_serving *serving,
		      wp_error *err)
{
	const char *engine = NULL, *why = "";
	wp_strv argv = { 0 };
	app a = { 0 };
	engine_ctx x = { .wasm_fd = -1, .plan_fd = -1 };
	_cleanup_free_ char *exe = NULL, *rdir = NULL, *rroot = NULL, *rlaunch = NULL;
	wp_run_spec real = *s;
	int rc;

	/* Real paths throughout: the confined engine finds each at the same place. */
	if ((s->dir && !(real.dir = rdir = realpath(s->dir, NULL))) ||
	    (s->rootfs && !(real.rootfs = rroot = realpath(s->rootfs, NULL))) ||
	    (s->launcher_dir && !(real.launcher_dir = rlaunch = realpath(s->launcher_dir, NULL))))
		return wp_error_sys(err, WP_ENOTFOUND, "the app's folder");
	s = &real;
	if ((rc = wp_engine_check_name(s->engine, err)) < 0)
		return rc;
	if ((rc = describe(s, &a, err)) < 0)
		goto done;
	if (a.wasm && !a.needs_spin) {
		_cleanup_free_ char *platform = image_platform(s);
		const char *root = s->rootfs ? s->rootfs : s->dir;

		if ((rc = wp_engine__open_wasm(root, a.wasm, platform, a.argv.len ? a.argv.items[0] : a.wasm, &x.wasm_fd, &x.kind,
				    err)) < 0)
			goto done;
		/* the wasm's header decides; a config that says otherwise is only mentioned */
		if (platform && ((x.kind == WP_WASM_COMPONENT && wp_str_has_prefix(platform, "wasip1/")) ||
				 (x.kind == WP_WASM_MODULE && wp_str_has_prefix(platform, "wasip2/"))))
			wp_info("the image says %s, and its wasm is %s: going by the wasm", platform, wp_engine__kind_name(x.kind));
	}
	if ((rc = wp_engine__choose(s, &a, x.kind, &engine, &why, err)) < 0)
		goto done;
	if (a.needs_spin)
		wp_info("the Spin app runs with %s (%s)", engine, why);
	x.s = s;
	x.a = &a;
	if ((rc = wp_engine__handler_for(engine)->command(&x, &argv, err)) < 0)
		goto done;
	if (wp_log_level() >= WP_LOG_DEBUG) {
		wp_buf line;

		wp_buf_init(&line, COMMAND_LOG_MAX);
		/* the app's env values stay out of logs (they may be secrets): names only */
		for (size_t i = 0; i < argv.len; i++) {
			const char *eq = i && !strcmp(argv.items[i - 1], "--env") ? strchr(argv.items[i], '=') : NULL;

			(void)!wp_buf_printf(&line, "%s%.*s%s", i ? " " : "", eq ? (int)(eq - argv.items[i] + 1) : INT_MAX,
					     argv.items[i], eq ? "..." : "");
		}
		if (x.kind)
			wp_debug("the app's wasm is %s", wp_engine__kind_name(x.kind));
		wp_debug("engine %s (%s): %s", engine, why, line.data ? line.data : "");
		wp_buf_release(&line);
	}
	/* The engine by its full path: the confined engine has no PATH of the host's. */
	if ((exe = wp_engine__find_on_path(argv.items[0]))) {
		free(argv.items[0]);
		argv.items[0] = wp_xstrdup(exe);
	}
	if (view && (rc = plan_view(s, &a, &x.ro, exe, view, err)) < 0)
		goto done;
	for (size_t i = 0; view && i < x.rw.len; i++)
		if ((rc = wp_confine_add(view, x.rw.items[i], WP_CONFINE_RW, err)) < 0)
			goto done;
	if (view) {
		const char *k;
		json_t *v;

		json_object_foreach(a.preopens, k, v)
			wp_strv_push(&view->app_roots, json_string_value(v));
	}
	if (serving) {
		serving->listen = x.listen;
		x.listen = NULL;
		serving->host_network = x.host_network || !strcmp(engine, "spin");
		serving->has_plan = x.plan_fd >= 0;
		serving->plan_fd = x.plan_fd;
		x.plan_fd = -1;
	}
	*out = argv;
	memset(&argv, 0, sizeof(argv));
	*env = x.env;
	memset(&x.env, 0, sizeof(x.env));
done:
	if (x.wasm_fd >= 0)
		close(x.wasm_fd);
	wp_strv_release(&x.ro);
	wp_strv_release(&x.rw);
	wp_strv_release(&x.env);
	free(x.listen);
	if (x.plan_fd >= 0)
		close(x.plan_fd);
	app_release(&a);
	wp_strv_release(&argv);
	return rc;
}

/* Said once when an unprivileged run cannot be confined. */
static void warn_unconfined(void)
{
	fprintf(stderr, "wasmpack: warning: the app runs unconfined: this kernel gives no user namespace to an "
			"unprivileged user (the image's links were checked to stay inside it)\n");
}

/* ---- wasmpack run's engine: confined, in namespaces of its own, under an init of ours ---- */

/* The serving engine's socket, bound at addr and left open across exec; its number in
 * the engine's WP_LISTEN_ENV entry. */
static int listen_for(const char *addr, wp_strv *env, int *fd, wp_error *err)
{
	wp_listen_addr la;
	int rc;

	if ((rc = wp_listen_resolve(addr, &la, err)) < 0)
		return rc;
	if ((*fd = wp_listen_bind(&la)) < 0) {
		errno = -*fd;
		*fd = -1;
		return wp_error_sys(err, errno == EADDRINUSE || errno == EACCES ? WP_EUSAGE : WP_EIO, "listening on %s", addr);
	}
	for (size_t i = 0; i < env->len; i++)
		if (wp_str_has_prefix(env->items[i], WP_LISTEN_ENV))
			wp_listen_env_set(env->items[i], *fd);
	wp_info("serving on %s", addr);
	return 0;
}

/* Confined, as the engine's process will be, with no capability and under the filter,
 * which it hands down: it only forks, waits and passes signals on (node/init.h). 0 with
 * the engine's wait status, or why it did not start. */
static int supervise(char **argv, const wp_seccomp *filter, int *status, wp_error *err)
{
	int errp[2];
	char why[512];
	ssize_t n;

	if (wp_confine_drop_caps(err) < 0)
		return err->code;
	if (wp_seccomp_enter(filter) < 0)
		return wp_error_sys(err, WP_EIO, "entering the engine's seccomp filter");
	if (pipe2(errp, O_CLOEXEC) < 0)
		return wp_error_sys(err, WP_EIO, "starting the engine");
	if (wp_init_supervise(argv, environ, errp[1], -1, true, status) < 0) {
		close(errp[0]);
		return wp_error_sys(err, WP_EIO, "starting the engine's init");
	}
	/* the reason, if the engine did not start, waits in the pipe */
	do
		n = read(errp[0], why, sizeof(why) - 1);
	while (n < 0 && errno == EINTR);
	close(errp[0]);
	if (n > 0) {
		why[n] = '\0';
		return wp_error_set(err, WP_EIO, "%s", why);
	}
	return 0;
}

int wp_engine_exec(const wp_run_spec *s, int *status, wp_error *err)
{
	wp_strv argv = { 0 }, env = { 0 };
	wp_confine view = { 0 };
	wp_seccomp filter = { 0 };
	wp_engine_serving serving = { 0 };
	int rc, lfd = -1;

	*status = 0;
	if ((rc = wp_engine_command(s, &argv, &env, &view, &serving, err)) < 0)
		goto done;
	/* An engine that serves gets its socket bound here, in the host's network, before
	 * any namespace or filter: it needs no network of its own to serve. */
	if (serving.listen && (rc = listen_for(serving.listen, &env, &lfd, err)) < 0)
		goto done;
	/* A PID namespace of its own, with our init as PID 1; no network but a loopback
	 * unless the run asks for the host's (--network host), or the app reaches hosts of
	 * its own (spin, an outbound allow-list). */
	view.extra_ns = CLONE_NEWPID;
	if (!s->network_host && (!serving.host_network || s->network_none))
		view.extra_ns |= CLONE_NEWNET;
	else if (serving.host_network && !s->network_host)
		wp_info("the app reaches hosts of its own (allowed_outbound_hosts): it keeps the host's network, the "
			"allow-list enforced by the trigger (--network none keeps it on a loopback only)");
	if ((rc = wp_seccomp_build(&filter, err)) < 0)
		goto done;
	/* the plan reaches the engine (this process only forks the init, which execs it) */
	if (serving.has_plan && fcntl(serving.plan_fd, F_SETFD, 0) < 0) {
		rc = wp_error_sys(err, WP_EIO, "handing the engine its plan");
		goto done;
	}
	for (size_t i = 0; i < env.len; i++)
		putenv(env.items[i]); /* env's strings stay: the process execs next */
	fflush(stdout);
	fflush(stderr);
	rc = wp_confine_enter(&view, err);
	if (rc == WP_CONFINE_UNAVAILABLE) {
		/* Without a namespace the engine follows links on the host: only folders with
		 * no link out of themselves are handed to it, each judged as its own root (a
		 * link from an image's rootfs up into the cache entry leaves the app too). */
		rc = 0;
		for (size_t i = 0; rc == 0 && i < view.app_roots.len; i++) {
			const char *root = view.app_roots.items[i];
			struct stat st;
			int fd;

			if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode))
				continue;
			fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			rc = fd < 0 ? wp_error_sys(err, WP_EIO, "opening '%s'", root) : wp_links_check_tree(fd, 4000000, err);
			if (fd >= 0)
				close(fd);
			if (rc < 0)
				wp_error_prefix(err, "refusing to run unconfined: in '%s'", root);
		}
		if (rc < 0)
			goto done;
		warn_unconfined();
		/* no namespace to be PID 1 of: the engine replaces the run, under the filter */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 && wp_seccomp_enter(&filter) == 0)
			execvp(argv.items[0], argv.items);
		rc = wp_error_sys(err, WP_EIO, "starting engine '%s'", argv.items[0]);
		goto done;
	} else if (rc < 0) {
		goto done;
	}
	rc = supervise(argv.items, &filter, status, err);
done:
	if (lfd >= 0)
		close(lfd);
	wp_engine_serving_release(&serving);
	wp_seccomp_release(&filter);
	wp_confine_release(&view);
	wp_strv_release(&argv);
	free(env.items); /* its strings are the environment's now (putenv) */
	return rc;
}
