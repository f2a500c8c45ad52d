/* containerd-shim-wasmpack-v1: the containerd runtime v2 shim for runtime type
 * io.containerd.wasmpack.v1. containerd runs it in the bundle folder as
 *   <shim> -namespace NS -address SOCK -publish-binary BIN -id ID [-debug] start
 *   <shim> -namespace NS -address SOCK -publish-binary BIN -id ID -bundle DIR delete
 * `start` makes (or finds) the ttrpc server for the container's group and prints its
 * address; `delete` cleans up after a shim that died and prints a DeleteResponse. */
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "common/sha256.h"
#include "shim/cgroup.h"
#include "shim/shim.h"
#include "shim/trace.h"
#include "shim/spawn.h"
#include "shim/ttrpc.h"
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* A line of /proc/PID/cgroup, and the Delete response, at most. */
#define CGROUP_LINE_MAX 4096
#define RESPONSE_MAX 4096

typedef struct flags {
	const char *ns, *address, *publish_binary, *id, *bundle, *action;
	bool debug;
} flags;

/* Go's flag syntax, as containerd writes it: -name VALUE, -name=VALUE, --name; -debug alone. */
static int parse_flags(int argc, char **argv, flags *f)
{
	static const char *names[] = { "namespace", "address", "publish-binary", "id", "bundle" };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq;
		size_t n;
		bool hit = false;

		if (a[0] != '-') {
			if (!f->action)
				f->action = a;
			continue;
		}
		a += a[1] == '-' ? 2 : 1;
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a) : strlen(a);
		if (n == 5 && !strncmp(a, "debug", 5)) {
			f->debug = !eq || strcmp(eq + 1, "false");
			continue;
		}
		for (size_t k = 0; k < WP_ARRAY_LEN(names); k++) {
			const char **dst[] = { &f->ns, &f->address, &f->publish_binary, &f->id, &f->bundle };

			if (strlen(names[k]) == n && !strncmp(a, names[k], n)) {
				if (eq)
					*dst[k] = eq + 1;
				else if (i + 1 < argc)
					*dst[k] = argv[++i];
				else
					return -1;
				hit = true;
			}
		}
		if (!hit)
			wp_debug("ignoring the flag -%s", a);
	}
	return f->action ? 0 : -1;
}

static const char *socket_dir(void)
{
	const char *d = getenv("WASMPACK_SHIM_SOCKET_DIR");

	return d && *d ? d : "/run/containerd/s";
}

/* Containers of one pod share a shim: they are grouped by the sandbox id CRI puts in the
 * spec's annotations; a container alone is its own group. */
static char *group_id(const flags *f)
{
	wp_error err;
	json_t *spec = NULL;
	char *g = NULL;

	if (wp_json_read_file("config.json", 4u << 20, &spec, &err) == 0) {
		const char *s = wp_json_str(json_object_get(spec, "annotations"), "io.kubernetes.cri.sandbox-id");

		if (s && *s)
			g = wp_xstrdup(s);
	}
	json_decref(spec);
	return g ? g : wp_xstrdup(f->id);
}

/* The socket path containerd's own shims use: <state>/s/<hex sha256 of address/ns/group>. */
static char *socket_path(const flags *f, const char *group)
{
	_cleanup_free_ char *key = wp_str_fmt("%s/%s/%s", f->address ? f->address : "", f->ns, group);
	uint8_t sum[32];
	char hex[65];

	wp_sha256_small(key, strlen(key), sum);
	wp_util_hex_encode(sum, sizeof(sum), hex);
	return wp_str_fmt("%s/%s", socket_dir(), hex);
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -1;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

static bool answers(const char *path)
{
	struct sockaddr_un sa;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (s < 0 || unix_addr(path, &sa) < 0) {
		if (s >= 0)
			close(s);
		return false;
	}
	ok = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(s);
	return ok;
}

static volatile bool *g_stop;

typedef struct reaper_arg {
	wp_shim *sh;
	sigset_t set;
	volatile bool quit;   /* set before the SIGINT that ends the reaper */
} reaper_arg;

/* Every child ends here (the shim is a subreaper, so the engine's own children too). */
static void *reaper(void *arg)
{
	reaper_arg *r = arg;

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&r->set, &si), status;
		pid_t pid;

		if (r->quit)
			break;
		if (sig == SIGTERM || sig == SIGINT) {
			wp_shim_request_stop(r->sh);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			wp_shim_reaped(r->sh, pid, status);
	}
	return NULL;
}

static void open_log(bool debug)
{
	/* containerd reads the bundle's `log` FIFO and copies it to its own log. */
	int fd = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0) {
		/* Left non-blocking: should containerd stop reading, log lines are lost rather
		 * than the shim stalling on them. */
		dup2(fd, 2);
		close(fd);
	} else {
		int nul = open("/dev/null", O_WRONLY);

		if (nul >= 0) {
			dup2(nul, 2);
			close(nul);
		}
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	wp_log_setup(stderr, debug ? WP_LOG_DEBUG : WP_LOG_INFO);
}

