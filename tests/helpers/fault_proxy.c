/* An HTTP proxy for the tests that sits in front of a registry and breaks things on
 * purpose. Listens on 127.0.0.1 only, forwards to 127.0.0.1:UPSTREAM, one request per
 * connection (it answers "Connection: close").
 *
 *   fault_proxy LISTEN_PORT UPSTREAM_PORT RULES_FILE LOG_FILE
 *
 * RULES_FILE is read for every request; each line "METHOD PATH-SUBSTRING COUNT FAULT"
 * applies FAULT to the first COUNT matching requests ("*" matches any method):
 *   status500 / status429   answer that status (429 with Retry-After: 1), not forwarded
 *   drop                    forward, then close halfway through the answer's body
 *   short                   forward, send half the body with a matching Content-Length
 *   flip                    forward, with one byte of the body flipped
 *   stall                   forward, send the headers and half the body, then nothing
 *                           more until the client gives up (a stalled transfer)
 *   droprequest             close halfway through reading the request's body
 *   slowN                   forward, reading the request's body and writing the answer's
 *                           at N KiB/s (a slow link: progress has something to show)
 *   redirect                answer 307 to the same path on http://localhost:PORT (another
 *                           host name), which this proxy then serves with the credentials
 *                           of the original request, as object storage serves signed URLs
 * LOG_FILE gets "METHOD PATH FAULT [range] [auth]" for every request: "range" when it had
 * a Range header, "auth" when it had an Authorization header; LOG_FILE.t the same lines
 * after the time it was received, in milliseconds (CLOCK_MONOTONIC). */
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int upstream_port, listen_port;
static char saved_auth[8192];
static const char *rules_path, *log_path;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int used[256];
static char last_rules[65536];

