#include "shim/task.h"
#include "shim/cgroup.h"
#include "node/engine.h"
#include "shim/events.h"
#include "shim/oom.h"
#include "shim/rootfs.h"
#include "shim/spawn.h"
#include "common/pb.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SERVICE "containerd.task.v2.Task"
#define SPEC_MAX (4u << 20)

typedef struct task {
	char *id, *bundle, *stdin_path, *stdout_path, *stderr_path;
	bool terminal;
	int status;
	pid_t pid;
	unsigned exit_status;
	struct timespec exited_at;
	int sync_fd, err_fd;      /* the paused engine process: go, and its exec error */
	char *mounted;            /* bundle/rootfs when we mounted it */
	char *cgroup;             /* the engine's cgroup (under each hierarchy), when the spec names one */
	wp_cgroup_oom *oom;       /* its OOM watch, in the shim's OOM set */
	struct task *next;
} task;

/* Status exits of processes reaped before their task knew its pid (a fast engine). */
typedef struct early_exit {
	pid_t pid;
	int status;
} early_exit;

struct wp_shim {
	char *ns, *address, *cache_root, *socket_path;
	pthread_mutex_t mu;
	pthread_cond_t changed;
	task *tasks;
	wp_events *events;
	volatile bool stop;
	int wake_fd;
	wp_oom_set *oom;          /* the tasks' OOM watches */
	early_exit early[64];     /* guarded by mu */
	size_t early_next;        /* the slot to reuse when all are taken */
};

static task *find(wp_shim *sh, const char *id)
{
	for (task *t = sh->tasks; t; t = t->next)
		if (!strcmp(t->id, id))
			return t;
	return NULL;
}

/* The status of a child the reaper collected before its waiter could. */
static int reaped_status(wp_shim *sh, pid_t pid)
{
	for (int tries = 0; tries < 500; tries++) {
		pthread_mutex_lock(&sh->mu);
		for (size_t i = 0; i < WP_ARRAY_LEN(sh->early); i++)
			if (sh->early[i].pid == pid) {
				int st = sh->early[i].status;

				sh->early[i].pid = 0;
				pthread_mutex_unlock(&sh->mu);
				return st;
			}
		pthread_mutex_unlock(&sh->mu);
		usleep(2000);
	}
	return 1 << 8; /* unknown: a failure */
}

static void task_free(task *t)
{
	if (t->sync_fd >= 0)
		close(t->sync_fd);
	if (t->err_fd >= 0)
		close(t->err_fd);
	free(t->id);
	free(t->bundle);
	free(t->stdin_path);
	free(t->stdout_path);
	free(t->stderr_path);
	free(t->mounted);
	free(t->cgroup);
	free(t);
}

static void oom_fired(void *ctx, wp_cgroup_oom *watch);

wp_shim *wp_shim_new(const wp_shim_opts *o)
{
	wp_shim *sh = wp_xcalloc(1, sizeof(*sh));

	if (!sh)
		return NULL;
	sh->ns = wp_xstrdup(o->ns ? o->ns : "default");
	sh->address = wp_xstrdup(o->address ? (wp_str_has_prefix(o->address, "unix://") ? o->address + 7 : o->address) : "");
	sh->cache_root = wp_xstrdup(o->cache_root);
	sh->socket_path = o->socket_path ? wp_xstrdup(o->socket_path) : NULL;
	pthread_mutex_init(&sh->mu, NULL);
	pthread_cond_init(&sh->changed, NULL);
	sh->events = wp_events_new(o->ttrpc_address, sh->ns);
	sh->oom = wp_oom_set_new(oom_fired, sh);
	sh->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return sh;
}

/* TaskOOM {container_id = 1} when the kernel's OOM killer acts in a task's cgroup: CRI
 * turns it into the container's OOMKilled reason. On the OOM set's thread. */
static void oom_fired(void *ctx, wp_cgroup_oom *watch)
{
	wp_shim *sh = ctx;

	pthread_mutex_lock(&sh->mu);
	/* the watch may belong to a task deleted meanwhile: only a live one counts */
	for (task *t = sh->tasks; t; t = t->next)
		if (t->oom == watch && wp_cgroup_oom_fired(t->oom)) {
			wp_buf e;

			wp_info("task %s: the OOM killer acted in its cgroup", t->id);
			wp_buf_init(&e, 4096);
			if (wp_pb_put_str(&e, 1, t->id) == 0)
				wp_events_publish(sh->events, "/tasks/oom", "containerd.events.TaskOOM", &e);
			wp_buf_release(&e);
		}
	pthread_mutex_unlock(&sh->mu);
}

/* Called with sh->mu held. */
static void watch_oom(wp_shim *sh, task *t)
{
	if (!t->cgroup || !(t->oom = wp_cgroup_oom_watch(t->cgroup)))
		return;
	if (wp_oom_set_add(sh->oom, t->oom) < 0) {
		wp_cgroup_oom_free(t->oom);
		t->oom = NULL;
	}
}

