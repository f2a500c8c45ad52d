#include "cli/cli.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/graph.h"
#include "oci/mediatype.h"

#include <dirent.h>
#include <fnmatch.h>
#include <string.h>
#include <sys/stat.h>

/* The largest blob -a looks into for an untagged manifest (manifests are small; layers
 * that size are read once each). */
#define SNIFF_MAX (256u << 10)

static const wp_opt opts[] = {
	WP_FLAG("all", 'a', "also the images no tag names (the platforms of an index are listed under it anyway)",
		&wp_opts.all),
	{ 0 },
};

/* Size of an image as it would be transferred: manifest, config and layers. */
static int64_t image_size(wp_store *s, const wp_descriptor *d, const char **layout)
{
	wp_manifest m;
	int64_t total = d->size;

	*layout = "";
	if (!wp_mediatype_is_manifest(d->media_type))
		return total;
	if (wp_store_read_manifest(s, d->digest, &m, NULL) == 0) {
		total += m.config.size;
		for (size_t i = 0; i < m.n_layers; i++)
			total += m.layers[i].size;
		*layout = wp_manifest_layout(&m);
		wp_manifest_release(&m);
	}
	return total;
}

/* Whether name (a full reference) passes the filter: REPOSITORY or REPOSITORY:TAG, short
 * ("capp", "capp:v1") or full, with shell globs (a star after "reg.example/"), as docker
 * images takes it. */
static bool matches(const char *filter, const char *name)
{
	_cleanup_free_ char *repo = NULL;
	const char *shortn, *slash, *colon;

	if (!filter)
		return true;
	if (!name)
		return false;
	shortn = wp_str_has_prefix(name, "docker.io/library/") ? name + 18 : name;
	slash = strrchr(filter, '/');
	colon = strrchr(filter, ':');
	if (colon && colon > (slash ? slash : filter))
		return !fnmatch(filter, name, 0) || !fnmatch(filter, shortn, 0);
	repo = wp_xstrndup(name, strcspn(name, "@"));
	slash = strrchr(repo, '/');
	if ((colon = strrchr(repo, ':')) && colon > (slash ? slash : repo))
		repo[colon - repo] = '\0';
	return !fnmatch(filter, repo, 0) ||
	       (wp_str_has_prefix(repo, "docker.io/library/") && !fnmatch(filter, repo + 18, 0));
}

typedef struct lister {
	wp_cli *cli;
	wp_store *s;
	json_t *arr;
	json_t *shown;      /* digests listed, for -a */
} lister;

static void row(lister *l, const char *name, const wp_descriptor *d, const char *layout, int64_t size, json_t *platforms)
{
	if (l->cli->json) {
		json_t *o = json_pack("{s:s?,s:s,s:s,s:s,s:I}", "name", name, "digest", d->digest, "mediaType",
				      d->media_type ? d->media_type : "", "layout", layout, "size", (json_int_t)size);

		if (platforms)
			json_object_set(o, "platforms", platforms);
		json_array_append_new(l->arr, o);
	} else {
		char human[32];

		wp_cli_human_size(human, sizeof(human), size);
		fprintf(l->cli->out, "%-50s %.19s %-6s %s\n", name ? name : "<none>", d->digest, layout, human);
	}
	json_object_set_new(l->shown, d->digest, json_true());
}

/* An index: its platforms (a row each under it, or a list in JSON) and the total of
 * the images the store holds of it. */
static void index_row(lister *l, const char *name, const wp_descriptor *d)
{
	wp_blob_source src = wp_store_source(l->s);
	wp_index ix;
	json_t *platforms = json_array(), *p;
	int64_t total = d->size;
	size_t i;

	if (wp_graph_read_index(&src, d, &ix, NULL) == 0) {
		for (i = 0; i < ix.n_manifests; i++) {
			const wp_descriptor *c = &ix.manifests[i];
			const wp_platform *pl = c->platform;
			_cleanup_free_ char *plat = pl ? wp_str_fmt("%s/%s%s%s", pl->os ? pl->os : "?",
								    pl->architecture ? pl->architecture : "?", pl->variant ? "/" : "",
								    pl->variant ? pl->variant : "")
						       : wp_xstrdup("(no platform)");
			const char *layout = "absent";
			bool here = wp_store_has_blob(l->s, c->digest, NULL);
			int64_t size = here ? image_size(l->s, c, &layout) : c->size;

			total += here ? size : 0;
			json_array_append_new(platforms, json_pack("{s:s,s:s,s:s,s:I}", "platform", plat, "digest", c->digest,
								   "layout", layout, "size", (json_int_t)size));
			json_object_set_new(l->shown, c->digest, json_true());
		}
		wp_index_release(&ix);
	}
	row(l, name, d, "index", total, platforms);
	json_array_foreach(platforms, i, p) {
		char human[32];

		if (l->cli->json)
			break;
		wp_cli_human_size(human, sizeof(human), json_integer_value(json_object_get(p, "size")));
		fprintf(l->cli->out, "  %-48s %.19s %-6s %s\n", wp_json_str(p, "platform"), wp_json_str(p, "digest"),
			wp_json_str(p, "layout"), human);
	}
	json_decref(platforms);
}

