#include "shim/cgroup.h"
#include "common/path.h"
#include "common/util.h"
#include "common/pb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

/* A cgroup's cgroup.procs read to see whether it is empty, one read of its events, and
 * its statistics as a message, at most. */
#define PROCS_READ_MAX 4096
#define EVENT_READ_MAX 4096
#define STATS_MAX (1u << 16)

/* Where the cgroup filesystems are mounted: $WASMPACK_CGROUP_ROOT or /sys/fs/cgroup. */
static const char *cg_root(void)
{
	const char *r = getenv("WASMPACK_CGROUP_ROOT");

	return r && *r ? r : "/sys/fs/cgroup";
}

/* The v1 hierarchies a wasm app's limits and accounting need. Each move into a hierarchy
 * costs the kernel an RCU grace period (milliseconds on a busy node), so no more than
 * these: not cpuset (a new cpuset cgroup has no CPUs until given some), freezer, blkio,
 * devices (no devices are opened through the engine), nor systemd's named hierarchy. */
static const char *const v1_controllers[] = { "memory", "cpu", "cpuacct", "pids" };

bool wp_cgroup_unified(void)
{
	char path[WP_PATH_MAX];

	snprintf(path, sizeof(path), "%s/cgroup.controllers", cg_root());
	return access(path, F_OK) == 0;
}

char *wp_cgroup_dir(const char *p)
{
	const char *c1, *c2;

	if (!p || !*p)
		return NULL;
	/* systemd's form: "kubepods-burstable-pod1.slice:cri-containerd:ID" */
	if (*p != '/' && (c1 = strchr(p, ':')) && (c2 = strchr(c1 + 1, ':'))) {
		_cleanup_free_ char *slice = wp_xstrndup(p, (size_t)(c1 - p)), *prefix = wp_xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
		char *out = NULL, *part;
		size_t len = 0;
		FILE *f;

		if (!wp_str_has_suffix(slice, ".slice") || !(f = open_memstream(&out, &len)))
			return NULL;
		/* a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice */
		slice[strlen(slice) - 6] = '\0';
		for (part = slice; (part = strchr(part, '-')); part++)
			fprintf(f, "/%.*s.slice", (int)(part - slice), slice);
		fprintf(f, "/%s.slice/%s%s%s.scope", slice, prefix, *prefix ? "-" : "", c2 + 1);
		fclose(f);
		return out;
	}
	return wp_str_fmt("%s%s", *p == '/' ? "" : "/", p);
}