static void unwatch_oom(wp_shim *sh, task *t)
{
	if (!t->oom)
		return;
	if (sh->oom)
		wp_oom_set_remove(sh->oom, t->oom);
	wp_cgroup_oom_free(t->oom);
	t->oom = NULL;
}

volatile bool *wp_shim_stop_flag(wp_shim *sh)
{
	return &sh->stop;
}

int wp_shim_wake_fd(wp_shim *sh)
{
	return sh->wake_fd;
}

/* With sh->mu held. */
static void stop_locked(wp_shim *sh)
{
	uint64_t one = 1;

	sh->stop = true;
	pthread_cond_broadcast(&sh->changed); /* Wait calls end: the server waits for them */
	(void)!write(sh->wake_fd, &one, sizeof(one));
}

void wp_shim_request_stop(wp_shim *sh)
{
	pthread_mutex_lock(&sh->mu);
	stop_locked(sh);
	pthread_mutex_unlock(&sh->mu);
}

void wp_shim_free(wp_shim *sh)
{
	task *t, *n;

	if (!sh)
		return;
	/* the OOM thread first: it takes sh->mu and walks the tasks */
	wp_oom_set_free(sh->oom);
	sh->oom = NULL;
	for (t = sh->tasks; t; t = n) {
		n = t->next;
		if (t->pid > 0 && t->status != WP_TASK_STOPPED)
			kill(-t->pid, SIGKILL);
		unwatch_oom(sh, t);
		task_free(t);
	}
	wp_events_close(sh->events, 2000);
	if (sh->wake_fd >= 0)
		close(sh->wake_fd);
	free(sh->ns);
	free(sh->address);
	free(sh->cache_root);
	free(sh->socket_path);
	free(sh);
}

/* ---- messages ---- */

/* The fields of the Task service's requests (containerd's runtime/v2/task/shim.proto),
 * by message: a field's number means something else in each. */
enum {
	F_ID = 1,                 /* every request: the container id */
	F_EXEC_ID = 2,            /* all but Create: the exec process (none here) */
	F_CREATE_BUNDLE = 2,
	F_CREATE_ROOTFS = 3,      /* repeated Mount */
	F_CREATE_TERMINAL = 4,
	F_CREATE_STDIN = 5,
	F_CREATE_STDOUT = 6,
	F_CREATE_STDERR = 7,
	F_KILL_SIGNAL = 3,
	F_KILL_ALL = 4,
};

/* A request's fields by number (below 12): strings, numbers, and Create's rootfs mounts. */
typedef struct fields {
	char *s[12];
	uint64_t v[12];
	wp_rootfs_mount mounts[16];
	size_t n_mounts;
} fields;

static int decode(const wp_ttrpc_request *req, fields *fs)
{
	wp_pb_reader r;
	wp_pb_field f;
	int n;

	memset(fs, 0, sizeof(*fs));
	wp_pb_reader_init(&r, req->payload, req->payload_len);
	while ((n = wp_pb_next(&r, &f)) > 0) {
		if (f.num >= 12)
			continue;
		if (f.wire == WP_PB_VARINT)
			fs->v[f.num] = f.v;
		else if (f.wire == WP_PB_LEN && !strcmp(req->method, "Create") && f.num == F_CREATE_ROOTFS) {
			if (fs->n_mounts >= WP_ARRAY_LEN(fs->mounts) ||
			    wp_rootfs_mount_decode(f.data, f.len, &fs->mounts[fs->n_mounts++]) < 0)
				return -1;
		} else if (f.wire == WP_PB_LEN) {
			/* a binary field (Create's options) is no string: left out */
			free(fs->s[f.num]);
			fs->s[f.num] = wp_pb_strdup(&f);
		}
	}
	return n;
}

static void fields_release(fields *fs)
{
	for (size_t i = 0; i < WP_ARRAY_LEN(fs->s); i++)
		free(fs->s[i]);
	for (size_t i = 0; i < fs->n_mounts; i++)
		wp_rootfs_mount_release(&fs->mounts[i]);
}

int wp_shim_delete_response(wp_buf *out, pid_t pid, unsigned exit_status, const struct timespec *at)
{
	int rc;

	if ((rc = wp_pb_put_varint(out, 1, (uint64_t)pid)) < 0 || (rc = wp_pb_put_varint(out, 2, exit_status)) < 0)
		return rc;
	return wp_pb_put_timestamp(out, 3, at);
}

static void publish_exit(wp_shim *sh, const task *t)
{
	wp_buf ev;

	/* TaskExit {container_id = 1, id = 2, pid = 3, exit_status = 4, exited_at = 5} */
	wp_buf_init(&ev, 4096);
	if (wp_pb_put_str(&ev, 1, t->id) == 0 && wp_pb_put_str(&ev, 2, t->id) == 0 &&
	    wp_pb_put_varint(&ev, 3, (uint64_t)t->pid) == 0 && wp_pb_put_varint(&ev, 4, t->exit_status) == 0 &&
	    wp_pb_put_timestamp(&ev, 5, &t->exited_at) == 0)
		wp_events_publish(sh->events, "/tasks/exit", "containerd.events.TaskExit", &ev);
	wp_buf_release(&ev);
}