static char *cache_root(void)
{
	const char *c = getenv("WASMPACK_CACHE");

	return wp_xstrdup(c && *c ? c : "/var/lib/wasmpack/cache");
}

static int serve(const flags *f, int lfd, const char *path)
{
	_cleanup_free_ char *cache = cache_root();
	wp_shim_opts o = { .ns = f->ns, .address = f->address, .ttrpc_address = getenv("TTRPC_ADDRESS"), .cache_root = cache,
			   .socket_path = path };
	reaper_arg r = { 0 };
	pthread_t t;
	pthread_attr_t attr;
	wp_error err;
	int rc;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&r.set);
	sigaddset(&r.set, SIGCHLD);
	sigaddset(&r.set, SIGTERM);
	sigaddset(&r.set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &r.set, NULL);
	if (!(r.sh = wp_shim_new(&o)))
		return 1;
	g_stop = wp_shim_stop_flag(r.sh);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 128u << 10);
	pthread_create(&t, &attr, reaper, &r);
	pthread_attr_destroy(&attr);
	wp_info("wasmpack shim %d serving on %s", (int)getpid(), path);
	rc = wp_ttrpc_serve(lfd, wp_shim_wake_fd(r.sh), wp_shim_handle, r.sh, g_stop, &err);
	if (rc < 0)
		wp_warn("%s", err.msg);
	close(lfd);
	if (!*g_stop)
		unlink(path);
	wp_info("wasmpack shim %d exiting", (int)getpid());
	/* Every connection thread is done (wp_ttrpc_serve waited for them); the reaper is
	 * the last user of the state. */
	r.quit = true;
	pthread_kill(t, SIGINT);
	pthread_join(t, NULL);
	wp_shim_free(r.sh);
	return rc < 0 ? 1 : 0;
}

static int start(const flags *f)
{
	_cleanup_free_ char *group = group_id(f), *path = group ? socket_path(f, group) : NULL;
	_cleanup_free_ char *addr = path ? wp_str_fmt("unix://%s", path) : NULL;
	struct sockaddr_un sa;
	wp_error err;
	int lfd = -1;
	pid_t pid;

	if (!addr || unix_addr(path, &sa) < 0) {
		fprintf(stderr, "containerd-shim-wasmpack-v1: no socket address for %s\n", f->id);
		return 1;
	}
	if (wp_fs_mkdir_p(socket_dir(), 0711, &err) < 0) {
		fprintf(stderr, "containerd-shim-wasmpack-v1: %s\n", err.msg);
		return 1;
	}
	for (int attempt = 0; attempt < 2 && lfd < 0; attempt++) {
		if (answers(path))
			break; /* the group's shim serves this container too */
		if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			break;
		{
			/* the socket is containerd's (root's) alone whatever umask containerd
			 * started us with: made 0600, and made so again before anyone connects */
			mode_t old = umask(077);
			int bound = bind(lfd, (struct sockaddr *)&sa, sizeof(sa));

			umask(old);
			if (bound == 0 && chmod(path, 0600) == 0 && listen(lfd, 128) == 0)
				break;
		}
		close(lfd);
		lfd = -1;
		if (errno == EADDRINUSE && !answers(path))
			unlink(path); /* left by a shim that died */
	}
	if (lfd < 0 && !answers(path)) {
		fprintf(stderr, "containerd-shim-wasmpack-v1: cannot listen on '%s': %s\n", path, strerror(errno));
		return 1;
	}
	if (lfd >= 0) {
		if ((pid = fork()) < 0) {
			fprintf(stderr, "containerd-shim-wasmpack-v1: fork: %s\n", strerror(errno));
			unlink(path);
			return 1;
		}
		if (pid == 0) {
			/* The server: detached from containerd's pipes and session. */
			int nul = open("/dev/null", O_RDWR);

			setsid();
			if (nul >= 0) {
				dup2(nul, 0);
				dup2(nul, 1);
				if (nul > 2)
					close(nul);
			}
			open_log(f->debug);
			if (chdir("/") < 0)
				_exit(1);
			_exit(serve(f, lfd, path));
		}
		close(lfd);
	}
	if (wp_fs_write_atomic("address", addr, strlen(addr), 0644, &err) < 0) {
		fprintf(stderr, "containerd-shim-wasmpack-v1: %s\n", err.msg);
		return 1;
	}
	fputs(addr, stdout);
	wp_shim_trace(f->id, "start action: answered");
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Whether pid's cgroup (in /proc/PID/cgroup, v2 or any v1 hierarchy) is cg (a folder
 * under the cgroup mounts) or below it: the bundle's wasmpack.pid is only trusted to name
 * the container's own process (the bundle is the shim's, yet a kill of the node's PID 1
 * or another process is not to be steered by a file). */
