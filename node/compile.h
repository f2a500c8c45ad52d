/* Compiled forms of an app's wasm in the node cache, made once per wasm content and engine
 * version and found again by every later start: jco's JavaScript and core wasm for a
 * component, wasmtime's precompiled module.
 *
 *   <cache>/compiled/<engine id>/<sha256 of the wasm>/   what the compiler made
 *
 * The wasm is read once, from the descriptor the caller opened (beneath the app's root),
 * hashed and copied; the copy is what gets compiled, so an entry always holds the compiled
 * form of exactly the bytes its name hashes, even when the app's folder is writable by a
 * running app. The compiler runs confined (node/confine.h), seeing its own files, the copy
 * read-only and an empty output folder, which is renamed into place once it succeeds: an
 * entry is whole or absent, and two starts racing make it once each, the second copy
 * thrown away. */
#ifndef WP_NODE_COMPILE_H
#define WP_NODE_COMPILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/error.h"
#include "common/strv.h"

/* The largest wasm compiled (read whole into memory). */
#define WP_COMPILE_WASM_MAX ((size_t)1 << 30)

typedef struct wp_compile_job {
	const char *cache_root; /* the node cache (real path) */
	const char *engine_id;  /* the engine and its version, a folder name: "jco-1.35.0" */
	const char *what;       /* for messages: "jco transpile" */
	/* The compiler's command line; "{in}" stands for the wasm's copy and "{out}" for the
	 * output folder (whole arguments, or a prefix "{out}/..."). argv[0] is a full path. */
	wp_strv argv;
	wp_strv ro;             /* what the compiler reads besides the copy: its own files */
	const char *made;       /* a file the compiler must have made in {out} */
	int timeout_s;          /* killed past it (0: 300 s) */
	/* Called with the output folder and the wasm bytes before the folder is put in place,
	 * to add files of the caller's own; may be NULL. */
	int (*finish)(const char *out, const uint8_t *wasm, size_t len, void *ctx, wp_error *err);
	/* Called with the wasm bytes before the compiler runs, may be NULL: a WP_EINVALID
	 * verdict is remembered as a failed compile is. */
	int (*check)(const uint8_t *wasm, size_t len, void *ctx, wp_error *err);
	void *ctx;
	/* The shim's reaper may collect the compiler first: its status then comes from here. */
	int (*reaped_status)(void *ctx, pid_t pid);
	void *reaped_ctx;
} wp_compile_job;

/* The folder of the compiled form of the wasm read from wasm_fd (malloc'ed in *dir),
 * found in the cache or made now (*made tells which). The compiler's failure is an error
 * holding the last lines it wrote on stderr. */
int wp_compile_cached(const wp_compile_job *job, int wasm_fd, char **dir, bool *made, wp_error *err);

/* Compiled forms no start has used for unused_s seconds (a start touches its entry),
 * failure notes and remembered digests as old, and temporary folders of compiles that
 * died, removed; the number of compiled forms removed. */
uint64_t wp_compile_gc(const char *cache_root, time_t unused_s);

/* The sha256 of data in hex (65 bytes with the NUL). */
void wp_compile_hex_digest(const void *data, size_t len, char out[65]);

#endif
