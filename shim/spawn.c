#include "shim/spawn.h"
#include "shim/shim.h"
#include "shim/cgroup.h"
#include "shim/trace.h"
#include "node/init.h"
#include "common/json.h"
#include "common/path.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/sched.h>

void wp_spawn_plan_user(json_t *process, wp_spawn_plan *p)
{
	json_t *u = json_object_get(process, "user"), *g;
	size_t i;

	p->uid = (uid_t)json_integer_value(json_object_get(u, "uid"));
	p->gid = (gid_t)json_integer_value(json_object_get(u, "gid"));
	p->n_groups = 0;
	json_array_foreach(json_object_get(u, "additionalGids"), i, g)
		if (p->n_groups < WP_ARRAY_LEN(p->groups) && json_is_integer(g))
			p->groups[p->n_groups++] = (gid_t)json_integer_value(g);
}

int wp_spawn_plan_namespaces(json_t *spec, wp_spawn_plan *p, wp_error *err)
{
	static const struct {
		const char *type;
		int flag;
	} kinds[] = { { "network", CLONE_NEWNET }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "pid", CLONE_NEWPID } };
	json_t *n;
	size_t i;

	p->fd[0] = p->fd[1] = p->fd[2] = p->fd[3] = -1;
	p->unshare = 0;
	json_array_foreach(json_object_get(json_object_get(spec, "linux"), "namespaces"), i, n) {
		const char *type = wp_json_str(n, "type"), *path = wp_json_str(n, "path");

		for (size_t k = 0; type && k < WP_ARRAY_LEN(kinds); k++) {
			if (strcmp(type, kinds[k].type))
				continue;
			if (path && *path) {
				if (p->fd[k] >= 0)
					close(p->fd[k]);
				if ((p->fd[k] = open(path, O_RDONLY | O_CLOEXEC)) < 0)
					return wp_error_sys(err, WP_EINVALID, "the %s namespace '%s'", type, path);
			} else
				p->unshare |= kinds[k].flag;
		}
	}
	return 0;
}

void wp_spawn_plan_release(wp_spawn_plan *p)
{
	for (int k = 0; k < 4; k++)
		if (p->fd[k] >= 0)
			close(p->fd[k]);
}

/* The shim's environment with env's NAME=VALUE added (replacing the same names), made
 * before fork: the child only execs with it. The strings are environ's and env's. */
static char **env_with(const wp_strv *env)
{
	size_t n = 0, k = 0;
	char **out;

	while (environ && environ[n])
		n++;
	out = wp_xcalloc(n + (env ? env->len : 0) + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		bool replaced = false;

		for (size_t j = 0; eq && env && j < env->len && !replaced; j++)
			replaced = !strncmp(env->items[j], environ[i], (size_t)(eq - environ[i]) + 1);
		if (!replaced)
			out[k++] = environ[i];
	}
	for (size_t j = 0; env && j < env->len; j++)
		out[k++] = env->items[j];
	return out;
}

/* n in decimal into out (16 bytes), with no allocation: it runs after fork. */
static void fd_text(char *out, int n)
{
	char rev[16];
	size_t k = 0, i = 0;

	do
		rev[k++] = (char)('0' + n % 10);
	while ((n /= 10) > 0 && k < sizeof(rev));
	while (k)
		out[i++] = rev[--k];
	out[i] = '\0';
}

void wp_spawn_init_main(int argc, char **argv)
{
	int errfd = argc > 4 ? atoi(argv[2]) : -1, stderr_fd = argc > 4 ? atoi(argv[3]) : -1, status = 0;

	if (argc < 5 || errfd < 0 || stderr_fd < 0)
		_exit(127);
	/* the engine's exec must close them: end of file on errfd tells the shim it started */
	fcntl(errfd, F_SETFD, FD_CLOEXEC);
	fcntl(stderr_fd, F_SETFD, FD_CLOEXEC);
	if (wp_init_supervise(argv + 4, environ, errfd, stderr_fd, !strcmp(argv[1], "1"), &status) < 0)
		_exit(127);
	_exit(wp_init_exit_code(status));
}

/* After fork, with no allocation (the shim has threads): the task's stdio on 0, 1, 2, or
 * what failed. stdin opens without blocking for a writer; stdout and stderr block until
 * containerd (or ctr) reads them, which it does before Start. */
