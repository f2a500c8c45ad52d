#include "node/init.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The process a signal is passed on to: the init (or the engine) from the caller, the
 * engine from the init. */
static volatile pid_t forward_to;
static const int forwarded[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };

static void forward(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

static void forward_signals(pid_t to)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sa.sa_flags = SA_RESTART;
	forward_to = to;
	for (size_t i = 0; i < WP_ARRAY_LEN(forwarded); i++)
		sigaction(forwarded[i], &sa, NULL);
}

__attribute__((noreturn)) static void exec_engine(char **argv, char **envp, int errfd, int stderr_fd)
{
	sigset_t none;
	const char *why;

	if (stderr_fd >= 0)
		dup2(stderr_fd, 2);
	for (size_t i = 0; i < WP_ARRAY_LEN(forwarded); i++)
		signal(forwarded[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvpe(argv[0], argv, envp);
	why = strerror(errno);
	(void)!write(errfd, "starting engine '", 17);
	(void)!write(errfd, argv[0], strlen(argv[0]));
	(void)!write(errfd, "': ", 3);
	(void)!write(errfd, why, strlen(why));
	_exit(127);
}

/* who's wait status, reaping any other child that ends first. */
static int wait_for(pid_t who)
{
	int st;

	for (;;) {
		pid_t got = waitpid(-1, &st, 0);

		if (got == who)
			return st;
		if (got < 0 && errno != EINTR)
			return 127 << 8;
	}
}

int wp_init_supervise(char **argv, char **envp, int errfd, int stderr_fd, bool own, int *status)
{
	int sp[2] = { -1, -1 };
	pid_t child;

	if (own && pipe2(sp, O_CLOEXEC) < 0)
		return -1;
	if ((child = fork()) < 0) {
		if (own)
			close(sp[0]), close(sp[1]);
		return -1;
	}
	if (child == 0) {
		pid_t engine;
		int st;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!own)
			exec_engine(argv, envp, errfd, stderr_fd);
		close(sp[0]);
		if ((engine = fork()) < 0)
			_exit(127);
		if (engine == 0) {
			close(sp[1]);
			exec_engine(argv, envp, errfd, stderr_fd);
		}
		close(errfd);
		forward_signals(engine);
		st = wait_for(engine);
		(void)!write(sp[1], &st, sizeof(st));
		_exit(0);
	}
	close(errfd);
	forward_signals(child);
	*status = wait_for(child);
	if (own) {
		ssize_t n;

		close(sp[1]);
		do
			n = read(sp[0], status, sizeof(*status));
		while (n < 0 && errno == EINTR);
		close(sp[0]);
		if (n != (ssize_t)sizeof(*status))
			*status = 127 << 8;
	}
	return 0;
}

int wp_init_exit_code(int status)
{
	if (WIFSIGNALED(status)) {
		struct rlimit none = { 0, 0 };
		sigset_t set;

		setrlimit(RLIMIT_CORE, &none);
		signal(WTERMSIG(status), SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, WTERMSIG(status));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
