#include "shim/shim.h"
#include "oci/mediatype.h"
#include "trust/policy.h"
#include "node/seccomp.h"
#include "shim/app.h"
#include "common/path.h"
#include "node/cache.h"
#include "shim/cgroup.h"
#include "node/engine.h"
#include "shim/events.h"
#include "shim/trace.h"
#include "shim/oom.h"
#include "shim/rootfs.h"
#include "shim/spawn.h"
#include "common/pb.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* An event's message (ids, a pid, a status) and a task's metrics, at most. */
#define EVENT_MAX 4096
#define METRICS_MAX (1u << 16)

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
	int cache_fd;             /* a hold on its node cache entry (node/cache.h), or -1 */
	wp_cgroup_oom *oom;       /* its OOM watch, in the shim's OOM set */
	/* the container's: how an exec process of it runs the same way */
	json_t *spec;             /* the bundle's config.json */
	char *root;               /* what the app's "/" is: the rootfs, or the cache entry */
	/* an exec process (kubectl exec, exec probes): its id and its container */
	char *exec_id;
	struct task *parent;
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
	wp_seccomp filter;        /* every engine's (node/seccomp.h), built once */
};

/* The container id (its init process); with exec_id, that exec process of it. */
static task *find_proc(wp_shim *sh, const char *id, const char *exec_id)
{
	for (task *t = sh->tasks; t; t = t->next)
		if (!strcmp(t->id, id) && (exec_id && *exec_id ? t->exec_id && !strcmp(t->exec_id, exec_id) : !t->exec_id))
			return t;
	return NULL;
}

static task *find(wp_shim *sh, const char *id)
{
	return find_proc(sh, id, NULL);
}

/* Gives an error carried up from a library call the code the RPC answers with. */
static int recode(wp_error *err, int code)
{
	err->code = code;
	return code;
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
	if (t->cache_fd >= 0)
		close(t->cache_fd);
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
	free(t->root);
	free(t->exec_id);
	json_decref(t->spec);
	free(t);
}

static void oom_fired(void *ctx, wp_cgroup_oom *watch);

wp_shim *wp_shim_new(const wp_shim_opts *o)
{
	wp_shim *sh = wp_xcalloc(1, sizeof(*sh));

	sh->ns = wp_xstrdup(o->ns ? o->ns : "default");
	sh->address = wp_xstrdup(o->address ? (wp_str_has_prefix(o->address, "unix://") ? o->address + 7 : o->address) : "");
	sh->cache_root = wp_xstrdup(o->cache_root);
	sh->socket_path = o->socket_path ? wp_xstrdup(o->socket_path) : NULL;
	pthread_mutex_init(&sh->mu, NULL);
	pthread_cond_init(&sh->changed, NULL);
	sh->events = wp_events_new(o->ttrpc_address, sh->ns);
	sh->oom = wp_oom_set_new(oom_fired, sh);
	sh->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	{
		wp_error err;

		/* without it no engine starts (Create says so): never one unfiltered */
		if (wp_seccomp_build(&sh->filter, &err) < 0)
			wp_warn("%s", err.msg);
	}
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
			wp_buf_init(&e, EVENT_MAX);
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
	wp_seccomp_release(&sh->filter);
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
	F_CREATE_OPTIONS = 10,    /* Any: containerd's runtime options (CRI: runtimeoptions.v1.Options) */
	F_KILL_SIGNAL = 3,
	F_KILL_ALL = 4,
	F_EXEC_TERMINAL = 3,      /* ExecProcessRequest: id, exec_id, terminal, stdin, stdout, stderr, spec */
	F_EXEC_STDIN = 4,
	F_EXEC_STDOUT = 5,
	F_EXEC_STDERR = 6,
	F_EXEC_SPEC = 7,          /* Any {type_url = 1, value = 2}: the OCI process as JSON */
};

/* A request's fields by number (below 12): strings, numbers, and Create's rootfs mounts. */
typedef struct fields {
	char *s[12];
	uint64_t v[12];
	wp_rootfs_mount mounts[16];
	size_t n_mounts;
	const uint8_t *exec_spec; /* Exec's spec (into the request), and its length */
	size_t exec_spec_len;
	char *config_path;        /* Create: the runtime options' ConfigPath (the signature policy) */
} fields;

/* CRI's runtime options for runtimes other than runc: Any {type_url = 1, value = 2} of
 * runtimeoptions.v1.Options {type_url = 1, config_path = 2}, from the runtime's
 * `options` table in containerd's config (ConfigPath = "..."). */
