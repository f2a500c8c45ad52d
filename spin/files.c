/* Globs, and the components' files: copied into the assets folder as Spin's loader does,
 * or collected for an image build; links judged against the app folder. */
#include "spin/spin_int.h"
#include "common/path.h"
#include "common/links.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strv.h"
#include "common/toml.h"
#include "common/util.h"
#include "oci/digest.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- glob ---- */

static int match_class(const char **pp, char c)
{
	const char *p = *pp + 1;
	bool neg = false, hit = false;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	if (*p == ']') {
		hit = c == ']';
		p++;
	}
	for (; *p && *p != ']'; p++) {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hit |= c >= p[0] && c <= p[2];
			p += 2;
		} else {
			hit |= *p == c;
		}
	}
	if (*p != ']')
		return -1;
	*pp = p;
	return hit != neg;
}

int wp_spin_glob_match(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (p[0] == '*' && p[1] == '*' && (p[2] == '/' || !p[2])) {
			const char *rest = p[2] ? p + 3 : p + 2;

			/* "**" matches any number of whole segments, including none. */
			if (!*rest)
				return 1;
			for (const char *t = s;; ) {
				if (wp_spin_glob_match(rest, t))
					return 1;
				t = strchr(t, '/');
				if (!t)
					return 0;
				t++;
			}
		}
		if (*p == '*') {
			for (const char *t = s;; t++) {
				if (wp_spin_glob_match(p + 1, t))
					return 1;
				if (!*t || *t == '/')
					return 0;
			}
		}
		if (!*s)
			return 0;
		if (*p == '?') {
			if (*s == '/')
				return 0;
			continue;
		}
		if (*p == '[') {
			int r = match_class(&p, *s);

			if (r <= 0 || *s == '/')
				return 0;
			continue;
		}
		if (*p != *s)
			return 0;
	}
	return !*s;
}

static bool looks_like_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* ---- files ---- */

void wp_spin_files_release(wp_spin_files *f)
{
	for (size_t i = 0; i < f->len; i++) {
		free(f->items[i].component);
		free(f->items[i].src);
		free(f->items[i].dest);
		free(f->items[i].app_rel);
	}
	free(f->items);
	json_decref(f->urls);
	json_decref(f->index);
	f->items = NULL;
	f->urls = NULL;
	f->index = NULL;
	f->len = 0;
}

/* dest is <assets>/<component>/<path>: when collecting, the file is listed, not copied. */
static int collect_file(loader *l, const char *src, const struct stat *st, const char *dest)
{
	const char *rest = dest + strlen(l->assets) + 1;
	const char *slash = strchr(rest, '/');
	wp_spin_file *f;

	if (!slash)
		return wp_error_set(l->err, WP_EINVALID, "file destination '%s' is not below a component", dest);
	if (!l->collect->index)
		l->collect->index = json_object();
	{
		json_t *pos = json_object_get(l->collect->index, rest);

		if (pos) {
			/* A later mount of the same destination wins, as a later copy would. */
			size_t i = (size_t)json_integer_value(pos);

			free(l->collect->items[i].src);
			free(l->collect->items[i].app_rel);
			l->collect->items[i].st = *st;
			l->collect->items[i].size = (long long)st->st_size;
			l->collect->items[i].src = wp_xstrdup(src);
			l->collect->items[i].app_rel = wp_xstrdup(src + strlen(l->root) + 1);
			return 0;
		}
		json_object_set_new(l->collect->index, rest, json_integer((json_int_t)l->collect->len));
	}
	f = wp_xrealloc(l->collect->items, (l->collect->len + 1) * sizeof(*f));
	l->collect->items = f;
	f = &f[l->collect->len++];
	memset(f, 0, sizeof(*f));
	f->st = *st;
	f->size = (long long)st->st_size;
	f->component = wp_xstrndup(rest, (size_t)(slash - rest));
	f->src = wp_xstrdup(src);
	f->dest = wp_xstrdup(slash + 1);
	f->app_rel = wp_xstrdup(src + strlen(l->root) + 1);
	return 0;
}

