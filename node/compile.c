#include "node/compile.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/sha256.h"
#include "common/util.h"
#include "node/cache.h"
#include "node/confine.h"
#include "node/seccomp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* One read of the compiler's output. */
#define OUTPUT_CHUNK 4096

/* Temporary folders of compiles that died (killed with their shim, a crash) go once they
 * are this old: a compile still running is never that slow. */
#define STALE_TMP_S 3600
/* The largest file a compiler may write (a compiled form of the largest wasm fits). */
#define COMPILE_FILE_MAX ((rlim_t)8 << 30)

/* Removes what is older than cutoff in folder (its entries, or only ".tmp-" ones). */
static uint64_t remove_old(const char *folder, time_t cutoff, bool only_tmp)
{
	DIR *d = opendir(folder);
	struct dirent *e;
	uint64_t n = 0;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
			continue;
		if (only_tmp != !strncmp(e->d_name, ".tmp-", 5))
			continue;
		p = wp_str_fmt("%s/%s", folder, e->d_name);
		if (lstat(p, &st) < 0 || st.st_mtime >= cutoff)
			continue;
		if (S_ISDIR(st.st_mode) ? wp_fs_rm_rf(p, NULL) == 0 : unlink(p) == 0)
			n += S_ISDIR(st.st_mode) && !only_tmp;
	}
	if (d)
		closedir(d);
	return n;
}

uint64_t wp_compile_gc(const char *cache_root, time_t unused_s)
{
	_cleanup_free_ char *compiled = wp_str_fmt("%s/compiled", cache_root), *digests = NULL;
	DIR *d = opendir(compiled);
	struct dirent *e;
	time_t now = time(NULL);
	uint64_t n = 0;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *engine = NULL;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		engine = wp_str_fmt("%s/%s", compiled, e->d_name);
		if (lstat(engine, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		n += remove_old(engine, now - unused_s, false);
		remove_old(engine, now - STALE_TMP_S, true);
		rmdir(engine); /* when it holds nothing any more */
	}
	if (d)
		closedir(d);
	digests = wp_str_fmt("%s/.digests", compiled);
	remove_old(digests, now - unused_s, false);
	return n;
}

void wp_compile_hex_digest(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[32];

	wp_sha256_small(data, len, d);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}

/* The whole file behind fd, read through the descriptor (never the path again). */
static int read_wasm(int fd, uint8_t **data, size_t *len, wp_error *err)
{
	struct stat st;
	size_t off = 0;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return wp_error_set(err, WP_EINVALID, "the app's wasm is not a regular file");
	if ((uint64_t)st.st_size > WP_COMPILE_WASM_MAX)
		return wp_error_set(err, WP_ETOOBIG, "the app's wasm is larger than %zu MiB", WP_COMPILE_WASM_MAX >> 20);
	*data = wp_xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		ssize_t n = pread(fd, *data + off, (size_t)st.st_size - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(*data);
			*data = NULL;
			return wp_error_sys(err, WP_EIO, "reading the app's wasm");
		}
		off += (size_t)n;
	}
	*len = off;
	return 0;
}

/* "{in}" and "{out}" replaced in each argument. */
static char *expand(const char *arg, const char *in, const char *out)
{
	if (!strcmp(arg, "{in}"))
		return wp_xstrdup(in);
	if (!strncmp(arg, "{out}", 5))
		return wp_str_fmt("%s%s", out, arg + 5);
	return wp_xstrdup(arg);
}

/* The last lines of what the compiler said, printable and on one line, for an error
 * message; empty lines and stack frames ("    at f (file:...)") are passed over. */
static void tail_of(const char *buf, size_t len, char *out, size_t cap)
{
	const char *keep[3] = { 0 };
	size_t keep_len[3] = { 0 }, n = 0, o = 0;

	for (size_t i = 0; i < len;) {
		size_t e = i, t;

		while (e < len && buf[e] != '\n')
			e++;
		for (t = i; t < e && (buf[t] == ' ' || buf[t] == '\t'); t++)
			;
		if (t < e && !(e - t >= 3 && !memcmp(buf + t, "at ", 3))) {
			memmove(keep, keep + 1, sizeof(keep[0]) * 2);
			memmove(keep_len, keep_len + 1, sizeof(keep_len[0]) * 2);
			keep[2] = buf + t;
			keep_len[2] = e - t;
			n++;
		}
		i = e + 1;
	}
	for (size_t k = n >= 3 ? 0 : 3 - n; k < 3; k++) {
		if (o && o + 1 < cap)
			out[o++] = ' ';
		for (size_t i = 0; i < keep_len[k] && o + 1 < cap; i++) {
			char c = keep[k][i];

			out[o++] = c >= 0x20 && c < 0x7f ? c : '?';
		}
	}
	out[o] = '\0';
}

