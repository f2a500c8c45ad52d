/* libFuzzer target: what arrives on the shim's socket. The input is a ttrpc frame (header,
 * then a Request), also read as a Response and as nested protobuf, and its payload is
 * handed to the Task service's methods that need no containerd (never Create or Start,
 * which mount and spawn). */
#include "common/pb.h"
#include "shim/shim.h"
#include "shim/ttrpc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir[64];

static void remove_fuzz_dir(void)
{
	rmdir(fuzz_dir);
}

/* Every LEN field is tried as a nested message, as a decoder of any message type would. */
static void walk(const uint8_t *data, size_t len, int depth)
{
	wp_pb_reader r;
	wp_pb_field f;

	if (depth > 8)
		return;
	wp_pb_reader_init(&r, data, len);
	while (wp_pb_next(&r, &f) > 0)
		if (f.wire == WP_PB_LEN) {
			free(wp_pb_strdup(&f));
			walk(f.data, f.len, depth + 1);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *methods[] = { "State", "Delete", "Pids", "Kill", "Wait", "Connect", "CloseIO", "Stats",
					 "Exec", "Shutdown" };
	static wp_shim *sh;
	wp_ttrpc_header h;
	wp_ttrpc_request req;
	int code;
	char *msg;
	const uint8_t *pl;
	size_t pl_len;

	if (!sh) {
		wp_shim_opts o = { .ns = "fuzz" };

		strcpy(fuzz_dir, "/tmp/wasmpack-fuzz.XXXXXX");
		if (!mkdtemp(fuzz_dir))
			abort();
		o.cache_root = fuzz_dir;
		if (!(sh = wp_shim_new(&o)))
			abort();
		atexit(remove_fuzz_dir);
	}
	if (size < WP_TTRPC_HEADER)
		return 0;
	if (wp_ttrpc_header_parse(data, &h) < 0)
		return 0;
	data += WP_TTRPC_HEADER;
	size -= WP_TTRPC_HEADER;
	walk(data, size, 0);
	if (wp_ttrpc_response_decode(data, size, &code, &msg, &pl, &pl_len) == 0)
		free(msg);
	if (wp_ttrpc_request_decode(data, size, &req) == 0) {
		wp_buf reply;
		wp_error m;
		const char *method = methods[h.stream % (sizeof(methods) / sizeof(methods[0]))];
		char *saved = req.method;
		char svc[] = "containerd.task.v2.Task";
		char *saved_svc = req.service;

		/* The fuzzer's method and service names are tried as they are, then a real one. */
		wp_buf_init(&reply, WP_TTRPC_MAX);
		if (strcmp(req.method, "Create") && strcmp(req.method, "Start"))
			wp_shim_handle(sh, &req, NULL, &reply, &m);
		wp_buf_reset(&reply);
		req.method = (char *)method;
		req.service = svc;
		wp_shim_handle(sh, &req, NULL, &reply, &m);
		req.method = saved;
		req.service = saved_svc;
		wp_buf_release(&reply);
		wp_ttrpc_request_release(&req);
	}
	return 0;
}
