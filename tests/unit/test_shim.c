/* The shim's wire code: protobuf fields, ttrpc frames and messages, the ttrpc server's
 * concurrency, and the Task service's answers that need no containerd. */
#include "tap.h"
#include "common/sha256.h"
#include "common/util.h"
#include "shim/cgroup.h"
#include "common/pb.h"
#include "shim/shim.h"
#include "shim/spawn.h"
#include "shim/trace.h"
#include "shim/ttrpc.h"
#include "node/seccomp.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int hex_is(const wp_buf *b, const char *want, const char *what)
{
	char got[512] = "";

	for (size_t i = 0; i < b->len && i * 2 + 2 < sizeof(got); i++)
		snprintf(got + i * 2, 3, "%02x", (unsigned char)b->data[i]);
	return is_str(got, want, "%s", what);
}

static void test_pb(void)
{
	wp_buf b;
	wp_pb_reader r;
	wp_pb_field f;
	struct timespec ts = { 1, 2 };

	wp_buf_init(&b, 1024);
	wp_pb_put_varint(&b, 1, 300);
	hex_is(&b, "08ac02", "varint 300 in field 1");
	wp_buf_reset(&b);
	wp_pb_put_str(&b, 2, "");
	wp_pb_put_varint(&b, 3, 0);
	is_int((int)b.len, 0, "empty strings and zeros are left out, as proto3 does");
	wp_shim_delete_response(&b, 42, 137, &ts);
	hex_is(&b, "082a1089011a0408011002", "DeleteResponse {pid 42, exit_status 137, exited_at {1 s, 2 ns}}");
	wp_pb_reader_init(&r, b.data, b.len);
	ok(wp_pb_next(&r, &f) == 1 && f.num == 1 && f.v == 42, "read back: pid");
	ok(wp_pb_next(&r, &f) == 1 && f.num == 2 && f.v == 137, "exit_status");
	ok(wp_pb_next(&r, &f) == 1 && f.num == 3 && f.wire == WP_PB_LEN && f.len == 4, "exited_at");
	ok(wp_pb_next(&r, &f) == 0, "then the end");
	{
		static const struct {
			const char *bytes;
			size_t len;
			const char *why;
		} bad[] = {
			{ "\x08\x80", 2, "a truncated varint" },
			{ "\x0a\x05" "ab", 4, "a length past the end" },
			{ "\x0b", 1, "a group (wire type 3)" },
			{ "\x0e", 1, "wire type 6" },
			{ "\x00\x01", 2, "field number 0" },
			{ "\x09\x01\x02", 3, "a truncated fixed64" },
			{ "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, "a varint of 11 bytes" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			wp_pb_reader_init(&r, bad[i].bytes, bad[i].len);
			ok(wp_pb_next(&r, &f) == -1, "refused: %s", bad[i].why);
		}
	}
	{
		wp_pb_field nul = { .wire = WP_PB_LEN, .data = (const uint8_t *)"a\0b", .len = 3 };

		ok(wp_pb_strdup(&nul) == NULL, "a string holding a NUL byte is refused");
	}
	wp_buf_release(&b);
}

static void test_frames(void)
{
	uint8_t raw[WP_TTRPC_HEADER];
	wp_ttrpc_header h = { .len = 300, .stream = 7, .type = WP_TTRPC_RESPONSE, .flags = 1 }, back;
	wp_ttrpc_request req;
	wp_buf b, p;
	int code;
	char *msg;
	const uint8_t *pl;
	size_t pl_len;

	wp_ttrpc_header_put(raw, &h);
	ok(!memcmp(raw, "\0\0\x01\x2c\0\0\0\x07\x02\x01", 10), "header: big-endian length and stream, type, flags");
	ok(wp_ttrpc_header_parse(raw, &back) == 0 && back.len == 300 && back.stream == 7 && back.type == 2 && back.flags == 1,
	   "and read back");
	h.len = WP_TTRPC_MAX + 1;
	wp_ttrpc_header_put(raw, &h);
	ok(wp_ttrpc_header_parse(raw, &back) == -1, "a length past 4 MiB is refused");

	wp_buf_init(&b, WP_TTRPC_MAX);
	wp_buf_init(&p, 1024);
	wp_pb_put_str(&p, 1, "c1");
	wp_ttrpc_request_encode(&b, "containerd.task.v2.Task", "Wait", &p, 5000000000LL);
	ok(wp_ttrpc_request_decode((uint8_t *)b.data, b.len, &req) == 0, "a request round trip");
	is_str(req.service, "containerd.task.v2.Task", "service");
	is_str(req.method, "Wait", "method");
	ok(req.payload_len == p.len && !memcmp(req.payload, p.data, p.len), "payload");
	ok(req.timeout_nano == 5000000000LL, "timeout_nano");
	wp_ttrpc_request_release(&req);
	ok(wp_ttrpc_request_decode((const uint8_t *)"\x1a\x00", 2, &req) == -1, "a request without service or method is refused");

	wp_buf_reset(&b);
	wp_ttrpc_response_encode(&b, WP_RPC_NOT_FOUND, "task x: not found", NULL);
	ok(wp_ttrpc_response_decode((uint8_t *)b.data, b.len, &code, &msg, &pl, &pl_len) == 0 && code == 5,
	   "an error response carries its code");
	is_str(msg, "task x: not found", "and message");
	free(msg);
	wp_buf_reset(&b);
	wp_ttrpc_response_encode(&b, WP_RPC_OK, NULL, &p);
	ok(wp_ttrpc_response_decode((uint8_t *)b.data, b.len, &code, &msg, &pl, &pl_len) == 0 && code == 0 && !msg &&
		   pl_len == p.len,
	   "an OK response carries the payload");
	wp_buf_release(&b);
	wp_buf_release(&p);
}

/* A handler whose Block waits until Release arrives on the same connection. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int released;

static int handler(void *ctx, const wp_ttrpc_request *req, const struct timespec *deadline, wp_buf *reply, wp_error *err)
{
	(void)ctx;
	(void)deadline;
	if (!strcmp(req->method, "Block")) {
		pthread_mutex_lock(&mu);
		while (!released)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
		usleep(50000);
		return wp_pb_put_str(reply, 1, "unblocked") < 0 ? wp_error_set(err, WP_ETOOBIG, "reply") : WP_OK;
	}
	if (!strcmp(req->method, "Release")) {
		pthread_mutex_lock(&mu);
		released = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
		return WP_OK;
	}
	if (!strcmp(req->method, "Echo"))
		return wp_buf_append(reply, req->payload, req->payload_len) < 0 ? wp_error_set(err, WP_ETOOBIG, "reply") : WP_OK;
	return wp_error_set(err, WP_EUNSUPPORTED, "%s: unimplemented", req->method);
}

static void *server(void *arg)
{
	wp_ttrpc_serve_conn(*(int *)arg, handler, NULL);
	return NULL;
}

static void test_server(void)
{
	int sv[2];
	pthread_t t;
	wp_buf req, out;
	wp_error err;
	uint8_t raw[WP_TTRPC_HEADER];
	wp_ttrpc_header h = { .stream = 1, .type = WP_TTRPC_REQUEST };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		ok(0, "socketpair");
		return;
	}
	pthread_create(&t, NULL, server, &sv[1]);
	wp_buf_init(&req, 4096);
	wp_buf_init(&out, WP_TTRPC_MAX);
	wp_pb_put_str(&req, 1, "ping");
	ok(wp_ttrpc_call(sv[0], 1, "svc", "Echo", &req, 5000, &out, &err) == 0 && out.len == req.len &&
		   !memcmp(out.data, req.data, req.len),
	   "a unary call is answered with its payload");
	wp_buf_reset(&out);
	ok(wp_ttrpc_call(sv[0], 3, "svc", "Nope", &req, 5000, &out, &err) < 0 && strstr(err.msg, "status 12"),
	   "an unknown method: Unimplemented (%s)", err.msg);
	/* Block on stream 5, then Release on stream 7 while Block waits. */
	wp_buf_reset(&out);
	wp_ttrpc_request_encode(&out, "svc", "Block", NULL, 0);
	h.len = (uint32_t)out.len;
	h.stream = 5;
	wp_ttrpc_header_put(raw, &h);
	(void)!write(sv[0], raw, sizeof(raw));
	(void)!write(sv[0], out.data, out.len);
	wp_buf_reset(&out);
	ok(wp_ttrpc_call(sv[0], 7, "svc", "Release", NULL, 5000, &out, &err) == 0,
	   "a request is answered while an earlier one on the connection still blocks");
	{
		uint8_t body[256];

		ok(recv(sv[0], raw, sizeof(raw), MSG_WAITALL) == (ssize_t)sizeof(raw) && wp_ttrpc_header_parse(raw, &h) == 0 &&
			   h.stream == 5 && h.type == WP_TTRPC_RESPONSE && h.len < sizeof(body) &&
			   recv(sv[0], body, h.len, MSG_WAITALL) == (ssize_t)h.len,
		   "then the blocked one is answered on its own stream");
	}
	/* An even stream id (server-initiated) is not a client request: the connection ends. */
	h = (wp_ttrpc_header){ .len = 0, .stream = 2, .type = WP_TTRPC_REQUEST };
	wp_ttrpc_header_put(raw, &h);
	(void)!write(sv[0], raw, sizeof(raw));
	ok(recv(sv[0], raw, 1, 0) == 0, "a frame on an even stream closes the connection");
	pthread_join(t, NULL);
	close(sv[0]);
	wp_buf_release(&req);
	wp_buf_release(&out);
}