/* Runs the compiler confined; 0 when it exited 0. */
/* The compiler's process after fork: stdio (its stderr to errfd), confined, no network,
 * its files bounded, no capability, under the engines' filter; then exec. */
__attribute__((noreturn)) static void compiler_child(char **argv, const wp_confine *view, const wp_seccomp *filter,
						     int devnull, int errfd)
{
	sigset_t none;
	wp_error cerr = WP_ERROR_INIT;
	int rc;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	dup2(devnull, 0);
	dup2(devnull, 1);
	dup2(errfd, 2);
	rc = wp_confine_enter(view, &cerr);
	/* No network: a compiler needs none (in the shim it would be the node's). Its output
	 * files are bounded; unprivileged without user namespaces it runs as the user: it
	 * reads only its copy of the wasm and writes only its folder. */
	if (rc == 0 && unshare(CLONE_NEWNET) < 0) {
		wp_error_sys(&cerr, WP_EIO, "a network namespace for the compiler");
		rc = -1;
	}
	if (rc >= 0) {
		struct rlimit fsize = { COMPILE_FILE_MAX, COMPILE_FILE_MAX };

		setrlimit(RLIMIT_FSIZE, &fsize);
	}
	if (rc == 0 && wp_confine_drop_caps(&cerr) < 0)
		rc = -1;
	if (rc >= 0 && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || wp_seccomp_enter(filter) < 0)) {
		wp_error_sys(&cerr, WP_EIO, "the compiler's seccomp filter");
		rc = -1;
	}
	if (rc < 0) {
		dprintf(2, "confining the compiler: %s\n", cerr.msg);
		_exit(126);
	}
	execv(argv[0], argv);
	dprintf(2, "starting %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* What the compiler says on fd until it ends or timeout_ms pass (then it is killed): the
 * last bytes kept in said (the error is at the end). Whether it reached the end. */
static bool compiler_said(int fd, pid_t pid, int timeout_ms, char *said, size_t cap, size_t *len)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { fd, POLLIN, 0 };
		char chunk[OUTPUT_CHUNK];
		ssize_t n;
		long waited;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (waited >= timeout_ms) {
			kill(pid, SIGKILL);
			return false;
		}
		if (poll(&p, 1, (int)(timeout_ms - waited)) <= 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0) {
			if (n == 0 || errno != EINTR)
				return true;
			continue;
		}
		if (*len + (size_t)n > cap) {
			size_t drop = *len + (size_t)n - cap;

			memmove(said, said + drop, *len - drop);
			*len -= drop;
		}
		memcpy(said + *len, chunk, (size_t)n);
		*len += (size_t)n;
	}
}

static int run_compiler(const wp_compile_job *job, char **argv, const wp_confine *view, wp_error *err)
{
	int pe[2], devnull, status = 0;
	char said[8192];
	size_t said_len = 0;
	int timeout_ms = (job->timeout_s > 0 ? job->timeout_s : 300) * 1000;
	bool eof, reaped = false;
	wp_seccomp filter;
	pid_t pid;

	/* the compiler reads hostile bytes: it runs under the engines' filter too */
	if (wp_seccomp_build(&filter, err) < 0)
		return err->code;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) {
		wp_seccomp_release(&filter);
		return wp_error_sys(err, WP_EIO, "opening /dev/null");
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(devnull);
		wp_seccomp_release(&filter);
		return wp_error_sys(err, WP_EIO, "pipe");
	}
	pid = fork();
	if (pid == 0)
		compiler_child(argv, view, &filter, devnull, pe[1]);
	wp_seccomp_release(&filter);
	close(pe[1]);
	close(devnull);
	if (pid < 0) {
		close(pe[0]);
		return wp_error_sys(err, WP_EIO, "fork");
	}
	eof = compiler_said(pe[0], pid, timeout_ms, said, sizeof(said), &said_len);
	close(pe[0]);
	if (waitpid(pid, &status, 0) == pid)
		reaped = true;
	else if (job->reaped_status) /* the shim's reaper collected it first */
		status = job->reaped_status(job->reaped_ctx, pid), reaped = true;
	if (!eof)
		return wp_error_set(err, WP_ETIMEOUT, "%s took longer than %d s and was stopped", job->what,
				    timeout_ms / 1000);
	if (!reaped || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char tail[600];

		tail_of(said, said_len, tail, sizeof(tail));
		/* exit 126 and 127 are this side's (confining, starting), a signal may be the
		 * machine's (the OOM killer): only the compiler's own failure judges the bytes */
		wp_error_set(err,
			     reaped && WIFEXITED(status) && WEXITSTATUS(status) != 126 && WEXITSTATUS(status) != 127
				     ? WP_EINVALID
				     : WP_EIO,
			     "%s failed", job->what);
		if (reaped && WIFEXITED(status))
			wp_error_append(err, " (exit %d)", WEXITSTATUS(status));
		else if (reaped && WIFSIGNALED(status))
			wp_error_append(err, " (signal %d)", WTERMSIG(status));
		return wp_error_append(err, "%s%s", *tail ? ": " : "", tail);
	}
	return 0;
}