static char *options_config_path(const uint8_t *any, size_t len)
{
	wp_pb_reader r, v;
	wp_pb_field f, g;
	const uint8_t *value = NULL;
	size_t value_len = 0;
	bool ours = false;

	wp_pb_reader_init(&r, any, len);
	while (wp_pb_next(&r, &f) > 0) {
		if (f.num == 1 && f.wire == WP_PB_LEN) {
			const char *suffix = "runtimeoptions.v1.Options";
			size_t sl = strlen(suffix);

			ours = f.len >= sl && !memcmp(f.data + f.len - sl, suffix, sl);
		} else if (f.num == 2 && f.wire == WP_PB_LEN) {
			value = f.data;
			value_len = f.len;
		}
	}
	if (!ours || !value)
		return NULL;
	wp_pb_reader_init(&v, value, value_len);
	while (wp_pb_next(&v, &g) > 0)
		if (g.num == 2 && g.wire == WP_PB_LEN && g.len > 0)
			return wp_pb_strdup(&g);
	return NULL;
}

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
		else if (f.wire == WP_PB_LEN && !strcmp(req->method, "Exec") && f.num == F_EXEC_SPEC) {
			fs->exec_spec = f.data;
			fs->exec_spec_len = f.len;
		} else if (f.wire == WP_PB_LEN && !strcmp(req->method, "Create") && f.num == F_CREATE_ROOTFS) {
			if (fs->n_mounts >= WP_ARRAY_LEN(fs->mounts) ||
			    wp_rootfs_mount_decode(f.data, f.len, &fs->mounts[fs->n_mounts++]) < 0)
				return -1;
		} else if (f.wire == WP_PB_LEN && !strcmp(req->method, "Create") && f.num == F_CREATE_OPTIONS) {
			free(fs->config_path);
			fs->config_path = options_config_path(f.data, f.len);
		} else if (f.wire == WP_PB_LEN) {
			free(fs->s[f.num]);
			fs->s[f.num] = wp_pb_strdup(&f);
		}
	}
	return n;
}

