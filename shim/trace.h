/* Where a container's start goes inside the shim, for bench/shim.sh: with
 * WASMPACK_SHIM_TRACE=FILE (an absolute path) in the shim's environment (containerd's,
 * set by the node's operator), each step appends "SECONDS.MICROS PID ID STEP"
 * (CLOCK_REALTIME) to FILE. Without it nothing is done. The file stays open (close on
 * exec): the engine's process marks its steps before exec through it, from inside its
 * confinement where the path is gone; no allocation, so after fork too. */
#ifndef WP_SHIM_TRACE_H
#define WP_SHIM_TRACE_H

void wp_shim_trace(const char *id, const char *step);

#endif
