#include "shim/ttrpc.h"
#include "common/pb.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Requests in flight on one connection; past it a request is answered at once with
 * RESOURCE_EXHAUSTED, so a flood cannot exhaust threads. */
#define MAX_INFLIGHT 128

#define HANDLER_STACK (256u << 10)

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int wp_ttrpc_header_parse(const uint8_t raw[WP_TTRPC_HEADER], wp_ttrpc_header *h)
{
	h->len = be32(raw);
	h->stream = be32(raw + 4);
	h->type = raw[8];
	h->flags = raw[9];
	return h->len > WP_TTRPC_MAX ? -1 : 0;
}

void wp_ttrpc_header_put(uint8_t raw[WP_TTRPC_HEADER], const wp_ttrpc_header *h)
{
	put_be32(raw, h->len);
	put_be32(raw + 4, h->stream);
	raw[8] = h->type;
	raw[9] = h->flags;
}

void wp_ttrpc_request_release(wp_ttrpc_request *req)
{
	free(req->service);
	free(req->method);
	memset(req, 0, sizeof(*req));
}

int wp_ttrpc_request_decode(const uint8_t *data, size_t len, wp_ttrpc_request *req)
{
	wp_pb_reader r;
	wp_pb_field f;
	int n;

	memset(req, 0, sizeof(*req));
	wp_pb_reader_init(&r, data, len);
	while ((n = wp_pb_next(&r, &f)) > 0) {
		char **dst = NULL;

		if (f.num == 1 && f.wire == WP_PB_LEN)
			dst = &req->service;
		else if (f.num == 2 && f.wire == WP_PB_LEN)
			dst = &req->method;
		else if (f.num == 3 && f.wire == WP_PB_LEN) {
			req->payload = f.data;
			req->payload_len = f.len;
		} else if (f.num == 4 && f.wire == WP_PB_VARINT)
			req->timeout_nano = (int64_t)f.v;
		if (dst) {
			free(*dst);
			if (!(*dst = wp_pb_strdup(&f))) {
				n = -1;
				break;
			}
		}
	}
	if (n < 0 || !req->service || !req->method) {
		wp_ttrpc_request_release(req);
		return -1;
	}
	return 0;
}

int wp_ttrpc_request_encode(wp_buf *out, const char *service, const char *method, const wp_buf *payload,
			    int64_t timeout_nano)
{
	int rc;

	if ((rc = wp_pb_put_str(out, 1, service)) < 0 || (rc = wp_pb_put_str(out, 2, method)) < 0 ||
	    (rc = wp_pb_put_bytes(out, 3, payload ? payload->data : NULL, payload ? payload->len : 0)) < 0)
		return rc;
	return wp_pb_put_varint(out, 4, (uint64_t)timeout_nano);
}

int wp_ttrpc_response_encode(wp_buf *out, int code, const char *message, const wp_buf *payload)
{
	int rc = 0;

	if (code != WP_RPC_OK) {
		wp_buf st;

		wp_buf_init(&st, WP_BUF_UNLIMITED);
		if ((rc = wp_pb_put_varint(&st, 1, (uint64_t)code)) == 0 && (rc = wp_pb_put_str(&st, 2, message)) == 0)
			rc = wp_pb_put_msg(out, 1, &st);
		wp_buf_release(&st);
		return rc;
	}
	if (payload && payload->len)
		rc = wp_pb_put_bytes(out, 2, payload->data, payload->len);
	return rc;
}

int wp_ttrpc_response_decode(const uint8_t *data, size_t len, int *code, char **message, const uint8_t **payload,
			     size_t *payload_len)
{
	wp_pb_reader r, sr;
	wp_pb_field f, sf;
	int n, m;

	*code = 0;
	*message = NULL;
	*payload = NULL;
	*payload_len = 0;
	wp_pb_reader_init(&r, data, len);
	while ((n = wp_pb_next(&r, &f)) > 0) {
		if (f.num == 2 && f.wire == WP_PB_LEN) {
			*payload = f.data;
			*payload_len = f.len;
		} else if (f.num == 1 && f.wire == WP_PB_LEN) {
			wp_pb_reader_init(&sr, f.data, f.len);
			while ((m = wp_pb_next(&sr, &sf)) > 0) {
				if (sf.num == 1 && sf.wire == WP_PB_VARINT)
					*code = (int)sf.v;
				else if (sf.num == 2 && sf.wire == WP_PB_LEN) {
					free(*message);
					*message = wp_pb_strdup(&sf);
				}
			}
			if (m < 0)
				n = -1;
		}
		if (n < 0)
			break;
	}
	if (n < 0) {
		free(*message);
		*message = NULL;
		return -1;
	}
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* 1 with len bytes read, 0 at a clean end before any byte, -1 otherwise. */
static int read_full(int fd, void *data, size_t len)
{
	char *p = data;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 && got == 0 ? 0 : -1;
		got += (size_t)n;
	}
	return 1;
}