static void fields_release(fields *fs)
{
	free(fs->config_path);
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
	wp_buf_init(&ev, EVENT_MAX);
	if (wp_pb_put_str(&ev, 1, t->id) == 0 && wp_pb_put_str(&ev, 2, t->exec_id ? t->exec_id : t->id) == 0 &&
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

/* ---- Create ---- */

/* What Create gathers before the task exists; create_release frees it. */
typedef struct creating {
	const char *id, *bundle, *cache_root;
	char *rootfs;             /* bundle/rootfs */
	char *real_rootfs;        /* its real path when the app is in it */
	json_t *spec;             /* the bundle's config.json */
	bool mounted;             /* we mounted the request's rootfs mounts */
	bool sandbox;             /* the pod's sandbox (pause) container */
	char *entry;              /* the unpacked app in the node cache */
	wp_unpack_summary summary;/* what unpacking it found */
	wp_run_spec run;
	wp_strv argv;             /* the engine's command line */
	wp_strv env;              /* and what its environment gets (the app's env for node, jco) */
	wp_confine view;          /* what the engine may see */
	wp_spawn_plan plan;       /* namespaces and user */
	wp_app_verified verified; /* the manifest the policy judged, and its layout */
	wp_engine_serving serving;/* where a serving engine listens */
	char *state_dir;          /* and keeps its state */
} creating;

static void create_release(creating *c, bool failed)
{
	if (failed && c->mounted)
		wp_rootfs_unmount_all(c->rootfs);
	wp_strv_release(&c->argv);
	wp_strv_release(&c->env);
	wp_confine_release(&c->view);
	wp_spawn_plan_release(&c->plan);
	wp_engine_serving_release(&c->serving);
	free(c->state_dir);
	wp_unpack_summary_release(&c->summary);
	json_decref(c->spec);
	free(c->entry);
	free(c->real_rootfs);
	free(c->rootfs);
}

static int shim_reaped_status(void *ctx, pid_t pid)
{
	return reaped_status(ctx, pid);
}

/* A pod's sandbox (pause) container, as CRI marks it. */
static bool is_sandbox(json_t *spec)
{
	const char *type = wp_json_str(json_object_get(spec, "annotations"), "io.kubernetes.cri.container-type");

	return type && !strcmp(type, "sandbox");
}

/* Does the rootfs hold nothing at all (what containerd makes of an artifact image, whose
 * layers are no tar)? */
static bool rootfs_empty(const char *rootfs)
{
	DIR *d = opendir(rootfs);
	struct dirent *e;
	bool empty = true;

	while (d && empty && (e = readdir(d)))
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return empty;
}

/* Where the app is: nowhere for a sandbox; for an image of files (the image layout), the
 * rootfs, which must hold what the process names; for an artifact (the wasm and Spin
 * layouts), the node cache, which wasmpack-core fills. The layout is the verified
 * manifest's when a policy judged one, else an image of files is one whose rootfs holds
 * anything: what the rootfs happens to lack never sends an image of files to the cache
 * (a typo in a pod's command fails as under runc, and cannot fill the node's disk). */
static int locate_app(wp_shim *sh, creating *c, json_t *process, wp_error *err)
{
	wp_app_fetch f = { sh->address, sh->ns, sh->cache_root, shim_reaped_status, sh };
	bool files;

	c->sandbox = is_sandbox(c->spec);
	if (c->sandbox) {
		/* The pod's sandbox (pause) image is a native program: its only job, holding the
		 * pod's namespaces, is done by CRI's pinned namespaces; a waiting process stands in. */
		return 0;
	}
	files = c->verified.layout[0] ? !strcmp(c->verified.layout, "image") : !rootfs_empty(c->rootfs);
	/* an image of files with no snapshot at all (containerd 2.1's transfer service leaves
	 * wasm images unpacked, and Create then brings no rootfs mounts) is read from the
	 * content store like an artifact */
	if (files && c->mounted) {
		const char *a0 = json_string_value(json_array_get(json_object_get(process, "args"), 0));

		if (!wp_app_in_rootfs(c->rootfs, process))
			return wp_error_set(err, WP_ENOTFOUND, "the command '%.200s' is not in the container's rootfs",
					    a0 ? a0 : "spin.toml");
		if (wp_app_check_beneath(c->rootfs, process, err) < 0)
			return err->code;
		c->run.rootfs = c->rootfs;
		c->real_rootfs = realpath(c->rootfs, NULL);
		return 0;
	}
	if (wp_app_from_containerd(&f, c->id, c->verified.digest[0] ? c->verified.digest : NULL, !c->mounted, &c->entry,
				   err) < 0)
		return err->code;
	if (wp_unpack_summary_read(c->entry, &c->summary, err) < 0) {
		wp_error_prefix(err, "the unpacked app");
		return recode(err, WP_EIO);
	}
	c->run.dir = c->entry;
	c->run.summary = &c->summary;
	return 0;
}

/* The engine a container's spec asks for (its dev.wasmpack.engine annotation), else the
 * node's default (containerd's WASMPACK_ENGINE), which yields to what an app needs. */
static void choose_engine(json_t *spec, wp_run_spec *run)
{
	const char *engine = wp_json_str(json_object_get(spec, "annotations"), WP_ANN_ENGINE);

	if (engine && *engine) {
		run->engine = engine;
		return;
	}
	run->engine = getenv("WASMPACK_ENGINE") && *getenv("WASMPACK_ENGINE") ? getenv("WASMPACK_ENGINE") : NULL;
	run->engine_default = true;
}

/* Reads the bundle, mounts the rootfs, plans the process and finds the app and the
 * engine's command line: everything Create needs before the task exists. */
static int prepare(wp_shim *sh, const fields *fs, creating *c, wp_error *err)
{
	_cleanup_free_ char *spec_path = wp_str_fmt("%s/config.json", c->bundle);
	json_t *process;

	c->rootfs = wp_str_fmt("%s/rootfs", c->bundle);
	if (wp_json_read_file(spec_path, SPEC_MAX, &c->spec, err) < 0) {
		wp_error_prefix(err, "reading the bundle's config.json");
		return recode(err, WP_EINVALID);
	}
	process = json_object_get(c->spec, "process");
	if (wp_fs_mkdir_p(sh->cache_root, 0755, err) < 0)
		return recode(err, WP_EIO);
	if (fs->n_mounts) {
		if (wp_rootfs_mount_all(c->rootfs, fs->mounts, fs->n_mounts, err) < 0)
			return recode(err, WP_EIO);
		c->mounted = true;
	}
	wp_spawn_plan_user(process, &c->plan);
	if (wp_spawn_plan_namespaces(c->spec, &c->plan, err) < 0)
		return recode(err, WP_EINVALID);
	c->run.process = process;
	c->run.launcher_dir = sh->cache_root;
	c->run.reaped_status = shim_reaped_status;
	c->run.reaped_ctx = sh;
	choose_engine(c->spec, &c->run);
	/* The node's signature policy, before anything of the image is read or run: an image
	 * it refuses fails Create with the reason, which containerd and kubectl describe show. */
	if (!is_sandbox(c->spec) && wp_policy_path(fs->config_path)) {
		wp_app_fetch f = { sh->address, sh->ns, sh->cache_root, shim_reaped_status, sh };

		if (wp_app_verify(&f, c->id, wp_policy_path(fs->config_path), &c->verified, err) < 0)
			return recode(err, WP_ESTATE);
		wp_shim_trace(c->id, "Create: policy checked");
	}
	if (locate_app(sh, c, process, err) < 0)
		return err->code;
	wp_shim_trace(c->id, "Create: app located (unpacked or found in the node cache)");
	c->run.mounts = json_object_get(c->spec, "mounts");
	c->run.rootfs_readonly = json_is_true(json_object_get(json_object_get(c->spec, "root"), "readonly"));
	/* a serving engine's key-value stores are kept with the container, in a folder of
	 * their own (the engine may write there, and nowhere else of the bundle) */
	c->state_dir = wp_str_fmt("%s/spin-state", c->bundle);
	c->run.state_dir = c->state_dir;
	if (!c->sandbox && wp_engine_command(&c->run, &c->argv, &c->env, &c->view, &c->serving, err) < 0)
		return recode(err, err->code == WP_ENOTFOUND ? WP_ENOTFOUND : WP_ESTATE);
	wp_shim_trace(c->id, "Create: engine command made");
	if (c->serving.listen) {
		if (wp_listen_resolve(c->serving.listen, &c->plan.listen_addr, err) < 0)
			return recode(err, WP_EINVALID);
		c->plan.listen = true;
	}
	if (c->serving.has_plan)
		c->plan.keep_fd = c->serving.plan_fd;
	return 0;
}

static task *task_new(const fields *fs, const creating *c, wp_error *err)
{
	task *t;
	int held = -1;

	/* the cache entry stays while the task lives: gc of a store on the node leaves it */
	if (c->entry && (held = wp_cache_hold(c->cache_root, wp_path_basename(c->entry), err)) < 0)
		return NULL;
	if (held >= 0)
		fcntl(held, F_SETFD, FD_CLOEXEC);
	t = wp_xcalloc(1, sizeof(*t));
	t->sync_fd = t->err_fd = -1;
	t->cache_fd = held;
	t->id = wp_xstrdup(c->id);
	t->bundle = wp_xstrdup(c->bundle);
	t->stdin_path = wp_xstrdup(fs->s[F_CREATE_STDIN] ? fs->s[F_CREATE_STDIN] : "");
	t->stdout_path = wp_xstrdup(fs->s[F_CREATE_STDOUT] ? fs->s[F_CREATE_STDOUT] : "");
	t->stderr_path = wp_xstrdup(fs->s[F_CREATE_STDERR] ? fs->s[F_CREATE_STDERR] : "");
	t->terminal = fs->v[F_CREATE_TERMINAL] != 0;
	t->status = WP_TASK_CREATED;
	t->spec = json_incref(c->spec);
	if (!c->sandbox && (c->real_rootfs || c->entry))
		t->root = wp_xstrdup(c->real_rootfs ? c->real_rootfs : c->entry);
	return t;
}

/* The engine process, held before exec in the task's cgroup (the pod's limits hold
 * before the engine runs a single instruction of the app). With sh->mu held. */
static int spawn_held(wp_shim *sh, task *t, creating *c, wp_error *err)
{
	json_t *linux_ = json_object_get(c->spec, "linux");
	_cleanup_free_ char *cg_procs = NULL;
	wp_spawn_io io = { t->stdin_path, t->stdout_path, t->stderr_path, t->terminal, t->id };
	wp_spawn_child child;

	t->cgroup = wp_cgroup_dir(wp_json_str(linux_, "cgroupsPath"));
	if (t->cgroup) {
		bool own;

		if (wp_cgroup_prepare(t->cgroup, json_object_get(linux_, "resources"), &cg_procs, &own, err) < 0) {
			wp_cgroup_remove(t->cgroup);
			return recode(err, WP_ESTATE);
		}
		if (!own) {
			wp_info("task %s: no cgroup of its own: %s", t->id, err->msg);
			free(cg_procs);
			cg_procs = NULL;
		}
		wp_shim_trace(t->id, "Create: cgroup made");
	}
	/* The shared cache entry is read-only for the app; a rootfs is the container's own
	 * (its snapshot), writable as under runc. */
	if (wp_spawn_paused(&io, c->sandbox ? NULL : c->argv.items, &c->env, &c->plan, cg_procs, &c->view, &sh->filter,
			    c->real_rootfs, &child, err) < 0) {
		if (t->cgroup)
			wp_cgroup_remove(t->cgroup);
		return recode(err, WP_EIO);
	}
	t->pid = child.pid;
	t->sync_fd = child.sync_fd;
	t->err_fd = child.err_fd;
	wp_shim_trace(t->id, "Create: engine process spawned, held");
	return 0;
}

/* TaskCreate {container_id = 1, bundle = 2, rootfs = 3, io = 4, checkpoint = 5, pid = 6};
 * TaskIO {stdin = 1, stdout = 2, stderr = 3, terminal = 4} */
static void publish_create(wp_shim *sh, const task *t)
{
	wp_buf ev, io;

	wp_buf_init(&ev, 1 << 20);
	wp_buf_init(&io, 1 << 20);
	if (wp_pb_put_str(&io, 1, t->stdin_path) == 0 && wp_pb_put_str(&io, 2, t->stdout_path) == 0 &&
	    wp_pb_put_str(&io, 3, t->stderr_path) == 0 && wp_pb_put_varint(&io, 4, t->terminal) == 0 &&
	    wp_pb_put_str(&ev, 1, t->id) == 0 && wp_pb_put_str(&ev, 2, t->bundle) == 0 && wp_pb_put_msg(&ev, 4, &io) == 0 &&
	    wp_pb_put_varint(&ev, 6, (uint64_t)t->pid) == 0)
		wp_events_publish(sh->events, "/tasks/create", "containerd.events.TaskCreate", &ev);
	wp_buf_release(&ev);
	wp_buf_release(&io);
}

/* Where `delete` finds a process left behind by a shim that died. */
static void write_pidfile(const char *bundle, pid_t pid)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/wasmpack.pid", bundle);
	char num[32];
	int n = snprintf(num, sizeof(num), "%d", (int)pid);
	wp_error err;

	if (wp_fs_write_atomic(path, num, (size_t)n, 0644, &err) < 0)
		wp_warn("task: %s", err.msg);
}

static int do_create(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)deadline;
	creating c = { .id = fs->s[F_ID], .bundle = fs->s[F_CREATE_BUNDLE], .cache_root = sh->cache_root,
		       .plan = { .fd = { -1, -1, -1, -1 } } };
	task *t = NULL;
	int rc;

	if (!c.id || !*c.id || !c.bundle || !*c.bundle)
		return wp_error_set(err, WP_EINVALID, "Create needs an id and a bundle");
	if (fs->v[F_CREATE_TERMINAL])
		wp_info("task %s asks for a terminal; the app gets containerd's FIFOs (stderr with stdout), no pty", c.id);
	pthread_mutex_lock(&sh->mu);
	t = find(sh, c.id);
	pthread_mutex_unlock(&sh->mu);
	if (t)
		return wp_error_set(err, WP_EEXISTS, "task %s: already exists", c.id);
	if ((rc = prepare(sh, fs, &c, err)) < 0)
		goto done;
	if (!(t = task_new(fs, &c, err))) {
		rc = err->code;
		goto done;
	}
	if (c.mounted)
		t->mounted = wp_xstrdup(c.rootfs);
	pthread_mutex_lock(&sh->mu);
	if (find(sh, c.id))
		rc = wp_error_set(err, WP_EEXISTS, "task %s: already exists", c.id);
	else if ((rc = spawn_held(sh, t, &c, err)) == 0) {
		/* a fast engine may be reaped before its pid was known here */
		for (size_t i = 0; i < WP_ARRAY_LEN(sh->early); i++)
			if (sh->early[i].pid == t->pid) {
				sh->early[i].pid = 0;
				mark_exited(sh, t, sh->early[i].status);
			}
		t->next = sh->tasks;
		sh->tasks = t;
		watch_oom(sh, t);
		publish_create(sh, t);
		wp_pb_put_varint(reply, 1, (uint64_t)t->pid);
	}
	pthread_mutex_unlock(&sh->mu);
	if (rc < 0) {
		free(t->mounted); /* unmounted below, with the rest of what failed */
		t->mounted = NULL;
		task_free(t);
		goto done;
	}
	write_pidfile(c.bundle, t->pid);
	wp_info("task %s created: pid %d, %s", c.id, (int)t->pid,
		c.sandbox ? "a pod sandbox" : c.run.rootfs ? "from the rootfs" : c.entry);
done:
	if (rc < 0)
		wp_error_prefix(err, "task %s", c.id);
	create_release(&c, rc < 0);
	return rc;
}

