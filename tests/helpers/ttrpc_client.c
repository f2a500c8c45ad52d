/* A ttrpc client for tests of the shim's server:
 *   ttrpc_client ADDRESS call SERVICE METHOD [ID]   a request whose payload is {id = 1};
 *                                                   prints "status N" and the payload's size
 *   ttrpc_client ADDRESS garbage N                  N random bytes, then the connection closes
 *   ttrpc_client ADDRESS truncated                  a header promising 100 bytes, 10 sent
 *   ttrpc_client ADDRESS oversized                  a header claiming 64 MiB
 *   ttrpc_client ADDRESS badproto                   a request frame whose payload is not protobuf
 *   ttrpc_client ADDRESS flood N                    N requests at once on one connection */
#include "common/pb.h"
#include "shim/ttrpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int send_raw(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

int main(int argc, char **argv)
{
	wp_error err = WP_ERROR_INIT;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: ttrpc_client ADDRESS call|garbage|truncated|oversized|badproto|flood ...\n");
		return 2;
	}
	if (wp_ttrpc_dial(argv[1], &fd, &err) < 0) {
		fprintf(stderr, "ttrpc_client: %s\n", err.msg);
		return 1;
	}
	if (!strcmp(argv[2], "call") && argc >= 5) {
		wp_buf req, out;
		int rc;

		wp_buf_init(&req, 4096);
		wp_buf_init(&out, WP_TTRPC_MAX);
		if (argc > 5)
			wp_pb_put_str(&req, 1, argv[5]);
		/* TTRPC_TIMEOUT_MS: the request's timeout_nano (default 5 s) */
		const char *t = getenv("TTRPC_TIMEOUT_MS");

		rc = wp_ttrpc_call(fd, 1, argv[3], argv[4], &req, t ? atoi(t) : 5000, &out, &err);
		if (rc < 0)
			printf("error %s\n", err.msg);
		else
			printf("ok %zu bytes\n", out.len);
		wp_buf_release(&req);
		wp_buf_release(&out);
		close(fd);
		return rc < 0 ? 1 : 0;
	}
	if (!strcmp(argv[2], "garbage") && argc == 4) {
		size_t n = (size_t)atol(argv[3]);
		unsigned char *b = malloc(n ? n : 1);
		FILE *r = fopen("/dev/urandom", "rb");

		if (!b || !r || fread(b, 1, n, r) != n)
			return 1;
		fclose(r);
		send_raw(fd, b, n);
		free(b);
	} else if (!strcmp(argv[2], "truncated")) {
		uint8_t h[WP_TTRPC_HEADER];
		wp_ttrpc_header hd = { .len = 100, .stream = 1, .type = WP_TTRPC_REQUEST };

		wp_ttrpc_header_put(h, &hd);
		send_raw(fd, h, sizeof(h));
		send_raw(fd, "0123456789", 10);
	} else if (!strcmp(argv[2], "oversized")) {
		uint8_t h[WP_TTRPC_HEADER];
		wp_ttrpc_header hd = { .len = 64u << 20, .stream = 1, .type = WP_TTRPC_REQUEST };

		wp_ttrpc_header_put(h, &hd);
		send_raw(fd, h, sizeof(h));
		char buf[256];
		/* the shim closes the connection: the read ends */
		printf("%s\n", recv(fd, buf, sizeof(buf), 0) <= 0 ? "closed" : "answered");
	} else if (!strcmp(argv[2], "badproto")) {
		uint8_t h[WP_TTRPC_HEADER];
		static const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
		wp_ttrpc_header hd = { .len = sizeof(junk), .stream = 1, .type = WP_TTRPC_REQUEST };
		uint8_t rh[WP_TTRPC_HEADER];

		wp_ttrpc_header_put(h, &hd);
		send_raw(fd, h, sizeof(h));
		send_raw(fd, junk, sizeof(junk));
		if (recv(fd, rh, sizeof(rh), MSG_WAITALL) == (ssize_t)sizeof(rh)) {
			wp_ttrpc_header_parse(rh, &hd);
			uint8_t *d = malloc(hd.len + 1);
			int code;
			char *msg;
			const uint8_t *pl;
			size_t pl_len;

			if (d && recv(fd, d, hd.len, MSG_WAITALL) == (ssize_t)hd.len &&
			    wp_ttrpc_response_decode(d, hd.len, &code, &msg, &pl, &pl_len) == 0) {
				printf("status %d %s\n", code, msg ? msg : "");
				free(msg);
			}
			free(d);
		} else
			printf("closed\n");
	} else if (!strcmp(argv[2], "flood") && argc == 4) {
		int n = atoi(argv[3]), answered = 0;
		wp_buf req, payload;

		wp_buf_init(&payload, 64);
		wp_pb_put_str(&payload, 1, "nope");
		/* A child sends while this process reads, as a real client does. */
		pid_t pid = fork();

		if (pid == 0) {
		for (int i = 0; i < n; i++) {
			uint8_t h[WP_TTRPC_HEADER];
			wp_ttrpc_header hd = { .stream = (uint32_t)(2 * i + 1), .type = WP_TTRPC_REQUEST };

			wp_buf_init(&req, 4096);
			wp_ttrpc_request_encode(&req, "containerd.task.v2.Task", "State", &payload, 0);
			hd.len = (uint32_t)req.len;
			wp_ttrpc_header_put(h, &hd);
			send_raw(fd, h, sizeof(h));
			send_raw(fd, req.data, req.len);
			wp_buf_release(&req);
		}
		_exit(0);
		}
		for (int i = 0; i < n; i++) {
			uint8_t rh[WP_TTRPC_HEADER];
			wp_ttrpc_header hd;
			char buf[4096];

			if (recv(fd, rh, sizeof(rh), MSG_WAITALL) != (ssize_t)sizeof(rh))
				break;
			wp_ttrpc_header_parse(rh, &hd);
			if (hd.len > sizeof(buf) || (hd.len && recv(fd, buf, hd.len, MSG_WAITALL) != (ssize_t)hd.len))
				break;
			answered++;
		}
		waitpid(pid, NULL, 0);
		printf("answered %d\n", answered);
		wp_buf_release(&payload);
	}
	close(fd);
	return 0;
}