static bool pid_in_cgroup(int pid, const char *cg)
{
	_cleanup_free_ char *path = wp_str_fmt("/proc/%d/cgroup", pid);
	char line[CGROUP_LINE_MAX];
	bool in = false;
	FILE *f = fopen(path, "re");

	while (f && !in && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');
		size_t n, cn = strlen(cg);

		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p++;
		p[strcspn(p, "\n")] = '\0';
		n = strlen(p);
		/* cg ends with p (".../<p>"), or p is below cg's own tail */
		if (n > 1 && n <= cn && !strcmp(cg + cn - n, p) && (cn == n || cg[cn - n - 1] == '/' || p[0] == '/'))
			in = true;
	}
	if (f)
		fclose(f);
	return in;
}

/* Cleans up after a shim that is gone: the engine it left, the rootfs mount. */
static int delete_action(const flags *f)
{
	const char *bundle = f->bundle && *f->bundle ? f->bundle : ".";
	_cleanup_free_ char *pidf = wp_str_fmt("%s/wasmpack.pid", bundle), *rootfs = wp_str_fmt("%s/rootfs", bundle);
	struct timespec now;
	wp_buf data, out;
	wp_error err;
	int pid = 0;

	wp_buf_init(&data, 64);
	if (pidf && wp_fs_read_file(pidf, 64, &data, &err) == 0)
		pid = atoi(data.data);
	wp_buf_release(&data);
	{
		/* only the container's own process: in its cgroup when the spec names one */
		_cleanup_free_ char *specp = wp_str_fmt("%s/config.json", bundle);
		json_t *spec = NULL;

		if (pid > 1 && specp && wp_json_read_file(specp, 4u << 20, &spec, &err) == 0) {
			_cleanup_free_ char *cg = wp_cgroup_dir(wp_json_str(json_object_get(spec, "linux"), "cgroupsPath"));

			if (cg && !pid_in_cgroup(pid, cg))
				pid = 0;
		}
		json_decref(spec);
	}
	if (pid > 1 && pid != getpid()) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		/* gone before its cgroup can go: at most a second */
		for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
			usleep(10000);
	}
	{
		_cleanup_free_ char *specp = wp_str_fmt("%s/config.json", bundle);
		json_t *spec = NULL;

		if (wp_json_read_file(specp, 4u << 20, &spec, &err) == 0) {
			_cleanup_free_ char *cg = wp_cgroup_dir(wp_json_str(json_object_get(spec, "linux"), "cgroupsPath"));

			if (cg)
				wp_cgroup_remove(cg);
		}
		json_decref(spec);
	}
	if (rootfs)
		for (int i = 0; i < 32 && umount2(rootfs, MNT_DETACH) == 0; i++)
			;
	clock_gettime(CLOCK_REALTIME, &now);
	wp_buf_init(&out, RESPONSE_MAX);
	wp_shim_delete_response(&out, pid > 0 ? pid : 0, 128 + SIGKILL, &now);
	fwrite(out.data ? out.data : "", 1, out.len, stdout);
	wp_buf_release(&out);
	return fflush(stdout) == 0 ? 0 : 1;
}

static void sandbox_signal(int sig)
{
	if (sig == SIGCHLD) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		return;
	}
	_exit(128 + sig);
}

int main(int argc, char **argv)
{
	flags f = { 0 };

	if (argc >= 1 && !strcmp(argv[0], WP_SHIM_INIT_ARGV0))
		wp_spawn_init_main(argc, argv);
	if (argc >= 1 && !strcmp(argv[0], WP_SHIM_SANDBOX_ARGV0)) {
		/* A pod's sandbox: nothing to run. It may be PID 1 of the pod's PID namespace,
		 * where a signal with no handler is ignored: SIGTERM, SIGINT and SIGHUP end it by
		 * handlers, and it reaps what the pod's processes leave to it (as pause does). */
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = sandbox_signal;
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigaction(SIGCHLD, &sa, NULL);
		for (;;)
			pause();
	}
	wp_log_setup(stderr, WP_LOG_WARN);
	if (argc == 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version") || !strcmp(argv[1], "-version"))) {
		printf("containerd-shim-wasmpack-v1 (wasmpack %s)\n", WP_VERSION);
		return 0;
	}
	if (parse_flags(argc, argv, &f) < 0 || !f.id || !f.ns) {
		fprintf(stderr, "usage: containerd-shim-wasmpack-v1 -namespace NS -address SOCK -id ID [-bundle DIR] start|delete\n"
				"(containerd runs this; see docs/kubernetes.md)\n");
		return 2;
	}
	if (f.debug)
		wp_log_setup(stderr, WP_LOG_DEBUG);
	wp_shim_trace_init();
	wp_shim_trace(f.id, !strcmp(f.action, "start") ? "start action: exec'd" : "delete action: exec'd");
	if (!strcmp(f.action, "start"))
		return start(&f);
	if (!strcmp(f.action, "delete"))
		return delete_action(&f);
	fprintf(stderr, "containerd-shim-wasmpack-v1: unknown action '%s'\n", f.action);
	return 2;
}
