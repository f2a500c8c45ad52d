/* The listening socket of an app that serves (Spin's HTTP trigger): bound by wasmpack,
 * with its privileges and in the network namespace where the app is reached, then handed
 * to the engine as a descriptor, so the engine itself needs neither. */
#ifndef WP_NODE_LISTEN_H
#define WP_NODE_LISTEN_H

#include <sys/socket.h>

#include "common/error.h"

/* Where to listen: "HOST:PORT", "[V6]:PORT" or ":PORT" (every address), HOST a numeric
 * address or a name; WP_EUSAGE naming addr when it is none of these. */
typedef struct wp_listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
} wp_listen_addr;

int wp_listen_resolve(const char *addr, wp_listen_addr *out, wp_error *err);

/* Binds and listens, with no allocation (a forked child of a threaded process may call
 * it): the descriptor (not close-on-exec), or -errno. */
int wp_listen_bind(const wp_listen_addr *a);

/* The environment entry that tells the engine the descriptor: "WASMPACK_LISTEN_FD=" and
 * room for its digits, filled by wp_listen_env_set (no allocation either). */
#define WP_LISTEN_ENV "WASMPACK_LISTEN_FD="
#define WP_LISTEN_ENV_ROOM WP_LISTEN_ENV "          "
void wp_listen_env_set(char *entry, int fd);

#endif