static int send_frame(int fd, uint32_t stream, uint8_t type, const wp_buf *data)
{
	uint8_t raw[WP_TTRPC_HEADER];
	wp_ttrpc_header h = { .len = (uint32_t)data->len, .stream = stream, .type = type };

	if (data->len > WP_TTRPC_MAX)
		return -1;
	wp_ttrpc_header_put(raw, &h);
	if (write_all(fd, raw, sizeof(raw)) < 0)
		return -1;
	return data->len ? write_all(fd, data->data, data->len) : 0;
}

typedef struct conn {
	int fd;
	wp_ttrpc_handler handler;
	void *ctx;
	pthread_mutex_t mu;   /* inflight */
	pthread_mutex_t wmu;  /* one frame written at a time; never held by the reader */
	pthread_cond_t idle;
	int inflight;
} conn;

typedef struct call {
	conn *c;
	uint32_t stream;
	uint8_t *data;
	size_t len;
} call;

static void reply(conn *c, uint32_t stream, int code, const char *msg, const wp_buf *payload)
{
	wp_buf out;

	wp_buf_init(&out, WP_TTRPC_MAX);
	if (wp_ttrpc_response_encode(&out, code, msg, payload) < 0) {
		wp_buf_reset(&out);
		wp_ttrpc_response_encode(&out, WP_RPC_RESOURCE_EXHAUSTED, "response too large", NULL);
	}
	pthread_mutex_lock(&c->wmu);
	if (send_frame(c->fd, stream, WP_TTRPC_RESPONSE, &out) < 0)
		shutdown(c->fd, SHUT_RDWR); /* the reader sees the end and stops */
	pthread_mutex_unlock(&c->wmu);
	wp_buf_release(&out);
}

int wp_ttrpc_status(int code)
{
	switch (code) {
	case WP_OK: return WP_RPC_OK;
	case WP_EUSAGE:
	case WP_EINVALID: return WP_RPC_INVALID_ARGUMENT;
	case WP_ENOTFOUND: return WP_RPC_NOT_FOUND;
	case WP_EEXISTS: return WP_RPC_ALREADY_EXISTS;
	case WP_EAUTH: return WP_RPC_PERMISSION_DENIED;
	case WP_ETOOBIG:
	case WP_ENOMEM: return WP_RPC_RESOURCE_EXHAUSTED;
	case WP_EDIGEST:
	case WP_ESTATE: return WP_RPC_FAILED_PRECONDITION;
	case WP_EUNSUPPORTED: return WP_RPC_UNIMPLEMENTED;
	case WP_ETIMEOUT: return WP_RPC_DEADLINE_EXCEEDED;
	case WP_EUNAVAILABLE: return WP_RPC_UNAVAILABLE;
	default: return WP_RPC_INTERNAL;
	}
}