/* The request's process: the container's task, or one of its exec processes; with
 * sh->mu held. */
static int need_task(wp_shim *sh, const fields *fs, task **t, wp_error *err)
{
	const char *exec_id = fs->s[F_EXEC_ID];

	if (!fs->s[F_ID] || !find(sh, fs->s[F_ID]))
		return wp_error_set(err, WP_ENOTFOUND, "task %s: not found", fs->s[F_ID] ? fs->s[F_ID] : "");
	if (!(*t = find_proc(sh, fs->s[F_ID], exec_id)))
		return wp_error_set(err, WP_ENOTFOUND, "task %s: no exec process %s", fs->s[F_ID], exec_id);
	return 0;
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

	j->dir = wp_xstrdup(dir);
	j->pid = pid;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128u << 10);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, join_rest, j) != 0)
		join_rest(j);
	pthread_attr_destroy(&attr);
}

static int do_start(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)deadline;
	task *t;
	int code, sync_fd, err_fd;
	char why[200] = "";
	ssize_t n, got = 0;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, err)) < 0) {
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
			return wp_error_set(err, WP_ESTATE, "task %.64s: %s", fs->s[F_ID], why2);
		}
		return wp_error_set(err, WP_ESTATE, "task %s: cannot start a task that is not created", fs->s[F_ID]);
	}
	sync_fd = t->sync_fd;
	err_fd = t->err_fd;
	t->sync_fd = t->err_fd = -1;
	t->status = WP_TASK_RUNNING;
	pthread_mutex_unlock(&sh->mu);
	(void)!write(sync_fd, "g", 1);
	close(sync_fd);
	wp_shim_trace(fs->s[F_ID], "Start: released");
	while ((n = read(err_fd, why + got, sizeof(why) - 1 - (size_t)got)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			got += n;
	close(err_fd);
	wp_shim_trace(fs->s[F_ID], "Start: engine confined and exec'd");
	if (got) {
		why[got] = '\0';
		return wp_error_set(err, WP_ESTATE, "task %s: %s", fs->s[F_ID], why);
	}
	pthread_mutex_lock(&sh->mu);
	if ((t = find(sh, fs->s[F_ID]))) {
		wp_buf ev;

		if (t->cgroup)
			join_rest_later(t->cgroup, t->pid);
		wp_pb_put_varint(reply, 1, (uint64_t)t->pid);
		/* TaskStart {container_id = 1, pid = 2} */
		wp_buf_init(&ev, EVENT_MAX);
		if (wp_pb_put_str(&ev, 1, t->id) == 0 && wp_pb_put_varint(&ev, 2, (uint64_t)t->pid) == 0)
			wp_events_publish(sh->events, "/tasks/start", "containerd.events.TaskStart", &ev);
		wp_buf_release(&ev);
	}
	pthread_mutex_unlock(&sh->mu);
	return 0;
}

static int do_wait(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	task *t;
	int code;

	pthread_mutex_lock(&sh->mu);
	for (;;) {
		if ((code = need_task(sh, fs, &t, err)) < 0)
			break;
		if (t->status == WP_TASK_STOPPED) {
			wp_pb_put_varint(reply, 1, t->exit_status);
			wp_pb_put_timestamp(reply, 2, &t->exited_at);
			break;
		}
		if (sh->stop) {
			code = wp_error_set(err, WP_EUNAVAILABLE, "task %s: the shim is shutting down", t->id);
			break;
		}
		if (deadline) {
			if (pthread_cond_timedwait(&sh->changed, &sh->mu, deadline) == ETIMEDOUT) {
				code = wp_error_set(err, WP_ETIMEOUT, "task %s: still running at the deadline", t->id);
				break;
			}
		} else
			pthread_cond_wait(&sh->changed, &sh->mu);
	}
	pthread_mutex_unlock(&sh->mu);
	return code;
}

static int do_kill(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)deadline;
	(void)reply;
	task *t;
	int code, sig = fs->v[F_KILL_SIGNAL] ? (int)fs->v[F_KILL_SIGNAL] : SIGTERM;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, err)) == 0) {
		if (t->status == WP_TASK_STOPPED || t->pid <= 0) {
			code = wp_error_set(err, WP_ENOTFOUND, "task %s: process already finished: not found", t->id);
		} else {
			/* all: the engine's process group (it leads one); should the group be gone
			 * while the engine is not, the engine itself. */
			int r = fs->v[F_KILL_ALL] ? kill(-t->pid, sig) : kill(t->pid, sig);

			if (r < 0 && fs->v[F_KILL_ALL])
				r = kill(t->pid, sig);
			if (r < 0)
				code = wp_error_sys(err, errno == ESRCH ? WP_ENOTFOUND : WP_EIO, "task %s: kill", t->id);
		}
	}
	pthread_mutex_unlock(&sh->mu);
	return code;
}