static int copy_file(loader *l, const char *src, const struct stat *src_st, const char *dest)
{
	wp_buf dir;
	int in, out, rc = 0;
	struct stat st;

	if (l->collect)
		return collect_file(l, src, src_st, dest);
	wp_buf_init(&dir, PATH_MAX);
	wp_path_dirname(dest, &dir);
	if (wp_fs_mkdir_p(dir.data, 0755, l->err) < 0) {
		wp_buf_release(&dir);
		return l->err->code;
	}
	wp_buf_release(&dir);
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		rc = wp_error_sys(l->err, WP_EIO, "File or directory '%s' cannot be read", src);
		if (in >= 0)
			close(in);
		return rc;
	}
	out = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		close(in);
		return wp_error_sys(l->err, WP_EIO, "Failed to copy '%s' to working path '%s'", src, dest);
	}
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			rc = wp_error_sys(l->err, WP_EIO, "Failed to copy '%s' to working path '%s'", src, dest);
			break;
		}
		left -= n;
	}
	close(in);
	close(out);
	return rc;
}

static bool excluded(const wp_strv *exclude, const char *rel)
{
	for (size_t i = 0; i < exclude->len; i++)
		if (wp_spin_glob_match(exclude->items[i], rel))
			return true;
	return false;
}

/* A file of the app named by rel (relative to the app folder) must not be reached through
 * a link that leads out of the folder (static/x -> /etc/shadow would put a host file into
 * the image), unless the user said --follow-links. */
static int file_inside(loader *l, const char *rel)
{
	_cleanup_free_ char *name = NULL;
	int rc;

	if (l->follow_links)
		return 0;
	name = wp_str_fmt("the app folder '%s'", l->root);
	if ((rc = wp_links_check_path(l->rootfd, rel, name, l->err)) == WP_EINVALID)
		return wp_error_append(l->err, "; --follow-links copies what such links point at");
	return rc;
}

/* Every regular file below root/sub (relative paths from root), matched against pattern
 * (NULL: all), copied to dest/<path relative to strip>. */
static int copy_tree(loader *l, const char *sub, const char *pattern, size_t strip, const char *dest,
		     const wp_strv *exclude, int depth)
{
	_cleanup_free_ char *dirpath = sub[0] ? wp_str_fmt("%s/%s", l->root, sub) : wp_xstrdup(l->root);
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > 64)
		return wp_error_set(l->err, WP_EINVALID, "'%s' is nested too deeply", dirpath);
	d = opendir(dirpath);
	if (!d)
		return wp_error_sys(l->err, WP_EIO, "reading folder '%s'", dirpath);
	while (rc == 0 && (de = readdir(d))) {
		_cleanup_free_ char *rel = NULL, *full = NULL;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		rel = sub[0] ? wp_str_fmt("%s/%s", sub, de->d_name) : wp_xstrdup(de->d_name);
		full = wp_str_fmt("%s/%s", l->root, rel);
		/* relative to the open folder: no walk down the whole path for each entry */
		if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		/* sub was judged by the caller and is never reached through a link (links to
		 * folders are not walked), so only a link here can lead out */
		if (S_ISREG(st.st_mode) && (de->d_type == DT_LNK || de->d_type == DT_UNKNOWN) &&
		    (!pattern || wp_spin_glob_match(pattern, rel)) && !excluded(exclude, rel) && (rc = file_inside(l, rel)) < 0)
			break;
		if (S_ISDIR(st.st_mode)) {
			struct stat lst;

			/* The assets folder may live below the app (never copy it into itself). */
			if (fstatat(dirfd(d), de->d_name, &lst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(lst.st_mode) &&
			    strcmp(full, l->assets))
				rc = copy_tree(l, rel, pattern, strip, dest, exclude, depth + 1);
		} else if (S_ISREG(st.st_mode) && (!pattern || wp_spin_glob_match(pattern, rel)) && !excluded(exclude, rel)) {
			_cleanup_free_ char *to = wp_str_fmt("%s/%s", dest, rel + strip);

			rc = copy_file(l, full, &st, to);
		}
	}
	closedir(d);
	return rc;
}

/* A path inside the app folder, cleaned; refuses what would leave it. */
int wp_spin__inside_app(loader *l, const char *p, wp_buf *out)
{
	int rc = wp_path_clean(p, out, l->err);

	if (rc < 0)
		return wp_error_set(l->err, WP_EINVALID,
				    "\"%s\" cannot be mapped because it is outside the application directory. "
				    "Files must be within the application directory", p);
	return 0;
}

