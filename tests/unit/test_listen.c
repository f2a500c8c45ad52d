/* The listening socket a serving engine is handed (node/listen.c): the addresses --listen
 * and SPIN_HTTP_LISTEN_ADDR take, the bind, and the descriptor written into the engine's
 * environment entry without allocating. */
#include "tap.h"
#include "node/listen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static void test_resolve(void)
{
	wp_listen_addr a;
	wp_error err;
	struct sockaddr_in *in4 = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a.ss;
	static const char *const bad[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:port", "127.0.0.1:70000", "[::1:80",
					   "127.0.0.1:-1" };

	ok(wp_listen_resolve("127.0.0.1:3000", &a, &err) == 0 && a.ss.ss_family == AF_INET &&
		   ntohs(in4->sin_port) == 3000 && in4->sin_addr.s_addr == htonl(INADDR_LOOPBACK),
	   "127.0.0.1:3000 (spin up's default)");
	ok(wp_listen_resolve("0.0.0.0:80", &a, &err) == 0 && in4->sin_addr.s_addr == htonl(INADDR_ANY) &&
		   ntohs(in4->sin_port) == 80,
	   "0.0.0.0:80 (containerd-shim-spin's default)");
	ok(wp_listen_resolve("[::1]:8080", &a, &err) == 0 && a.ss.ss_family == AF_INET6 && ntohs(in6->sin6_port) == 8080 &&
		   IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr),
	   "[::1]:8080: IPv6 in brackets");
	ok(wp_listen_resolve(":8081", &a, &err) == 0 && ntohs(a.ss.ss_family == AF_INET ? in4->sin_port : in6->sin6_port) == 8081,
	   ":8081: every address");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(wp_listen_resolve(bad[i], &a, &err) < 0 && err.code == WP_EUSAGE && strstr(err.msg, "listen address"),
		   "'%s' is refused as a usage error naming the listen address", bad[i]);
}

static void test_bind_and_env(void)
{
	wp_listen_addr a;
	wp_error err;
	struct sockaddr_in got;
	socklen_t len = sizeof(got);
	char entry[] = WP_LISTEN_ENV_ROOM;
	int fd, again, flags;

	ok(wp_listen_resolve("127.0.0.1:0", &a, &err) == 0, "127.0.0.1:0 resolves");
	fd = wp_listen_bind(&a);
	ok(fd >= 0, "binds and listens");
	flags = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	ok(flags >= 0 && !(flags & FD_CLOEXEC), "and is left open across exec (the engine inherits it)");
	ok(fd >= 0 && getsockname(fd, (struct sockaddr *)&got, &len) == 0 && ntohs(got.sin_port) != 0, "on a port of its own");
	if (fd >= 0) {
		((struct sockaddr_in *)&a.ss)->sin_port = got.sin_port;
		again = wp_listen_bind(&a);
		ok(again < 0 && again == -EADDRINUSE, "a port in use: -EADDRINUSE");
		if (again >= 0)
			close(again);
		close(fd);
	}
	wp_listen_env_set(entry, 7);
	is_str(entry, "WASMPACK_LISTEN_FD=7", "the descriptor's number goes into the environment entry");
	wp_listen_env_set(entry, 1234567890);
	is_str(entry, "WASMPACK_LISTEN_FD=1234567890", "ten digits fit the room it has");
}

int main(void)
{
	test_resolve();
	test_bind_and_env();
	return done_testing();
}