/* -a: the manifests in the store that no tag names nor an index lists. */
static void untagged(lister *l)
{
	_cleanup_free_ char *dir = wp_str_fmt("%s/blobs/sha256", l->s->root);
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *digest = wp_str_fmt("sha256:%s", de->d_name);
		wp_descriptor desc;
		struct stat st;
		const char *layout;

		if (de->d_name[0] == '.' || json_object_get(l->shown, digest) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_size > (off_t)SNIFF_MAX || !wp_digest_valid(digest))
			continue;
		if (wp_store_describe_blob(l->s, digest, &desc, NULL) < 0)
			continue;
		if (wp_mediatype_is_manifest(desc.media_type)) {
			wp_manifest m;
			/* an image: a manifest with a config, and no referrer (an SBOM, a signature) */
			bool image = wp_store_read_manifest(l->s, digest, &m, NULL) == 0 && wp_digest_valid(m.config.digest) &&
				     !m.subject;
			int64_t size = image ? image_size(l->s, &desc, &layout) : 0;

			if (image)
				row(l, NULL, &desc, layout, size, NULL);
			wp_manifest_release(&m);
		}
		wp_descriptor_release(&desc);
	}
	if (d)
		closedir(d);
}

static int run(wp_cli *cli)
{
	const char *filter = cli->args.len ? cli->args.items[0] : NULL;
	wp_store s = WP_STORE_INIT;
	wp_index ix;
	lister l = { .cli = cli, .s = &s, .shown = json_object() };
	int rc;

	rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE);
	if (rc == WP_ENOTFOUND && wp_cli_store_is_default(cli)) {
		/* nothing built or pulled yet: an empty list, and no store made for it */
		memset(&ix, 0, sizeof(ix));
		s = (wp_store){ .lock_fd = -1 };
		rc = 0;
	} else if (rc < 0 || (rc = wp_store_index_read(&s, &ix, &cli->err)) < 0) {
		wp_store_close(&s);
		json_decref(l.shown);
		return rc;
	}
	if (cli->json)
		l.arr = json_array();
	else if (cli->verbosity > 0)
		fprintf(cli->out, "%-50s %-19s %-6s %s\n", "REFERENCE", "DIGEST", "LAYOUT", "SIZE");
	for (size_t i = 0; i < ix.n_manifests; i++) {
		const wp_descriptor *d = &ix.manifests[i];
		const char *name = wp_kvlist_get(&d->annotations, WP_ANN_REF_NAME);
		const char *layout;

		if (wp_kvlist_get(&d->annotations, WP_ANN_SUBJECT))
			continue; /* a referrer (an SBOM, a signature) kept with its image: discover lists it */
		if (!matches(filter, name))
			continue;
		if (!cli->json && cli->verbosity == 0) {
			/* -q: the ids, each image once (as docker images -q), for scripts */
			bool seen = false;

			for (size_t k = 0; k < i && !seen; k++)
				seen = !strcmp(ix.manifests[k].digest, d->digest) && matches(filter,
					wp_kvlist_get(&ix.manifests[k].annotations, WP_ANN_REF_NAME));
			if (!seen)
				fprintf(cli->out, "%.19s\n", d->digest);
			continue;
		}
		if (wp_mediatype_is_index(d->media_type)) {
			index_row(&l, name, d);
		} else {
			int64_t size = image_size(&s, d, &layout);

			row(&l, name, d, layout, size, NULL);
		}
	}
	if (wp_opts.all && !filter && s.root && (cli->json || cli->verbosity > 0))
		untagged(&l);
	if (cli->json) {
		wp_json_print(l.arr, cli->out);
		json_decref(l.arr);
	}
	json_decref(l.shown);
	wp_index_release(&ix);
	wp_store_close(&s);
	return 0;
}

const wp_cmd wp_cmd_images = {
	.name = "images",
	.args = "[NAME]",
	.summary = "list the images in the store",
	.opts = opts,
	.min_args = 0,
	.max_args = 1,
	.run = run,
	.examples = "wasmpack images\nwasmpack images capp            # its tags; 'reg.example/*' takes globs\nwasmpack images -a              # untagged images too\nwasmpack images -q | xargs wasmpack rmi -f && wasmpack gc\n",
};

/* For the shell completions: each image's name as people type it (docker.io/library/
 * dropped), one per line; nothing, and no store made, when there is none. */
static int run_complete(wp_cli *cli)
{
	wp_store s = WP_STORE_INIT;
	wp_index ix;

	if (wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE) < 0)
		return 0;
	if (wp_store_index_read(&s, &ix, &cli->err) == 0) {
		for (size_t i = 0; i < ix.n_manifests; i++) {
			const char *n = wp_kvlist_get(&ix.manifests[i].annotations, WP_ANN_REF_NAME);

			if (n)
				fprintf(cli->out, "%s\n",
					wp_str_has_prefix(n, "docker.io/library/") ? n + 18 :
					wp_str_has_prefix(n, "docker.io/") ? n + 10 : n);
		}
		wp_index_release(&ix);
	}
	wp_store_close(&s);
	return 0;
}

const wp_cmd wp_cmd_complete_refs = {
	.name = "__complete-refs",
	.args = "",
	.summary = "print the store's image names (for the shell completions)",
	.opts = opts,
	.min_args = 0,
	.max_args = 0,
	.run = run_complete,
	.hidden = true,
};