static const char *child_stdio(const wp_spawn_io *io)
{
	const char *what = "";
	int in, out, er;

	in = io->stdin_path && *io->stdin_path ? open(io->stdin_path, O_RDONLY | O_NONBLOCK) : open("/dev/null", O_RDONLY);
	if (in >= 0 && io->stdin_path && *io->stdin_path)
		fcntl(in, F_SETFL, fcntl(in, F_GETFL) & ~O_NONBLOCK);
	out = io->stdout_path && *io->stdout_path ? open(io->stdout_path, O_WRONLY) : open("/dev/null", O_WRONLY);
	if (io->terminal && out >= 0)
		er = dup(out);
	else if (io->stderr_path && *io->stderr_path)
		er = open(io->stderr_path, O_WRONLY);
	else
		er = open("/dev/null", O_WRONLY);
	if (in < 0 || out < 0 || er < 0)
		what = "opening the task's stdio";
	else if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(er, 2) < 0)
		what = "dup2";
	if (in > 2)
		close(in);
	if (out > 2)
		close(out);
	if (er > 2)
		close(er);
	return what;
}

/* After fork: the container's cgroup, its namespaces, then (an engine that serves) its
 * socket, bound in the pod's network while privileges last, and the plan handed down. */
static const char *child_join(const wp_spawn_plan *nsp, const char *cg_procs, bool sandbox_pidns, bool engine,
			      char **envp)
{
	int unshare_flags = nsp->unshare & ~(sandbox_pidns ? CLONE_NEWPID : 0);

	if (cg_procs) {
		int fd = open(cg_procs, O_WRONLY | O_CLOEXEC);
		bool moved = fd >= 0 && write(fd, "0", 1) == 1;

		if (fd >= 0)
			close(fd);
		if (!moved)
			return "joining the container's cgroup";
	}
	for (int k = 0; k < 4; k++)
		if (nsp->fd[k] >= 0 && setns(nsp->fd[k], 0) < 0)
			return "joining a namespace of the pod";
	if (unshare_flags && unshare(unshare_flags) < 0)
		return "making the container's namespaces";
	if (engine && nsp->listen) {
		int lfd = wp_listen_bind(&nsp->listen_addr);

		if (lfd < 0) {
			errno = -lfd;
			return "listening on the app's address (SPIN_HTTP_LISTEN_ADDR)";
		}
		for (char **e = envp; *e; e++)
			if (!strncmp(*e, WP_LISTEN_ENV, sizeof(WP_LISTEN_ENV) - 1))
				wp_listen_env_set(*e, lfd);
	}
	if (engine && nsp->keep_fd > 0 && fcntl(nsp->keep_fd, F_SETFD, 0) < 0)
		return "handing the engine its plan";
	return "";
}

/* The 32-bit ids' calls where the plain ones take 16 bits (i386, 32-bit arm). */
#ifdef SYS_setgroups32
#define SYS_SETGROUPS SYS_setgroups32
#define SYS_SETGID SYS_setgid32
#define SYS_SETUID SYS_setuid32
#else
#define SYS_SETGROUPS SYS_setgroups
#define SYS_SETGID SYS_setgid
#define SYS_SETUID SYS_setuid
#endif

/* After fork: the engine's confinement (its own root, no way back, no privilege), then
 * the user, then no capability left, and the seccomp filter last. The user by the system
 * calls themselves: the child may come of a raw clone3, after which glibc's wrappers
 * would try to change every thread of the shim it still believes in (nptl's setxid). */
static const char *child_confine(const wp_spawn_plan *nsp, const wp_confine *view, const wp_seccomp *filter,
				 wp_error *cerr)
{
	if (view && wp_confine_enter(view, cerr) != 0)
		return cerr->msg;
	if (getuid() == 0 && (syscall(SYS_SETGROUPS, (long)nsp->n_groups, nsp->groups) < 0 ||
			      syscall(SYS_SETGID, (long)nsp->gid) < 0 || syscall(SYS_SETUID, (long)nsp->uid) < 0))
		return "becoming the container's user";
	if (wp_confine_drop_caps(cerr) < 0)
		return cerr->msg;
	if (wp_seccomp_enter(filter) < 0)
		return "entering the engine's seccomp filter";
	return "";
}

/* errno's words with no allocation and no locale (strerror may allocate for a number it
 * does not know, and the child may come of a raw clone3). */
static const char *child_strerror(int e)
{
	const char *d = strerrordesc_np(e);

	return d ? d : "unknown error";
}

