/* The listening socket handed to a serving engine (node/listen.h). */
#include "node/listen.h"
#include "common/util.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wp_listen_resolve(const char *addr, wp_listen_addr *out, wp_error *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	_cleanup_free_ char *host = NULL;
	const char *colon = addr ? strrchr(addr, ':') : NULL, *port;
	char *end;
	long p;
	int rc;

	if (!colon || !colon[1])
		return wp_error_set(err, WP_EUSAGE, "the listen address '%s': want HOST:PORT (127.0.0.1:3000, [::1]:3000, "
				    ":8080)", addr ? addr : "");
	port = colon + 1;
	p = strtol(port, &end, 10);
	if (*end || p < 0 || p > 65535)
		return wp_error_set(err, WP_EUSAGE, "the listen address '%s': '%s' is no port", addr, port);
	host = wp_xstrndup(addr, (size_t)(colon - addr));
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 2 || host[n - 1] != ']')
			return wp_error_set(err, WP_EUSAGE, "the listen address '%s': an IPv6 address goes in brackets", addr);
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if ((rc = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0 || !res)
		return wp_error_set(err, WP_EUSAGE, "the listen address '%s': %s", addr, gai_strerror(rc));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int wp_listen_bind(const wp_listen_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM, 0), one = 1, e;

	if (fd < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 1024) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

void wp_listen_env_set(char *entry, int fd)
{
	char digits[12];
	size_t n = 0, k = sizeof(WP_LISTEN_ENV) - 1;

	do
		digits[n++] = (char)('0' + fd % 10);
	while ((fd /= 10) > 0 && n < sizeof(digits));
	while (n)
		entry[k++] = digits[--n];
	entry[k] = '\0';
}