/* The digest of the file behind fd as last computed, when the file is provably the same
 * since: its device, inode, size, modification and change times all as recorded. The
 * change time is the kernel's (no unprivileged call sets it), so a file rewritten since,
 * even with its size and mtime put back, no longer matches. A warm start then reads no
 * byte of a large wasm. */
static char *memo_path(const char *cache_root, const struct stat *st)
{
	return wp_str_fmt("%s/compiled/.digests/%llx-%llx", cache_root, (unsigned long long)st->st_dev,
			  (unsigned long long)st->st_ino);
}

static char *memo_line(const struct stat *st, const char *hex)
{
	return wp_str_fmt("%lld %lld.%09ld %lld.%09ld %s", (long long)st->st_size, (long long)st->st_mtim.tv_sec,
			  st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, hex);
}

static bool memo_get(const char *cache_root, int fd, char hex[65])
{
	struct stat st;
	_cleanup_free_ char *path = NULL, *want = NULL;
	wp_buf have;
	bool hit;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	path = memo_path(cache_root, &st);
	want = memo_line(&st, "");
	wp_buf_init(&have, 512);
	hit = wp_fs_read_file(path, 512, &have, NULL) == 0 && have.len == strlen(want) + 64 &&
	      !memcmp(have.data, want, strlen(want));
	if (hit) {
		memcpy(hex, have.data + strlen(want), 64);
		hex[64] = '\0';
		for (int i = 0; i < 64 && hit; i++)
			hit = (hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f');
	}
	wp_buf_release(&have);
	return hit;
}

/* Recorded only when the file did not change while it was read (before: its stat then). */
static void memo_put(const char *cache_root, int fd, const struct stat *before, const char hex[65])
{
	struct stat st;
	_cleanup_free_ char *dir = wp_str_fmt("%s/compiled/.digests", cache_root), *path = NULL, *line = NULL;
	_cleanup_free_ char *was = memo_line(before, hex);

	if (fstat(fd, &st) < 0 || st.st_ino != before->st_ino || st.st_dev != before->st_dev)
		return;
	line = memo_line(&st, hex);
	if (strcmp(line, was) || wp_fs_mkdir_p(dir, 0755, NULL) < 0)
		return;
	path = memo_path(cache_root, &st);
	(void)wp_fs_write_replace(path, line, strlen(line), 0644, NULL);
}

/* The copy at in compiled into out by the job's compiler, confined (seeing the copy
 * read-only, out writable, its own files); a verdict on these bytes (WP_EINVALID) is
 * remembered in failed. */
static int compile_into(const wp_compile_job *job, const char *in, const char *out, const char *failed, wp_error *err)
{
	char **argv = wp_xcalloc(job->argv.len + 1, sizeof(*argv));
	_cleanup_free_ char *have = NULL;
	wp_confine view = { 0 };
	int rc;

	for (size_t i = 0; i < job->argv.len; i++)
		argv[i] = expand(job->argv.items[i], in, out);
	if ((rc = wp_confine_add(&view, in, WP_CONFINE_RO, err)) < 0 || (rc = wp_confine_add(&view, out, WP_CONFINE_RW, err)) < 0)
		goto done;
	for (size_t i = 0; i < job->ro.len; i++)
		if ((rc = wp_confine_add(&view, job->ro.items[i], WP_CONFINE_RO, err)) < 0)
			goto done;
	if ((rc = wp_confine_add_engine(&view, argv[0], err)) < 0)
		goto done;
	wp_info("compiling the app's wasm once for %s (%s)", job->engine_id, job->what);
	if ((rc = run_compiler(job, argv, &view, err)) == 0) {
		have = wp_str_fmt("%s/%s", out, job->made);
		if (!wp_fs_exists(have))
			rc = wp_error_set(err, WP_EINVALID, "%s made no %s", job->what, job->made);
	}
	if (rc == WP_EINVALID) /* the compiler's verdict on these bytes, not a passing trouble */
		(void)wp_fs_write_replace(failed, err->msg, strlen(err->msg), 0644, NULL);
done:
	for (size_t i = 0; i < job->argv.len; i++)
		free(argv[i]);
	free(argv);
	wp_confine_release(&view);
	return rc;
}

int wp_compile_cached(const wp_compile_job *job, int wasm_fd, char **dir, bool *made, wp_error *err)
{
	_cleanup_free_ char *parent = NULL, *tmpl = NULL, *in = NULL, *out = NULL, *have = NULL, *failed = NULL;
	wp_buf note;
	struct stat before;
	_cleanup_free_ uint8_t *wasm = NULL;
	char hex[65];
	size_t len = 0;
	int rc;

	*dir = NULL;
	*made = false;
	parent = wp_str_fmt("%s/compiled/%s", job->cache_root, job->engine_id);
	for (int pass = 0; pass < 2; pass++) {
		/* first from the digest recorded for this very file, else from its bytes, read
		 * and hashed once and compiled from that copy: what was hashed is compiled */
		if (pass == 0 && !memo_get(job->cache_root, wasm_fd, hex))
			continue;
		if (pass == 1) {
			if (fstat(wasm_fd, &before) < 0)
				return wp_error_sys(err, WP_EIO, "the app's wasm");
			if ((rc = read_wasm(wasm_fd, &wasm, &len, err)) < 0)
				return rc;
			wp_compile_hex_digest(wasm, len, hex);
			memo_put(job->cache_root, wasm_fd, &before, hex);
		}
		free(*dir);
		free(have);
		free(failed);
		*dir = wp_str_fmt("%s/%s", parent, hex);
		have = wp_str_fmt("%s/%s", *dir, job->made);
		if (wp_fs_exists(have)) {
			/* used now: gc keeps what starts use (wp_compile_gc) */
			(void)utimensat(AT_FDCWD, *dir, NULL, 0);
			return 0;
		}
		/* A compiler that failed on these bytes fails again: said from the note it left,
		 * not run again at every start (a crash-looping pod's). Another compiler build is
		 * another engine id, and tries afresh. */
		failed = wp_str_fmt("%s.failed", *dir);
		wp_buf_init(&note, 1024);
		if (wp_fs_read_file(failed, 1024, &note, NULL) == 0) {
			rc = wp_error_set(err, WP_EINVALID, "%.*s (remembered from an earlier start)", (int)note.len,
					  note.data ? note.data : "");
			wp_buf_release(&note);
			goto fail;
		}
		wp_buf_release(&note);
		/* to be made: on to the bytes */
	}
	if ((rc = wp_fs_mkdir_p(parent, 0755, err)) < 0)
		goto fail;
	remove_old(parent, time(NULL) - STALE_TMP_S, true); /* what compiles that died left */
	tmpl = wp_str_fmt("%s/.tmp-%.16s-XXXXXX", parent, hex);
	if (!mkdtemp(tmpl)) {
		rc = wp_error_sys(err, WP_EIO, "making a folder in '%s'", parent);
		goto fail;
	}
	in = wp_str_fmt("%s/in.wasm", tmpl);
	out = wp_str_fmt("%s/out", tmpl);
	if ((rc = wp_fs_write_replace(in, wasm, len, 0444, err)) < 0)
		goto fail;
	if (mkdir(out, 0755) < 0 || chmod(tmpl, 0755) < 0) {
		rc = wp_error_sys(err, WP_EIO, "making '%s'", out);
		goto fail;
	}
	if (job->check && (rc = job->check(wasm, len, job->ctx, err)) < 0) {
		if (rc == WP_EINVALID)
			(void)wp_fs_write_replace(failed, err->msg, strlen(err->msg), 0644, NULL);
		goto fail;
	}
	if ((rc = compile_into(job, in, out, failed, err)) < 0)
		goto fail;
	if (job->finish && (rc = job->finish(out, wasm, len, job->ctx, err)) < 0)
		goto fail;
	/* A start racing this one may have put its copy in place first: the same bytes. */
	if (rename(out, *dir) < 0 && errno != ENOTEMPTY && errno != EEXIST) {
		rc = wp_error_sys(err, WP_EIO, "putting the compiled app in place");
		goto fail;
	}
	*made = true;
	(void)wp_fs_rm_rf(tmpl, NULL);
	/* the node cache grew: past its caps, the least recently used entries go */
	wp_cache_enforce(job->cache_root, *dir);
	rc = 0;
	goto done;
fail:
	if (tmpl && strstr(tmpl, "XXXXXX") == NULL)
		(void)wp_fs_rm_rf(tmpl, NULL);
	free(*dir);
	*dir = NULL;
done:
	return rc;
}
