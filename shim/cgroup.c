#include "shim/cgroup.h"
#include "common/util.h"
#include "shim/pb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static const char *root_file(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/%s", cg_root(), name);
	return path;
}

static bool unified(void)
{
	return access(root_file("cgroup.controllers"), F_OK) == 0;
}

char *wp_cgroup_dir(const char *p)
{
	const char *c1, *c2;

	if (!p || !*p)
		return NULL;
	/* systemd's form: "kubepods-burstable-pod1.slice:cri-containerd:ID" */
	if (*p != '/' && (c1 = strchr(p, ':')) && (c2 = strchr(c1 + 1, ':'))) {
		_cleanup_free_ char *slice = strndup(p, (size_t)(c1 - p)), *prefix = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
		char *out = NULL, *part;
		size_t len = 0;
		FILE *f;

		if (!slice || !prefix || !wp_str_has_suffix(slice, ".slice") || !(f = open_memstream(&out, &len)))
			return NULL;
		/* a-b-c.slice lives in a.slice/a-b.slice/a-b-c.slice */
		slice[strlen(slice) - 6] = '\0';
		for (part = slice; (part = strchr(part, '-')); part++)
			fprintf(f, "/%.*s.slice", (int)(part - slice), slice);
		fprintf(f, "/%s.slice/%s%s%s.scope", slice, prefix, *prefix ? "-" : "", c2 + 1);
		fclose(f);
		return out;
	}
	return wp_strfmt("%s%s", *p == '/' ? "" : "/", p);
}

static int mkdir_p(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return -1;
	for (char *s = copy + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(copy, 0755) < 0 && errno != EEXIST)
				return -1;
			*s = '/';
		}
	return mkdir(copy, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

static int put(const char *dir, const char *file, const char *value, char msg[256]);

static int put(const char *dir, const char *file, const char *value, char msg[256]);

/* cgroup v2: the controllers a child needs (cpu, memory, pids, where cgroup.controllers
 * offers them) enabled in a parent's cgroup.subtree_control. */
static void enable_controllers(const char *dir)
{
	static const char *const want[] = { "cpu", "memory", "pids" };
	_cleanup_free_ char *ctl = wp_strfmt("%s/cgroup.controllers", dir);
	char avail[512] = " ", ignored[256];
	int fd = ctl ? open(ctl, O_RDONLY | O_CLOEXEC) : -1;
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
			put(dir, "cgroup.subtree_control", plus, ignored);
	}
}

/* Each level made in turn, its parent first given the controllers (never the leaf: a
 * cgroup with controllers for children may hold no process). */
static int make_v2(const char *d)
{
	char cur[4096];
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

static int put(const char *dir, const char *file, const char *value, char msg[256])
{
	_cleanup_free_ char *path = wp_strfmt("%s/%s", dir, file);
	int fd = path ? open(path, O_WRONLY | O_CLOEXEC) : -1;
	ssize_t n;

	if (fd < 0) {
		snprintf(msg, 256, "cgroup file '%s': %s", path ? path : file, strerror(errno));
		return -1;
	}
	n = write(fd, value, strlen(value));
	close(fd);
	if (n != (ssize_t)strlen(value)) {
		snprintf(msg, 256, "writing '%s' to '%s': %s", value, path, strerror(errno));
		return -1;
	}
	return 0;
}

static int64_t num(json_t *o, const char *key, int64_t none)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : none;
}