typedef struct buf {
	char *p;
	size_t len, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* Which fault applies to this request ("" for none), counting it. */
static void pick_fault(const char *method, const char *path, char *fault, size_t sz)
{
	FILE *f;
	char line[1024], m[32], sub[512], act[64];
	int count, idx = 0;

	fault[0] = '\0';
	pthread_mutex_lock(&mu);
	f = fopen(rules_path, "r");
	if (f) {
		/* New rules start their counts afresh. */
		char now[65536];
		size_t got = fread(now, 1, sizeof(now) - 1, f);

		now[got] = '\0';
		if (strcmp(now, last_rules)) {
			memset(used, 0, sizeof(used));
			memcpy(last_rules, now, got + 1);
		}
		rewind(f);
	}
	while (f && fgets(line, sizeof(line), f) && idx < 256) {
		if (sscanf(line, "%31s %511s %d %63s", m, sub, &count, act) != 4) {
			idx++;
			continue;
		}
		if ((!strcmp(m, "*") || !strcmp(m, method)) && strstr(path, sub) && used[idx] < count) {
			used[idx]++;
			snprintf(fault, sz, "%s", act);
			break;
		}
		idx++;
	}
	if (f)
		fclose(f);
	pthread_mutex_unlock(&mu);
}

static void logline(const char *method, const char *path, const char *fault, int range, int auth)
{
	FILE *f;

	char tpath[4096];
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	snprintf(tpath, sizeof(tpath), "%s.t", log_path);
	pthread_mutex_lock(&mu);
	f = fopen(log_path, "a");
	if (f) {
		fprintf(f, "%s %s %s%s%s\n", method, path, fault[0] ? fault : "-", range ? " range" : "", auth ? " auth" : "");
		fclose(f);
	}
	f = fopen(tpath, "a");
	if (f) {
		fprintf(f, "%lld %s %s %s\n", (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000, method, path,
			fault[0] ? fault : "-");
		fclose(f);
	}
	pthread_mutex_unlock(&mu);
}

/* Sleeps as long as moving `moved` bytes since start takes at kibps. */
static void pace(const struct timespec *start, long long moved, long kibps)
{
	struct timespec now;
	long long due_us = moved * 1000000 / (kibps * 1024), spent_us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	spent_us = (now.tv_sec - start->tv_sec) * 1000000LL + (now.tv_nsec - start->tv_nsec) / 1000;
	if (due_us > spent_us)
		usleep((useconds_t)(due_us - spent_us));
}

static void write_paced(int fd, const char *p, size_t n, long kibps)
{
	struct timespec start;
	size_t sent = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (sent < n) {
		size_t k = n - sent < 16384 ? n - sent : 16384;

		write_all(fd, p + sent, k);
		sent += k;
		pace(&start, (long long)sent, kibps);
	}
}

static void simple(int fd, int status, const char *extra)
{
	char resp[512];

	snprintf(resp, sizeof(resp),
		 "HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\n%sContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		 status, extra);
	write_all(fd, resp, strlen(resp));
}

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg, up = -1;
	buf req = { 0 }, resp = { 0 }, head = { 0 };
	char chunk[65536], method[16] = "", path[4096] = "", fault[64];
	char *end, *line, *save;
	long clen = 0;
	ssize_t n;
	size_t hlen;
	struct sockaddr_in a = { 0 };

	while (!(req.p && (end = strstr(req.p, "\r\n\r\n"))) && (n = read(fd, chunk, sizeof(chunk))) > 0)
		put(&req, chunk, (size_t)n);
	if (!req.p || !(end = strstr(req.p, "\r\n\r\n")))
		goto out;
	hlen = (size_t)(end + 4 - req.p);
	sscanf(req.p, "%15s %4095s", method, path);
	{
		char *cl = strcasestr(req.p, "\r\ncontent-length:");

		if (cl && cl < end)
			clen = strtol(cl + 17, NULL, 10);
	}
	{
		char *h = strndup(req.p, hlen);
		char *auth = h ? strcasestr(h, "\r\nauthorization:") : NULL;
		int redirected = strstr(path, "redirected=1") != NULL;

		if (!redirected)
			pick_fault(method, path, fault, sizeof(fault));
		else
			fault[0] = '\0';
		logline(method, path, redirected ? "redirected" : fault, h && strcasestr(h, "\r\nrange:") != NULL, auth != NULL);
		if (!strcmp(fault, "redirect")) {
			char loc[8192];

			if (auth) {
				char *e = strstr(auth + 2, "\r\n");

				pthread_mutex_lock(&mu);
				snprintf(saved_auth, sizeof(saved_auth), "%.*s", (int)(e ? e - (auth + 2) : 0), auth + 2);
				pthread_mutex_unlock(&mu);
			}
			snprintf(loc, sizeof(loc), "Location: http://localhost:%d%s%sredirected=1\r\n", listen_port, path,
				 strchr(path, '?') ? "&" : "?");
			simple(fd, 307, loc);
			free(h);
			goto out;
		}
		if (redirected) {
			/* Stand in for object storage: reach the registry with the original credentials. */
			char *copy = NULL;
			size_t n2;

			pthread_mutex_lock(&mu);
			if (saved_auth[0]) {
				n2 = hlen + strlen(saved_auth) + 4;
				copy = malloc(n2 + req.len);
				if (copy) {
					int k = snprintf(copy, n2, "%.*s%s\r\n\r\n", (int)(hlen - 2), req.p, saved_auth);

					memcpy(copy + k, req.p + hlen, req.len - hlen);
					free(req.p);
					req.p = copy;
					req.len = (size_t)k + req.len - hlen;
					req.cap = n2 + req.len;
					hlen = (size_t)k;
				}
			}
			pthread_mutex_unlock(&mu);
		}
		free(h);
	}
	if (!strcmp(fault, "status500")) {
		simple(fd, 500, "");
		goto out;
	}
	if (!strcmp(fault, "status429")) {
		simple(fd, 429, "Retry-After: 1\r\n");
		goto out;
	}
	if (!strcmp(fault, "droprequest")) {
		while (req.len < hlen + (size_t)clen / 2 && (n = read(fd, chunk, sizeof(chunk))) > 0)
			put(&req, chunk, (size_t)n);
		goto out;
	}
	{
		long kibps = !strncmp(fault, "slow", 4) ? atol(fault + 4) : 0;
		struct timespec start;
		size_t body0 = req.len;

		clock_gettime(CLOCK_MONOTONIC, &start);
		while (req.len < hlen + (size_t)clen && (n = read(fd, chunk, kibps > 0 ? 16384 : sizeof(chunk))) > 0) {
			put(&req, chunk, (size_t)n);
			if (kibps > 0)
				pace(&start, (long long)(req.len - body0), kibps);
		}
	}
	/* Rewrite the head: one request per connection. */
	{
		char *h = strndup(req.p, hlen - 4);

		for (line = strtok_r(h, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
			if (!strncasecmp(line, "connection:", 11) || !strncasecmp(line, "keep-alive", 10))
				continue;
			put(&head, line, strlen(line));
			put(&head, "\r\n", 2);
		}
		free(h);
	}
	put(&head, "Connection: close\r\n\r\n", 21);
	up = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)upstream_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(up, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto out;
	write_all(up, head.p, head.len);
	if (clen > 0)
		write_all(up, req.p + hlen, (size_t)clen);
	while ((n = read(up, chunk, sizeof(chunk))) > 0)
		put(&resp, chunk, (size_t)n);
	if (!resp.p || !(end = strstr(resp.p, "\r\n\r\n")))
		goto out;
	hlen = (size_t)(end + 4 - resp.p);
	{
		size_t blen = resp.len - hlen;

		if (!strcmp(fault, "flip") && blen > 0) {
			resp.p[hlen + blen / 2] ^= 0x20;
		} else if (!strcmp(fault, "drop")) {
			write_all(fd, resp.p, hlen + blen / 2);
			goto out;
		} else if (!strcmp(fault, "stall")) {
			char one;

			write_all(fd, resp.p, hlen + blen / 2);
			/* until the client closes its end (the read returns 0) or an hour passes */
			for (int i = 0; i < 3600 && recv(fd, &one, 1, MSG_DONTWAIT) != 0; i++)
				sleep(1);
			goto out;
		} else if (!strcmp(fault, "short") && blen > 1) {
			buf h2 = { 0 };
			char cl[64];
			char *copy = strndup(resp.p, hlen - 4), *s2 = NULL;

			for (line = strtok_r(copy, "\r\n", &s2); line; line = strtok_r(NULL, "\r\n", &s2)) {
				if (!strncasecmp(line, "content-length:", 15))
					continue;
				put(&h2, line, strlen(line));
				put(&h2, "\r\n", 2);
			}
			snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n\r\n", blen / 2);
			put(&h2, cl, strlen(cl));
			write_all(fd, h2.p, h2.len);
			write_all(fd, resp.p + hlen, blen / 2);
			free(copy);
			free(h2.p);
			goto out;
		}
	}
	if (!strncmp(fault, "slow", 4) && atol(fault + 4) > 0)
		write_paced(fd, resp.p, resp.len, atol(fault + 4));
	else
		write_all(fd, resp.p, resp.len);
out:
	if (up >= 0)
		close(up);
	close(fd);
	free(req.p);
	free(resp.p);
	free(head.p);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { 0 };
	int s, one = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: fault_proxy LISTEN_PORT UPSTREAM_PORT RULES_FILE LOG_FILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	upstream_port = atoi(argv[2]);
	listen_port = atoi(argv[1]);
	rules_path = argv[3];
	log_path = argv[4];
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(argv[1]));
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 64) < 0) {
		perror("fault_proxy");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		pthread_t t;

		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(intptr_t)c) == 0)
			pthread_detach(t);
		else
			close(c);
	}
}
