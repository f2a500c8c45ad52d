#include "node/seccomp.h"
#include "common/util.h"

#include <errno.h>
#include <linux/filter.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Denied with EPERM. Names this kernel's libseccomp does not know are skipped. */
static const char *const denied[] = {
	"mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsmount", "fsconfig", "fspick", "move_mount",
	"open_tree", "mount_setattr", "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	"kexec_load", "kexec_file_load", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "init_module",
	"finit_module", "delete_module", "create_module", "unshare", "setns", "reboot", "swapon", "swapoff", "syslog",
	"acct", "quotactl", "quotactl_fd", "open_by_handle_at", "name_to_handle_at", "userfaultfd", "iopl", "ioperm",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "lookup_dcookie",
	"vhangup", "uselib", "nfsservctl", "fanotify_init",
};

/* clone's flags that make a namespace: any of them denies the call. */
static const unsigned long new_ns[] = { CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
					CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWCGROUP };

int wp_seccomp_build(wp_seccomp *f, wp_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int mfd = -1, rc = 0, sys;
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (!ctx)
		return wp_error_set(err, WP_ENOMEM, "making the engine's seccomp filter");
	/* no_new_privs is set by the confinement itself; libseccomp need not */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; i < WP_ARRAY_LEN(denied) && rc == 0; i++)
		if ((sys = seccomp_syscall_resolve_name(denied[i])) != __NR_SCMP_ERROR && sys >= 0)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), sys, 0);
	for (size_t i = 0; i < WP_ARRAY_LEN(new_ns) && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, new_ns[i], new_ns[i]));
	if (rc == 0 && (sys = seccomp_syscall_resolve_name("clone3")) != __NR_SCMP_ERROR && sys >= 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), sys, 0);
	if (rc < 0) {
		seccomp_release(ctx);
		return wp_error_set(err, WP_EIO, "making the engine's seccomp filter: %s", strerror(-rc));
	}
	/* libseccomp 2.5 exports BPF to a file only: a memory file, read back */
	if ((mfd = memfd_create("wasmpack-seccomp", MFD_CLOEXEC)) < 0 || seccomp_export_bpf(ctx, mfd) < 0 ||
	    fstat(mfd, &st) < 0 || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter)) {
		rc = wp_error_sys(err, WP_EIO, "writing out the engine's seccomp filter");
	} else {
		f->prog = wp_xmalloc((size_t)st.st_size);
		if (pread(mfd, f->prog, (size_t)st.st_size, 0) != st.st_size) {
			rc = wp_error_sys(err, WP_EIO, "reading back the engine's seccomp filter");
			wp_seccomp_release(f);
		} else {
			f->len = (size_t)st.st_size / sizeof(struct sock_filter);
		}
	}
	if (mfd >= 0)
		close(mfd);
	seccomp_release(ctx);
	return rc;
}

int wp_seccomp_enter(const wp_seccomp *f)
{
	struct sock_fprog prog = { .len = (unsigned short)f->len, .filter = f->prog };

	if (!f->prog || f->len > 0xffff)
		return errno = EINVAL, -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

void wp_seccomp_release(wp_seccomp *f)
{
	free(f->prog);
	memset(f, 0, sizeof(*f));
}
