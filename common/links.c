#include "common/links.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Linux's limit on links followed in one lookup (MAXSYMLINKS). */
#define MAX_LINKS 40
#define MAX_DEPTH 1024
/* A tree deeper than this is walked no further down and refused. */
#define MAX_TREE_DEPTH 256

typedef struct walk {
	char path[PATH_MAX * 2]; /* the folder reached so far, relative to the root ("" is the root) */
	size_t len;
	size_t offs[MAX_DEPTH];  /* where each component starts in path */
	size_t depth;
} walk;

static bool push(walk *w, const char *c, size_t n)
{
	size_t need = w->len + (w->len ? 1 : 0) + n;

	if (w->depth == MAX_DEPTH || need >= sizeof(w->path))
		return false;
	if (w->len)
		w->path[w->len++] = '/';
	w->offs[w->depth++] = w->len;
	memcpy(w->path + w->len, c, n);
	w->len += n;
	w->path[w->len] = '\0';
	return true;
}

static void pop(walk *w)
{
	w->len = w->offs[--w->depth];
	if (w->len)
		w->len--; /* the slash before it */
	w->path[w->len] = '\0';
}

/* Walks start (relative to rootfd) as path lookup does, following every link met. 0 with
 * *why NULL when it stays inside; 0 with *why saying how it leaves otherwise; < 0 on a
 * system error. start is consumed (freed). */
static int resolve(int rootfd, char *start, const char **why, wp_error *err)
{
	walk *w = wp_xmalloc(sizeof(*w));
	char *rest = start;
	const char *p;
	int links = 0, rc = 0;

	*why = NULL;
	w->len = w->depth = 0;
	w->path[0] = '\0';
	for (p = rest; *p;) {
		size_t n = strcspn(p, "/");
		const char *c = p;
		struct stat st;

		p += n;
		while (*p == '/')
			p++;
		if (!n || (n == 1 && c[0] == '.'))
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (!w->depth) {
				*why = "climbs above the root";
				goto done;
			}
			pop(w);
			continue;
		}
		if (!push(w, c, n)) {
			*why = "is too deep";
			goto done;
		}
		/* What is on disk now decides; a name not there yet is taken as a folder. */
		if (fstatat(rootfd, w->path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			char text[PATH_MAX];
			ssize_t tn = readlinkat(rootfd, w->path, text, sizeof(text) - 1);
			char *next;

			if (tn < 0) {
				rc = wp_error_sys(err, WP_EIO, "reading the link '%s'", w->path);
				goto done;
			}
			text[tn] = '\0';
			if (++links > MAX_LINKS) {
				*why = "passes through too many links";
				goto done;
			}
			if (text[0] == '/') {
				*why = "passes through an absolute link";
				goto done;
			}
			pop(w);
			/* The link's target, then what was left after it. */
			next = wp_str_fmt("%s/%s", text, p);
			free(rest);
			rest = next;
			p = rest;
		}
	}
done:
	free(rest);
	free(w);
	return rc;
}

int wp_links_check_in(int rootfd, const char *path, const char *target, const char *root_name, wp_error *err)
{
	const char *why = NULL, *slash = strrchr(path, '/');
	char *start;
	int rc;

	if (target[0] == '/') {
		why = "is absolute";
	} else {
		/* Lookup starts in the link's own folder, itself reached through whatever links
		 * its path holds: the walk starts at the root with the folder's path first. */
		start = slash ? wp_str_fmt("%.*s/%s", (int)(slash - path), path, target) : wp_xstrdup(target);
		if ((rc = resolve(rootfd, start, &why, err)) < 0)
			return rc;
	}
	if (why)
		return wp_error_set(err, WP_EINVALID, "symbolic link '%s' -> '%s' leads outside %s: it %s", path, target,
				    root_name, why);
	return 0;
}

int wp_links_check(int rootfd, const char *path, const char *target, wp_error *err)
{
	return wp_links_check_in(rootfd, path, target, "the root", err);
}

int wp_links_check_path(int rootfd, const char *path, const char *root_name, wp_error *err)
{
	const char *why = NULL;
	char *start = wp_xstrdup(path);
	int rc;

	if ((rc = resolve(rootfd, start, &why, err)) < 0)
		return rc;
	if (why)
		return wp_error_set(err, WP_EINVALID, "'%s' leads outside %s through a symbolic link: it %s", path,
				    root_name, why);
	return 0;
}

typedef struct tree {
	int rootfd;
	unsigned long long seen, max;
	char path[PATH_MAX * 2];
	wp_error *err;
} tree;

static int check_dir(tree *t, int dfd, size_t len, int depth)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > MAX_TREE_DEPTH)
		return wp_error_set(t->err, WP_EINVALID, "'%s' is nested too deep", t->path);
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return wp_error_sys(t->err, WP_EIO, "reading the folder '%s'", len ? t->path : ".");
	}
	while (rc == 0 && (errno = 0, de = readdir(d))) {
		size_t n = strlen(de->d_name), at = len + (len ? 1 : 0);
		unsigned char type = de->d_type;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (++t->seen > t->max)
			return closedir(d), wp_error_set(t->err, WP_ETOOBIG, "the tree has more than %llu entries", t->max);
		if (at + n >= sizeof(t->path)) {
			rc = wp_error_set(t->err, WP_EINVALID, "a path below '%s' is too long", t->path);
			break;
		}
		if (len)
			t->path[len] = '/';
		memcpy(t->path + at, de->d_name, n + 1);
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISLNK(st.st_mode) ? DT_LNK : S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
		}
		if (type == DT_LNK) {
			char text[PATH_MAX];
			ssize_t tn = readlinkat(dirfd(d), de->d_name, text, sizeof(text) - 1);

			if (tn < 0) {
				rc = wp_error_sys(t->err, WP_EIO, "reading the link '%s'", t->path);
				break;
			}
			text[tn] = '\0';
			rc = wp_links_check(t->rootfd, t->path, text, t->err);
		} else if (type == DT_DIR) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				rc = check_dir(t, sub, at + n, depth + 1);
		}
		t->path[len] = '\0';
	}
	closedir(d);
	return rc;
}

int wp_links_check_tree(int rootfd, unsigned long long max_entries, wp_error *err)
{
	tree *t = wp_xmalloc(sizeof(*t));
	int fd, rc;

	t->rootfd = rootfd;
	t->seen = 0;
	t->max = max_entries;
	t->path[0] = '\0';
	t->err = err;
	fd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = fd < 0 ? wp_error_sys(err, WP_EIO, "opening the tree") : check_dir(t, fd, 0, 0);
	free(t);
	return rc;
}