static unsigned exit_code(int status)
{
	if (WIFEXITED(status))
		return (unsigned)WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128u + (unsigned)WTERMSIG(status);
	return 255;
}

static void mark_exited(wp_shim *sh, task *t, int status)
{
	t->status = WP_TASK_STOPPED;
	t->exit_status = exit_code(status);
	clock_gettime(CLOCK_REALTIME, &t->exited_at);
	wp_debug("task %s: pid %d exited with %u", t->id, (int)t->pid, t->exit_status);
	publish_exit(sh, t);
	pthread_cond_broadcast(&sh->changed);
}

void wp_shim_reaped(wp_shim *sh, pid_t pid, int status)
{
	pthread_mutex_lock(&sh->mu);
	for (task *t = sh->tasks; t; t = t->next)
		if (t->pid == pid && t->status != WP_TASK_STOPPED) {
			mark_exited(sh, t, status);
			pthread_mutex_unlock(&sh->mu);
			return;
		}
	/* Not known yet (Create has not recorded it, or a helper's): kept for its waiter; when
	 * every slot is taken the oldest goes. */
	{
		size_t i;

		for (i = 0; i < WP_ARRAY_LEN(sh->early) && sh->early[i].pid; i++)
			;
		if (i == WP_ARRAY_LEN(sh->early))
			i = sh->early_next++ % WP_ARRAY_LEN(sh->early);
		sh->early[i] = (early_exit){ pid, status };
	}
	pthread_mutex_unlock(&sh->mu);
}

/* ---- finding the app ---- */

/* The artifact layouts: wasmpack-core (next to the shim) reads the container's image
 * through containerd's API and unpacks it into the node cache, once per manifest digest;
 * it prints the entry's path. A process of its own, so the shim, which lives as long as
 * its containers, never loads libcurl, libarchive or OpenSSL. */
static int app_from_containerd(wp_shim *sh, const char *id, char **entry_out, char msg[256])
{
	char self[PATH_MAX], out[PATH_MAX + 1] = "", errbuf[512] = "";
	ssize_t n;
	_cleanup_free_ char *core = NULL;
	int po[2], pe[2], status;
	size_t got_out = 0, got_err = 0;
	pid_t pid;

	if (!*sh->address) {
		snprintf(msg, 256, "the rootfs holds no app and containerd's address is unknown");
		return WP_RPC_FAILED_PRECONDITION;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (n > 0 && strrchr(self, '/'))
		*strrchr(self, '/') = '\0';
	core = wp_strfmt("%s/wasmpack-core", self);
	if (!core || access(core, X_OK) < 0) {
		free(core);
		core = wp_xstrdup("wasmpack-core"); /* from PATH */
	}
	if (pipe2(po, O_CLOEXEC) < 0)
		return snprintf(msg, 256, "pipe: %s", strerror(errno)), WP_RPC_INTERNAL;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]), close(po[1]);
		return snprintf(msg, 256, "pipe: %s", strerror(errno)), WP_RPC_INTERNAL;
	}
	if ((pid = fork()) == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execlp(core, "wasmpack-core", "__shim-fetch", "--address", sh->address, "--namespace", sh->ns, "--cache",
		       sh->cache_root, id, (char *)NULL);
		fprintf(stderr, "running %s: %s", core, strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]), close(pe[0]);
		return snprintf(msg, 256, "fork: %s", strerror(errno)), WP_RPC_INTERNAL;
	}
	/* Both small: the path, or an error line. */
	while ((n = read(po[0], out + got_out, sizeof(out) - 1 - got_out)) > 0)
		got_out += (size_t)n;
	while ((n = read(pe[0], errbuf + got_err, sizeof(errbuf) - 1 - got_err)) > 0)
		got_err += (size_t)n;
	close(po[0]);
	close(pe[0]);
	/* The reaper may collect it first; its status then comes from the early-exit list. */
	if (waitpid(pid, &status, 0) != pid)
		status = reaped_status(sh, pid);
	out[got_out] = errbuf[got_err] = '\0';
	while (got_out && out[got_out - 1] == '\n')
		out[--got_out] = '\0';
	while (got_err && errbuf[got_err - 1] == '\n')
		errbuf[--got_err] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !got_out) {
		const char *e = errbuf;

		if (wp_str_has_prefix(e, "wasmpack: "))
			e += strlen("wasmpack: ");
		snprintf(msg, 256, "%.250s", *e ? e : "finding the app through containerd failed");
		return WIFEXITED(status) && WEXITSTATUS(status) == 3 ? WP_RPC_NOT_FOUND : WP_RPC_FAILED_PRECONDITION;
	}
	*entry_out = wp_xstrdup(out);
	return *entry_out ? WP_RPC_OK : WP_RPC_RESOURCE_EXHAUSTED;
}

static json_t *load_json_file(const char *path, wp_error *err)
{
	json_t *j = NULL;

	wp_json_read_file(path, SPEC_MAX, &j, err);
	return j;
}

