#include "oci/gitinfo.h"
#include "common/util.h"

#include <git2.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *wp_gitinfo_strip_credentials(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host, *at, *slash;

	if (!scheme)
		return wp_xstrdup(url);
	host = scheme + 3;
	slash = strchr(host, '/');
	at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
	if (!at)
		return wp_xstrdup(url);
	return wp_str_fmt("%.*s%s", (int)(host - url), url, at + 1);
}

static int status_cb(const char *path, unsigned int flags, void *payload)
{
	(void)path;
	if (flags & ~(GIT_STATUS_IGNORED | GIT_STATUS_WT_NEW)) {
		*(bool *)payload = true;
		return 1;
	}
	return 0;
}

/* Whether path is inside a work tree (a .git entry in it or an ancestor): libgit2 is only
 * started then, since starting it costs a few milliseconds (its TLS backend loads the
 * system's CA certificates), a third of a small build. */
static bool in_git_tree(const char *path)
{
	char dir[PATH_MAX];

	if (!realpath(path, dir))
		return true; /* let libgit2 decide */
	for (;;) {
		size_t n = strlen(dir);
		char probe[PATH_MAX + 8];
		char *slash;

		snprintf(probe, sizeof(probe), "%s%s.git", dir, n > 1 ? "/" : "");
		if (access(probe, F_OK) == 0)
			return true;
		if (n <= 1 || !(slash = strrchr(dir, '/')))
			return false;
		if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
	}
}

void wp_gitinfo_read(const char *path, wp_gitinfo *info)
{
	git_repository *repo = NULL;
	git_object *head = NULL;
	git_remote *origin = NULL;
	char hex[GIT_OID_HEXSZ + 1];
	git_status_options opts;

	memset(info, 0, sizeof(*info));
	if (!in_git_tree(path))
		return;
	git_libgit2_init();
	if (git_repository_open_ext(&repo, path, 0, NULL) < 0)
		goto done;
	if (git_repository_is_bare(repo) || git_revparse_single(&head, repo, "HEAD^{commit}") < 0)
		goto done;
	git_oid_tostr(hex, sizeof(hex), git_object_id(head));
	info->revision = wp_xstrdup(hex);
	info->commit_time = (int64_t)git_commit_time((const git_commit *)head);
	if (git_remote_lookup(&origin, repo, "origin") == 0 && git_remote_url(origin))
		info->source = wp_gitinfo_strip_credentials(git_remote_url(origin));
	git_status_options_init(&opts, GIT_STATUS_OPTIONS_VERSION);
	opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
	opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
	git_status_foreach_ext(repo, &opts, status_cb, &info->dirty);
	info->found = true;
done:
	git_remote_free(origin);
	git_object_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
}

void wp_gitinfo_release(wp_gitinfo *info)
{
	free(info->revision);
	free(info->source);
	memset(info, 0, sizeof(*info));
}
