/* A CRI client for the tests, driving containerd's CRI plugin as the kubelet does:
 * RuntimeService and ImageService (runtime.v1) over gRPC on containerd's socket, with
 * wp_cdclient_call (HTTP/2 with libcurl) and hand-written protobuf. Field numbers are
 * the CRI api.proto's (k8s.io/cri-api, runtime/v1). There is no crictl in Debian 12.
 *
 *   cri SOCKET version
 *   cri SOCKET pull IMAGE [USER PASSWORD]        -> the image ref
 *   cri SOCKET runp POD.json [HANDLER]            -> the sandbox id
 *   cri SOCKET create POD_ID CTR.json POD.json    -> the container id
 *   cri SOCKET start|rm|status|stats CONTAINER_ID
 *   cri SOCKET stop CONTAINER_ID TIMEOUT_S
 *   cri SOCKET stopp|rmp|pstatus|podstats POD_ID
 *   cri SOCKET execsync CONTAINER_ID TIMEOUT_S CMD...   -> {stdout, stderr, exit_code}
 *   cri SOCKET exec [-i|-t|-it] CONTAINER_ID CMD... -> the streaming URL (stdin, terminal)
 *   cri SOCKET ps | pods | liststats
 *
 * POD.json: {"name", "uid", "namespace", "attempt", "log_directory", "hostname",
 *            "network": "node"|"pod", "labels": {}, "annotations": {}, "cgroup_parent"}
 * CTR.json: {"name", "attempt", "image", "command": [], "args": [], "working_dir",
 *            "envs": {}, "mounts": [{"container_path", "host_path", "readonly"}],
 *            "log_path", "memory_limit", "tty", "labels": {}, "annotations": {}}
 * Answers print as JSON on stdout; a failed call prints its gRPC message on stderr and
 * exits 1 (3 for NotFound). */
#include "common/buf.h"
#include "common/error.h"
#include "common/json.h"
#include "common/pb.h"
#include "common/util.h"
#include "node/cdclient.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *sock;

/* ---- writing ---- */

static void put_str(wp_buf *b, uint32_t n, const char *s)
{
	if (s)
		wp_pb_put_str(b, n, s);
}

static void put_map(wp_buf *b, uint32_t n, json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		wp_buf e;

		wp_buf_init(&e, 1 << 16);
		wp_pb_put_str(&e, 1, k);
		wp_pb_put_str(&e, 2, json_string_value(v));
		wp_pb_put_msg(b, n, &e);
		wp_buf_release(&e);
	}
}

static void put_sub(wp_buf *b, uint32_t n, wp_buf *sub)
{
	wp_pb_put_msg(b, n, sub);
	wp_buf_release(sub);
}

/* PodSandboxConfig. */
static void pod_config(wp_buf *b, json_t *p)
{
	wp_buf md, lx, sc, ns;
	bool host = !strcmp(wp_json_str(p, "network") ? wp_json_str(p, "network") : "node", "node");

	/* PodSandboxMetadata {name = 1, uid = 2, namespace = 3, attempt = 4} */
	wp_buf_init(&md, 1 << 16);
	put_str(&md, 1, wp_json_str(p, "name"));
	put_str(&md, 2, wp_json_str(p, "uid"));
	put_str(&md, 3, wp_json_str(p, "namespace"));
	wp_pb_put_varint(&md, 4, (uint64_t)json_integer_value(json_object_get(p, "attempt")));
	put_sub(b, 1, &md);
	put_str(b, 2, wp_json_str(p, "hostname"));
	put_str(b, 3, wp_json_str(p, "log_directory"));
	put_map(b, 6, json_object_get(p, "labels"));
	put_map(b, 7, json_object_get(p, "annotations"));
	/* LinuxPodSandboxConfig {cgroup_parent = 1, security_context = 2}; its
	 * LinuxSandboxSecurityContext {namespace_options = 1}; NamespaceOption {network = 1,
	 * pid = 2, ipc = 3}: POD 0, CONTAINER 1, NODE 2 */
	wp_buf_init(&lx, 1 << 16);
	wp_buf_init(&sc, 1 << 16);
	wp_buf_init(&ns, 1 << 16);
	wp_pb_put_varint(&ns, 1, host ? 2 : 0);
	wp_pb_put_varint(&ns, 2, 1);
	wp_pb_put_varint(&ns, 3, host ? 2 : 0);
	put_sub(&sc, 1, &ns);
	put_str(&lx, 1, wp_json_str(p, "cgroup_parent"));
	put_sub(&lx, 2, &sc);
	put_sub(b, 8, &lx);
}