/* The wasm the process names must be a file inside the rootfs after every symlink: the
 * engine runs as root (unless process.user says otherwise) and would follow a link out of
 * the image onto the node. */
static int wasm_beneath(const char *rootfs, json_t *process, char msg[256])
{
	const char *a0 = json_string_value(json_array_get(json_object_get(process, "args"), 0));
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	wp_buf clean;
	wp_error err;
	int root, fd = -1;

	if (!a0)
		return 0; /* a Spin app's spin.toml: spin reads it */
	wp_buf_init(&clean, 4096);
	if (wp_path_clean(a0, &clean, &err) == 0 && (root = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fd = (int)syscall(SYS_openat2, root, clean.data, &how, sizeof(how));
		close(root);
	}
	wp_buf_release(&clean);
	if (fd < 0) {
		snprintf(msg, 256, "the wasm '%.100s' named by process.args[0] is not a file inside the rootfs", a0);
		return -1;
	}
	close(fd);
	return 0;
}

/* Does the rootfs hold what the process names (or a Spin app)? */
static bool rootfs_has_app(const char *rootfs, json_t *process)
{
	const char *a0 = json_string_value(json_array_get(json_object_get(process, "args"), 0));
	wp_buf p;
	wp_error err;
	struct stat st;
	bool found;

	/* args[0] comes from the image: ".." cannot climb out of the rootfs */
	wp_buf_init(&p, 4096);
	found = wp_path_join_safe(rootfs, a0 ? a0 : "spin.toml", &p, &err) == 0 && stat(p.data, &st) == 0 &&
		S_ISREG(st.st_mode);
	wp_buf_release(&p);
	return found;
}

static int do_create(wp_shim *sh, const fields *fs, wp_buf *reply, char msg[256])
{
	const char *id = fs->s[F_ID], *bundle = fs->s[F_CREATE_BUNDLE];
	_cleanup_free_ char *spec_path = NULL, *rootfs = NULL, *entry = NULL, *summary_path = NULL;
	json_t *spec = NULL, *process, *summary = NULL;
	wp_run_spec run = { 0 };
	wp_strv argv = { 0 };
	task *t = NULL;
	wp_error err = WP_ERROR_INIT;
	wp_spawn_plan nsp = { .fd = { -1, -1, -1 } };
	wp_confine view = { 0 };
	_cleanup_free_ char *real_rootfs = NULL;
	bool mounted = false, sandbox;
	int code = WP_RPC_OK, cg = 0;
	char *cg_procs = NULL;

	if (!id || !*id || !bundle || !*bundle)
		return snprintf(msg, 256, "Create needs an id and a bundle"), WP_RPC_INVALID_ARGUMENT;
	if (fs->v[F_CREATE_TERMINAL])
		wp_info("task %s asks for a terminal; the app gets the FIFOs containerd gave", id);
	pthread_mutex_lock(&sh->mu);
	t = find(sh, id);
	pthread_mutex_unlock(&sh->mu);
	if (t)
		return snprintf(msg, 256, "task %s: already exists", id), WP_RPC_ALREADY_EXISTS;
	spec_path = wp_strfmt("%s/config.json", bundle);
	rootfs = wp_strfmt("%s/rootfs", bundle);
	if (!spec_path || !rootfs || !(spec = load_json_file(spec_path, &err))) {
		snprintf(msg, 256, "task %s: reading the bundle's config.json: %s", id, err.msg);
		return WP_RPC_INVALID_ARGUMENT;
	}
	process = json_object_get(spec, "process");
	if (wp_fs_mkdir_p(sh->cache_root, 0755, &err) < 0) {
		snprintf(msg, 256, "task %s: %s", id, err.msg);
		json_decref(spec);
		return WP_RPC_INTERNAL;
	}
	if (fs->n_mounts) {
		wp_error merr;

		if (wp_rootfs_mount_all(rootfs, fs->mounts, fs->n_mounts, &merr) < 0) {
			snprintf(msg, 256, "%.255s", merr.msg);
			json_decref(spec);
			return WP_RPC_INTERNAL;
		}
		mounted = true;
	}
	wp_spawn_plan_user(process, &nsp);
	if (wp_spawn_plan_namespaces(spec, &nsp, &err) < 0) {
		snprintf(msg, 256, "%.255s", err.msg);
		code = WP_RPC_INVALID_ARGUMENT;
		goto done;
	}
	sandbox = !strcmp(wp_json_str(json_object_get(spec, "annotations"), "io.kubernetes.cri.container-type") ?
				  wp_json_str(json_object_get(spec, "annotations"), "io.kubernetes.cri.container-type") : "",
			  "sandbox");
	run.process = process;
	run.launcher_dir = sh->cache_root;
	run.engine = wp_json_str(json_object_get(spec, "annotations"), "dev.wasmpack.engine");
	if (!run.engine || !*run.engine) {
		/* The node's default engine (containerd's environment) yields to what an app needs. */
		run.engine = getenv("WASMPACK_ENGINE") && *getenv("WASMPACK_ENGINE") ? getenv("WASMPACK_ENGINE") : NULL;
		run.engine_default = true;
	}
	if (sandbox) {
		/* The pod's sandbox (pause) image is a native program: its only job, holding the
		 * pod's namespaces, is done by CRI's pinned namespaces; a waiting process stands in. */
	} else if (rootfs_has_app(rootfs, process)) {
		if (wasm_beneath(rootfs, process, msg) < 0) {
			code = WP_RPC_INVALID_ARGUMENT;
			goto done;
		}
		run.rootfs = rootfs;
		real_rootfs = realpath(rootfs, NULL);
	} else {
		char why[256];

		if ((code = app_from_containerd(sh, id, &entry, why)) != WP_RPC_OK) {
			snprintf(msg, 256, "task %.64s: %.180s", id, why);
			goto done;
		}
		summary_path = wp_strfmt("%s/.wasmpack-unpack.json", entry);
		if (wp_json_read_file(summary_path, 1 << 20, &summary, &err) < 0) {
			snprintf(msg, 256, "task %s: the unpacked app: %s", id, err.msg);
			code = WP_RPC_INTERNAL;
			goto done;
		}
		run.dir = entry;
		run.summary = summary;
	}
	run.mounts = json_object_get(spec, "mounts");
	run.rootfs_readonly = json_is_true(json_object_get(json_object_get(spec, "root"), "readonly"));
	if (!sandbox && wp_engine_command(&run, &argv, &view, &err) < 0) {
		snprintf(msg, 256, "task %s: %s", id, err.msg);
		code = err.code == WP_ENOTFOUND ? WP_RPC_NOT_FOUND : WP_RPC_FAILED_PRECONDITION;
		goto done;
	}
	if (!(t = wp_xcalloc(1, sizeof(*t)))) {
		code = WP_RPC_RESOURCE_EXHAUSTED;
		goto done;
	}
	t->sync_fd = t->err_fd = -1;
	t->id = wp_xstrdup(id);
	t->bundle = wp_xstrdup(bundle);
	t->stdin_path = wp_xstrdup(fs->s[F_CREATE_STDIN] ? fs->s[F_CREATE_STDIN] : "");
	t->stdout_path = wp_xstrdup(fs->s[F_CREATE_STDOUT] ? fs->s[F_CREATE_STDOUT] : "");
	t->stderr_path = wp_xstrdup(fs->s[F_CREATE_STDERR] ? fs->s[F_CREATE_STDERR] : "");
	t->terminal = fs->v[F_CREATE_TERMINAL] != 0;
	t->status = WP_TASK_CREATED;
	if (mounted)
		t->mounted = wp_xstrdup(rootfs);
	pthread_mutex_lock(&sh->mu);
	if (find(sh, id)) {
		pthread_mutex_unlock(&sh->mu);
		snprintf(msg, 256, "task %s: already exists", id);
		code = WP_RPC_ALREADY_EXISTS;
		goto done;
	}
	/* The pod's limits before the engine runs a single instruction of the app. */
	t->cgroup = wp_cgroup_dir(wp_json_str(json_object_get(spec, "linux"), "cgroupsPath"));
	if (t->cgroup) {
		bool own;

		cg = wp_cgroup_prepare(t->cgroup, json_object_get(json_object_get(spec, "linux"), "resources"), &cg_procs,
				       &own, &err);
		if (cg < 0) {
			snprintf(msg, 256, "%.255s", err.msg);
			pthread_mutex_unlock(&sh->mu);
			wp_cgroup_remove(t->cgroup);
			code = WP_RPC_FAILED_PRECONDITION;
			goto done;
		}
		if (!own) {
			wp_info("task %s: no cgroup of its own: %s", id, err.msg);
			free(cg_procs);
			cg_procs = NULL;
		}
	}
	/* The shared cache entry is read-only for the app; a rootfs is the container's own
	 * (its snapshot), writable as under runc. */
	{
		wp_spawn_io io = { t->stdin_path, t->stdout_path, t->stderr_path };
		wp_spawn_child child;

		if (wp_spawn_paused(&io, sandbox ? NULL : argv.items, &nsp, cg_procs, &view, real_rootfs, &child, &err) < 0) {
			pthread_mutex_unlock(&sh->mu);
			snprintf(msg, 256, "%.255s", err.msg);
			code = WP_RPC_INTERNAL;
			goto done;
		}
		t->pid = child.pid;
		t->sync_fd = child.sync_fd;
		t->err_fd = child.err_fd;
	}
	/* The pod's limits before the engine runs a single instruction of the app. */
	for (size_t i = 0; i < WP_ARRAY_LEN(sh->early); i++)
		if (sh->early[i].pid == t->pid) {
			sh->early[i].pid = 0;
			mark_exited(sh, t, sh->early[i].status);
		}
	t->next = sh->tasks;
	sh->tasks = t;
	watch_oom(sh, t);
	{
		wp_buf ev, io;

		/* TaskCreate {container_id = 1, bundle = 2, rootfs = 3, io = 4, checkpoint = 5,
		 * pid = 6}; TaskIO {stdin = 1, stdout = 2, stderr = 3, terminal = 4} */
		wp_buf_init(&ev, 1 << 20);
		wp_buf_init(&io, 1 << 20);
		if (wp_pb_put_str(&io, 1, t->stdin_path) == 0 && wp_pb_put_str(&io, 2, t->stdout_path) == 0 &&
		    wp_pb_put_str(&io, 3, t->stderr_path) == 0 && wp_pb_put_varint(&io, 4, t->terminal) == 0 &&
		    wp_pb_put_str(&ev, 1, id) == 0 && wp_pb_put_str(&ev, 2, bundle) == 0 && wp_pb_put_msg(&ev, 4, &io) == 0 &&
		    wp_pb_put_varint(&ev, 6, (uint64_t)t->pid) == 0)
			wp_events_publish(sh->events, "/tasks/create", "containerd.events.TaskCreate", &ev);
		wp_buf_release(&ev);
		wp_buf_release(&io);
	}
	wp_pb_put_varint(reply, 1, (uint64_t)t->pid);
	pthread_mutex_unlock(&sh->mu);
	{
		/* Where `delete` finds a process left behind by a shim that died. */
		_cleanup_free_ char *pidf = wp_strfmt("%s/wasmpack.pid", bundle);
		char num[32];
		int n = snprintf(num, sizeof(num), "%d", (int)t->pid);

		if (pidf)
			wp_fs_write_atomic(pidf, num, (size_t)n, 0644, &err);
	}
	wp_info("task %s created: pid %d, %s", id, (int)t->pid,
		sandbox ? "a pod sandbox" : run.rootfs ? "from the rootfs" : entry);
	t = NULL;
done:
	if (t) {
		if (t->mounted) {
			free(t->mounted);
			t->mounted = NULL;
		}
		task_free(t);
	}
	if (code != WP_RPC_OK && mounted)
		wp_rootfs_unmount_all(rootfs);
	wp_strv_release(&argv);
	wp_confine_release(&view);
	free(cg_procs);
	wp_spawn_plan_release(&nsp);
	json_decref(summary);
	json_decref(spec);
	return code;
}

static int need_task(wp_shim *sh, const fields *fs, task **t, char msg[256])
{
	const char *exec_id = fs->s[F_EXEC_ID];

	if (!fs->s[F_ID] || !(*t = find(sh, fs->s[F_ID]))) {
		snprintf(msg, 256, "task %s: not found", fs->s[F_ID] ? fs->s[F_ID] : "");
		return WP_RPC_NOT_FOUND;
	}
	if (exec_id && *exec_id) {
		snprintf(msg, 256, "task %s: exec processes are not supported", fs->s[F_ID]);
		return WP_RPC_NOT_FOUND;
	}
	return WP_RPC_OK;
}

typedef struct join_arg {
	char *dir;
	pid_t pid;
} join_arg;

static void *join_rest(void *arg)
{
	join_arg *j = arg;

	wp_cgroup_join_rest(j->dir, j->pid);
	free(j->dir);
	free(j);
	return NULL;
}

/* The engine's remaining v1 cgroups, on a thread of their own (wp_cgroup_join_rest). */
static void join_rest_later(const char *dir, pid_t pid)
{
	join_arg *j = wp_xmalloc(sizeof(*j));
	pthread_attr_t attr;
	pthread_t th;

	if (!j || !(j->dir = wp_xstrdup(dir))) {
		free(j);
		return;
	}
	j->pid = pid;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128u << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, join_rest, j) != 0)
		join_rest(j);
	pthread_attr_destroy(&attr);
}

