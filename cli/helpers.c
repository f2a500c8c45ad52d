/* Helpers the commands share: where the store, the node cache and a Spin manifest are,
 * the registry options, and the sources `run` and `unpack` read (cli/cli.h). */
#include "cli/cli.h"
#include "oci/mediatype.h"
#include "common/path.h"
#include "common/log.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/archive.h"
#include "oci/ref.h"
#include "oci/storeroot.h"
#include "registry/client.h"
#include "registry/transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

char *wp_cli_spin_manifest(const char *path, const char *from)
{
	struct stat st;

	if (from)
		return wp_xstrdup(from);
	if (!path)
		path = ".";
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return wp_str_fmt("%s/spin.toml", path);
	return wp_xstrdup(path);
}

FILE *wp_cli_progress_out(const wp_cli *cli)
{
	return cli->progress && isatty(2) ? stderr : NULL;
}

int wp_cli_reg_opts(wp_cli *cli, wp_client_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->progress = wp_cli_progress_out(cli);
	o->plain_http = wp_opts.plain_http;
	o->insecure = wp_opts.insecure;
	o->ca_file = wp_opts.ca_file;
	o->concurrency = (int)wp_opts.concurrency;
	return 0;
}

/* The node cache: one folder per manifest digest, made once, shared by every run. */
char *wp_cli_cache_root(const wp_store *s)
{
	return wp_storeroot_cache(s->root);
}

/* An index stands for its wasm manifest (the one platform picker's, or --platform's). */
static int pick_platform(wp_cli *cli, wp_store *s, wp_descriptor *d)
{
	wp_blob_source src = wp_store_source(s);
	wp_descriptor man;
	int rc;

	if (!wp_mediatype_is_index(d->media_type))
		return 0;
	if ((rc = wp_graph_resolve(&src, d, wp_opts.platform, &man, &cli->err)) < 0)
		return rc;
	wp_descriptor_release(d);
	*d = man;
	return 0;
}

/* The store's names nearest to what (a typo of one of them: a few edits apart, or the
 * same repository), appended to the message as "; the store has: a:v1, b:v1", short. */
void wp_cli_append_nearest(wp_cli *cli, wp_store *s, const char *what)
{
	wp_index ix = { 0 };
	wp_ref ref;
	_cleanup_free_ char *full = NULL, *repo = NULL;
	_cleanup_free_ const char **names = NULL;
	const char *picked[3];
	size_t n;

	if (wp_ref_parse(what, &ref, NULL) < 0)
		return;
	full = wp_ref_string(&ref);
	repo = wp_ref_name(&ref);
	wp_ref_release(&ref);
	if (wp_store_index_read(s, &ix, NULL) < 0)
		return;
	names = wp_xcalloc(ix.n_manifests + 1, sizeof(*names));
	for (size_t i = 0; i < ix.n_manifests; i++)
		names[i] = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);
	n = wp_str_nearest(full, names, ix.n_manifests, 3, picked, WP_ARRAY_LEN(picked));
	/* then other tags of the same repository, however far */
	for (size_t i = 0; i < ix.n_manifests && n < WP_ARRAY_LEN(picked); i++) {
		bool seen = false;

		for (size_t k = 0; k < n; k++)
			seen = seen || picked[k] == names[i];
		if (!seen && names[i] && wp_str_has_prefix(names[i], repo) && names[i][strlen(repo)] == ':')
			picked[n++] = names[i];
	}
	for (size_t i = 0; i < n; i++)
		wp_error_append(&cli->err, "%s%s", i ? ", " : "; the store has: ",
				wp_str_has_prefix(picked[i], "docker.io/library/") ? picked[i] + 18 : picked[i]);
	wp_index_release(&ix);
}

/* SOURCE the store lacks, pulled from its registry. A short name ("app:v11", no registry
 * named) is most often a mistyped local tag: when Docker Hub has nothing for it either, the
 * message says both and the run is "not found" (exit 3), whatever the pull failed with. */
static int pull_source(wp_cli *cli, wp_store *s, const char *src, wp_descriptor *d)
{
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_ref ref;
	wp_transfer_result res = { 0 };
	wp_error local = cli->err;
	bool short_name = !wp_cli_names_registry(src);
	int rc;

	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_ref_parse(src, &ref, &cli->err)) < 0)
		return rc;
	if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
		rc = wp_transfer_pull(s, r, &ref, wp_opts.platform, 0, &res, &cli->err);
	if (rc == 0)
		wp_descriptor_copy(d, &res.manifest);
	if (rc < 0 && short_name) {
		wp_error pulled = cli->err;

		cli->err = local;
		wp_cli_append_nearest(cli, s, src);
		rc = wp_error_append(&cli->err, "; nor could it be pulled from %s: %s", ref.registry, pulled.msg);
		cli->err.code = rc = WP_ENOTFOUND;
	}
	wp_transfer_result_release(&res);
	wp_client_close(r);
	wp_ref_release(&ref);
	return rc;
}