/* The gRPC status the shim answers a request with. */
static int call_shim(wp_shim *sh, const char *service, const char *method, const char *id, wp_error *err, wp_buf *reply)
{
	wp_buf p;
	wp_ttrpc_request req = { .service = (char *)service, .method = (char *)method };
	int code;

	wp_buf_init(&p, 1024);
	wp_pb_put_str(&p, 1, id);
	req.payload = (uint8_t *)p.data;
	req.payload_len = p.len;
	wp_error_init(err);
	code = wp_ttrpc_status(wp_shim_handle(sh, &req, NULL, reply, err));
	wp_buf_release(&p);
	return code;
}

static void test_task_service(void)
{
	char tmp[] = "/tmp/wasmpack-shim-unit.XXXXXX";
	wp_shim_opts o = { .ns = "default", .cache_root = mkdtemp(tmp) };
	wp_shim *sh = wp_shim_new(&o);
	wp_buf reply;
	wp_error err;

	wp_buf_init(&reply, WP_TTRPC_MAX);
	is_int(call_shim(sh, "containerd.task.v2.Nope", "State", "x", &err, &reply), WP_RPC_UNIMPLEMENTED,
	       "an unknown service: Unimplemented");
	is_int(call_shim(sh, "containerd.task.v2.Task", "Checkpoint", "x", &err, &reply), WP_RPC_UNIMPLEMENTED,
	       "Checkpoint: Unimplemented");
	is_int(call_shim(sh, "containerd.task.v2.Task", "State", "x", &err, &reply), WP_RPC_NOT_FOUND, "State of no task: NotFound");
	is_int(call_shim(sh, "containerd.task.v2.Task", "Wait", "x", &err, &reply), WP_RPC_NOT_FOUND, "Wait for no task: NotFound");
	is_int(call_shim(sh, "containerd.task.v2.Task", "Kill", "x", &err, &reply), WP_RPC_NOT_FOUND, "Kill of no task: NotFound");
	is_int(call_shim(sh, "containerd.task.v2.Task", "Create", "x", &err, &reply), WP_RPC_INVALID_ARGUMENT,
	       "Create without a bundle: InvalidArgument");
	wp_buf_reset(&reply);
	is_int(call_shim(sh, "containerd.task.v2.Task", "Connect", "x", &err, &reply), WP_RPC_OK, "Connect answers");
	ok(reply.len >= 2 && reply.data[0] == 0x08, "with the shim's pid");
	ok(!*wp_shim_stop_flag(sh), "the shim runs");
	is_int(call_shim(sh, "containerd.task.v2.Task", "Shutdown", "x", &err, &reply), WP_RPC_OK, "Shutdown answers");
	ok(*wp_shim_stop_flag(sh), "and with no task left the shim stops");
	wp_shim_free(sh);
	wp_buf_release(&reply);
	rmdir(tmp);
}