static int do_start(wp_shim *sh, const fields *fs, wp_buf *reply, char msg[256])
{
	task *t;
	int code, sync_fd, err_fd;
	char why[200] = "";
	ssize_t n, got = 0;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, msg)) != WP_RPC_OK) {
		pthread_mutex_unlock(&sh->mu);
		return code;
	}
	if (t->status != WP_TASK_CREATED || t->sync_fd < 0) {
		/* A process that failed its setup (cgroup, namespaces, user) said why on err_fd. */
		char why2[200] = "";
		ssize_t n2 = t->err_fd >= 0 && t->status == WP_TASK_STOPPED ? read(t->err_fd, why2, sizeof(why2) - 1) : 0;

		pthread_mutex_unlock(&sh->mu);
		if (n2 > 0) {
			why2[n2] = '\0';
			snprintf(msg, 256, "task %.64s: %s", fs->s[F_ID], why2);
		} else
			snprintf(msg, 256, "task %s: cannot start a task that is not created", t->id);
		return WP_RPC_FAILED_PRECONDITION;
	}
	sync_fd = t->sync_fd;
	err_fd = t->err_fd;
	t->sync_fd = t->err_fd = -1;
	t->status = WP_TASK_RUNNING;
	pthread_mutex_unlock(&sh->mu);
	(void)!write(sync_fd, "g", 1);
	close(sync_fd);
	while ((n = read(err_fd, why + got, sizeof(why) - 1 - (size_t)got)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	close(err_fd);
	if (got) {
		why[got] = '\0';
		snprintf(msg, 256, "task %s: %s", fs->s[F_ID], why);
		return WP_RPC_FAILED_PRECONDITION;
	}
	pthread_mutex_lock(&sh->mu);
	if ((t = find(sh, fs->s[F_ID]))) {
		wp_buf ev;

		if (t->cgroup)
			join_rest_later(t->cgroup, t->pid);
		wp_pb_put_varint(reply, 1, (uint64_t)t->pid);
		/* TaskStart {container_id = 1, pid = 2} */
		wp_buf_init(&ev, 4096);
		if (wp_pb_put_str(&ev, 1, t->id) == 0 && wp_pb_put_varint(&ev, 2, (uint64_t)t->pid) == 0)
			wp_events_publish(sh->events, "/tasks/start", "containerd.events.TaskStart", &ev);
		wp_buf_release(&ev);
	}
	pthread_mutex_unlock(&sh->mu);
	return WP_RPC_OK;
}

static int do_wait(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, char msg[256])
{
	task *t;
	int code;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		if ((code = need_task(sh, fs, &t, msg)) != WP_RPC_OK)
			break;
		if (t->status == WP_TASK_STOPPED) {
			wp_pb_put_varint(reply, 1, t->exit_status);
			wp_pb_put_timestamp(reply, 2, &t->exited_at);
			break;
		}
		if (sh->stop) {
			snprintf(msg, 256, "task %s: the shim is shutting down", t->id);
			code = WP_RPC_UNAVAILABLE;
			break;
		}
		if (deadline) {
			if (pthread_cond_timedwait(&sh->changed, &sh->mu, deadline) == ETIMEDOUT) {
				snprintf(msg, 256, "task %s: still running at the deadline", t->id);
				code = WP_RPC_DEADLINE_EXCEEDED;
				break;
			}
		} else
			pthread_cond_wait(&sh->changed, &sh->mu);
	}
	pthread_mutex_unlock(&sh->mu);
	return code;
}