static int mkdir_p(const char *path)
{
	_cleanup_free_ char *copy = wp_xstrdup(path);

	for (char *s = copy + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(copy, 0755) < 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(copy, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int put(const char *dir, const char *file, const char *value, wp_error *err);

/* cgroup v2: the controllers a child needs (cpu, memory, pids, where cgroup.controllers
 * offers them) enabled in a parent's cgroup.subtree_control. */
static void enable_controllers(const char *dir)
{
	static const char *const want[] = { "cpu", "memory", "pids" };
	_cleanup_free_ char *ctl = wp_str_fmt("%s/cgroup.controllers", dir);
	char avail[512] = " ";
	int fd = open(ctl, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, avail + 1, sizeof(avail) - 3);
	close(fd);
	n = n > 0 ? n + 1 : 1;
	avail[n++] = ' ';
	avail[n] = '\0';
	for (char *c = avail; *c; c++)
		if (*c == '\n')
			*c = ' ';
	for (size_t i = 0; i < WP_ARRAY_LEN(want); i++) {
		char word[16], plus[16];

		snprintf(word, sizeof(word), " %s ", want[i]);
		snprintf(plus, sizeof(plus), "+%s", want[i]);
		if (strstr(avail, word))
			put(dir, "cgroup.subtree_control", plus, NULL);
	}
}

/* Each level made in turn, its parent first given the controllers (never the leaf: a
 * cgroup with controllers for children may hold no process). */
static int make_v2(const char *d)
{
	char cur[WP_PATH_MAX];
	const char *p = d + strlen(cg_root());
	size_t len = strlen(cg_root());

	if (strlen(d) >= sizeof(cur))
		return errno = ENAMETOOLONG, -1;
	memcpy(cur, cg_root(), len + 1);
	while (*p) {
		const char *next = strchr(p + 1, '/');
		size_t step = next ? (size_t)(next - p) : strlen(p);

		enable_controllers(cur);
		memcpy(cur + len, p, step);
		len += step;
		cur[len] = '\0';
		if (mkdir(cur, 0755) < 0 && errno != EEXIST)
			return -1;
		p += step;
	}
	return 0;
}

static int put(const char *dir, const char *file, const char *value, wp_error *err)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return wp_error_sys(err, WP_EIO, "cgroup file '%s'", path);
	n = write(fd, value, strlen(value));
	close(fd);
	if (n != (ssize_t)strlen(value))
		return wp_error_sys(err, WP_EIO, "writing '%s' to '%s'", value, path);
	return 0;
}

static int64_t num(json_t *o, const char *key, int64_t none)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : none;
}

int wp_cgroup_prepare(const char *dir, json_t *res, char **procs, bool *own, wp_error *err)
{
	json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu"), *pids = json_object_get(res, "pids");
	int64_t limit = num(mem, "limit", -1), shares = num(cpu, "shares", 0), quota = num(cpu, "quota", 0);
	int64_t period = num(cpu, "period", 0), pmax = num(pids, "limit", 0);
	char v[64];

	*procs = NULL;
	*own = true;
	if (wp_cgroup_unified()) {
		_cleanup_free_ char *d = wp_str_fmt("%s%s", cg_root(), dir);
		bool want = limit > 0 || quota > 0 || shares > 0 || pmax > 0;

		if (make_v2(d) < 0) {
			int rc = wp_error_sys(err, WP_EIO, "making cgroup '%s'", d);

			*own = false;
			return want ? rc : 0;
		}
		if (limit > 0 && (snprintf(v, sizeof(v), "%lld", (long long)limit), put(d, "memory.max", v, err) < 0))
			return err->code;
		if (quota > 0 && (snprintf(v, sizeof(v), "%lld %lld", (long long)quota, (long long)(period > 0 ? period : 100000)),
				  put(d, "cpu.max", v, err) < 0))
			return err->code;
		/* cgroup v2's weight (1-10000) from v1's shares (2-262144), as runc converts */
		if (shares > 0 &&
		    (snprintf(v, sizeof(v), "%lld", (long long)(1 + ((shares < 2 ? 2 : shares) - 2) * 9999 / 262142)),
		     put(d, "cpu.weight", v, err) < 0))
			return err->code;
		if (pmax > 0 && (snprintf(v, sizeof(v), "%lld", (long long)pmax), put(d, "pids.max", v, err) < 0))
			return err->code;
		*procs = wp_str_fmt("%s/cgroup.procs", d);
		return 0;
	}
	for (size_t i = 0; i < WP_ARRAY_LEN(v1_controllers); i++) {
		_cleanup_free_ char *base = wp_str_fmt("%s/%s", cg_root(), v1_controllers[i]), *d = wp_str_fmt("%s/%s%s", cg_root(), v1_controllers[i], dir);
		bool must = false;

		if (access(base, F_OK) < 0)
			continue;
		/* cpu and cpuacct are usually one hierarchy mounted as "cpu,cpuacct" */
		if (!strcmp(v1_controllers[i], "cpuacct")) {
			char a[WP_PATH_MAX], b[WP_PATH_MAX];
			_cleanup_free_ char *cpu_dir = wp_str_fmt("%s/cpu", cg_root());

			if (realpath(cpu_dir, a) && realpath(base, b) && !strcmp(a, b))
				continue;
		}
		if (!strcmp(v1_controllers[i], "memory"))
			must = limit > 0;
		else if (!strcmp(v1_controllers[i], "cpu"))
			must = shares > 0 || quota > 0;
		else if (!strcmp(v1_controllers[i], "pids"))
			must = pmax > 0;
		if (mkdir_p(d) < 0) {
			if (!must)
				continue;
			return wp_error_sys(err, WP_EIO, "making cgroup '%s'", d);
		}
		if (!strcmp(v1_controllers[i], "memory") && limit > 0 &&
		    (snprintf(v, sizeof(v), "%lld", (long long)limit), put(d, "memory.limit_in_bytes", v, err) < 0))
			return err->code;
		if (!strcmp(v1_controllers[i], "cpu")) {
			if (shares > 0 && (snprintf(v, sizeof(v), "%lld", (long long)shares), put(d, "cpu.shares", v, err) < 0))
				return err->code;
			if (quota > 0 && ((snprintf(v, sizeof(v), "%lld", (long long)(period > 0 ? period : 100000)),
					   put(d, "cpu.cfs_period_us", v, err) < 0) ||
					  (snprintf(v, sizeof(v), "%lld", (long long)quota), put(d, "cpu.cfs_quota_us", v, err) < 0)))
				return err->code;
		}
		if (!strcmp(v1_controllers[i], "pids") && pmax > 0 &&
		    (snprintf(v, sizeof(v), "%lld", (long long)pmax), put(d, "pids.max", v, err) < 0))
			return err->code;
		/* memory before the engine runs, the rest once it runs (wp_cgroup_join_rest) */
		if (!strcmp(v1_controllers[i], "memory"))
			*procs = wp_str_fmt("%s/cgroup.procs", d);
	}
	return 0;
}

/* pid into the cgroup d, then its children (those it made before it moved; later ones
 * are born there), and theirs: the task's process, its init and its engine. */
static void move_tree(const char *d, pid_t pid, int depth)
{
	char pidstr[32], path[64], kids[PROCS_READ_MAX];
	ssize_t n;
	int fd;

	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	put(d, "cgroup.procs", pidstr, NULL);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (depth <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, kids, sizeof(kids) - 1);
	close(fd);
	kids[n > 0 ? n : 0] = '\0';
	for (char *save = NULL, *k = strtok_r(kids, " \n", &save); k; k = strtok_r(NULL, " \n", &save))
		move_tree(d, (pid_t)atoi(k), depth - 1);
}

void wp_cgroup_join_rest(const char *dir, pid_t pid)
{
	if (wp_cgroup_unified())
		return;
	for (size_t i = 0; i < WP_ARRAY_LEN(v1_controllers); i++) {
		_cleanup_free_ char *d = wp_str_fmt("%s/%s%s", cg_root(), v1_controllers[i], dir);

		if (strcmp(v1_controllers[i], "memory") && access(d, F_OK) == 0)
			move_tree(d, pid, 3);
	}
}

void wp_cgroup_remove(const char *dir)
{
	if (wp_cgroup_unified()) {
		_cleanup_free_ char *d = wp_str_fmt("%s%s", cg_root(), dir);

		for (int i = 0; d && i < 50 && rmdir(d) < 0 && errno == EBUSY; i++)
			usleep(10000);
		return;
	}
	for (size_t i = 0; i < WP_ARRAY_LEN(v1_controllers); i++) {
		_cleanup_free_ char *d = wp_str_fmt("%s/%s%s", cg_root(), v1_controllers[i], dir);

		for (int k = 0; d && k < 50 && rmdir(d) < 0 && errno == EBUSY; k++)
			usleep(10000);
	}
}

/* A number from a cgroup file: the whole file ("max" is 0), or the value after "key " in a
 * flat keyed file (memory.stat, cpu.stat, cpuacct.stat). */
static uint64_t read_num(const char *dir, const char *file, const char *key)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/%s", dir, file);
	char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (!key)
		return strtoull(buf, NULL, 10);
	for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t k = strlen(key);

		if (!strncmp(line, key, k) && line[k] == ' ')
			return strtoull(line + k + 1, NULL, 10);
	}
	return 0;
}

