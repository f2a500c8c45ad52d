/* Where a container's start goes inside the shim, for bench/shim.sh: with
 * WASMPACK_SHIM_TRACE=FILE (an absolute path; a regular file root owns, or none yet, in a
 * folder only root may write) in the shim's environment (containerd's, set by the node's
 * operator), each step appends "SECONDS.MICROS PID ID STEP" (CLOCK_REALTIME) to FILE.
 * Without it nothing is done. */
#ifndef WP_SHIM_TRACE_H
#define WP_SHIM_TRACE_H

/* Opens FILE once, at the shim's start (main): the descriptor stays open (close on exec),
 * so the engine's process marks its steps before exec through it, from inside its
 * confinement; nothing is ever opened later. */
void wp_shim_trace_init(void);
/* A mark: no stdio, no allocation, no lock (after a raw clone3 too, where glibc's locks
 * may be held by threads that are not there). id is cut to 200 bytes, control
 * characters in it and in step replaced. */
void wp_shim_trace(const char *id, const char *step);

#endif