int wp_cli_resolve_source(wp_cli *cli, wp_store *s, const char *src, wp_descriptor *d)
{
	bool dir = wp_str_has_prefix(src, "oci:"), archive = wp_str_has_prefix(src, "oci-archive:");
	int rc;

	if (dir || archive) {
		const char *p = src + (dir ? 4 : 12), *colon = strchr(p, ':');
		_cleanup_free_ char *path = colon ? wp_xstrndup(p, (size_t)(colon - p)) : wp_xstrdup(p);

		rc = wp_archive_import(s, path, dir, colon && colon[1] ? colon + 1 : NULL, d, NULL, &cli->err);
		return rc == 0 ? pick_platform(cli, s, d) : rc;
	}
	rc = wp_store_resolve(s, src, d, NULL, &cli->err);
	if (rc == 0)
		return pick_platform(cli, s, d);
	/* a digest or id is the store's to know: there is no registry to ask */
	if (rc == WP_ENOTFOUND && (wp_str_has_prefix(src, "sha256:") || strspn(src, "0123456789abcdef") == 64))
		return wp_error_append(&cli->err, "; 'wasmpack images' lists what it holds");
	return rc == WP_ENOTFOUND ? pull_source(cli, s, src, d) : rc;
}

/* containerd:DIR@DIGEST: a manifest (or an index, then its wasm manifest: --platform's,
 * else wasip1/wasm, else wasip2/wasm) read in place from containerd's content store. DIR is containerd's
 * root (/var/lib/containerd) or its io.containerd.content.v1.content folder. */
int wp_cli_containerd_source(wp_cli *cli, const char *src, wp_store *ro, wp_descriptor *d)
{
	const char *p = src + strlen("containerd:"), *at = strrchr(p, '@');
	_cleanup_free_ char *dir = at && at > p ? wp_xstrndup(p, (size_t)(at - p)) : NULL;
	_cleanup_free_ char *content = dir ? wp_str_fmt("%s/io.containerd.content.v1.content", dir) : NULL;
	wp_blob_source blobs;
	wp_descriptor top = { 0 };
	int rc;

	if (!dir || !content)
		return wp_error_set(&cli->err, WP_EUSAGE, "'%s': want containerd:DIR@sha256:DIGEST", src);
	if ((rc = wp_digest_check(at + 1, &cli->err)) < 0)
		return wp_error_set(&cli->err, WP_EUSAGE, "'%s': want containerd:DIR@sha256:DIGEST", src);
	if ((rc = wp_store_open_readonly(ro, wp_fs_exists(content) ? content : dir, &cli->err)) < 0)
		return wp_error_prefix(&cli->err, "containerd content store");
	if ((rc = wp_store_describe_blob(ro, at + 1, &top, &cli->err)) < 0)
		return rc;
	blobs = wp_store_source(ro);
	rc = wp_graph_resolve(&blobs, &top, wp_opts.platform, d, &cli->err);
	wp_descriptor_release(&top);
	return rc;
}

bool wp_cli_names_registry(const char *ref)
{
	const char *slash = strchr(ref, '/');
	size_t n = slash ? (size_t)(slash - ref) : 0;

	return slash && (memchr(ref, '.', n) || memchr(ref, ':', n) || (n == 9 && !strncmp(ref, "localhost", 9)));
}

bool wp_cli_store_is_default(const wp_cli *cli)
{
	return !cli->store_root && !(getenv("WASMPACK_STORE") && *getenv("WASMPACK_STORE"));
}

int wp_cli_open_store(wp_cli *cli, wp_store *s, int mode)
{
	wp_buf root;
	int rc;

	wp_buf_init(&root, WP_PATH_MAX);
	if (cli->store_root)
		rc = wp_buf_puts(&root, cli->store_root) < 0 ? wp_error_set(&cli->err, WP_ETOOBIG, "store path too long") : 0;
	else
		rc = wp_storeroot_default(&root, &cli->err);
	if (rc == 0)
		rc = wp_store_open(s, root.data, mode, &cli->err);
	wp_buf_release(&root);
	return rc;
}

void wp_cli_human_size(char *out, size_t outsz, long long bytes)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outsz, "%lld B", bytes);
	else
		snprintf(out, outsz, "%.1f %s", v, units[u]);
}