/* One field of a Metrics message: its number, the cgroup file (and key) it comes from, and
 * a factor (cpuacct.stat counts USER_HZ ticks, 100 a second on Linux: 10^7 ns each). */
typedef struct field {
	uint32_t num;
	const char *file, *key;
	uint64_t scale;
} field;

static int append_fields(wp_buf *m, const char *dir, const field *f, size_t n)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = wp_pb_put_varint(m, f[i].num, read_num(dir, f[i].file, f[i].key) * (f[i].scale ? f[i].scale : 1));
	return rc;
}

/* Appends the fields read from dir as message num of out (left out when all are zero). */
static int put_fields(wp_buf *out, uint32_t num, const char *dir, const field *f, size_t n)
{
	wp_buf m;
	int rc;

	wp_buf_init(&m, STATS_MAX);
	if ((rc = append_fields(&m, dir, f, n)) == 0 && m.len)
		rc = wp_pb_put_msg(out, num, &m);
	wp_buf_release(&m);
	return rc;
}

/* github.com/containerd/cgroups v2/stats/metrics.proto: Metrics {pids = 1, cpu = 2,
 * memory = 4} */
static const field v2_pids[] = { { 1, "pids.current", NULL, 0 }, { 2, "pids.max", NULL, 0 } };
static const field v2_cpu[] = {
	{ 1, "cpu.stat", "usage_usec", 0 }, { 2, "cpu.stat", "user_usec", 0 },     { 3, "cpu.stat", "system_usec", 0 },
	{ 4, "cpu.stat", "nr_periods", 0 }, { 5, "cpu.stat", "nr_throttled", 0 }, { 6, "cpu.stat", "throttled_usec", 0 },
};
static const field v2_memory[] = {
	{ 1, "memory.stat", "anon", 0 },           { 2, "memory.stat", "file", 0 },
	{ 11, "memory.stat", "inactive_anon", 0 }, { 12, "memory.stat", "active_anon", 0 },
	{ 13, "memory.stat", "inactive_file", 0 }, { 14, "memory.stat", "active_file", 0 },
	{ 18, "memory.stat", "pgfault", 0 },       { 19, "memory.stat", "pgmajfault", 0 },
	{ 32, "memory.current", NULL, 0 },         { 33, "memory.max", NULL, 0 },
};
/* stats/v1/metrics.proto: Metrics {pids = 2, cpu = 3 {usage = 1}, memory = 4 {...,
 * usage = 33 (MemoryEntry)}} */