static void sha_is(const char *in, size_t len, const char *want, const char *what)
{
	uint8_t sum[32];
	char hex[65];

	wp_sha256_small(in, len, sum);
	wp_util_hex_encode(sum, sizeof(sum), hex);
	is_str(hex, want, "SHA-256 of %s", what);
}

static void test_small_bits(void)
{
	char *million = malloc(1000000);
	char *d;

	/* FIPS 180-4 examples and the usual long test */
	sha_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "the empty string");
	sha_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "'abc'");
	sha_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "the 56-byte message (two padding blocks)");
	if (million) {
		memset(million, 'a', 1000000);
		sha_is(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "a million 'a'");
		free(million);
	}
	is_str((d = wp_cgroup_dir("/k8s/pod1/c1")), "/k8s/pod1/c1", "a cgroupfs path stays as it is");
	free(d);
	is_str((d = wp_cgroup_dir("ns/c1")), "/ns/c1", "a relative path starts at the root");
	free(d);
	is_str((d = wp_cgroup_dir("kubepods-burstable-pod1.slice:cri-containerd:abc")),
	       "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/cri-containerd-abc.scope",
	       "systemd's slice:prefix:name as systemd nests it");
	free(d);
	ok(wp_cgroup_dir("") == NULL && wp_cgroup_dir(NULL) == NULL, "no path, no cgroup");
}