static void *run_call(void *arg)
{
	call *k = arg;
	conn *c = k->c;
	wp_ttrpc_request req;
	wp_buf out;
	wp_error err = WP_ERROR_INIT;
	int code;

	wp_buf_init(&out, WP_TTRPC_MAX - 64);
	if (wp_ttrpc_request_decode(k->data, k->len, &req) < 0) {
		code = wp_error_set(&err, WP_EINVALID, "malformed request");
	} else {
		struct timespec deadline;
		bool has = req.timeout_nano > 0;

		if (has) {
			clock_gettime(CLOCK_REALTIME, &deadline);
			deadline.tv_sec += (time_t)(req.timeout_nano / 1000000000);
			deadline.tv_nsec += (long)(req.timeout_nano % 1000000000);
			if (deadline.tv_nsec >= 1000000000) {
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000;
			}
		}
		code = c->handler(c->ctx, &req, has ? &deadline : NULL, &out, &err);
		wp_ttrpc_request_release(&req);
	}
	if (code != WP_OK && !err.msg[0])
		wp_error_set(&err, code, "%s", wp_error_code_name(code));
	reply(c, k->stream, wp_ttrpc_status(code), code == WP_OK ? "" : err.msg, code == WP_OK ? &out : NULL);
	wp_buf_release(&out);
	free(k->data);
	free(k);
	pthread_mutex_lock(&c->mu);
	if (--c->inflight == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Reads requests until the peer goes (or the read side is shut down), then waits for the
 * calls still running, whose replies still go out. The caller closes fd. */
static void conn_loop(int fd, wp_ttrpc_handler h, void *ctx)
{
	conn c = { .fd = fd, .handler = h, .ctx = ctx };
	pthread_attr_t attr;

	pthread_mutex_init(&c.mu, NULL);
	pthread_mutex_init(&c.wmu, NULL);
	pthread_cond_init(&c.idle, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, HANDLER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		uint8_t raw[WP_TTRPC_HEADER];
		wp_ttrpc_header hd;
		call *k;
		pthread_t t;
		int busy;

		if (read_full(fd, raw, sizeof(raw)) <= 0)
			break;
		/* A length past 4 MiB, a stream id a client may not use, or a frame that is not
		 * a request: the peer is not speaking ttrpc to us; the connection ends. */
		if (wp_ttrpc_header_parse(raw, &hd) < 0 || !(hd.stream & 1) || hd.type != WP_TTRPC_REQUEST) {
			wp_debug("ttrpc: closing a connection after a bad frame (length %u, stream %u, type %u)", hd.len,
				 hd.stream, hd.type);
			break;
		}
		if (!(k = wp_xcalloc(1, sizeof(*k))) || !(k->data = wp_xmalloc(hd.len ? hd.len : 1))) {
			free(k);
			break;
		}
		k->c = &c;
		k->stream = hd.stream;
		k->len = hd.len;
		if (hd.len && read_full(fd, k->data, hd.len) <= 0) {
			free(k->data);
			free(k);
			break;
		}
		pthread_mutex_lock(&c.mu);
		busy = c.inflight >= MAX_INFLIGHT;
		if (!busy)
			c.inflight++;
		pthread_mutex_unlock(&c.mu);
		if (busy || pthread_create(&t, &attr, run_call, k) != 0) {
			if (!busy) {
				pthread_mutex_lock(&c.mu);
				c.inflight--;
				pthread_mutex_unlock(&c.mu);
			}
			reply(&c, k->stream, WP_RPC_RESOURCE_EXHAUSTED, "too many requests in flight", NULL);
			free(k->data);
			free(k);
		}
	}
	shutdown(fd, SHUT_RD);
	pthread_mutex_lock(&c.mu);
	while (c.inflight)
		pthread_cond_wait(&c.idle, &c.mu);
	pthread_mutex_unlock(&c.mu);
	pthread_attr_destroy(&attr);
	pthread_cond_destroy(&c.idle);
	pthread_mutex_destroy(&c.wmu);
	pthread_mutex_destroy(&c.mu);
}

void wp_ttrpc_serve_conn(int fd, wp_ttrpc_handler h, void *ctx)
{
	conn_loop(fd, h, ctx);
	close(fd);
}

/* The connections a server has open, so that stopping it can end each one and wait for
 * all of them: nothing a connection thread uses is freed while one runs. */
typedef struct server {
	pthread_mutex_t mu;
	pthread_cond_t gone;
	int *fds;
	size_t n, cap;
	wp_ttrpc_handler h;
	void *ctx;
} server;

typedef struct conn_arg {
	server *srv;
	int fd;
} conn_arg;

static void *conn_thread(void *arg)
{
	conn_arg a = *(conn_arg *)arg;
	server *srv = a.srv;

	free(arg);
	conn_loop(a.fd, srv->h, srv->ctx);
	/* off the list before the fd is closed: its number may be reused at once */
	pthread_mutex_lock(&srv->mu);
	for (size_t i = 0; i < srv->n; i++)
		if (srv->fds[i] == a.fd) {
			srv->fds[i] = srv->fds[--srv->n];
			break;
		}
	close(a.fd);
	pthread_cond_broadcast(&srv->gone);
	pthread_mutex_unlock(&srv->mu);
	return NULL;
}

int wp_ttrpc_serve(int listen_fd, int wake_fd, wp_ttrpc_handler h, void *ctx, volatile bool *stop, wp_error *err)
{
	server srv = { .h = h, .ctx = ctx };
	pthread_attr_t attr;
	int rc = 0;

	pthread_mutex_init(&srv.mu, NULL);
	pthread_cond_init(&srv.gone, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, HANDLER_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!*stop) {
		struct pollfd p[2] = { { .fd = listen_fd, .events = POLLIN }, { .fd = wake_fd, .events = POLLIN } };
		conn_arg *a;
		pthread_t t;
		int fd;

		if (poll(p, wake_fd >= 0 ? 2 : 1, 1000) <= 0 || !(p[0].revents & POLLIN))
			continue;
		if ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED)
				continue;
			rc = wp_error_sys(err, WP_EIO, "accepting a connection");
			break;
		}
		a = wp_xmalloc(sizeof(*a));
		*a = (conn_arg){ .srv = &srv, .fd = fd };
		pthread_mutex_lock(&srv.mu);
		if (srv.n == srv.cap) {
			srv.cap = srv.cap ? srv.cap * 2 : 8;
			srv.fds = wp_xreallocarray(srv.fds, srv.cap, sizeof(*srv.fds));
		}
		srv.fds[srv.n++] = fd;
		if (pthread_create(&t, &attr, conn_thread, a) != 0) {
			srv.n--;
			close(fd);
			free(a);
		}
		pthread_mutex_unlock(&srv.mu);
	}
	pthread_attr_destroy(&attr);
	/* Stop reading on every connection (writing stays open, so the calls still running,
	 * Shutdown's own among them, send their replies), then wait for every connection
	 * thread to finish with them. */
	pthread_mutex_lock(&srv.mu);
	for (size_t i = 0; i < srv.n; i++)
		shutdown(srv.fds[i], SHUT_RD);
	while (srv.n)
		pthread_cond_wait(&srv.gone, &srv.mu);
	pthread_mutex_unlock(&srv.mu);
	free(srv.fds);
	pthread_cond_destroy(&srv.gone);
	pthread_mutex_destroy(&srv.mu);
	return rc;
}

