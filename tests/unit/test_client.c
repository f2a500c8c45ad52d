/* registry/client.c against a scripted server: a thread on 127.0.0.1 that answers each
 * connection with the next response of its script and keeps what it was asked, so each
 * case checks both sides: what the client sent (auth headers, token requests, retries,
 * what follows a redirect) and what it made of the answer. */
#include "tap.h"
#include "common/buf.h"
#include "common/util.h"
#include "registry/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_STEPS 8

typedef struct server {
	const char *host;
	int fd, port;
	const char *script[MAX_STEPS]; /* raw responses; "%d" in one becomes the other server's port */
	size_t n;
	int other_port;
	char asked[MAX_STEPS][2048];    /* each request's head, as received */
	size_t n_asked;
	pthread_t thread;
} server;

static void server_open(server *s, const char *host)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->host = host;
	inet_pton(AF_INET, host, &a.sin_addr);
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s->fd, 8) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&a, &len) < 0) {
		perror("scripted server");
		exit(1);
	}
	s->port = ntohs(a.sin_port);
}

/* Answers one connection per scripted step; stops at the end of the script, or when no
 * one connects for 1 s (a client that asked less than the script holds). */
static void *serve(void *arg)
{
	server *s = arg;

	for (size_t i = 0; i < s->n; i++) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		char head[2048], out[4096];
		size_t got = 0;
		ssize_t n;
		int c;

		if (poll(&p, 1, 1000) <= 0 || (c = accept(s->fd, NULL, NULL)) < 0)
			break;
		while (got < sizeof(head) - 1 && (n = read(c, head + got, sizeof(head) - 1 - got)) > 0) {
			got += (size_t)n;
			head[got] = '\0';
			if (strstr(head, "\r\n\r\n"))
				break;
		}
		head[got] = '\0';
		memcpy(s->asked[s->n_asked++], head, got + 1);
		n = snprintf(out, sizeof(out), s->script[i], s->other_port);
		(void)!write(c, out, (size_t)n);
		close(c);
	}
	return NULL;
}

static void server_start(server *s)
{
	s->n_asked = 0;
	pthread_create(&s->thread, NULL, serve, s);
}

static void server_wait(server *s)
{
	pthread_join(s->thread, NULL);
}

/* A request to the scripted registry; the status, or < 0. */
static long get(wp_client *c, const char *path, const char *scope, wp_buf *body, wp_error *err)
{
	wp_client_req q;
	wp_client_resp p = { 0 };
	long status;
	int rc;

	wp_client_req_init(&q, "GET", wp_client_url(c, path));
	q.scope = scope ? wp_xstrdup(scope) : NULL;
	q.resp_body = body;
	wp_client_resp_reset(&p);
	rc = wp_client_do(c, &q, &p, err);
	status = rc < 0 ? rc : p.status;
	if (rc == 0 && p.status >= 400)
		wp_client_check(&p, path, err);
	wp_client_req_release(&q);
	wp_client_resp_release(&p);
	return status;
}

#define OK_JSON "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"

static wp_client *open_client(server *s, int attempts)
{
	char reg[64];
	wp_client *c;
	wp_client_opts o = { .plain_http = true, .max_attempts = attempts };
	wp_error err;

	snprintf(reg, sizeof(reg), "%s:%d", s->host, s->port);
	if (wp_client_open(&c, reg, &o, &err) < 0) {
		ok(0, "open a client: %s", err.msg);
		exit(1);
	}
	return c;
}

static void test_plain(server *s)
{
	wp_client *c = open_client(s, 1);
	wp_buf body;
	wp_error err;

	s->script[0] = OK_JSON;
	s->n = 1;
	server_start(s);
	wp_buf_init(&body, 1 << 20);
	is_int(get(c, "/v2/", NULL, &body, &err), 200, "a GET is answered");
	ok(body.len == 2 && !memcmp(body.data, "{}", 2), "its body is collected");
	server_wait(s);
	ok(!strncmp(s->asked[0], "GET /v2/ HTTP/1.1\r\n", 19), "the request line is the path asked for");
	ok(strstr(s->asked[0], "User-Agent: wasmpack/") != NULL, "it names wasmpack as its agent");
	ok(!strstr(s->asked[0], "Authorization:"), "with no credentials, no Authorization is sent");
	wp_buf_release(&body);
	wp_client_close(c);
}

