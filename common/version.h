/* wasmpack's version, for every layer that names it (version, the Spin trigger's info). */
#ifndef WP_COMMON_VERSION_H
#define WP_COMMON_VERSION_H

#define WP_VERSION "0.1.0"

#endif
