/* Internal to node/ (scripts/layers.sh keeps other modules out). */
/* What WASI defines, read from the WIT that an engine ships (jco's lib/wit/builtin), so a
 * component's imports can be held to it by name: a function no WASI interface has (a
 * "[constructor]network" a component declares itself, which jco would answer with a fresh
 * object outside the engine's sandbox settings) is refused before the app starts.
 *
 * The reader knows as much WIT as those files use: packages, interfaces, resources with
 * constructors, methods and static functions, free functions; comments and gates
 * (@since, @unstable) are passed over; worlds, types and uses are skipped. */
#ifndef WP_NODE_WIT_H
#define WP_NODE_WIT_H

#include <jansson.h>

#include "common/error.h"

/* Every "*.wit" below dir (one level of version folders, then packages): an object
 * {"wasi:sockets/network": {"network-error-code": true, ...}, ...}, the interfaces keyed
 * without their version, the functions named as a component's instance type names them
 * ("[constructor]R", "[method]R.f", "[static]R.f", "f"); versions whose folder names start
 * with prefix (for example "0.2.") only. */
int wp_wit_functions(const char *dir, const char *prefix, json_t **out, wp_error *err);
/* The same for one file's text, added to out. */
int wp_wit_parse(const char *text, size_t len, json_t *out, wp_error *err);

#endif