/* The engine's process in its cgroup: on cgroup v2 born there (clone3 with
 * CLONE_INTO_CGROUP), else moved (a v1 host, an older kernel); either way
 * /proc/self/cgroup says so before it execs. Run in a process of its own (the seccomp
 * filter stays there): "" when all held, else what failed. */
static const char *spawn_in(const char *cg_procs, const char *want, char *why, size_t whycap)
{
	char out[] = "/tmp/wp-test-spawn-XXXXXX";
	char *argv[] = { "/bin/cat", "/proc/self/cgroup", NULL };
	wp_spawn_plan plan = { .fd = { -1, -1, -1, -1 }, .uid = getuid(), .gid = getgid(), .keep_fd = -1 };
	wp_spawn_io io = { "", out, "", false, "test" };
	wp_spawn_child child;
	wp_seccomp filter = { 0 };
	wp_error err;
	char got[4096] = "";
	int fd = mkstemp(out), status = -1;
	ssize_t n;
	const char *failed = "";

	if (fd >= 0)
		close(fd);
	if (wp_seccomp_build(&filter, &err) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		failed = "building the seccomp filter";
	else if (wp_spawn_paused(&io, argv, NULL, &plan, cg_procs, NULL, &filter, "/", &child, &err) < 0)
		snprintf(why, whycap, "spawning: %.600s", err.msg), failed = why;
	if (*failed)
		goto done;
	(void)!write(child.sync_fd, "g", 1);
	close(child.sync_fd);
	n = read(child.err_fd, why, whycap - 1);
	close(child.err_fd);
	waitpid(child.pid, &status, 0);
	if (n > 0) {
		why[n] = '\0';
		failed = why;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		failed = "cat exited non-zero";
	} else if ((fd = open(out, O_RDONLY)) >= 0) {
		n = read(fd, got, sizeof(got) - 1);
		got[n > 0 ? n : 0] = '\0';
		close(fd);
		if (!strstr(got, want))
			snprintf(why, whycap, "/proc/self/cgroup has no '%.200s': %.600s", want, got), failed = why;
	}
done:
	unlink(out);
	wp_seccomp_release(&filter);
	return failed;
}

static void check_spawn_in(const char *root, bool born, const char *what)
{
	int pipefd[2], status = -1;
	char why[1024] = "";
	pid_t pid;
	ssize_t n;

	if (pipe(pipefd) < 0 || (pid = fork()) < 0) {
		ok(0, "%s: fork", what);
		return;
	}
	if (pid == 0) {
		char cg[256], procs[300], want[300], buf[1024] = "", trace[64], marks[2048];
		const char *failed;
		int tfd;

		close(pipefd[0]);
		/* born: the engine's cgroup is on the hierarchy the shim uses; not: the shim
		 * takes another root for its own (as on a v1 host), so it is moved */
		setenv("WASMPACK_CGROUP_ROOT", born ? root : "/nonexistent", 1);
		snprintf(cg, sizeof(cg), "%s/wp-test-spawn-%d", root, (int)getpid());
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
		snprintf(want, sizeof(want), "0::/wp-test-spawn-%d\n", (int)getpid());
		snprintf(trace, sizeof(trace), "/tmp/wp-test-trace-%d", (int)getpid());
		setenv("WASMPACK_SHIM_TRACE", trace, 1);
		wp_shim_trace_init();
		failed = mkdir(cg, 0755) < 0 ? "making the cgroup" : spawn_in(procs, want, buf, sizeof(buf));
		rmdir(cg);
		/* the way it got there, as the engine's process marked it (shim/trace.h) */
		if (!*failed && (tfd = open(trace, O_RDONLY)) >= 0) {
			ssize_t got = read(tfd, marks, sizeof(marks) - 1);

			marks[got > 0 ? got : 0] = '\0';
			close(tfd);
			if (!strstr(marks, born ? "child: born in its cgroup" : "child: moved into its cgroup"))
				snprintf(buf, sizeof(buf), "the marks do not say it was %s: %.500s", born ? "born there" : "moved",
					 marks), failed = buf;
		} else if (!*failed) {
			failed = "no marks (WASMPACK_SHIM_TRACE)";
		}
		unlink(trace);
		(void)!write(pipefd[1], failed, strlen(failed));
		_exit(0);
	}
	close(pipefd[1]);
	n = read(pipefd[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	if (!ok(n == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", what))
		tap_diag(why);
}

static void test_spawn_cgroup(void)
{
	const char *roots[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	const char *root = NULL;
	char path[256];

	for (size_t i = 0; i < sizeof(roots) / sizeof(*roots) && !root; i++) {
		snprintf(path, sizeof(path), "%s/cgroup.controllers", roots[i]);
		if (access(path, F_OK) == 0)
			root = roots[i];
	}
	if (getuid() != 0 || !root) {
		ok(1, "# SKIP the engine's cgroup: needs root and a cgroup v2 mount");
		ok(1, "# SKIP the engine's cgroup: needs root and a cgroup v2 mount");
		return;
	}
	check_spawn_in(root, true, "the engine's process is born in its cgroup v2 (clone3, CLONE_INTO_CGROUP), "
		       "exec's and is there before exec");
	check_spawn_in(root, false, "where it cannot be born there, it moves itself in before exec");
}

/* WASMPACK_SHIM_TRACE in a process of its own (the descriptor is opened once): what
 * trace() leaves in the file, or "" when nothing; *returned whether init came back
 * within 2 s (a FIFO must not hold the shim). */
static void trace_case(const char *path, const char *id, char *got, size_t cap, bool *returned)
{
	int pipefd[2], status = -1;
	pid_t pid;
	ssize_t n;

	*returned = false;
	got[0] = '\0';
	if (pipe(pipefd) < 0 || (pid = fork()) < 0)
		return;
	if (pid == 0) {
		close(pipefd[0]);
		alarm(2);
		setenv("WASMPACK_SHIM_TRACE", path, 1);
		wp_shim_trace_init();
		wp_shim_trace(id, "a step");
		(void)!write(pipefd[1], "r", 1);
		_exit(0);
	}
	close(pipefd[1]);
	*returned = read(pipefd[0], got, 1) == 1;
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	got[0] = '\0';
	{
		int fd = open(path, O_RDONLY | O_NONBLOCK);

		if (fd >= 0) {
			struct stat st;

			if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (n = read(fd, got, cap - 1)) > 0)
				got[n] = '\0';
			close(fd);
		}
	}
}

static void test_trace(void)
{
	char path[] = "/tmp/wp-test-trace-XXXXXX", file[300], got[1024], id[400];
	bool returned;

	if (!mkdtemp(path)) {
		ok(0, "a temporary folder for the trace tests");
		return;
	}
	snprintf(file, sizeof(file), "%s/trace", path);
	trace_case(file, "c1", got, sizeof(got), &returned);
	ok(returned && strstr(got, " c1 a step\n") && strchr(got, '.') && strchr(got, '.') < strchr(got, ' '), "a mark: SECONDS.MICROS PID ID STEP");
	unlink(file);
	/* a ttrpc id is the client's: cut, and no line of its own */
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	{
		static const char evil[] = "evil\n1 2 forged line\r";
		const char *at;

		memcpy(id, evil, sizeof(evil) - 1);
		trace_case(file, id, got, sizeof(got), &returned);
		/* "SECONDS.MICROS PID " then 200 bytes of the id, then " a step\n" */
		at = strchr(got, ' ') ? strchr(strchr(got, ' ') + 1, ' ') : NULL;
		ok(returned && strchr(got, '\n') == got + strlen(got) - 1 && strstr(got, "evil?1 2 forged line?") && at &&
		   strlen(at + 1) == 200 + strlen(" a step\n"),
		   "an id's control characters are replaced and it is cut at 200 bytes: one line (%zu bytes)", strlen(got));
	}
	unlink(file);
	/* a FIFO in its place: not opened for good, and never waited on */
	if (mkfifo(file, 0600) == 0) {
		trace_case(file, "c2", got, sizeof(got), &returned);
		ok(returned, "a FIFO at the trace path does not hold the shim");
		unlink(file);
	}
	/* a file another user owns: not written */
	if (getuid() == 0) {
		int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0666);

		if (fd >= 0) {
			(void)!fchown(fd, 65534, 65534);
			close(fd);
		}
		trace_case(file, "c3", got, sizeof(got), &returned);
		ok(returned && !*got, "a file another user made at the trace path is not written");
		unlink(file);
	} else {
		ok(1, "# SKIP a file another user owns: needs root");
	}
	/* a link at the trace path: not followed */
	if (symlink("/tmp/wp-test-trace-target-none", file) == 0) {
		trace_case(file, "c4", got, sizeof(got), &returned);
		ok(returned && access("/tmp/wp-test-trace-target-none", F_OK) < 0, "a link at the trace path is not followed");
		unlink(file);
	}
	rmdir(path);
}

int main(void)
{
	test_trace();
	test_small_bits();
	test_spawn_cgroup();
	test_pb();
	test_frames();
	test_server();
	test_task_service();
	return done_testing();
}