/* ---- Exec: kubectl exec and exec probes ---- */

#define EXEC_SUPPORTS \
	"exec runs a wasm module of the container's root, named by its first argument, with the " \
	"container's engine, volumes and confinement (kubectl exec POD -- /probe.wasm ARGS)"

/* The OCI process of an ExecProcessRequest: Any {type_url = 1, value = 2 (JSON)}. */
static json_t *exec_process(const fields *fs, wp_error *err)
{
	wp_pb_reader r;
	wp_pb_field f;
	json_t *p = NULL;

	wp_pb_reader_init(&r, fs->exec_spec, fs->exec_spec_len);
	while (wp_pb_next(&r, &f) > 0)
		if (f.num == 2 && f.wire == WP_PB_LEN)
			wp_json_parse((const char *)f.data, f.len, SPEC_MAX, &p, err);
	if (!json_is_object(p) || !json_array_size(json_object_get(p, "args"))) {
		json_decref(p);
		wp_error_set(err, WP_EINVALID, "Exec: no process with arguments in the request");
		return NULL;
	}
	return p;
}

/* The exec process, made as Create makes the container's: held before exec until Start,
 * in the container's namespaces and cgroup, with its engine and confinement. */
/* The PID namespace of a task's container: its task's process's first child's (the init,
 * PID 1 there), opened; -1 when there is none. */
