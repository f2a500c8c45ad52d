#include "shim/spawn.h"
#include "shim/shim.h"
#include "common/json.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	} kinds[] = { { "network", CLONE_NEWNET }, { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS } };
	json_t *n;
	size_t i;

	p->fd[0] = p->fd[1] = p->fd[2] = -1;
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
	for (int k = 0; k < 3; k++)
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

int wp_spawn_paused(const wp_spawn_io *io, char **argv, const wp_strv *env, const wp_spawn_plan *nsp,
		    const char *cg_procs, const wp_confine *view, const wp_seccomp *filter, const char *cwd,
		    wp_spawn_child *child, wp_error *err)
{
	int sync[2], errp[2];
	_cleanup_free_ char **envp = env_with(env);
	pid_t pid;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return wp_error_sys(err, WP_EIO, "pipe");
	if (pipe2(errp, O_CLOEXEC) < 0) {
		int rc = wp_error_sys(err, WP_EIO, "pipe");

		close(sync[0]);
		close(sync[1]);
		return rc;
	}
	pid = fork();
	if (pid < 0) {
		int rc = wp_error_sys(err, WP_EIO, "fork");

		close(sync[0]), close(sync[1]), close(errp[0]), close(errp[1]);
		return rc;
	}
	if (pid == 0) {
		sigset_t all;
		char go;
		int in, out, er;
		const char *what = "";
		wp_error cerr = WP_ERROR_INIT;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		close(sync[1]);
		close(errp[0]);
		/* stdin without blocking for a writer; stdout and stderr block until containerd
		 * (or ctr) reads them, which it does before Start. */
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
		/* All set up now, while containerd answers Create and sends Start: the cgroup
		 * (the process moves itself), the namespaces, the read-only view of the cache
		 * entry, the user; Start then only releases it into exec. */
		if (!*what && cg_procs) {
			int fd = open(cg_procs, O_WRONLY | O_CLOEXEC);

			if (fd < 0 || write(fd, "0", 1) != 1)
				what = "joining the container's cgroup";
			if (fd >= 0)
				close(fd);
		}
		for (int k = 0; !*what && k < 3; k++)
			if (nsp->fd[k] >= 0 && setns(nsp->fd[k], 0) < 0)
				what = "joining a namespace of the pod";
		if (!*what && nsp->unshare && unshare(nsp->unshare) < 0)
			what = "making the container's namespaces";
		/* The engine's confinement (its own root, no way back, no privilege), then the
		 * user, then no capability left. */
		if (!*what && argv) {
			if (view && wp_confine_enter(view, &cerr) != 0)
				what = cerr.msg;
			else if (getuid() == 0 && (setgroups(nsp->n_groups, nsp->groups) < 0 || setgid(nsp->gid) < 0 ||
						   setuid(nsp->uid) < 0))
				what = "becoming the container's user";
			else if (wp_confine_drop_caps(&cerr) < 0)
				what = cerr.msg;
			else if (wp_seccomp_enter(filter) < 0)
				what = "entering the engine's seccomp filter";
		}
		if (*what) {
			int e = errno;

			(void)!write(errp[1], what, strlen(what));
			if (what != cerr.msg) {
				(void)!write(errp[1], ": ", 2);
				(void)!write(errp[1], strerror(e), strlen(strerror(e)));
			}
			_exit(127);
		}
		if (read(sync[0], &go, 1) != 1)
			_exit(128 + SIGKILL);
		if (!argv) {
			static char *const sandbox[] = { WP_SHIM_SANDBOX_ARGV0, NULL };

			execv("/proc/self/exe", sandbox);
			for (;;) /* the binary could not be run again: wait here */
				pause();
		}
		if (cwd && chdir(cwd) < 0)
			(void)!chdir("/");
		execvpe(argv[0], argv, envp);
		{
			int e = errno;

			(void)!write(errp[1], "starting engine '", 17);
			(void)!write(errp[1], argv[0], strlen(argv[0]));
			(void)!write(errp[1], "': ", 3);
			(void)!write(errp[1], strerror(e), strlen(strerror(e)));
		}
		_exit(127);
	}
	close(sync[0]);
	close(errp[1]);
	child->pid = pid;
	child->sync_fd = sync[1];
	child->err_fd = errp[0];
	return 0;
}