/* ContainerConfig. */
static void container_config(wp_buf *b, json_t *c)
{
	wp_buf md, img, lx, res;
	const char *k;
	json_t *v;
	size_t i;

	/* ContainerMetadata {name = 1, attempt = 2} */
	wp_buf_init(&md, 1 << 16);
	put_str(&md, 1, wp_json_str(c, "name"));
	wp_pb_put_varint(&md, 2, (uint64_t)json_integer_value(json_object_get(c, "attempt")));
	put_sub(b, 1, &md);
	/* ImageSpec {image = 1} */
	wp_buf_init(&img, 1 << 16);
	put_str(&img, 1, wp_json_str(c, "image"));
	put_sub(b, 2, &img);
	json_array_foreach(json_object_get(c, "command"), i, v)
		wp_pb_put_str(b, 3, json_string_value(v));
	json_array_foreach(json_object_get(c, "args"), i, v)
		wp_pb_put_str(b, 4, json_string_value(v));
	put_str(b, 5, wp_json_str(c, "working_dir"));
	/* KeyValue {key = 1, value = 2} */
	json_object_foreach(json_object_get(c, "envs"), k, v) {
		wp_buf e;

		wp_buf_init(&e, 1 << 16);
		wp_pb_put_str(&e, 1, k);
		wp_pb_put_str(&e, 2, json_string_value(v));
		put_sub(b, 6, &e);
	}
	/* Mount {container_path = 1, host_path = 2, readonly = 3} */
	json_array_foreach(json_object_get(c, "mounts"), i, v) {
		wp_buf m;

		wp_buf_init(&m, 1 << 16);
		put_str(&m, 1, wp_json_str(v, "container_path"));
		put_str(&m, 2, wp_json_str(v, "host_path"));
		wp_pb_put_varint(&m, 3, json_is_true(json_object_get(v, "readonly")));
		put_sub(b, 7, &m);
	}
	put_map(b, 9, json_object_get(c, "labels"));
	put_map(b, 10, json_object_get(c, "annotations"));
	put_str(b, 11, wp_json_str(c, "log_path"));
	if (json_is_true(json_object_get(c, "tty")))
		wp_pb_put_varint(b, 14, 1);
	/* LinuxContainerConfig {resources = 1}; LinuxContainerResources {memory_limit_in_bytes = 4} */
	wp_buf_init(&lx, 1 << 16);
	wp_buf_init(&res, 1 << 16);
	wp_pb_put_varint(&res, 4, (uint64_t)json_integer_value(json_object_get(c, "memory_limit")));
	put_sub(&lx, 1, &res);
	put_sub(b, 15, &lx);
}

/* ---- the call ---- */

static int collect(void *ctx, const uint8_t *msg, size_t len, wp_error *err)
{
	(void)err;
	return wp_buf_append(ctx, msg, len) < 0 ? WP_ETOOBIG : 0;
}

static void call(const char *service, const char *method, const wp_buf *req, wp_buf *resp)
{
	wp_cdclient cd = { sock, "k8s.io" };
	_cleanup_free_ char *path = wp_str_fmt("/runtime.v1.%s/%s", service, method);
	wp_error err;
	int rc;

	wp_buf_init(resp, 64u << 20);
	if ((rc = wp_cdclient_call(&cd, path, req, collect, resp, &err)) < 0) {
		fprintf(stderr, "cri %s: %s\n", method, err.msg);
		exit(rc == WP_ENOTFOUND ? 3 : 1);
	}
}

/* ---- reading ---- */

/* Every field of a message, as {"N": value or [values]}: strings when printable, nested
 * messages as objects, numbers as integers. Enough for the tests to pick what they need
 * by field number. */
static json_t *decode(const uint8_t *d, size_t len, int depth);

static json_t *field_value(const wp_pb_field *f, int depth)
{
	if (f->wire != WP_PB_LEN)
		return json_integer((json_int_t)f->v);
	if (depth < 8) {
		json_t *nested = decode(f->data, f->len, depth + 1);

		if (nested && json_object_size(nested)) {
			/* a printable string that parses as a message by chance stays a string */
			bool printable = f->len > 0;

			for (size_t i = 0; i < f->len && printable; i++)
				printable = f->data[i] >= 0x20 && f->data[i] < 0x7f;
			if (!printable)
				return nested;
		}
		json_decref(nested);
	}
	json_t *s = json_stringn((const char *)f->data, f->len);

	return s ? s : json_string("<bytes>");
}

