/* node/compile.c: compiled forms in the node cache, with cp and false standing in for a
 * compiler: made once per content, found again, named by the bytes that were compiled
 * even when the file is rewritten behind an unchanged size and mtime, failures remembered,
 * nothing half-made left. */
#include "tap.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/util.h"
#include "node/compile.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[] = "/tmp/wasmpack-compile-unit.XXXXXX";

static void put(const char *path, const char *text, const struct timespec *mtime)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	if (mtime) {
		struct timespec t[2] = { *mtime, *mtime };

		utimensat(AT_FDCWD, path, t, 0);
	}
}

static char *slurp(const char *path)
{
	wp_buf b;
	wp_error err;
	char *s;

	wp_buf_init(&b, 1 << 20);
	if (wp_fs_read_file(path, 1 << 20, &b, &err) < 0) {
		wp_buf_release(&b);
		return wp_xstrdup("(unreadable)");
	}
	s = wp_xstrndup(b.data ? b.data : "", b.len);
	wp_buf_release(&b);
	return s;
}

/* Compiles path with the job; the output's content, or NULL on failure (err set). */
static char *compile(wp_compile_job *job, const char *path, char **dir, bool *made, wp_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *out = NULL;
	int rc = wp_compile_cached(job, fd, dir, made, err);

	close(fd);
	if (rc < 0)
		return NULL;
	out = wp_str_fmt("%s/app.bin", *dir);
	return slurp(out);
}

static int count_tmp(const char *parent)
{
	_cleanup_free_ char *cmd = wp_str_fmt("ls -A '%s' | grep -c '^\\.tmp'", parent);
	FILE *p = popen(cmd, "r");
	int n = -1;

	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

int main(void)
{
	_cleanup_free_ char *cache = NULL, *app = NULL, *parent = NULL, *d1 = NULL, *d2 = NULL, *d3 = NULL, *got = NULL;
	wp_compile_job job = { 0 }, bad = { 0 };
	struct stat st;
	wp_error err;
	bool made;
	char hex[65];

	if (!mkdtemp(tmp))
		return 1;
	cache = wp_str_fmt("%s/cache", tmp);
	app = wp_str_fmt("%s/app.wasm", tmp);
	parent = wp_str_fmt("%s/compiled/cp-1", cache);
	mkdir(cache, 0755);
	job.cache_root = cache;
	job.engine_id = "cp-1";
	job.what = "cp";
	job.made = "app.bin";
	wp_strv_push(&job.argv, "/bin/cp");
	wp_strv_push(&job.argv, "{in}");
	wp_strv_push(&job.argv, "{out}/app.bin");

	put(app, "first bytes", NULL);
	stat(app, &st);
	got = compile(&job, app, &d1, &made, &err);
	is_str(got, "first bytes", "the compiler's output is in the cache");
	ok(made, "made now");
	wp_compile_hex_digest("first bytes", strlen("first bytes"), hex);
	ok(d1 && strstr(d1, hex), "in a folder named by the content's sha256");
	free(got);
	got = compile(&job, app, &d2, &made, &err);
	ok(!made && d2 && !strcmp(d1, d2), "found again: not made twice");
	is_int(count_tmp(parent), 0, "no temporary folder left");

	/* the same size, the same mtime, other bytes: another entry, with those bytes */
	put(app, "other bytes", &st.st_mtim);
	free(got);
	got = compile(&job, app, &d3, &made, &err);
	is_str(got, "other bytes", "a file rewritten behind its size and mtime is compiled anew");
	ok(made && d3 && strcmp(d1, d3), "into the entry of its new content");

	/* a compiler that fails: said, remembered, nothing kept */
	bad = job;
	bad.engine_id = "false-1";
	bad.what = "false";
	memset(&bad.argv, 0, sizeof(bad.argv));
	wp_strv_push(&bad.argv, "/bin/false");
	free(got);
	free(d1);
	d1 = NULL;
	got = compile(&bad, app, &d1, &made, &err);
	ok(!got && err.code == WP_EINVALID, "a failing compiler is an error");
	ok(strstr(err.msg, "false failed (exit 1)") != NULL, "saying so: %s", err.msg);
	ok(!d1, "and gives no folder");
	got = compile(&bad, app, &d1, &made, &err);
	ok(!got && strstr(err.msg, "remembered from an earlier start"), "the next try does not run it again: %s", err.msg);
	free(parent);
	parent = wp_str_fmt("%s/compiled/false-1", cache);
	is_int(count_tmp(parent), 0, "and leaves no temporary folder");

	/* a compiler that makes nothing */
	bad.engine_id = "true-1";
	wp_strv_release(&bad.argv);
	wp_strv_push(&bad.argv, "/bin/true");
	got = compile(&bad, app, &d1, &made, &err);
	ok(!got && strstr(err.msg, "made no app.bin"), "a compiler that makes nothing is an error: %s", err.msg);
	wp_strv_release(&bad.argv);

	{
		_cleanup_free_ char *rm = wp_str_fmt("rm -rf '%s'", tmp);

		(void)!system(rm);
	}
	wp_strv_release(&job.argv);
	return done_testing();
}