static int container_pidns(pid_t pid)
{
	char path[64], kids[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (pid <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, kids, sizeof(kids) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	kids[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", atoi(kids));
	return open(path, O_RDONLY | O_CLOEXEC);
}

/* An exec's task, of the running task it execs into (checked: there, running, not a
 * sandbox, no exec of that id yet). */
static int exec_task_new(wp_shim *sh, const fields *fs, task **out, wp_error *err)
{
	const char *id = fs->s[F_ID], *exec_id = fs->s[F_EXEC_ID];
	task *parent, *x;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&sh->mu);
	parent = find(sh, id);
	rc = !parent ? wp_error_set(err, WP_ENOTFOUND, "task %s: not found", id)
	     : find_proc(sh, id, exec_id) ? wp_error_set(err, WP_EEXISTS, "task %s: exec %s exists already", id, exec_id)
	     : parent->status != WP_TASK_RUNNING ? wp_error_set(err, WP_ESTATE, "task %s: not running", id)
	     : !parent->root ? wp_error_set(err, WP_EUNSUPPORTED, "task %s: a pod's sandbox runs nothing to exec into", id)
	     : 0;
	if (rc == 0) {
		x = wp_xcalloc(1, sizeof(*x));
		x->sync_fd = x->err_fd = x->cache_fd = -1;
		x->id = wp_xstrdup(id);
		x->exec_id = wp_xstrdup(exec_id);
		x->parent = parent;
		x->bundle = wp_xstrdup(parent->bundle);
		x->spec = json_incref(parent->spec);
		x->root = wp_xstrdup(parent->root);
		x->stdin_path = wp_xstrdup(fs->s[F_EXEC_STDIN] ? fs->s[F_EXEC_STDIN] : "");
		x->stdout_path = wp_xstrdup(fs->s[F_EXEC_STDOUT] ? fs->s[F_EXEC_STDOUT] : "");
		x->stderr_path = wp_xstrdup(fs->s[F_EXEC_STDERR] ? fs->s[F_EXEC_STDERR] : "");
		x->terminal = fs->v[F_EXEC_TERMINAL] != 0;
		x->status = WP_TASK_CREATED;
		if (parent->cgroup)
			x->cgroup = wp_xstrdup(parent->cgroup);
		*out = x;
	}
	pthread_mutex_unlock(&sh->mu);
	return rc;
}

/* The exec's process, spawned: into the task table, with an exit the reaper saw first. */
static void exec_task_add(wp_shim *sh, task *x)
{
	pthread_mutex_lock(&sh->mu);
	for (size_t i = 0; i < WP_ARRAY_LEN(sh->early); i++)
		if (sh->early[i].pid == x->pid) {
			sh->early[i].pid = 0;
			mark_exited(sh, x, sh->early[i].status);
		}
	x->next = sh->tasks;
	sh->tasks = x;
	pthread_mutex_unlock(&sh->mu);
}

static int do_exec(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)deadline;
	(void)reply;
	const char *id = fs->s[F_ID], *exec_id = fs->s[F_EXEC_ID];
	json_t *process = NULL;
	task *parent, *x = NULL;
	wp_run_spec run = { 0 };
	wp_strv argv = { 0 }, env = { 0 };
	wp_confine view = { 0 };
	wp_spawn_plan plan = { .fd = { -1, -1, -1, -1 } };
	_cleanup_free_ char *cg_procs = NULL;
	int rc;

	if (!id || !exec_id || !*exec_id)
		return wp_error_set(err, WP_EINVALID, "Exec needs an id and an exec id");
	if (fs->v[F_EXEC_TERMINAL])
		wp_info("task %s: exec %s asks for a terminal; it gets containerd's FIFOs (stderr with stdout), no pty", id, exec_id);
	if ((rc = exec_task_new(sh, fs, &x, err)) < 0)
		return rc;
	parent = x->parent;
	if (!(process = exec_process(fs, err))) {
		rc = err->code;
		goto fail;
	}
	/* The wasm args[0] names, found in the container's root as a container's own is. */
	if (!wp_app_in_rootfs(x->root, process) || wp_app_check_beneath(x->root, process, err) < 0) {
		rc = wp_error_set(err, WP_EUNSUPPORTED, "%s; '%s' is no file of it", EXEC_SUPPORTS,
				  json_string_value(json_array_get(json_object_get(process, "args"), 0)));
		goto fail;
	}
	run.process = process;
	run.rootfs = x->root;
	run.launcher_dir = sh->cache_root;
	run.reaped_status = shim_reaped_status;
	run.reaped_ctx = sh;
	run.mounts = json_object_get(x->spec, "mounts");
	run.rootfs_readonly = true;   /* an exec does not change the container's files */
	choose_engine(x->spec, &run);
	wp_spawn_plan_user(process, &plan);
	if ((rc = wp_spawn_plan_namespaces(x->spec, &plan, err)) < 0)
		goto fail;
	/* the container's PID namespace, which its init (the task's process's child) is
	 * PID 1 of: an exec joins it, as runc's does, rather than making another */
	if ((plan.unshare & CLONE_NEWPID) && plan.fd[3] < 0) {
		int ns = container_pidns(parent->pid);

		if (ns >= 0) {
			plan.fd[3] = ns;
			plan.unshare &= ~CLONE_NEWPID;
		}
	}
	if ((rc = wp_engine_command(&run, &argv, &env, &view, NULL, err)) < 0) {
		if (rc == WP_EINVALID)
			wp_error_append(err, "; %s", EXEC_SUPPORTS);
		goto fail;
	}
	if (x->cgroup) {
		bool own;

		if (wp_cgroup_prepare(x->cgroup, NULL, &cg_procs, &own, err) < 0 || !own) {
			free(cg_procs);
			cg_procs = NULL;
		}
	}
	{
		wp_spawn_io io = { x->stdin_path, x->stdout_path, x->stderr_path, x->terminal, x->id };
		wp_spawn_child child;

		if ((rc = wp_spawn_paused(&io, argv.items, &env, &plan, cg_procs, &view, &sh->filter, x->root, &child, err)) < 0)
			goto fail;
		x->pid = child.pid;
		x->sync_fd = child.sync_fd;
		x->err_fd = child.err_fd;
	}
	free(x->cgroup);   /* the container's: its Delete removes it, not the exec's */
	x->cgroup = NULL;
	exec_task_add(sh, x);
	wp_info("task %s: exec %s created: pid %d", id, exec_id, (int)x->pid);
	x = NULL;
	rc = 0;
fail:
	if (x) {
		free(x->cgroup);
		x->cgroup = NULL;
		task_free(x);
	}
	if (rc < 0)
		wp_error_prefix(err, "task %s: exec %s", id, exec_id);
	json_decref(process);
	wp_strv_release(&argv);
	wp_strv_release(&env);
	wp_confine_release(&view);
	wp_spawn_plan_release(&plan);
	return rc;
}

static int do_delete(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)deadline;
	task *t, **pp;
	int code;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, err)) < 0) {
		pthread_mutex_unlock(&sh->mu);
		return code;
	}
	if (t->status == WP_TASK_RUNNING) {
		pthread_mutex_unlock(&sh->mu);
		return wp_error_set(err, WP_ESTATE, "task %s: cannot delete a running task", fs->s[F_ID]);
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
	if (!t->exec_id) {
		/* the container's exec processes go with it */
		for (pp = &sh->tasks; *pp;) {
			task *x = *pp;

			if (x->parent == t) {
				*pp = x->next;
				if (x->pid > 0 && x->status != WP_TASK_STOPPED)
					kill(-x->pid, SIGKILL);
				task_free(x);
			} else {
				pp = &x->next;
			}
		}
	}
	pthread_mutex_unlock(&sh->mu);
	if (t->mounted)
		wp_rootfs_unmount_all(t->mounted);
	if (t->cgroup)
		wp_cgroup_remove(t->cgroup);
	wp_shim_delete_response(reply, t->pid, t->exit_status, &t->exited_at);
	{
		wp_buf ev;

		/* TaskDelete {container_id = 1, pid = 2, exit_status = 3, exited_at = 4, id = 5} */
		wp_buf_init(&ev, EVENT_MAX);
		if (wp_pb_put_str(&ev, 1, t->id) == 0 && wp_pb_put_varint(&ev, 2, (uint64_t)t->pid) == 0 &&
		    wp_pb_put_varint(&ev, 3, t->exit_status) == 0 && wp_pb_put_timestamp(&ev, 4, &t->exited_at) == 0 &&
		    wp_pb_put_str(&ev, 5, t->exec_id ? t->exec_id : t->id) == 0)
			wp_events_publish(sh->events, "/tasks/delete", "containerd.events.TaskDelete", &ev);
		wp_buf_release(&ev);
	}
	wp_info("task %s deleted (exit status %u)", t->id, t->exit_status);
	task_free(t);
	return 0;
}