static json_t *decode(const uint8_t *d, size_t len, int depth)
{
	json_t *o = json_object();
	wp_pb_reader r;
	wp_pb_field f;
	int n;

	wp_pb_reader_init(&r, d, len);
	while ((n = wp_pb_next(&r, &f)) > 0) {
		char key[16];
		json_t *prev, *v = field_value(&f, depth);

		snprintf(key, sizeof(key), "%u", f.num);
		prev = json_object_get(o, key);
		if (!prev) {
			json_object_set_new(o, key, v);
		} else if (json_is_array(prev)) {
			json_array_append_new(prev, v);
		} else {
			json_t *a = json_pack("[O]", prev);

			json_array_append_new(a, v);
			json_object_set_new(o, key, a);
		}
	}
	if (n < 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void print_decoded(const wp_buf *resp)
{
	json_t *o = decode((const uint8_t *)(resp->data ? resp->data : ""), resp->len, 0);
	char *s = json_dumps(o ? o : json_null(), JSON_COMPACT | JSON_SORT_KEYS);

	printf("%s\n", s);
	free(s);
	json_decref(o);
}

/* The first string field num of resp. */
static void print_str_field(const wp_buf *resp, uint32_t num)
{
	wp_pb_reader r;
	wp_pb_field f;

	wp_pb_reader_init(&r, resp->data, resp->len);
	while (wp_pb_next(&r, &f) > 0)
		if (f.num == num && f.wire == WP_PB_LEN) {
			printf("%.*s\n", (int)f.len, (const char *)f.data);
			return;
		}
	printf("\n");
}

static json_t *load(const char *path)
{
	json_t *j = NULL;
	wp_error err;

	if (wp_json_read_file(path, 1 << 20, &j, &err) < 0) {
		fprintf(stderr, "cri: %s\n", err.msg);
		exit(2);
	}
	return j;
}

static void one_id(const char *service, const char *method, const char *id, uint64_t extra)
{
	wp_buf req, resp;

	wp_buf_init(&req, 1 << 16);
	wp_pb_put_str(&req, 1, id);
	if (extra)
		wp_pb_put_varint(&req, 2, extra);
	call(service, method, &req, &resp);
	print_decoded(&resp);
	wp_buf_release(&req);
	wp_buf_release(&resp);
}

int main(int argc, char **argv)
{
	const char *op;
	wp_buf req, resp;

	if (argc < 3) {
		fprintf(stderr, "usage: cri SOCKET COMMAND ARGS... (see tests/helpers/cri.c)\n");
		return 2;
	}
	sock = argv[1];
	op = argv[2];
	wp_buf_init(&req, 1 << 20);
	wp_buf_init(&resp, 1);
	if (!strcmp(op, "version")) {
		wp_pb_put_str(&req, 1, "v1");
		call("RuntimeService", "Version", &req, &resp);
		print_decoded(&resp);
	} else if (!strcmp(op, "pull") && argc >= 4) {
		wp_buf img, auth;

		/* PullImageRequest {image = 1 (ImageSpec), auth = 2 (AuthConfig {username = 1,
		 * password = 2})} */
		wp_buf_init(&img, 1 << 16);
		wp_pb_put_str(&img, 1, argv[3]);
		put_sub(&req, 1, &img);
		if (argc >= 6) {
			wp_buf_init(&auth, 1 << 16);
			wp_pb_put_str(&auth, 1, argv[4]);
			wp_pb_put_str(&auth, 2, argv[5]);
			put_sub(&req, 2, &auth);
		}
		call("ImageService", "PullImage", &req, &resp);
		print_str_field(&resp, 1);
	} else if (!strcmp(op, "runp") && argc >= 4) {
		json_t *p = load(argv[3]);
		wp_buf cfg;

		wp_buf_init(&cfg, 1 << 20);
		pod_config(&cfg, p);
		put_sub(&req, 1, &cfg);
		wp_pb_put_str(&req, 2, argc >= 5 ? argv[4] : "wasmpack");
		call("RuntimeService", "RunPodSandbox", &req, &resp);
		print_str_field(&resp, 1);
		json_decref(p);
	} else if (!strcmp(op, "create") && argc >= 6) {
		json_t *c = load(argv[4]), *p = load(argv[5]);
		wp_buf cc, pc;

		wp_buf_init(&cc, 1 << 20);
		wp_buf_init(&pc, 1 << 20);
		container_config(&cc, c);
		pod_config(&pc, p);
		wp_pb_put_str(&req, 1, argv[3]);
		put_sub(&req, 2, &cc);
		put_sub(&req, 3, &pc);
		call("RuntimeService", "CreateContainer", &req, &resp);
		print_str_field(&resp, 1);
		json_decref(c);
		json_decref(p);
	} else if (!strcmp(op, "start") && argc >= 4) {
		one_id("RuntimeService", "StartContainer", argv[3], 0);
	} else if (!strcmp(op, "stop") && argc >= 5) {
		one_id("RuntimeService", "StopContainer", argv[3], strtoull(argv[4], NULL, 10));
	} else if (!strcmp(op, "rm") && argc >= 4) {
		one_id("RuntimeService", "RemoveContainer", argv[3], 0);
	} else if (!strcmp(op, "status") && argc >= 4) {
		one_id("RuntimeService", "ContainerStatus", argv[3], 0);
	} else if (!strcmp(op, "stats") && argc >= 4) {
		one_id("RuntimeService", "ContainerStats", argv[3], 0);
	} else if (!strcmp(op, "stopp") && argc >= 4) {
		one_id("RuntimeService", "StopPodSandbox", argv[3], 0);
	} else if (!strcmp(op, "rmp") && argc >= 4) {
		one_id("RuntimeService", "RemovePodSandbox", argv[3], 0);
	} else if (!strcmp(op, "pstatus") && argc >= 4) {
		one_id("RuntimeService", "PodSandboxStatus", argv[3], 0);
	} else if (!strcmp(op, "podstats") && argc >= 4) {
		one_id("RuntimeService", "PodSandboxStats", argv[3], 0);
	} else if (!strcmp(op, "execsync") && argc >= 6) {
		/* ExecSyncRequest {container_id = 1, cmd = 2, timeout = 3} */
		wp_pb_put_str(&req, 1, argv[3]);
		for (int i = 5; i < argc; i++)
			wp_pb_put_str(&req, 2, argv[i]);
		wp_pb_put_varint(&req, 3, strtoull(argv[4], NULL, 10));
		call("RuntimeService", "ExecSync", &req, &resp);
		print_decoded(&resp);
	} else if (!strcmp(op, "exec") && argc >= 5) {
		/* ExecRequest {container_id = 1, cmd = 2, tty = 3, stdin = 4, stdout = 5, stderr = 6};
		 * exec [-i|-t|-it] ID CMD...: stdin and a terminal, as kubectl exec -i and -t ask */
		bool flags = argv[3][0] == '-', in = flags && strchr(argv[3], 'i'), tty = flags && strchr(argv[3], 't');
		int a = flags ? 4 : 3;

		if (argc < a + 2) {
			fprintf(stderr, "cri: exec [-i|-t|-it] ID CMD...\n");
			return 2;
		}
		wp_pb_put_str(&req, 1, argv[a]);
		for (int i = a + 1; i < argc; i++)
			wp_pb_put_str(&req, 2, argv[i]);
		if (tty)
			wp_pb_put_varint(&req, 3, 1);
		if (in)
			wp_pb_put_varint(&req, 4, 1);
		wp_pb_put_varint(&req, 5, 1);
		if (!tty) /* a terminal has one output stream */
			wp_pb_put_varint(&req, 6, 1);
		call("RuntimeService", "Exec", &req, &resp);
		print_str_field(&resp, 1);
	} else if (!strcmp(op, "ps")) {
		call("RuntimeService", "ListContainers", &req, &resp);
		print_decoded(&resp);
	} else if (!strcmp(op, "pods")) {
		call("RuntimeService", "ListPodSandbox", &req, &resp);
		print_decoded(&resp);
	} else if (!strcmp(op, "liststats")) {
		call("RuntimeService", "ListContainerStats", &req, &resp);
		print_decoded(&resp);
	} else {
		fprintf(stderr, "cri: unknown command or missing arguments: %s\n", op);
		return 2;
	}
	wp_buf_release(&req);
	wp_buf_release(&resp);
	return 0;
}