static const field v1_pids[] = { { 1, "pids.current", NULL, 0 }, { 2, "pids.max", NULL, 0 } };
static const field v1_cpu_usage[] = {
	{ 1, "cpuacct.usage", NULL, 0 },
	{ 2, "cpuacct.stat", "system", 10000000 },
	{ 3, "cpuacct.stat", "user", 10000000 },
};
static const field v1_memory[] = {
	{ 1, "memory.stat", "cache", 0 },          { 2, "memory.stat", "rss", 0 },
	{ 3, "memory.stat", "rss_huge", 0 },       { 4, "memory.stat", "mapped_file", 0 },
	{ 9, "memory.stat", "pgfault", 0 },        { 10, "memory.stat", "pgmajfault", 0 },
	{ 11, "memory.stat", "inactive_anon", 0 }, { 12, "memory.stat", "active_anon", 0 },
	{ 13, "memory.stat", "inactive_file", 0 }, { 14, "memory.stat", "active_file", 0 },
	{ 16, "memory.stat", "hierarchical_memory_limit", 0 },
	{ 18, "memory.stat", "total_cache", 0 },   { 19, "memory.stat", "total_rss", 0 },
};
static const field v1_memory_usage[] = {
	{ 1, "memory.limit_in_bytes", NULL, 0 },
	{ 2, "memory.usage_in_bytes", NULL, 0 },
	{ 3, "memory.max_usage_in_bytes", NULL, 0 },
	{ 4, "memory.failcnt", NULL, 0 },
};