/* After fork: what failed (with errno's words when with_errno) to errfd, and out. */
__attribute__((noreturn)) static void child_fail(int errfd, const char *what, bool with_errno)
{
	int e = errno;

	(void)!write(errfd, what, strlen(what));
	if (with_errno) {
		(void)!write(errfd, ": ", 2);
		(void)!write(errfd, child_strerror(e), strlen(child_strerror(e)));
	}
	_exit(127);
}

/* After Start released it: the engine's exec, or in a PID namespace (the pod's, or one of
 * its own) this binary again as the init (self, init_argv), the engine its child. What
 * failed goes to errfd; never returns. */
__attribute__((noreturn)) static void child_exec(char **argv, char **envp, const char *cwd, int self, char **init_argv,
						char *stderr_text, int errfd)
{
	int e;

	if (cwd && chdir(cwd) < 0)
		(void)!chdir("/");
	if (self >= 0) {
		/* the init's own stderr is /dev/null (what the binary itself might say there,
		 * a sanitizer's start-up notes, is not the app's); the task's stderr goes on to
		 * the engine as another descriptor */
		int keep = fcntl(2, F_DUPFD, 3), null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (keep >= 0 && null >= 0) {
			fd_text(stderr_text, keep);
			fcntl(errfd, F_SETFD, 0);
			dup2(null, 2);
			syscall(SYS_execveat, self, "", init_argv, envp, AT_EMPTY_PATH);
			dup2(keep, 2);
			fcntl(errfd, F_SETFD, FD_CLOEXEC);
		}
	}
	execvpe(argv[0], argv, envp);
	e = errno;
	(void)!write(errfd, "starting engine '", 17);
	(void)!write(errfd, argv[0], strlen(argv[0]));
	(void)!write(errfd, "': ", 3);
	(void)!write(errfd, child_strerror(e), strlen(child_strerror(e)));
	_exit(127);
}

