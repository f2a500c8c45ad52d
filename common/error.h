/* Error values carried up the call chain: a code the CLI maps to an exit status and a
 * message that gains context as it travels ("pushing blob ...: upload refused: ..."). */
#ifndef WP_COMMON_ERROR_H
#define WP_COMMON_ERROR_H

#include <stddef.h>

enum wp_code {
	WP_OK = 0,
	WP_EFAIL = -1,      /* generic failure (exit 1) */
	WP_EUSAGE = -2,     /* bad command line (exit 2) */
	WP_ENOTFOUND = -3,  /* no such image, blob, file (exit 3) */
	WP_EAUTH = -4,      /* credentials refused (exit 4) */
	WP_EDIGEST = -5,    /* digest or size verification failed (exit 5) */
	WP_EINVALID = -6,   /* malformed input: manifest, toml, wasm, reference (exit 1) */
	WP_EEXISTS = -7,    /* already present where that is an error (exit 1) */
	WP_ETOOBIG = -8,    /* a capped buffer or document went past its limit (exit 1) */
	WP_EIO = -9,        /* a system call failed (exit 1) */
	WP_ENOMEM = -10,
	WP_ESTATE = -11,    /* not in a state that allows it: starting a task twice (exit 1) */
	WP_EUNSUPPORTED = -12, /* a request this build or this engine does not do (exit 1) */
	WP_ETIMEOUT = -13,  /* a deadline passed (exit 1) */
	WP_EUNAVAILABLE = -14, /* shutting down, or not there to answer; may heal (exit 1) */
};

#define WP_ERROR_MSG_MAX 1024

typedef struct wp_error {
	int code;
	char msg[WP_ERROR_MSG_MAX];
} wp_error;

#define WP_ERROR_INIT { WP_OK, "" }

/* A caller with no use for the message passes err NULL (not a throwaway wp_error on its
 * stack): wp_error_set and wp_error_sys then only return the code, and prefix and append
 * do nothing. The readers and helpers of common/ (fs, json, toml, buf), oci/'s digests,
 * parsers and store reads, and the node cache's bookkeeping never look into err
 * themselves, so NULL is safe through them; a function that reads err->code back (the
 * registry client, the shim) needs a real one. */

void wp_error_init(wp_error *err);
/* Sets the code and message; returns the code so callers can `return wp_error_set(...)`. */
int wp_error_set(wp_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like wp_error_set with ": <strerror(errno)>" appended; a code of WP_EIO becomes
 * WP_ENOTFOUND when errno is ENOENT. */
int wp_error_sys(wp_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "<context>: " to the message; returns the current code. */
int wp_error_prefix(wp_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Appends to the message (a hint: "; --follow-links ..."); returns the current code. */
int wp_error_append(wp_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The process exit status documented for the code (0, 1, 2, 3, 4, 5). */
int wp_error_exit_status(int code);
const char *wp_error_code_name(int code);

#endif
