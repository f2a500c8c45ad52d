/* The seccomp filter every engine runs under (wasmpack run and the shim): the system
 * calls a wasm engine never needs, denied with EPERM rather than a kill (an engine that
 * probes one goes on): mounts and the new mount API, pivot_root and chroot, ptrace and
 * reading other processes' memory, kexec, bpf, perf, keyrings, kernel modules, new
 * namespaces (unshare, setns, and clone with a CLONE_NEW* flag), reboot, swap, the clock,
 * the host name, quotas, accounting, handle-based opens, userfaultfd, raw I/O ports.
 * clone3 answers ENOSYS (its flags sit in memory a filter cannot read), so runtimes fall
 * back to clone, whose flags it can. Everything else is allowed: a denylist, so engines
 * of any kind keep working.
 *
 * The filter is built before fork (libseccomp allocates) into plain BPF; wp_seccomp_enter
 * only makes the prctl call, so it may run in the child of a threaded process, last
 * before exec (after no_new_privs, which wp_confine_enter sets). */
#ifndef WP_NODE_SECCOMP_H
#define WP_NODE_SECCOMP_H

#include <stddef.h>

#include "common/error.h"

typedef struct wp_seccomp {
	void *prog;   /* struct sock_filter[] */
	size_t len;   /* instructions */
} wp_seccomp;

int wp_seccomp_build(wp_seccomp *f, wp_error *err);
/* In the process about to exec: 0, or -1 with errno. */
int wp_seccomp_enter(const wp_seccomp *f);
void wp_seccomp_release(wp_seccomp *f);

#endif