static void test_bearer(server *s)
{
	wp_client *c = open_client(s, 1);
	wp_buf body;
	wp_error err;
	char realm[256];

	snprintf(realm, sizeof(realm),
		 "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://%s:%%d/token\",service=\"reg\","
		 "scope=\"repository:app:pull\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		 s->host);
	s->other_port = s->port;
	s->script[0] = realm;
	s->script[1] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
		       "{\"token\":\"tok-123\",\"expires_in\":300}\n\n";
	s->script[2] = OK_JSON;
	s->script[3] = OK_JSON;
	s->n = 4;
	server_start(s);
	wp_buf_init(&body, 1 << 20);
	is_int(get(c, "/v2/app/manifests/1", "repository:app:pull", &body, &err), 200, "a 401 with a Bearer challenge is met");
	is_int(get(c, "/v2/app/manifests/2", "repository:app:pull", &body, &err), 200, "a second request of the scope");
	server_wait(s);
	is_int(s->n_asked, 4, "four requests: the refused one, the token, the retry, the second");
	ok(!strncmp(s->asked[1], "GET /token?service=reg&scope=repository%3Aapp%3Apull HTTP/1.1", 60),
	   "the token is asked for the challenge's service and scope, URL-encoded (%.60s)", s->asked[1]);
	ok(strstr(s->asked[2], "Authorization: Bearer tok-123\r\n") != NULL, "the retry carries the token");
	ok(strstr(s->asked[3], "Authorization: Bearer tok-123\r\n") != NULL, "and the next request reuses it, unasked");
	wp_buf_release(&body);
	wp_client_close(c);
}

static void test_bad_token(server *s)
{
	wp_client *c = open_client(s, 1);
	wp_buf body;
	wp_error err;
	char realm[256];

	snprintf(realm, sizeof(realm),
		 "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://%s:%%d/token\",service=\"reg\"\r\n"
		 "Content-Length: 0\r\nConnection: close\r\n\r\n",
		 s->host);
	s->other_port = s->port;
	s->script[0] = realm;
	s->script[1] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
		       "{\"token\":\"a\\r\\nX-Injected: 1\",\"x\":\"yy\"}";
	s->n = 2;
	server_start(s);
	wp_buf_init(&body, 1 << 20);
	ok(get(c, "/v2/", "repository:app:pull", &body, &err) < 0 && err.code == WP_EAUTH,
	   "a token that could add header lines is refused (%s)", err.msg);
	server_wait(s);
	is_int(s->n_asked, 2, "and never sent");
	wp_buf_release(&body);
	wp_client_close(c);
}

static void test_basic(server *s)
{
	wp_client *c = open_client(s, 1);
	wp_buf body;
	wp_error err;
	long status;

	s->script[0] = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"reg\"\r\nContent-Length: 0\r\n"
		       "Connection: close\r\n\r\n";
	s->n = 1;
	server_start(s);
	wp_buf_init(&body, 1 << 20);
	ok(get(c, "/v2/", NULL, &body, &err) < 0 && err.code == WP_EAUTH && strstr(err.msg, "wasmpack login"),
	   "Basic auth without credentials says to log in (%s)", err.msg);
	server_wait(s);

	/* the registry asked for Basic once: from now on the credentials go with each request */
	wp_client_set_cred(c, "alice", "s3cret");
	s->script[0] = OK_JSON;
	s->n = 1;
	server_start(s);
	status = get(c, "/v2/", NULL, &body, &err);
	is_int(status, 200, "with credentials it is met");
	server_wait(s);
	ok(strstr(s->asked[0], "Authorization: Basic YWxpY2U6czNjcmV0\r\n") != NULL, "by Basic alice:s3cret");
	wp_buf_release(&body);
	wp_client_close(c);
}

static void test_retries(server *s)
{
	wp_client *c = open_client(s, 3);
	wp_buf body;
	wp_error err;

	s->script[0] = "HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	s->script[1] = "HTTP/1.1 429 Slow down\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	s->script[2] = OK_JSON;
	s->n = 3;
	server_start(s);
	wp_buf_init(&body, 1 << 20);
	is_int(get(c, "/v2/", NULL, &body, &err), 200, "503 and 429 are retried until the answer comes");
	server_wait(s);
	is_int(s->n_asked, 3, "three requests");

	s->script[0] = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
		       "Connection: close\r\n\r\n"
		       "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}\n";
	s->script[1] = OK_JSON;
	s->n = 2;
	server_start(s);
	is_int(get(c, "/v2/app/manifests/x", NULL, &body, &err), 404, "a 404 is not retried");
	ok(err.code == WP_ENOTFOUND && strstr(err.msg, "MANIFEST_UNKNOWN: manifest unknown"),
	   "and reads as not found, with the registry's code and message (%s)", err.msg);
	server_wait(s);
	is_int(s->n_asked, 1, "one request only");
	wp_buf_release(&body);
	wp_client_close(c);
}

static void test_redirect(server *s, server *blobs)
{
	wp_client *c = open_client(s, 1);
	wp_buf body;
	wp_error err;

	wp_client_set_cred(c, "alice", "s3cret");
	s->script[0] = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"reg\"\r\nContent-Length: 0\r\n"
		       "Connection: close\r\n\r\n";
	s->script[1] = "HTTP/1.1 307 Elsewhere\r\nLocation: http://127.0.0.2:%d/blob?sig=1\r\nContent-Length: 0\r\n"
		       "Connection: close\r\n\r\n";
	s->n = 2;
	s->other_port = blobs->port;
	blobs->script[0] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nblob";
	blobs->n = 1;
	server_start(s);
	server_start(blobs);
	wp_buf_init(&body, 1 << 20);
	is_int(get(c, "/v2/app/blobs/sha256:x", NULL, &body, &err), 200, "a redirect to another host is followed");
	ok(body.len == 4 && !memcmp(body.data, "blob", 4), "to the blob's bytes");
	server_wait(s);
	server_wait(blobs);
	ok(strstr(s->asked[1], "Authorization: Basic") != NULL, "the registry got the credentials");
	ok(!strncmp(blobs->asked[0], "GET /blob?sig=1 ", 16), "the other host got the request");
	ok(!strstr(blobs->asked[0], "Authorization:"), "but not the credentials");
	wp_buf_release(&body);
	wp_client_close(c);

	/* a redirect may not leave http(s) */
	c = open_client(s, 1);
	s->script[0] = "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	s->n = 1;
	server_start(s);
	ok(get(c, "/v2/", NULL, &body, &err) < 0 && strstr(err.msg, "refusing the redirect"),
	   "a redirect to file:// is refused (%s)", err.msg);
	server_wait(s);
	wp_client_close(c);
}

int main(void)
{
	char home[] = "/tmp/wasmpack-client-unit.XXXXXX";
	server s, blobs;

	/* no config or credentials of the user's */
	if (!mkdtemp(home))
		return 1;
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", home, 1);
	setenv("DOCKER_CONFIG", home, 1);
	setenv("REGISTRY_AUTH_FILE", "/nonexistent/auth.json", 1);
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("WASMPACK_CONFIG");
	server_open(&s, "127.0.0.1");
	server_open(&blobs, "127.0.0.2");
	test_plain(&s);
	test_bearer(&s);
	test_bad_token(&s);
	test_basic(&s);
	test_retries(&s);
	test_redirect(&s, &blobs);
	close(s.fd);
	close(blobs.fd);
	rmdir(home);
	return done_testing();
}