/* The cgroup v2 folder of cg_procs, opened for clone3's CLONE_INTO_CGROUP, or -1. */
static int cgroup_dir_fd(const char *cg_procs)
{
	const char *slash = cg_procs ? strrchr(cg_procs, '/') : NULL;
	char dir[WP_PATH_MAX];

	if (!slash || strcmp(slash, "/cgroup.procs") || (size_t)(slash - cg_procs) >= sizeof(dir) || !wp_cgroup_unified())
		return -1;
	memcpy(dir, cg_procs, (size_t)(slash - cg_procs));
	dir[slash - cg_procs] = '\0';
	return open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The child, as fork() makes it (a pod's sandbox with a PID namespace of its own: that
 * namespace's PID 1); born in cg_fd's cgroup when cg_fd >= 0 and the kernel can (*placed
 * then says so). */
static pid_t spawn_child(bool sandbox_pidns, int cg_fd, bool *placed)
{
	*placed = false;
	if (cg_fd >= 0) {
		struct clone_args a;
		long pid;

		memset(&a, 0, sizeof(a));
		a.flags = CLONE_INTO_CGROUP | (sandbox_pidns ? CLONE_NEWPID : 0);
		a.exit_signal = SIGCHLD;
		a.cgroup = (uint64_t)cg_fd;
		pid = syscall(SYS_clone3, &a, sizeof(a));
		if (pid >= 0) {
			*placed = true;
			return (pid_t)pid;
		}
		/* a kernel before 5.7 (ENOSYS, E2BIG, EINVAL), or a cgroup it may not be born
		 * in: made as before, and moved */
	}
	return sandbox_pidns ? (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0) : fork();
}

/* What the child needs, made before fork. */
typedef struct child_args {
	const wp_spawn_io *io;
	char **argv, **envp, **init_argv;
	const wp_spawn_plan *nsp;
	const char *cg_procs; /* NULL when it was born in its cgroup */
	const char *cwd;
	const wp_confine *view;
	const wp_seccomp *filter;
	bool placed, sandbox_pidns;
	int cg_fd, self, sync[2], errp[2];
	char *stderr_text;
} child_args;

/* The child: set up while containerd answers Create and sends Start (the cgroup, the
 * namespaces, the serving engine's socket, the read-only view of the cache entry, the
 * user), then held until Start releases it into exec. */
__attribute__((noreturn)) static void child_main(const child_args *a)
{
	sigset_t all;
	char go;
	const char *what;
	wp_error cerr = WP_ERROR_INIT;

	if (a->cg_fd >= 0)
		close(a->cg_fd); /* born in it, or moving in by cg_procs: not needed here */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	setsid();
	close(a->sync[1]);
	close(a->errp[0]);
	what = child_stdio(a->io);
	wp_shim_trace(a->io->id, "child: stdio opened");
	if (!*what)
		what = child_join(a->nsp, a->cg_procs, a->sandbox_pidns, a->argv != NULL, a->envp);
	wp_shim_trace(a->io->id, a->placed ? "child: born in its cgroup, namespaces made"
					   : "child: moved into its cgroup, namespaces made");
	if (!*what && a->argv)
		what = child_confine(a->nsp, a->view, a->filter, &cerr);
	wp_shim_trace(a->io->id, "child: confined");
	if (*what)
		child_fail(a->errp[1], what, what != cerr.msg);
	if (read(a->sync[0], &go, 1) != 1)
		_exit(128 + SIGKILL);
	wp_shim_trace(a->io->id, "child: released");
	if (!a->argv) {
		static char *const sandbox[] = { WP_SHIM_SANDBOX_ARGV0, NULL };

		execv("/proc/self/exe", sandbox);
		for (;;) /* the binary could not be run again: wait here */
			pause();
	}
	child_exec(a->argv, a->envp, a->cwd, a->self, a->init_argv, a->stderr_text, a->errp[1]);
}

int wp_spawn_paused(const wp_spawn_io *io, char **argv, const wp_strv *env, const wp_spawn_plan *nsp,
		    const char *cg_procs, const wp_confine *view, const wp_seccomp *filter, const char *cwd,
		    wp_spawn_child *child, wp_error *err)
{
	_cleanup_close_ int cg_fd = cgroup_dir_fd(cg_procs);
	bool placed;
	int sync[2], errp[2];
	_cleanup_free_ char **envp = env_with(env);
	_cleanup_free_ char **init_argv = NULL;
	char errfd_text[16], stderr_text[16];
	bool pidns = argv && (nsp->fd[3] >= 0 || (nsp->unshare & CLONE_NEWPID));
	bool sandbox_pidns = !argv && (nsp->unshare & CLONE_NEWPID);
	_cleanup_close_ int self = -1;
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return wp_error_sys(err, WP_EIO, "pipe");
	if (pidns) {
		/* In a PID namespace the task's process stays (it supervises): it becomes this
		 * binary again, as WP_SHIM_INIT_ARGV0, named so and no copy of the shim's memory;
		 * by descriptor, for the confined view has neither /proc nor this binary. */
		size_t n = 0;

		while (argv[n])
			n++;
		if ((self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0) {
			close(sync[0]), close(sync[1]);
			return wp_error_sys(err, WP_EIO, "opening the shim's own binary");
		}
		init_argv = wp_xcalloc(n + 5, sizeof(*init_argv));
		init_argv[0] = WP_SHIM_INIT_ARGV0;
		init_argv[1] = (nsp->unshare & CLONE_NEWPID) ? "1" : "0";
		init_argv[2] = errfd_text;
		init_argv[3] = stderr_text;
		memcpy(init_argv + 4, argv, n * sizeof(*argv));
	}
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int rc = wp_error_sys(err, WP_EIO, "pipe");

		close(sync[0]);
		close(sync[1]);
		return rc;
	}
	snprintf(errfd_text, sizeof(errfd_text), "%d", errp[1]);
	/* A pod's sandbox with a PID namespace of its own is that namespace's first process
	 * (PID 1: the pod's containers that share it join it by its path, as they join a
	 * pause container's under runc); everything else forks as usual. */
	pid = spawn_child(sandbox_pidns, cg_fd, &placed);
	if (pid < 0) {
		int rc = wp_error_sys(err, WP_EIO, "fork");

		close(sync[0]), close(sync[1]), close(errp[0]), close(errp[1]);
		return rc;
	}
	if (pid == 0) {
		child_args a = { io, argv, envp, init_argv, nsp, placed ? NULL : cg_procs, cwd, view, filter,
				 placed, sandbox_pidns, cg_fd, pidns ? self : -1, { sync[0], sync[1] }, { errp[0], errp[1] },
				 stderr_text };

		child_main(&a);
	}
	close(sync[0]);
	close(errp[1]);
	child->pid = pid;
	child->sync_fd = sync[1];
	child->err_fd = errp[0];
	return 0;
}
