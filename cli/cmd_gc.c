#include "cli/cli.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const wp_opt opts[] = {
	{ "verify", 0, WP_OPT_FLAG, NULL, "also hash every kept blob, remove those that do not match and the tags whose manifest is gone", NULL },
	{ 0 },
};

/* The node cache: entries whose manifest the store no longer holds, and folders left by
 * an unpack that was killed (older than ten minutes: a run of another store may be
 * unpacking right now). */
static uint64_t gc_cache(const wp_store *s)
{
	_cleanup_free_ char *root = wp_cli_cache_root(s);
	DIR *d = root ? opendir(root) : NULL;
	struct dirent *e;
	uint64_t removed = 0;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *path = wp_str_fmt("%s/%s", root, e->d_name);
		_cleanup_free_ char *digest = wp_str_fmt("sha256:%s", e->d_name);
		struct stat st;
		wp_error ignored;
		bool stale = false;

		if (!path || !digest || e->d_name[0] == '.' || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (strstr(e->d_name, ".tmp-"))
			stale = st.st_mtime < time(NULL) - 600;
		else if (wp_digest_check(digest, &ignored) == 0)
			stale = !wp_store_has_blob(s, digest, NULL);
		if (stale && wp_fs_rm_rf(path, &ignored) == 0)
			removed++;
	}
	if (d)
		closedir(d);
	return removed;
}

static int run(wp_cli *cli)
{
	wp_store s;
	wp_gc_result res;
	uint64_t cache_removed = 0;
	int rc;

	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_EXCLUSIVE)) < 0)
		return rc;
	rc = wp_store_gc(&s, wp_cli_flag(cli, "verify"), &res, &cli->err);
	if (rc == 0)
		cache_removed = gc_cache(&s);
	wp_store_close(&s);
	if (rc < 0)
		return rc;
	if (cli->json) {
		json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "cacheEntriesRemoved", (json_int_t)cache_removed,
				      "blobsRemoved", (json_int_t)res.blobs_removed, "bytesRemoved",
				      (json_int_t)res.bytes_removed, "blobsKept", (json_int_t)res.blobs_kept, "blobsDamaged",
				      (json_int_t)res.blobs_damaged, "tagsRemoved", (json_int_t)res.tags_removed);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else if (cli->verbosity > 0) {
		char human[32];

		wp_cli_human_size(human, sizeof(human), (long long)res.bytes_removed);
		fprintf(cli->out, "removed %llu blobs (%s), kept %llu; %llu unpacked apps removed from the node cache\n",
			(unsigned long long)res.blobs_removed, human, (unsigned long long)res.blobs_kept,
			(unsigned long long)cache_removed);
		if (res.blobs_damaged)
			fprintf(cli->out, "%llu damaged blobs removed: rebuild or pull the images that used them\n",
				(unsigned long long)res.blobs_damaged);
		if (res.tags_removed)
			fprintf(cli->out, "%llu tags removed: their manifest was missing or damaged\n",
				(unsigned long long)res.tags_removed);
	}
	return 0;
}

const wp_cmd wp_cmd_gc = {
	"gc", "", "remove the blobs that no tag reaches, and their apps from the node cache", opts, 0, 0, NULL, run, false,
};