int wp_cgroup_prepare(const char *dir, json_t *res, char **procs, char msg[256])
{
	json_t *mem = json_object_get(res, "memory"), *cpu = json_object_get(res, "cpu"), *pids = json_object_get(res, "pids");
	int64_t limit = num(mem, "limit", -1), shares = num(cpu, "shares", 0), quota = num(cpu, "quota", 0);
	int64_t period = num(cpu, "period", 0), pmax = num(pids, "limit", 0);
	char v[64];

	*procs = NULL;
	if (unified()) {
		_cleanup_free_ char *d = wp_strfmt("%s%s", cg_root(), dir);
		bool want = limit > 0 || quota > 0 || shares > 0 || pmax > 0;

		if (!d || make_v2(d) < 0) {
			snprintf(msg, 256, "making cgroup '%s': %s", d ? d : dir, strerror(errno));
			return want ? -1 : 1;
		}
		if (limit > 0 && (snprintf(v, sizeof(v), "%lld", (long long)limit), put(d, "memory.max", v, msg) < 0))
			return -1;
		if (quota > 0 && (snprintf(v, sizeof(v), "%lld %lld", (long long)quota, (long long)(period > 0 ? period : 100000)),
				  put(d, "cpu.max", v, msg) < 0))
			return -1;
		/* cgroup v2's weight (1-10000) from v1's shares (2-262144), as runc converts */
		if (shares > 0 &&
		    (snprintf(v, sizeof(v), "%lld", (long long)(1 + ((shares < 2 ? 2 : shares) - 2) * 9999 / 262142)),
		     put(d, "cpu.weight", v, msg) < 0))
			return -1;
		if (pmax > 0 && (snprintf(v, sizeof(v), "%lld", (long long)pmax), put(d, "pids.max", v, msg) < 0))
			return -1;
		*procs = wp_strfmt("%s/cgroup.procs", d);
		return 0;
	}
	for (size_t i = 0; i < WP_ARRAY_LEN(v1_controllers); i++) {
		_cleanup_free_ char *base = wp_strfmt("%s/%s", cg_root(), v1_controllers[i]), *d = wp_strfmt("%s/%s%s", cg_root(), v1_controllers[i], dir);
		bool must = false;

		if (!base || !d || access(base, F_OK) < 0)
			continue;
		/* cpu and cpuacct are usually one hierarchy mounted as "cpu,cpuacct" */
		if (!strcmp(v1_controllers[i], "cpuacct")) {
			char a[4096], b[4096];
			_cleanup_free_ char *cpu_dir = wp_strfmt("%s/cpu", cg_root());

			if (cpu_dir && realpath(cpu_dir, a) && realpath(base, b) && !strcmp(a, b))
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
			snprintf(msg, 256, "making cgroup '%s': %s", d, strerror(errno));
			return -1;
		}
		if (!strcmp(v1_controllers[i], "memory") && limit > 0 &&
		    (snprintf(v, sizeof(v), "%lld", (long long)limit), put(d, "memory.limit_in_bytes", v, msg) < 0))
			return -1;
		if (!strcmp(v1_controllers[i], "cpu")) {
			if (shares > 0 && (snprintf(v, sizeof(v), "%lld", (long long)shares), put(d, "cpu.shares", v, msg) < 0))
				return -1;
			if (quota > 0 && ((snprintf(v, sizeof(v), "%lld", (long long)(period > 0 ? period : 100000)),
					   put(d, "cpu.cfs_period_us", v, msg) < 0) ||
					  (snprintf(v, sizeof(v), "%lld", (long long)quota), put(d, "cpu.cfs_quota_us", v, msg) < 0)))
				return -1;
		}
		if (!strcmp(v1_controllers[i], "pids") && pmax > 0 &&
		    (snprintf(v, sizeof(v), "%lld", (long long)pmax), put(d, "pids.max", v, msg) < 0))
			return -1;
		/* memory before the engine runs, the rest once it runs (wp_cgroup_join_rest) */
		if (!strcmp(v1_controllers[i], "memory"))
			*procs = wp_strfmt("%s/cgroup.procs", d);
	}
	msg[0] = '\0';
	return 0;
}

void wp_cgroup_join_rest(const char *dir, pid_t pid)
{
	char pidstr[32], ignored[256];

	if (unified())
		return;
	snprintf(pidstr, sizeof(pidstr), "%d", (int)pid);
	for (size_t i = 0; i < WP_ARRAY_LEN(v1_controllers); i++) {
		_cleanup_free_ char *d = wp_strfmt("%s/%s%s", cg_root(), v1_controllers[i], dir);

		if (d && strcmp(v1_controllers[i], "memory") && access(d, F_OK) == 0)
			put(d, "cgroup.procs", pidstr, ignored);
	}
}