static int do_kill(wp_shim *sh, const fields *fs, char msg[256])
{
	task *t;
	int code, sig = fs->v[F_KILL_SIGNAL] ? (int)fs->v[F_KILL_SIGNAL] : SIGTERM;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, msg)) == WP_RPC_OK) {
		if (t->status == WP_TASK_STOPPED || t->pid <= 0) {
			snprintf(msg, 256, "task %s: process already finished: not found", t->id);
			code = WP_RPC_NOT_FOUND;
		} else {
			/* all: the engine's process group (it leads one); should the group be gone
			 * while the engine is not, the engine itself. */
			int r = fs->v[F_KILL_ALL] ? kill(-t->pid, sig) : kill(t->pid, sig);

			if (r < 0 && fs->v[F_KILL_ALL])
				r = kill(t->pid, sig);
			if (r < 0) {
				snprintf(msg, 256, "task %s: kill: %s", t->id, strerror(errno));
				code = errno == ESRCH ? WP_RPC_NOT_FOUND : WP_RPC_INTERNAL;
			}
		}
	}
	pthread_mutex_unlock(&sh->mu);
	return code;
}

static int do_delete(wp_shim *sh, const fields *fs, wp_buf *reply, char msg[256])
{
	task *t, **pp;
	int code;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, msg)) != WP_RPC_OK) {
		pthread_mutex_unlock(&sh->mu);
		return code;
	}
	if (t->status == WP_TASK_RUNNING) {
		pthread_mutex_unlock(&sh->mu);
		snprintf(msg, 256, "task %s: cannot delete a running task", t->id);
		return WP_RPC_FAILED_PRECONDITION;
	}
	if (t->status == WP_TASK_CREATED) {
		/* Never started: the held process goes. */
		struct timespec dl;

		kill(t->pid, SIGKILL);
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 5;
		while (t->status != WP_TASK_STOPPED && pthread_cond_timedwait(&sh->changed, &sh->mu, &dl) == 0)
			;
	}
	for (pp = &sh->tasks; *pp != t; pp = &(*pp)->next)
		;
	*pp = t->next;
	unwatch_oom(sh, t);
	pthread_mutex_unlock(&sh->mu);
	if (t->mounted)
		wp_rootfs_unmount_all(t->mounted);
	if (t->cgroup)
		wp_cgroup_remove(t->cgroup);
	wp_shim_delete_response(reply, t->pid, t->exit_status, &t->exited_at);
	{
		wp_buf ev;

		/* TaskDelete {container_id = 1, pid = 2, exit_status = 3, exited_at = 4} */
		wp_buf_init(&ev, 4096);
		if (wp_pb_put_str(&ev, 1, t->id) == 0 && wp_pb_put_varint(&ev, 2, (uint64_t)t->pid) == 0 &&
		    wp_pb_put_varint(&ev, 3, t->exit_status) == 0 && wp_pb_put_timestamp(&ev, 4, &t->exited_at) == 0)
			wp_events_publish(sh->events, "/tasks/delete", "containerd.events.TaskDelete", &ev);
		wp_buf_release(&ev);
	}
	wp_info("task %s deleted (exit status %u)", t->id, t->exit_status);
	task_free(t);
	return WP_RPC_OK;
}

