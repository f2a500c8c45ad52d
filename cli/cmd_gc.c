#include "cli/cli.h"
#include "node/cache.h"
#include "node/cdclient.h"
#include "common/log.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static const wp_opt opts[] = {
	WP_FLAG("verify", 0, "also hash every kept blob, remove those that do not match and the tags whose manifest is gone", &wp_opts.verify),
	WP_VALUE("containerd", 0, "ADDRESS", "the containerd asked whether it still holds the apps the shim unpacked "
	  "(default /run/containerd/containerd.sock)", "@file", &wp_opts.containerd),
	{ 0 },
};

/* Does the containerd a cache user names still hold the entry's manifest? A user is
 * "containerd:ADDRESS:NS" ("containerd:NS" from earlier versions: --containerd's). */
static int containerd_holds(void *ctx, const char *user, const char *digest)
{
	const char *deflt = ctx, *rest, *colon;
	_cleanup_free_ char *address = NULL;
	wp_cdclient cd;
	wp_error err;
	int rc;

	if (!wp_str_has_prefix(user, "containerd:"))
		return -1;
	rest = user + strlen("containerd:");
	colon = strrchr(rest, ':');
	address = colon ? wp_xstrndup(rest, (size_t)(colon - rest)) : wp_xstrdup(deflt);
	cd.socket = address;
	cd.ns = colon ? colon + 1 : rest;
	rc = wp_cdclient_content_exists(&cd, digest, &err);
	if (rc == 0)
		return 1;
	if (rc == WP_ENOTFOUND)
		return 0;
	wp_debug("gc: containerd at %s cannot be asked about %s (%s): its entry is kept", address, digest, err.msg);
	return -1;
}

static int run(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT;
	wp_gc_result res;
	wp_cache_gc_result cache = { 0 };
	int rc;

	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_EXCLUSIVE | WP_STORE_NOCREATE)) < 0)
		return rc;
	rc = wp_store_gc(&s, wp_opts.verify, &res, &cli->err);
	if (rc == 0) {
		_cleanup_free_ char *root = wp_cli_cache_root(&s);

		const char *cd = wp_opts.containerd;

		wp_cache_gc(root, s.root, containerd_holds, (void *)(cd ? cd : "/run/containerd/containerd.sock"), &cache);
	}
	wp_store_close(&s);
	if (rc < 0)
		return rc;
	if (cli->json) {
		json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "cacheEntriesRemoved", (json_int_t)cache.removed,
				      "cacheEntriesEvicted", (json_int_t)cache.evicted,
				      "cacheEntriesKeptForOthers", (json_int_t)cache.kept_in_use,
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
			(unsigned long long)cache.removed);
		if (cache.evicted)
			fprintf(cli->out, "%llu least recently used entries evicted to keep the node cache within its caps\n",
				(unsigned long long)cache.evicted);
		if (cache.kept_in_use && cli->verbosity > 1)
			fprintf(cli->out, "%llu unpacked apps kept: other stores, containerd or a running app use them\n",
				(unsigned long long)cache.kept_in_use);
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
	.name = "gc",
	.args = "",
	.summary = "remove the blobs that no tag reaches, and their apps from the node cache",
	.opts = opts,
	.min_args = 0,
	.max_args = 0,
	.run = run,
	.examples = "wasmpack gc\n"
		"wasmpack gc --verify --format json    # after a crash: hash every blob\n",
};
