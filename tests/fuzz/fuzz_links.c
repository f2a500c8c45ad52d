/* libFuzzer target: the link resolver (common/links.h) against the kernel's own. The input
 * describes a small tree, one entry a line: "d NAME" a folder, "f NAME" a file, "s NAME
 * TARGET" a symbolic link. The tree is made in an empty folder; then every link the
 * resolver calls safe is opened there with openat2(RESOLVE_BENEATH), which fails with
 * EXDEV when the path would leave the folder: a link the resolver passes and the kernel
 * follows out of the folder aborts. So does a tree the whole-tree check passes while one
 * of its links is unsafe. */
#include "common/fs.h"
#include "common/links.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static char fuzz_dir[64];

static void remove_fuzz_dir(void)
{
	wp_error err;

	wp_fs_rm_rf(fuzz_dir, &err);
}

static int open_beneath(int dirfd, const char *path)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };

	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Names stay short and relative, with no "/" at either end, and every folder on the way
 * is a real folder of the tree (not a link, which could lead the new entry out of it). */
static bool name_ok(int rootfd, const char *n)
{
	char path[64];

	if (!n[0] || n[0] == '/' || strlen(n) >= sizeof(path) || strstr(n, "//") || n[strlen(n) - 1] == '/')
		return false;
	for (const char *slash = strchr(n, '/'); slash; slash = strchr(slash + 1, '/')) {
		struct stat st;

		memcpy(path, n, (size_t)(slash - n));
		path[slash - n] = '\0';
		if (!strcmp(path + (strrchr(path, '/') ? strrchr(path, '/') - path + 1 : 0), "..") ||
		    fstatat(rootfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char tree[96], *text, *line, *save = NULL;
	char links[16][2][128];
	size_t nlinks = 0;
	bool all_safe = true;
	wp_error err;
	int rootfd;

	if (!fuzz_dir[0]) {
		strcpy(fuzz_dir, "/tmp/wasmpack-fuzz-links.XXXXXX");
		if (!mkdtemp(fuzz_dir))
			abort();
		atexit(remove_fuzz_dir);
	}
	if (size > 4096)
		return 0;
	snprintf(tree, sizeof(tree), "%s/t", fuzz_dir);
	wp_fs_rm_rf(tree, &err);
	if (mkdir(tree, 0755) < 0 || (rootfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		abort();
	text = strndup((const char *)data, size);
	if (!text)
		abort();
	for (line = strtok_r(text, "\n", &save); line && nlinks < 16; line = strtok_r(NULL, "\n", &save)) {
		char *name = line + 2, *target;

		if (strlen(line) < 3 || line[1] != ' ')
			continue;
		if (line[0] == 's' && (target = strchr(name, ' '))) {
			*target++ = '\0';
			if (!name_ok(rootfd, name) || !target[0] || strlen(target) >= 128 || symlinkat(target, rootfd, name) < 0)
				continue;
			snprintf(links[nlinks][0], sizeof(links[0][0]), "%s", name);
			snprintf(links[nlinks][1], sizeof(links[0][1]), "%s", target);
			nlinks++;
		} else if (line[0] == 'd' && name_ok(rootfd, name)) {
			mkdirat(rootfd, name, 0755);
		} else if (line[0] == 'f' && name_ok(rootfd, name)) {
			int fd = openat(rootfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

			if (fd >= 0)
				close(fd);
		}
	}
	free(text);
	for (size_t i = 0; i < nlinks; i++) {
		struct stat st;
		int fd;

		/* the link must still be there, as made (a later entry may have gone through it) */
		if (fstatat(rootfd, links[i][0], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode))
			continue;
		if (wp_links_check(rootfd, links[i][0], links[i][1], &err) != 0) {
			all_safe = false;
			continue;
		}
		fd = open_beneath(rootfd, links[i][0]);
		if (fd < 0 && errno == EXDEV) {
			fprintf(stderr, "'%s' -> '%s' was judged safe, the kernel leaves the tree\n", links[i][0], links[i][1]);
			abort();
		}
		if (fd >= 0)
			close(fd);
	}
	if (!all_safe && wp_links_check_tree(rootfd, 100000, &err) == 0) {
		fprintf(stderr, "the tree check passed a tree holding an unsafe link\n");
		abort();
	}
	close(rootfd);
	return 0;
}