static int do_state(wp_shim *sh, const fields *fs, wp_buf *reply, char msg[256])
{
	task *t;
	int code;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, msg)) == WP_RPC_OK) {
		wp_pb_put_str(reply, 1, t->id);
		wp_pb_put_str(reply, 2, t->bundle);
		wp_pb_put_varint(reply, 3, (uint64_t)t->pid);
		wp_pb_put_varint(reply, 4, (uint64_t)t->status);
		wp_pb_put_str(reply, 5, t->stdin_path);
		wp_pb_put_str(reply, 6, t->stdout_path);
		wp_pb_put_str(reply, 7, t->stderr_path);
		wp_pb_put_varint(reply, 8, t->terminal);
		wp_pb_put_varint(reply, 9, t->exit_status);
		if (t->status == WP_TASK_STOPPED)
			wp_pb_put_timestamp(reply, 10, &t->exited_at);
	}
	pthread_mutex_unlock(&sh->mu);
	return code;
}

int wp_shim_handle(void *ctx, const wp_ttrpc_request *req, const struct timespec *deadline, wp_buf *reply,
		   char msg[256])
{
	wp_shim *sh = ctx;
	const char *m = req->method;
	fields fs;
	int code = WP_RPC_OK;
	task *t;

	if (strcmp(req->service, SERVICE)) {
		snprintf(msg, 256, "service %s: unimplemented", req->service);
		return WP_RPC_UNIMPLEMENTED;
	}
	if (decode(req, &fs) < 0) {
		fields_release(&fs);
		snprintf(msg, 256, "%s: malformed request", m);
		return WP_RPC_INVALID_ARGUMENT;
	}
	if (!strcmp(m, "Create"))
		code = do_create(sh, &fs, reply, msg);
	else if (!strcmp(m, "Start"))
		code = do_start(sh, &fs, reply, msg);
	else if (!strcmp(m, "Wait"))
		code = do_wait(sh, &fs, deadline, reply, msg);
	else if (!strcmp(m, "Kill"))
		code = do_kill(sh, &fs, msg);
	else if (!strcmp(m, "Delete"))
		code = do_delete(sh, &fs, reply, msg);
	else if (!strcmp(m, "State"))
		code = do_state(sh, &fs, reply, msg);
	else if (!strcmp(m, "Pids")) {
		pthread_mutex_lock(&sh->mu);
		if ((code = need_task(sh, &fs, &t, msg)) == WP_RPC_OK && t->pid > 0 && t->status != WP_TASK_STOPPED) {
			wp_buf pi;

			/* ProcessInfo {pid = 1} */
			wp_buf_init(&pi, 64);
			if (wp_pb_put_varint(&pi, 1, (uint64_t)t->pid) == 0)
				wp_pb_put_msg(reply, 1, &pi);
			wp_buf_release(&pi);
		}
		pthread_mutex_unlock(&sh->mu);
	} else if (!strcmp(m, "Connect")) {
		pthread_mutex_lock(&sh->mu);
		t = fs.s[F_ID] ? find(sh, fs.s[F_ID]) : NULL;
		wp_pb_put_varint(reply, 1, (uint64_t)getpid());
		if (t)
			wp_pb_put_varint(reply, 2, (uint64_t)t->pid);
		wp_pb_put_str(reply, 3, "wasmpack");
		pthread_mutex_unlock(&sh->mu);
	} else if (!strcmp(m, "Stats")) {
		/* StatsResponse {stats = 1 (Any: the cgroup's Metrics)} */
		pthread_mutex_lock(&sh->mu);
		if ((code = need_task(sh, &fs, &t, msg)) == WP_RPC_OK) {
			wp_buf metrics;
			const char *type = NULL;

			wp_buf_init(&metrics, 1 << 16);
			if (!t->cgroup || wp_cgroup_metrics(t->cgroup, &metrics, &type) < 0) {
				snprintf(msg, 256, "task %s: no cgroup to read", t->id);
				code = WP_RPC_NOT_FOUND;
			} else
				wp_pb_put_any(reply, 1, type, &metrics);
			wp_buf_release(&metrics);
		}
		pthread_mutex_unlock(&sh->mu);
	} else if (!strcmp(m, "CloseIO")) {
		pthread_mutex_lock(&sh->mu);
		code = need_task(sh, &fs, &t, msg);
		pthread_mutex_unlock(&sh->mu);
	} else if (!strcmp(m, "Shutdown")) {
		/* Only once the last task is gone: the shim may serve other containers of the pod. */
		pthread_mutex_lock(&sh->mu);
		if (!sh->tasks) {
			/* Gone from the path at once: a container of the pod started from now on
			 * gets a shim of its own instead of this one, which is leaving. */
			if (sh->socket_path)
				unlink(sh->socket_path);
			stop_locked(sh);
		}
		pthread_mutex_unlock(&sh->mu);
	} else {
		snprintf(msg, 256, "%s: unimplemented", m);
		code = WP_RPC_UNIMPLEMENTED;
	}
	fields_release(&fs);
	return code;
}