int wp_spin__copy_files(loader *l, const char *id, const wp_toml *files, const wp_strv *exclude, char **mount)
{
	_cleanup_free_ char *root = wp_str_fmt("%s/%s", l->assets, id);
	wp_buf rel, dst;
	int rc = 0;

	*mount = NULL;
	if (!l->collect && wp_fs_mkdir_p(root, 0755, l->err) < 0)
		return l->err->code;
	wp_buf_init(&rel, PATH_MAX);
	wp_buf_init(&dst, PATH_MAX);
	for (size_t i = 0; rc == 0 && i < files->u.arr.len; i++) {
		const wp_toml *f = files->u.arr.items[i];

		if (f->type == WP_TOML_STRING) {
			const char *pat = f->u.str.s;
			_cleanup_free_ char *full = NULL;
			struct stat st;
			size_t plen = strlen(pat);

			if (!strcmp(pat, "..") || (plen >= 3 && !strcmp(pat + plen - 3, "/.."))) {
				rc = wp_error_set(l->err, WP_EINVALID, "A file pattern can't end in a parent directory path (..)");
				break;
			}
			if (!strcmp(pat, ".") || (plen >= 2 && !strcmp(pat + plen - 2, "/."))) {
				rc = wp_error_set(l->err, WP_EINVALID, "A file pattern can't end in a current directory path (.)");
				break;
			}
			if (looks_like_glob(pat)) {
				const char *p = pat;

				while (p[0] == '.' && p[1] == '/')
					p += 2;
				if (strstr(p, "..") || p[0] == '/') {
					rc = wp_error_set(l->err, WP_EINVALID, "\"%s\" cannot be mapped because it is outside the "
							  "application directory. Files must be within the application directory", pat);
					break;
				}
				rc = copy_tree(l, "", p, 0, root, exclude, 0);
				continue;
			}
			if ((rc = wp_spin__inside_app(l, pat, &rel)) < 0 || (rc = file_inside(l, rel.data)) < 0)
				break;
			full = wp_str_fmt("%s/%s", l->root, rel.data);
			if (stat(full, &st) < 0) {
				rc = wp_error_set(l->err, WP_ENOTFOUND, "\"%s\" does not exist and doesn't appear to be a glob pattern", pat);
				break;
			}
			if (S_ISDIR(st.st_mode)) {
				rc = copy_tree(l, rel.data, NULL, 0, root, exclude, 0);
			} else if (!excluded(exclude, rel.data)) {
				_cleanup_free_ char *to = wp_str_fmt("%s/%s", root, rel.data);

				rc = copy_file(l, full, &st, to);
			}
		} else if (f->type == WP_TOML_TABLE && wp_spin__tstr(f, "source") && wp_spin__tstr(f, "destination")) {
			const char *src = wp_spin__tstr(f, "source"), *dest = wp_spin__tstr(f, "destination");
			_cleanup_free_ char *full = NULL, *to = NULL;
			struct stat st;

			if ((rc = wp_spin__inside_app(l, src, &rel)) < 0 || (rc = file_inside(l, rel.data)) < 0)
				break;
			wp_buf_reset(&dst);
			if (dest[strspn(dest, "/")] && (rc = wp_path_clean(dest, &dst, l->err)) < 0) {
				wp_error_prefix(l->err, "file destination \"%s\"", dest);
				break;
			}
			full = wp_str_fmt("%s/%s", l->root, rel.data);
			to = dst.len ? wp_str_fmt("%s/%s", root, dst.data) : wp_xstrdup(root);
			if (stat(full, &st) < 0) {
				rc = wp_error_set(l->err, WP_ENOTFOUND, "File or directory \"%s\" does not exist", src);
				break;
			}
			rc = S_ISDIR(st.st_mode) ? copy_tree(l, rel.data, NULL, rel.len + 1, to, exclude, 0) : copy_file(l, full, &st, to);
		} else {
			rc = wp_error_set(l->err, WP_EINVALID, "`files` entries are patterns or { source, destination } tables");
		}
	}
	wp_buf_release(&rel);
	wp_buf_release(&dst);
	if (rc == 0)
		*mount = wp_str_fmt("file://%s", root);
	return rc;
}
