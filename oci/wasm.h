/* Telling wasm binaries apart by their preamble, and reading a component's top-level
 * import and export names (component model binary format, sections 10 and 11). */
#ifndef WP_OCI_WASM_H
#define WP_OCI_WASM_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/strv.h"

enum wp_wasm_kind { WP_WASM_NONE = 0, WP_WASM_MODULE = 1, WP_WASM_COMPONENT = 2 };

/* Classifies the first 8 bytes: "\0asm" then version 1 layer 0 (core module) or layer 1
 * (component, any pre-1.0 version). */
int wp_wasm_kind_of(const unsigned char *head, size_t len);
/* Reads the preamble of a file; a file that is neither is WP_EINVALID "not a wasm binary". */
int wp_wasm_sniff_file(const char *path, int *kind, wp_error *err);

typedef struct wp_wasm_names {
	char **imports;
	size_t n_imports;
	char **exports;
	size_t n_exports;
} wp_wasm_names;

/* Top-level import and export names of a component binary held in memory. */
int wp_wasm_component_names(const unsigned char *data, size_t len, wp_wasm_names *out, wp_error *err);
int wp_wasm_component_names_file(const char *path, wp_wasm_names *out, wp_error *err);
void wp_wasm_names_release(wp_wasm_names *n);

/* The functions each imported instance of a component declares (the export names of its
 * instance type: "get-environment", "[constructor]network", "[method]tcp-socket.start-bind",
 * "[static]fields.from-list"): names[i] the import ("wasi:cli/environment@0.2.3"), funcs[i]
 * its functions. Imports that are not instances are not listed. A type this reader cannot
 * walk is WP_EINVALID (the caller refuses what it cannot check). */
typedef struct wp_wasm_import_funcs {
	char **names;
	wp_strv *funcs;
	bool *unresolved;  /* the instance's type could not be followed (an alias of another
			    * instance's export, a type imported with only a bound): its
			    * functions are unknown, and a checker refuses it */
	size_t n;
} wp_wasm_import_funcs;

int wp_wasm_component_import_funcs(const unsigned char *data, size_t len, wp_wasm_import_funcs *out, wp_error *err);
void wp_wasm_import_funcs_release(wp_wasm_import_funcs *f);

#endif
