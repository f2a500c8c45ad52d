/* Sample app: what programs do with files, in the folder named by its first argument
 * (and, with "poll-stdin" second, a poll of a file with stdin),
 * one line each ("NAME: ok" or "NAME: FAILED what"), then a copy of stdin's lines to
 * stdout ("stdin: N lines"). For tests/integration/components.sh, which runs it as a
 * component on jco's file I/O paths (wasmpack's on the app's thread, and preview2-shim's
 * worker) and expects the same lines from both. Exits 0. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG (200 * 1024 + 17) /* more than a stream's 64 KiB at once, not a multiple */

static char path[512];

static const char *at(const char *dir, const char *name)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void say(const char *name, int good, const char *what)
{
	if (good)
		printf("%s: ok\n", name);
	else
		printf("%s: FAILED %s (%s)\n", name, what, strerror(errno));
}

static unsigned char pattern(size_t i)
{
	return (unsigned char)(i * 31 + i / 251);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/data";
	static unsigned char buf[BIG], back[BIG];
	char line[256];
	size_t n = 0, lines = 0;
	struct stat st;
	FILE *f;
	int fd, good;

	for (size_t i = 0; i < BIG; i++)
		buf[i] = pattern(i);
	/* a large write and read through stdio (streams), byte for byte */
	f = fopen(at(dir, "big.bin"), "w");
	good = f && fwrite(buf, 1, BIG, f) == BIG && fclose(f) == 0;
	say("big write", good, "fwrite");
	f = fopen(at(dir, "big.bin"), "r");
	good = f && (n = fread(back, 1, BIG + 10, f)) == BIG && !memcmp(buf, back, BIG) && fread(back, 1, 1, f) == 0 &&
	       feof(f);
	if (f)
		fclose(f);
	say("big read", good, "fread");
	/* its size, and a read at an offset (pread: the descriptor's own read) */
	say("stat size", stat(at(dir, "big.bin"), &st) == 0 && st.st_size == BIG, "stat");
	fd = open(at(dir, "big.bin"), O_RDONLY);
	good = fd >= 0 && pread(fd, back, 1000, 150000) == 1000 && !memcmp(back, buf + 150000, 1000);
	say("pread", good, "pread");
	/* a seek and a read from there */
	good = fd >= 0 && lseek(fd, 70000, SEEK_SET) == 70000 && read(fd, back, 5000) == 5000 && !memcmp(back, buf + 70000, 5000);
	say("seek read", good, "lseek/read");
	if (fd >= 0)
		close(fd);
	/* append, then the size and the tail */
	f = fopen(at(dir, "big.bin"), "a");
	good = f && fputs("tail\n", f) >= 0 && fclose(f) == 0 && stat(at(dir, "big.bin"), &st) == 0 && st.st_size == BIG + 5;
	say("append", good, "fopen a");
	fd = open(at(dir, "big.bin"), O_RDONLY);
	good = fd >= 0 && pread(fd, line, 5, BIG) == 5 && !memcmp(line, "tail\n", 5);
	say("appended tail", good, "pread");
	/* pwrite in the middle, truncate */
	if (fd >= 0)
		close(fd);
	fd = open(at(dir, "big.bin"), O_RDWR);
	good = fd >= 0 && pwrite(fd, "XYZ", 3, 10) == 3 && pread(fd, line, 3, 10) == 3 && !memcmp(line, "XYZ", 3);
	say("pwrite", good, "pwrite");
	good = fd >= 0 && ftruncate(fd, 1234) == 0 && fstat(fd, &st) == 0 && st.st_size == 1234;
	say("truncate", good, "ftruncate");
	if (fd >= 0)
		close(fd);
	/* rename, list, remove */
	{
		char from[512];

		snprintf(from, sizeof(from), "%s/big.bin", dir);
		good = rename(from, at(dir, "moved.bin")) == 0;
	}
	say("rename", good, "rename");
	{
		DIR *d = opendir(dir);
		struct dirent *de;
		int seen = 0;

		while (d && (de = readdir(d)))
			seen |= !strcmp(de->d_name, "moved.bin");
		if (d)
			closedir(d);
		say("list", seen, "readdir");
	}
	say("unlink", unlink(at(dir, "moved.bin")) == 0 && access(at(dir, "moved.bin"), F_OK) < 0, "unlink");
	/* a poll on a file (ready at once), and on a file with stdin */
	fd = open(at(dir, "moved2.bin"), O_RDWR | O_CREAT, 0644);
	{
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { 0, POLLIN, 0 } };

		good = fd >= 0 && poll(p, 1, 1000) == 1 && (p[0].revents & POLLIN);
		say("poll a file", good, "poll");
		/* with "poll-stdin" after the folder: stdin's pollable is the I/O thread's */
		if (argc > 2 && !strcmp(argv[2], "poll-stdin")) {
			p[0].revents = p[1].revents = 0;
			good = fd >= 0 && poll(p, 2, 1000) >= 1 && (p[0].revents & POLLIN);
			say("poll a file and stdin", good, "poll");
		}
	}
	if (fd >= 0)
		close(fd);
	unlink(at(dir, "moved2.bin"));
	/* what fails, fails as it should */
	errno = 0;
	good = fopen(at(dir, "missing.txt"), "r") == NULL && errno == ENOENT;
	say("missing file is ENOENT", good, "fopen");
	good = open(at(dir, "sub/x"), O_WRONLY | O_CREAT, 0644) < 0;
	say("no file in a missing folder", good, "open");
	/* stdin's lines, copied to stdout */
	while (fgets(line, sizeof(line), stdin)) {
		lines++;
		fputs(line, stdout);
	}
	printf("stdin: %zu lines\n", lines);
	return 0;
}
