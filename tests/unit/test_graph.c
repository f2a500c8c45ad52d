/* oci/graph.c, the one image-graph reader: resolve picks as the one platform picker does
 * and refuses what is neither a manifest nor an index; a walk visits each digest once, in
 * the order asked, follows subjects only when asked, hands read errors to the visitor
 * only when asked, and refuses indexes nested past WP_GRAPH_MAX_DEPTH; gc and save follow
 * the same rule. */
#include "tap.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/util.h"
#include "common/alloc.h"
#include "oci/archive.h"
#include "oci/digest.h"
#include "oci/graph.h"
#include "oci/mediatype.h"
#include "oci/store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static wp_store s = WP_STORE_INIT;

static void put(const char *data, char digest[WP_DIGEST_BUFSZ])
{
	wp_error err;

	if (wp_store_put_blob(&s, data, strlen(data), digest, &err) < 0)
		abort();
}

/* A manifest of config and one layer (each made from text), its descriptor in d. */
static void manifest(const char *config, const char *layer, const char *subject, wp_descriptor *d)
{
	char c[WP_DIGEST_BUFSZ], l[WP_DIGEST_BUFSZ], m[WP_DIGEST_BUFSZ];
	_cleanup_free_ char *doc = NULL;

	put(config, c);
	put(layer, l);
	doc = wp_str_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
			 "\"size\":%zu},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]%s%s%s}",
			 WP_MT_OCI_MANIFEST, WP_MT_OCI_CONFIG, c, strlen(config), WP_MT_WASM_LAYER, l, strlen(layer),
			 subject ? ",\"subject\":{\"mediaType\":\"" WP_MT_OCI_MANIFEST "\",\"digest\":\"" : "",
			 subject ? subject : "", subject ? "\",\"size\":1}" : "");
	put(doc, m);
	wp_descriptor_init(d, WP_MT_OCI_MANIFEST, m, (int64_t)strlen(doc));
}

/* An index of the manifests (platform "os/arch" each, or NULL for none). */
static void index_of(const wp_descriptor *ms, const char *const *platforms, size_t n, wp_descriptor *d)
{
	wp_buf doc;
	char digest[WP_DIGEST_BUFSZ];

#define P(...) do { if (wp_buf_printf(&doc, __VA_ARGS__) < 0) abort(); } while (0)
	wp_buf_init(&doc, 1 << 20);
	P( "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"manifests\":[", WP_MT_OCI_INDEX);
	for (size_t i = 0; i < n; i++) {
		const char *slash = platforms[i] ? strchr(platforms[i], '/') : NULL;

		P("%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%lld", i ? "," : "", ms[i].media_type,
			      ms[i].digest, (long long)ms[i].size);
		if (slash)
			P(",\"platform\":{\"os\":\"%.*s\",\"architecture\":\"%s\"}", (int)(slash - platforms[i]),
				      platforms[i], slash + 1);
		P("}");
	}
	P("]}");
#undef P
	put(doc.data, digest);
	wp_descriptor_init(d, WP_MT_OCI_INDEX, digest, (int64_t)doc.len);
	wp_buf_release(&doc);
}

typedef struct seen {
	wp_strv order;
	int read_errors;
} seen;

static int record(void *ctx, const wp_graph_node *n, wp_error *err)
{
	seen *v = ctx;

	(void)err;
	if (n->rc < 0) {
		v->read_errors++;
		return 0;
	}
	wp_strv_push(&v->order, n->desc->digest);
	return 0;
}

static size_t pos(const seen *v, const char *digest)
{
	for (size_t i = 0; i < v->order.len; i++)
		if (!strcmp(v->order.items[i], digest))
			return i;
	return (size_t)-1;
}