int wp_cgroup_metrics(const char *dir, wp_buf *out, const char **type_url)
{
	wp_buf inner;
	int rc = 0;

	if (wp_cgroup_unified()) {
		_cleanup_free_ char *d = wp_str_fmt("%s%s", cg_root(), dir);

		if (access(d, F_OK) < 0)
			return -1;
		*type_url = "io.containerd.cgroups.v2.Metrics";
		if (put_fields(out, 1, d, v2_pids, WP_ARRAY_LEN(v2_pids)) < 0 ||
		    put_fields(out, 2, d, v2_cpu, WP_ARRAY_LEN(v2_cpu)) < 0 ||
		    put_fields(out, 4, d, v2_memory, WP_ARRAY_LEN(v2_memory)) < 0)
			return -1;
		return 0;
	}
	{
		_cleanup_free_ char *mem = wp_str_fmt("%s/memory%s", cg_root(), dir);
		_cleanup_free_ char *acct = wp_str_fmt("%s/cpuacct%s", cg_root(), dir);
		_cleanup_free_ char *pids = wp_str_fmt("%s/pids%s", cg_root(), dir);

		if (access(mem, F_OK) < 0 && access(acct, F_OK) < 0)
			return -1;
		*type_url = "io.containerd.cgroups.v1.Metrics";
		wp_buf_init(&inner, STATS_MAX);
		/* cpu = 3 {usage = 1 {...}}; memory = 4 {..., usage = 33 {...}} */
		if (put_fields(out, 2, pids, v1_pids, WP_ARRAY_LEN(v1_pids)) < 0 ||
		    put_fields(&inner, 1, acct, v1_cpu_usage, WP_ARRAY_LEN(v1_cpu_usage)) < 0 ||
		    (inner.len && wp_pb_put_msg(out, 3, &inner) < 0))
			rc = -1;
		wp_buf_reset(&inner);
		if (rc == 0) {
			wp_buf m;

			wp_buf_init(&m, STATS_MAX);
			rc = append_fields(&m, mem, v1_memory, WP_ARRAY_LEN(v1_memory));
			if (rc == 0 && (rc = put_fields(&m, 33, mem, v1_memory_usage, WP_ARRAY_LEN(v1_memory_usage))) == 0 && m.len)
				rc = wp_pb_put_msg(out, 4, &m);
			wp_buf_release(&m);
		}
		wp_buf_release(&inner);
	}
	return rc < 0 ? -1 : 0;
}

wp_cgroup_oom *wp_cgroup_oom_watch(const char *dir)
{
	wp_cgroup_oom *w = wp_xcalloc(1, sizeof(*w));

	w->fd = w->aux = -1;
	if (wp_cgroup_unified()) {
		w->v2 = true;
		_cleanup_free_ char *file = wp_str_fmt("%s%s/memory.events", cg_root(), dir);

		w->events = wp_str_fmt("%s%s", cg_root(), dir);
		if (!w->events || (w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) < 0 ||
		    inotify_add_watch(w->fd, file, IN_MODIFY) < 0)
			goto fail;
		w->seen = read_num(w->events, "memory.events", "oom_kill");
		return w;
	}
	{
		/* cgroup v1: "<eventfd> <memory.oom_control fd>" into cgroup.event_control */
		_cleanup_free_ char *mem = wp_str_fmt("%s/memory%s", cg_root(), dir);
		_cleanup_free_ char *ctl = wp_str_fmt("%s/memory.oom_control", mem);
		char line[64];

		if (!ctl || (w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
		    (w->aux = open(ctl, O_RDONLY | O_CLOEXEC)) < 0)
			goto fail;
		snprintf(line, sizeof(line), "%d %d", w->fd, w->aux);
		if (put(mem, "cgroup.event_control", line, NULL) < 0)
			goto fail;
		return w;
	}
fail:
	wp_cgroup_oom_free(w);
	return NULL;
}

bool wp_cgroup_oom_fired(wp_cgroup_oom *w)
{
	char buf[EVENT_READ_MAX];
	uint64_t n;

	if (!w->v2)
		return read(w->fd, &n, sizeof(n)) == (ssize_t)sizeof(n) && n > 0;
	while (read(w->fd, buf, sizeof(buf)) > 0)
		;
	n = read_num(w->events, "memory.events", "oom_kill");
	if (n <= w->seen)
		return false;
	w->seen = n;
	return true;
}

void wp_cgroup_oom_free(wp_cgroup_oom *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->aux >= 0)
		close(w->aux);
	free(w->events);
	free(w);
}