void wp_cgroup_remove(const char *dir)
{
	if (unified()) {
		_cleanup_free_ char *d = wp_strfmt("%s%s", cg_root(), dir);

		for (int i = 0; d && i < 50 && rmdir(d) < 0 && errno == EBUSY; i++)
			usleep(10000);
		return;
	}
	for (size_t i = 0; i < WP_ARRAY_LEN(v1_controllers); i++) {
		_cleanup_free_ char *d = wp_strfmt("%s/%s%s", cg_root(), v1_controllers[i], dir);

		for (int k = 0; d && k < 50 && rmdir(d) < 0 && errno == EBUSY; k++)
			usleep(10000);
	}
}

/* A number from a cgroup file: the whole file ("max" is 0), or the value after "key " in a
 * flat keyed file (memory.stat, cpu.stat, cpuacct.stat). */
static uint64_t read_num(const char *dir, const char *file, const char *key)
{
	_cleanup_free_ char *path = wp_strfmt("%s/%s", dir, file);
	char buf[8192];
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
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

static int put_msg(wp_buf *out, uint32_t num, wp_buf *m)
{
	int rc = m->len ? wp_pb_put_msg(out, num, m) : 0;

	wp_buf_reset(m);
	return rc;
}

int wp_cgroup_metrics(const char *dir, wp_buf *out, const char **type_url)
{
	wp_buf a, b;
	int rc = 0;

	wp_buf_init(&a, 1 << 16);
	wp_buf_init(&b, 1 << 16);
	if (unified()) {
		_cleanup_free_ char *d = wp_strfmt("%s%s", cg_root(), dir);

		if (!d || access(d, F_OK) < 0) {
			rc = -1;
			goto done;
		}
		*type_url = "io.containerd.cgroups.v2.Metrics";
		/* Metrics {pids = 1 {current = 1, limit = 2}, cpu = 2 {usage_usec = 1, user_usec = 2,
		 * system_usec = 3, nr_periods = 4, nr_throttled = 5, throttled_usec = 6},
		 * memory = 4 {anon = 1, file = 2, ..., usage = 32, usage_limit = 33}} */
		wp_pb_put_varint(&a, 1, read_num(d, "pids.current", NULL));
		wp_pb_put_varint(&a, 2, read_num(d, "pids.max", NULL));
		put_msg(out, 1, &a);
		wp_pb_put_varint(&a, 1, read_num(d, "cpu.stat", "usage_usec"));
		wp_pb_put_varint(&a, 2, read_num(d, "cpu.stat", "user_usec"));
		wp_pb_put_varint(&a, 3, read_num(d, "cpu.stat", "system_usec"));
		wp_pb_put_varint(&a, 4, read_num(d, "cpu.stat", "nr_periods"));
		wp_pb_put_varint(&a, 5, read_num(d, "cpu.stat", "nr_throttled"));
		wp_pb_put_varint(&a, 6, read_num(d, "cpu.stat", "throttled_usec"));
		put_msg(out, 2, &a);
		wp_pb_put_varint(&a, 1, read_num(d, "memory.stat", "anon"));
		wp_pb_put_varint(&a, 2, read_num(d, "memory.stat", "file"));
		wp_pb_put_varint(&a, 11, read_num(d, "memory.stat", "inactive_anon"));
		wp_pb_put_varint(&a, 12, read_num(d, "memory.stat", "active_anon"));
		wp_pb_put_varint(&a, 13, read_num(d, "memory.stat", "inactive_file"));
		wp_pb_put_varint(&a, 14, read_num(d, "memory.stat", "active_file"));
		wp_pb_put_varint(&a, 18, read_num(d, "memory.stat", "pgfault"));
		wp_pb_put_varint(&a, 19, read_num(d, "memory.stat", "pgmajfault"));
		wp_pb_put_varint(&a, 32, read_num(d, "memory.current", NULL));
		wp_pb_put_varint(&a, 33, read_num(d, "memory.max", NULL));
		put_msg(out, 4, &a);
		goto done;
	}
	{
		_cleanup_free_ char *mem = wp_strfmt("%s/memory%s", cg_root(), dir);
		_cleanup_free_ char *acct = wp_strfmt("%s/cpuacct%s", cg_root(), dir);
		_cleanup_free_ char *pids = wp_strfmt("%s/pids%s", cg_root(), dir);
		/* cpuacct.stat counts USER_HZ ticks (100 a second on Linux): in nanoseconds */
		const uint64_t tick_ns = 10000000;

		if (!mem || !acct || !pids || (access(mem, F_OK) < 0 && access(acct, F_OK) < 0)) {
			rc = -1;
			goto done;
		}
		*type_url = "io.containerd.cgroups.v1.Metrics";
		/* Metrics {pids = 2 {current = 1, limit = 2}, cpu = 3 {usage = 1 {total = 1,
		 * kernel = 2, user = 3}}, memory = 4 {cache = 1, rss = 2, ..., usage = 33
		 * {limit = 1, usage = 2, max = 3, failcnt = 4}}} */
		wp_pb_put_varint(&a, 1, read_num(pids, "pids.current", NULL));
		wp_pb_put_varint(&a, 2, read_num(pids, "pids.max", NULL));
		put_msg(out, 2, &a);
		wp_pb_put_varint(&b, 1, read_num(acct, "cpuacct.usage", NULL));
		wp_pb_put_varint(&b, 2, read_num(acct, "cpuacct.stat", "system") * tick_ns);
		wp_pb_put_varint(&b, 3, read_num(acct, "cpuacct.stat", "user") * tick_ns);
		put_msg(&a, 1, &b);
		put_msg(out, 3, &a);
		wp_pb_put_varint(&a, 1, read_num(mem, "memory.stat", "cache"));
		wp_pb_put_varint(&a, 2, read_num(mem, "memory.stat", "rss"));
		wp_pb_put_varint(&a, 3, read_num(mem, "memory.stat", "rss_huge"));
		wp_pb_put_varint(&a, 4, read_num(mem, "memory.stat", "mapped_file"));
		wp_pb_put_varint(&a, 9, read_num(mem, "memory.stat", "pgfault"));
		wp_pb_put_varint(&a, 10, read_num(mem, "memory.stat", "pgmajfault"));
		wp_pb_put_varint(&a, 11, read_num(mem, "memory.stat", "inactive_anon"));
		wp_pb_put_varint(&a, 12, read_num(mem, "memory.stat", "active_anon"));
		wp_pb_put_varint(&a, 13, read_num(mem, "memory.stat", "inactive_file"));
		wp_pb_put_varint(&a, 14, read_num(mem, "memory.stat", "active_file"));
		wp_pb_put_varint(&a, 16, read_num(mem, "memory.stat", "hierarchical_memory_limit"));
		wp_pb_put_varint(&a, 18, read_num(mem, "memory.stat", "total_cache"));
		wp_pb_put_varint(&a, 19, read_num(mem, "memory.stat", "total_rss"));
		wp_pb_put_varint(&b, 1, read_num(mem, "memory.limit_in_bytes", NULL));
		wp_pb_put_varint(&b, 2, read_num(mem, "memory.usage_in_bytes", NULL));
		wp_pb_put_varint(&b, 3, read_num(mem, "memory.max_usage_in_bytes", NULL));
		wp_pb_put_varint(&b, 4, read_num(mem, "memory.failcnt", NULL));
		put_msg(&a, 33, &b);
		put_msg(out, 4, &a);
	}
done:
	wp_buf_release(&a);
	wp_buf_release(&b);
	return rc;
}