int wp_ttrpc_dial(const char *address, int *fd, wp_error *err)
{
	const char *path = wp_str_has_prefix(address, "unix://") ? address + 7 : address;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	if (strlen(path) >= sizeof(sa.sun_path))
		return wp_error_set(err, WP_EUSAGE, "socket path '%s' is too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return wp_error_sys(err, WP_EIO, "socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(s);
		errno = e;
		return wp_error_sys(err, WP_EIO, "connecting to '%s'", path);
	}
	*fd = s;
	return 0;
}

int wp_ttrpc_call(int fd, uint32_t stream, const char *service, const char *method, const wp_buf *payload,
		  int timeout_ms, wp_buf *out, wp_error *err)
{
	wp_buf req;
	uint8_t raw[WP_TTRPC_HEADER];
	uint8_t *data = NULL;
	wp_ttrpc_header h;
	int rc = 0;

	wp_buf_init(&req, WP_TTRPC_MAX);
	if (wp_ttrpc_request_encode(&req, service, method, payload, (int64_t)timeout_ms * 1000000) < 0 ||
	    send_frame(fd, stream, WP_TTRPC_REQUEST, &req) < 0) {
		rc = wp_error_sys(err, WP_EIO, "sending %s/%s", service, method);
		goto done;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int code;
		char *msg;
		const uint8_t *pl;
		size_t pl_len;

		/* The server answers by the request's deadline; a little more for the trip. */
		if (timeout_ms > 0 && poll(&p, 1, timeout_ms + 2000) <= 0) {
			rc = wp_error_set(err, WP_EIO, "%s/%s: no answer in %d ms", service, method, timeout_ms);
			goto done;
		}
		if (read_full(fd, raw, sizeof(raw)) <= 0 || wp_ttrpc_header_parse(raw, &h) < 0 ||
		    !(data = wp_xmalloc(h.len ? h.len : 1)) || (h.len && read_full(fd, data, h.len) <= 0)) {
			rc = wp_error_set(err, WP_EIO, "%s/%s: the connection broke", service, method);
			goto done;
		}
		if (h.stream != stream || h.type != WP_TTRPC_RESPONSE) {
			free(data);
			data = NULL;
			continue;
		}
		if (wp_ttrpc_response_decode(data, h.len, &code, &msg, &pl, &pl_len) < 0) {
			rc = wp_error_set(err, WP_EINVALID, "%s/%s: malformed response", service, method);
			goto done;
		}
		if (code != WP_RPC_OK)
			rc = wp_error_set(err, code == WP_RPC_NOT_FOUND ? WP_ENOTFOUND : WP_EFAIL, "%s/%s: status %d: %s",
					  service, method, code, msg ? msg : "");
		else if (out)
			rc = wp_buf_append(out, pl, pl_len);
		free(msg);
		goto done;
	}
done:
	free(data);
	wp_buf_release(&req);
	return rc;
}