static int do_state(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)deadline;
	task *t;
	int code;

	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, err)) == 0) {
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

/* ResizePty: no terminal, the exec got FIFOs. */
static int do_resize_pty(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)sh, (void)fs, (void)deadline, (void)reply, (void)err;
	return 0;
}

/* PidsResponse {processes = 1 (ProcessInfo {pid = 1})}. */
static int do_pids(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	task *t;
	int code;

	(void)deadline;
	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, err)) == 0 && t->pid > 0 && t->status != WP_TASK_STOPPED) {
		wp_buf pi;

		wp_buf_init(&pi, 64);
		if (wp_pb_put_varint(&pi, 1, (uint64_t)t->pid) == 0)
			wp_pb_put_msg(reply, 1, &pi);
		wp_buf_release(&pi);
	}
	pthread_mutex_unlock(&sh->mu);
	return code;
}

/* ConnectResponse {shim_pid = 1, task_pid = 2, version = 3}. */
static int do_connect(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	task *t;

	(void)deadline, (void)err;
	pthread_mutex_lock(&sh->mu);
	t = fs->s[F_ID] ? find(sh, fs->s[F_ID]) : NULL;
	wp_pb_put_varint(reply, 1, (uint64_t)getpid());
	if (t)
		wp_pb_put_varint(reply, 2, (uint64_t)t->pid);
	wp_pb_put_str(reply, 3, "wasmpack");
	pthread_mutex_unlock(&sh->mu);
	return 0;
}

