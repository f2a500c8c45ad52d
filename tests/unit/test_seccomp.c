/* node/seccomp.c: the engine's filter denies what a wasm engine never needs, with EPERM
 * (clone3 with ENOSYS), and lets the rest through. Each check runs in a child under the
 * filter, which reports the errno it got. */
#include "tap.h"
#include "node/seccomp.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static wp_seccomp filter;

/* The errno the call got in a filtered child (0 when it succeeded). */
static int under_filter(int what)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		long r = 0;

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || wp_seccomp_enter(&filter) < 0)
			_exit(255);
		errno = 0;
		switch (what) {
		case 0: r = unshare(CLONE_NEWUSER); break;
		case 1: r = mount("none", "/", "tmpfs", 0, NULL); break;
		case 2: r = syscall(SYS_clone3, NULL, 0); break;
		case 3: r = ptrace(PTRACE_TRACEME, 0, NULL, NULL); break;
		case 4: r = syscall(SYS_bpf, 0, NULL, 0); break;
		case 5: r = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0); break;
		case 6: r = syscall(SYS_kexec_load, 0, 0, NULL, 0); break;
		case 7: r = syscall(SYS_setns, -1, 0); break;
		case 8: r = getpid() > 0 ? 0 : -1; break;
		case 9: {
			pid_t c = fork(); /* clone without namespace flags: allowed */

			if (c == 0)
				_exit(0);
			r = c > 0 && waitpid(c, NULL, 0) == c ? 0 : -1;
			break;
		}
		}
		_exit(r < 0 ? (errno ? errno : 254) : 0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(void)
{
	wp_error err;
	int built = wp_seccomp_build(&filter, &err);

	ok(built == 0 && filter.len > 0, "the filter builds (%zu instructions)", filter.len);
	is_int(under_filter(0), EPERM, "unshare: EPERM");
	is_int(under_filter(1), EPERM, "mount: EPERM");
	is_int(under_filter(2), ENOSYS, "clone3: ENOSYS (runtimes fall back to clone)");
	is_int(under_filter(3), EPERM, "ptrace: EPERM");
	is_int(under_filter(4), EPERM, "bpf: EPERM");
	is_int(under_filter(5), EPERM, "clone with CLONE_NEWNET: EPERM");
	is_int(under_filter(6), EPERM, "kexec_load: EPERM");
	is_int(under_filter(7), EPERM, "setns: EPERM");
	is_int(under_filter(8), 0, "getpid goes through");
	is_int(under_filter(9), 0, "fork (clone without namespace flags) goes through");
	wp_seccomp_release(&filter);
	return done_testing();
}
