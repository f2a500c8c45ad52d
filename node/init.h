/* The first process of an engine's PID namespace, and the process that waits for it: one
 * way for `wasmpack run` and the containerd shim alike.
 *
 * In a PID namespace of our making an init of wasmpack's is PID 1: it passes signals on to
 * the engine (an engine as PID 1 would ignore a SIGTERM it has no handler for), reaps what
 * is left to it, and when the engine ends hands its wait status back over a pipe and goes,
 * which ends whatever the engine left behind. The caller, outside the namespace, passes the
 * signals it gets on to that init and takes the status. In a namespace joined by path (a
 * pod's) the engine is the caller's child directly.
 *
 * Everything here runs after fork in the child of a threaded process (the shim): system
 * calls only, no allocation. */
#ifndef WP_NODE_INIT_H
#define WP_NODE_INIT_H

#include <stdbool.h>

/* Starts argv (argv[0] a full path, envp its environment) as the namespace's engine, under
 * an init of ours when own, and waits for it, passing SIGTERM, SIGINT, SIGHUP, SIGQUIT,
 * SIGUSR1/2, SIGWINCH and SIGCONT on. errfd: the write end of a pipe that gets the reason
 * when the engine cannot be started ("starting engine 'X': ...") and is otherwise closed by
 * its exec; it is closed here in the caller. stderr_fd, when >= 0, becomes the engine's
 * stderr. 0 with the engine's wait status in *status; -1 when no process could be made. */
int wp_init_supervise(char **argv, char **envp, int errfd, int stderr_fd, bool own, int *status);
/* The exit code a process ends with to end as the engine did: its exit code; for a signal,
 * the same signal is raised first (no core of its own), 128 + the signal if that returns. */
int wp_init_exit_code(int status);

#endif