/* StatsResponse {stats = 1 (Any: the cgroup's Metrics)}. */
static int do_stats(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	task *t;
	int code;

	(void)deadline;
	pthread_mutex_lock(&sh->mu);
	if ((code = need_task(sh, fs, &t, err)) == 0) {
		wp_buf metrics;
		const char *type = NULL;

		wp_buf_init(&metrics, METRICS_MAX);
		if (!t->cgroup || wp_cgroup_metrics(t->cgroup, &metrics, &type) < 0)
			code = wp_error_set(err, WP_ENOTFOUND, "task %s: no cgroup to read", t->id);
		else
			wp_pb_put_any(reply, 1, type, &metrics);
		wp_buf_release(&metrics);
	}
	pthread_mutex_unlock(&sh->mu);
	return code;
}

static int do_close_io(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	task *t;
	int code;

	(void)deadline, (void)reply;
	pthread_mutex_lock(&sh->mu);
	code = need_task(sh, fs, &t, err);
	pthread_mutex_unlock(&sh->mu);
	return code;
}

/* Only once the last task is gone: the shim may serve other containers of the pod. */
static int do_shutdown(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)fs, (void)deadline, (void)reply, (void)err;
	pthread_mutex_lock(&sh->mu);
	if (!sh->tasks) {
		/* Gone from the path at once: a container of the pod started from now on gets a
		 * shim of its own instead of this one, which is leaving. */
		if (sh->socket_path)
			unlink(sh->socket_path);
		stop_locked(sh);
	}
	pthread_mutex_unlock(&sh->mu);
	return 0;
}

/* The Task service's methods (containerd.task.v2.Task). */
static const struct {
	const char *name;
	int (*fn)(wp_shim *sh, const fields *fs, const struct timespec *deadline, wp_buf *reply, wp_error *err);
} methods[] = {
	{ "Create", do_create }, { "Start", do_start }, { "Wait", do_wait }, { "Kill", do_kill },
	{ "Delete", do_delete }, { "State", do_state }, { "Exec", do_exec }, { "ResizePty", do_resize_pty },
	{ "Pids", do_pids }, { "Connect", do_connect }, { "Stats", do_stats }, { "CloseIO", do_close_io },
	{ "Shutdown", do_shutdown },
};

int wp_shim_handle(void *ctx, const wp_ttrpc_request *req, const struct timespec *deadline, wp_buf *reply,
		   wp_error *err)
{
	wp_shim *sh = ctx;
	fields fs;
	int code;

	if (strcmp(req->service, SERVICE))
		return wp_error_set(err, WP_EUNSUPPORTED, "service %s: unimplemented", req->service);
	for (size_t i = 0; i < WP_ARRAY_LEN(methods); i++) {
		if (strcmp(req->method, methods[i].name))
			continue;
		if (decode(req, &fs) < 0) {
			code = wp_error_set(err, WP_EINVALID, "%s: malformed request", req->method);
		} else {
			char step[64];

			snprintf(step, sizeof(step), "%s begin", req->method);
			wp_shim_trace(fs.s[F_ID], step);
			code = methods[i].fn(sh, &fs, deadline, reply, err);
			snprintf(step, sizeof(step), "%s end", req->method);
			wp_shim_trace(fs.s[F_ID], step);
		}
		fields_release(&fs);
		return code;
	}
	return wp_error_set(err, WP_EUNSUPPORTED, "%s: unimplemented", req->method);
}
