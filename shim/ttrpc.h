/* ttrpc, containerd's RPC protocol between containerd and its shims (containerd/ttrpc
 * PROTOCOL.md): frames of a 10-byte header (data length and stream id, big-endian uint32;
 * type; flags) and at most 4 MiB of data; a Request {service = 1, method = 2,
 * payload = 3, timeout_nano = 4, metadata = 5} answered on the same stream by a
 * Response {status = 1 (google.rpc.Status: code = 1, message = 2), payload = 2}. */
#ifndef WP_SHIM_TTRPC_H
#define WP_SHIM_TTRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"

#define WP_TTRPC_MAX (4u << 20)
#define WP_TTRPC_HEADER 10

enum { WP_TTRPC_REQUEST = 1, WP_TTRPC_RESPONSE = 2, WP_TTRPC_DATA = 3 };

/* gRPC status codes (google.golang.org/grpc/codes), which ttrpc and containerd use. */
enum {
	WP_RPC_OK = 0,
	WP_RPC_UNKNOWN = 2,
	WP_RPC_INVALID_ARGUMENT = 3,
	WP_RPC_DEADLINE_EXCEEDED = 4,
	WP_RPC_NOT_FOUND = 5,
	WP_RPC_ALREADY_EXISTS = 6,
	WP_RPC_PERMISSION_DENIED = 7,
	WP_RPC_RESOURCE_EXHAUSTED = 8,
	WP_RPC_FAILED_PRECONDITION = 9,
	WP_RPC_UNIMPLEMENTED = 12,
	WP_RPC_INTERNAL = 13,
	WP_RPC_UNAVAILABLE = 14,
};

typedef struct wp_ttrpc_header {
	uint32_t len, stream;
	uint8_t type, flags;
} wp_ttrpc_header;

typedef struct wp_ttrpc_request {
	char *service, *method;
	const uint8_t *payload;
	size_t payload_len;
	int64_t timeout_nano;
} wp_ttrpc_request;

/* -1 when the length is past WP_TTRPC_MAX. */
int wp_ttrpc_header_parse(const uint8_t raw[WP_TTRPC_HEADER], wp_ttrpc_header *h);
void wp_ttrpc_header_put(uint8_t raw[WP_TTRPC_HEADER], const wp_ttrpc_header *h);
/* 0, or -1 on a malformed request (the payload points into data). */
int wp_ttrpc_request_decode(const uint8_t *data, size_t len, wp_ttrpc_request *req);
void wp_ttrpc_request_release(wp_ttrpc_request *req);
int wp_ttrpc_request_encode(wp_buf *out, const char *service, const char *method, const wp_buf *payload,
			    int64_t timeout_nano);
int wp_ttrpc_response_encode(wp_buf *out, int code, const char *message, const wp_buf *payload);
/* 0 with the status and payload (pointing into data), -1 when malformed. */
int wp_ttrpc_response_decode(const uint8_t *data, size_t len, int *code, char **message, const uint8_t **payload,
			     size_t *payload_len);

/* The gRPC status a wp_error code goes out as (WP_EUNSUPPORTED is Unimplemented,
 * WP_ESTATE FailedPrecondition, ...): containerd turns these into its errdefs. */
int wp_ttrpc_status(int code);

/* A handler answers one request: it fills reply and returns WP_OK, or a wp_error code with
 * err set; the reply carries wp_ttrpc_status(code) and err's message. deadline is NULL
 * when the caller set none. Handlers run on threads of their own, so one may block (Wait)
 * while others are answered. */
typedef int (*wp_ttrpc_handler)(void *ctx, const wp_ttrpc_request *req, const struct timespec *deadline,
				wp_buf *reply, wp_error *err);

/* Serves one connection until the peer closes it or sends a malformed frame (which closes
 * it); returns after every handler on it has finished. */
void wp_ttrpc_serve_conn(int fd, wp_ttrpc_handler h, void *ctx);
/* Accepts connections on a listening socket, each served on a thread of its own, until
 * stop becomes true: checked whenever wake_fd (an eventfd, or -1) becomes readable, and at
 * least every second. Then it stops reading on every connection and returns only when
 * every connection thread is done (replies of running calls still go out), so ctx may be
 * freed after: a handler that blocks must return once the caller has asked it to stop. */
int wp_ttrpc_serve(int listen_fd, int wake_fd, wp_ttrpc_handler h, void *ctx, volatile bool *stop, wp_error *err);

/* Client: a connection to "unix:///path" or "/path"; one call at a time. */
int wp_ttrpc_dial(const char *address, int *fd, wp_error *err);
int wp_ttrpc_call(int fd, uint32_t stream, const char *service, const char *method, const wp_buf *payload,
		  int timeout_ms, wp_buf *reply, wp_error *err);

#endif