int main(void)
{
	char tmpl[] = "/tmp/wasmpack-unit.XXXXXX";
	wp_error err;
	wp_descriptor a, b, c, ix, out, chain[WP_GRAPH_MAX_DEPTH + 2];
	int rc;
	wp_blob_source src;

	ok(mkdtemp(tmpl) && wp_store_open(&s, tmpl, WP_STORE_SHARED, &err) == 0, "open a store");
	src = wp_store_source(&s);
	manifest("{\"a\":1}", "layer shared", NULL, &a);
	manifest("{\"b\":1}", "layer shared", NULL, &b);
	manifest("{\"c\":1}", "layer c", a.digest, &c);
	{
		wp_descriptor ms[2];
		const char *plats[] = { "linux/amd64", "wasip2/wasm" };

		wp_descriptor_copy(&ms[0], &a);
		wp_descriptor_copy(&ms[1], &b);
		index_of(ms, plats, 2, &ix);
		wp_descriptor_release(&ms[0]);
		wp_descriptor_release(&ms[1]);
	}

	/* resolve: the one platform picker */
	ok(wp_graph_resolve(&src, &ix, NULL, &out, &err) == 0 && !strcmp(out.digest, b.digest),
	   "an index of linux/amd64 and wasip2/wasm resolves to the wasip2/wasm manifest");
	wp_descriptor_release(&out);
	ok(wp_graph_resolve(&src, &ix, "linux/amd64", &out, &err) == 0 && !strcmp(out.digest, a.digest),
	   "a platform asked for is the one picked");
	wp_descriptor_release(&out);
	is_int(wp_graph_resolve(&src, &ix, "wasip1/wasm", &out, &err), WP_ENOTFOUND, "a platform the index lacks: not found");
	ok(strstr(err.msg, "has no manifest for platform wasip1/wasm") != NULL, "saying which platform (%s)", err.msg);
	ok(wp_graph_resolve(&src, &a, NULL, &out, &err) == 0 && !strcmp(out.digest, a.digest), "a manifest resolves to itself");
	wp_descriptor_release(&out);
	{
		wp_descriptor layer = { .media_type = (char *)WP_MT_WASM_LAYER };

		memcpy(layer.digest, a.digest, sizeof(layer.digest));
		is_int(wp_graph_resolve(&src, &layer, NULL, &out, &err), WP_EINVALID, "a layer is no image: invalid");
	}

	/* walk: each digest once, pre-order or children first */
	{
		seen v = { 0 };

		ok(wp_graph_walk(&src, &ix, 0, NULL, record, &v, &err) == 0, "walk an index of two manifests");
		is_int(v.order.len, 6, "the index, 2 manifests, 2 configs and the layer they share once: 6 visits");
		ok(pos(&v, ix.digest) == 0, "pre-order: the index first");
		wp_strv_release(&v.order);
		ok(wp_graph_walk(&src, &ix, WP_GRAPH_CHILDREN_FIRST, NULL, record, &v, &err) == 0, "walk children first");
		ok(pos(&v, ix.digest) == v.order.len - 1 && pos(&v, a.digest) > 0 && pos(&v, a.digest) < pos(&v, ix.digest),
		   "the index last, each manifest after its blobs");
		wp_strv_release(&v.order);
		ok(wp_graph_walk(&src, &ix, WP_GRAPH_ONE_PLATFORM, NULL, record, &v, &err) == 0 && v.order.len == 4 &&
		   pos(&v, a.digest) == (size_t)-1, "one platform: the index, the picked manifest, its config and layer");
		wp_strv_release(&v.order);
	}
	/* subjects only when asked */
	{
		seen v = { 0 };

		ok(wp_graph_walk(&src, &c, 0, NULL, record, &v, &err) == 0 && pos(&v, a.digest) == (size_t)-1,
		   "a referrer's subject is not followed by default");
		wp_strv_release(&v.order);
		ok(wp_graph_walk(&src, &c, WP_GRAPH_SUBJECTS, NULL, record, &v, &err) == 0 && pos(&v, a.digest) != (size_t)-1,
		   "and is with WP_GRAPH_SUBJECTS");
		wp_strv_release(&v.order);
	}
	/* a missing manifest: an error, or the visitor's when asked */
	{
		seen v = { 0 };
		wp_descriptor ms[2];
		const char *plats[] = { NULL, NULL };
		wp_descriptor broken;
		_cleanup_free_ char *path = NULL;

		manifest("{\"gone\":1}", "layer gone", NULL, &ms[0]);
		wp_descriptor_copy(&ms[1], &a);
		index_of(ms, plats, 2, &broken);
		path = wp_store_blob_path(&s, ms[0].digest);
		ok(unlink(path) == 0, "remove a manifest an index names");
		is_int(wp_graph_walk(&src, &broken, 0, NULL, record, &v, &err), WP_ENOTFOUND, "the walk stops: not found");
		wp_strv_release(&v.order);
		ok(wp_graph_walk(&src, &broken, WP_GRAPH_READ_ERRORS, NULL, record, &v, &err) == 0 && v.read_errors == 1 &&
		   pos(&v, a.digest) != (size_t)-1, "with WP_GRAPH_READ_ERRORS the visitor gets it and the walk goes on");
		wp_strv_release(&v.order);
		wp_descriptor_release(&ms[0]);
		wp_descriptor_release(&ms[1]);
		wp_descriptor_release(&broken);
	}
	/* a layer whose descriptor claims to be an index is a blob: never read, never followed,
	 * and gc keeps it without stopping */
	{
		char blob[WP_DIGEST_BUFSZ], cfg[WP_DIGEST_BUFSZ], m[WP_DIGEST_BUFSZ];
		_cleanup_free_ char *doc = NULL;
		wp_descriptor odd;
		seen v = { 0 };

		put("not json at all, a layer's bytes", blob);
		put("{\"odd\":1}", cfg);
		doc = wp_str_fmt("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\","
				 "\"size\":9},\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":33}]}",
				 WP_MT_OCI_MANIFEST, WP_MT_OCI_CONFIG, cfg, WP_MT_OCI_INDEX, blob);
		put(doc, m);
		wp_descriptor_init(&odd, WP_MT_OCI_MANIFEST, m, (int64_t)strlen(doc));
		ok(wp_graph_walk(&src, &odd, WP_GRAPH_READ_ERRORS, NULL, record, &v, &err) == 0 && v.read_errors == 0 &&
		   pos(&v, blob) != (size_t)-1, "a layer typed as an index is visited as a blob, not read");
		wp_strv_release(&v.order);
		ok(wp_store_tag(&s, "localhost/odd:v1", &odd, &err) == 0, "tag it");
		wp_descriptor_release(&odd);
	}
	/* a digest an index names twice, as a manifest and as something else, is judged both ways */
	{
		wp_descriptor ms[2], twice;
		const char *plats[] = { NULL, NULL };
		seen v = { 0 };

		wp_descriptor_copy(&ms[0], &a);
		wp_descriptor_copy(&ms[1], &a);
		free(ms[1].media_type);
		ms[1].media_type = wp_xstrdup(WP_MT_WASM_LAYER);
		index_of(ms, plats, 2, &twice);
		rc = wp_graph_walk(&src, &twice, 0, NULL, record, &v, &err);
		ok(rc == 0 && v.order.len == 5, "the index, a as a manifest (config, layer) and a again as a blob: %zu visits (%s)",
		   v.order.len, rc ? err.msg : "");
		wp_strv_release(&v.order);
		wp_descriptor_release(&ms[0]);
		wp_descriptor_release(&ms[1]);
		wp_descriptor_release(&twice);
	}
	/* a platform asked for by name must be named: a lone unplatformed manifest is the pick
	 * only when none is asked for */
	{
		wp_descriptor lone;
		const char *plats[] = { NULL };

		index_of(&a, plats, 1, &lone);
		ok(wp_graph_resolve(&src, &lone, NULL, &out, &err) == 0 && !strcmp(out.digest, a.digest),
		   "an index of one unplatformed manifest stands for it");
		wp_descriptor_release(&out);
		is_int(wp_graph_resolve(&src, &lone, "linux/amd64", &out, &err), WP_ENOTFOUND,
		       "but not when linux/amd64 is asked for");
		wp_descriptor_release(&lone);
	}
	/* an OCI layout folder that lacks a manifest the store already holds still loads */
	{
		_cleanup_free_ char *dir = wp_str_fmt("%s.layout", tmpl);
		_cleanup_free_ char *gone = NULL;
		wp_descriptor got;

		ok(wp_archive_export_dir(&s, &ix, "localhost/ix:v1", dir, &err) == 0, "export the index to a layout folder");
		gone = wp_str_fmt("%s/blobs/sha256/%s", dir, wp_digest_hex(a.digest));
		ok(unlink(gone) == 0, "take a manifest the store holds out of the folder");
		ok(wp_archive_import(&s, dir, true, NULL, &got, NULL, &err) == 0, "the folder still loads (%s)", err.msg);
		wp_descriptor_release(&got);
		wp_fs_rm_rf(dir, &err);
	}
	/* two tags of one missing manifest: gc --verify drops both */
	{
		char miss[WP_DIGEST_BUFSZ];
		wp_descriptor m1;
		wp_gc_result res;
		wp_store ex = WP_STORE_INIT;
		_cleanup_free_ char *path = NULL;

		put("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[]}", miss);
		wp_descriptor_init(&m1, WP_MT_OCI_MANIFEST, miss, 10);
		ok(wp_store_tag(&s, "localhost/gone:a", &m1, &err) == 0 && wp_store_tag(&s, "localhost/gone:b", &m1, &err) == 0 &&
		   wp_store_tag(&s, "localhost/ix:v1", &ix, &err) == 0, "two tags of one manifest (and the index kept)");
		path = wp_store_blob_path(&s, miss);
		ok(unlink(path) == 0, "the manifest goes missing");
		wp_store_close(&s);
		ok(wp_store_open(&ex, tmpl, WP_STORE_EXCLUSIVE, &err) == 0, "open the store for gc");
		ok(wp_store_gc(&ex, true, &res, &err) == 0, "gc --verify goes through (and past the odd layer)");
		is_int(res.tags_removed, 2, "dropping both tags of the missing manifest");
		wp_store_close(&ex);
		ok(wp_store_open(&s, tmpl, WP_STORE_SHARED, &err) == 0, "reopen");
		src = wp_store_source(&s);
		wp_descriptor_release(&m1);
	}
	/* indexes nested too deep: resolve, walk, save and gc all refuse, and gc removes nothing */
	{
		seen v = { 0 };
		wp_strv closure = { 0 };
		wp_gc_result res;
		_cleanup_free_ char *tar = wp_str_fmt("%s.tar", tmpl);
		const char *none[] = { NULL };
		wp_store ex = WP_STORE_INIT;

		wp_descriptor_copy(&chain[0], &a);
		for (int i = 1; i < WP_GRAPH_MAX_DEPTH + 2; i++)
			index_of(&chain[i - 1], none, 1, &chain[i]);
		is_int(wp_graph_resolve(&src, &chain[WP_GRAPH_MAX_DEPTH + 1], NULL, &out, &err), WP_EINVALID,
		       "resolve: indexes nested %d deep are refused", WP_GRAPH_MAX_DEPTH + 1);
		ok(strstr(err.msg, "nested too deeply") != NULL, "saying so (%s)", err.msg);
		ok(wp_graph_resolve(&src, &chain[WP_GRAPH_MAX_DEPTH], NULL, &out, &err) == 0 && !strcmp(out.digest, a.digest),
		   "%d deep resolve", WP_GRAPH_MAX_DEPTH);
		wp_descriptor_release(&out);
		is_int(wp_graph_walk(&src, &chain[WP_GRAPH_MAX_DEPTH + 1], 0, NULL, record, &v, &err), WP_EINVALID,
		       "walk: refused too");
		wp_strv_release(&v.order);
		is_int(wp_archive_save(&s, &chain[WP_GRAPH_MAX_DEPTH + 1], "deep:v1", tar, &err), WP_EINVALID, "save: refused");
		ok(wp_store_tag(&s, "localhost/deep:v1", &chain[WP_GRAPH_MAX_DEPTH + 1], &err) == 0, "tag the deep chain");
		wp_store_close(&s);
		ok(wp_store_open(&ex, tmpl, WP_STORE_EXCLUSIVE, &err) == 0, "open the store for gc");
		is_int(wp_store_gc(&ex, false, &res, &err), WP_EINVALID, "gc: refused, where it used to keep the top and "
		       "collect what lies deeper");
		{
			char cfg[WP_DIGEST_BUFSZ];

			ok(wp_digest_bytes("{\"a\":1}", 7, cfg, &err) == 0 && wp_store_has_blob(&ex, a.digest, NULL) &&
			   wp_store_has_blob(&ex, cfg, NULL), "and the manifest at the bottom and its config are still there");
		}
		wp_store_close(&ex);
		wp_strv_release(&closure);
		for (int i = 0; i < WP_GRAPH_MAX_DEPTH + 2; i++)
			wp_descriptor_release(&chain[i]);
	}
	wp_descriptor_release(&a);
	wp_descriptor_release(&b);
	wp_descriptor_release(&c);
	wp_descriptor_release(&ix);
	wp_fs_rm_rf(tmpl, &err);
	return done_testing();
}
