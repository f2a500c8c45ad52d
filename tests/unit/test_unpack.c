/* node/unpack.c: images made here, layer by layer (libarchive writes the tars), unpacked
 * into folders: the tree an engine gets, whiteouts, links that stay inside, the wasm
 * layout, and every hostile entry refused with nothing left behind. */
#include "tap.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "node/unpack.h"
#include "oci/manifest.h"
#include "oci/store.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* One tar entry: f file, d folder, l symlink, h hard link, c character device. */
typedef struct entry {
	char kind;
	const char *path;
	const char *data; /* a file's content, or a link's target */
	int mode;
} entry;

static char tmp[] = "/tmp/wasmpack-unpack-unit.XXXXXX";
static wp_store store;
static int serial;

static la_ssize_t collect(struct archive *a, void *ctx, const void *data, size_t len)
{
	(void)a;
	return wp_buf_append(ctx, data, len) < 0 ? -1 : (la_ssize_t)len;
}

static int opened(struct archive *a, void *ctx)
{
	(void)a;
	(void)ctx;
	return ARCHIVE_OK;
}

/* A gzip'ed tar of the entries, stored; d describes it. */
static void put_layer(const entry *es, size_t n, wp_descriptor *d)
{
	struct archive *a = archive_write_new();
	wp_buf out;
	wp_error err;
	char digest[WP_DIGEST_BUFSZ];

	wp_buf_init(&out, 64u << 20);
	archive_write_set_format_pax_restricted(a);
	archive_write_add_filter_gzip(a);
	archive_write_open(a, &out, opened, collect, NULL);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = es[i].kind == 'f' && es[i].data ? strlen(es[i].data) : 0;

		archive_entry_set_pathname(e, es[i].path);
		archive_entry_set_mtime(e, 1700000000, 0);
		switch (es[i].kind) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, es[i].mode ? es[i].mode : 0644);
			archive_entry_set_size(e, (la_int64_t)len);
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, es[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, es[i].data);
			archive_entry_set_size(e, 0);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0666);
			archive_entry_set_rdev(e, makedev(1, 3));
			break;
		}
		archive_write_header(a, e);
		if (len)
			archive_write_data(a, es[i].data, len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	wp_store_put_blob(&store, out.data, out.len, digest, &err);
	wp_descriptor_init(d, WP_MT_OCI_LAYER_GZIP, digest, (int64_t)out.len);
	wp_buf_release(&out);
}

/* An image of the given layers (taken), with /app.wasm as its entrypoint. */
static void put_image(wp_descriptor *layers, size_t n, const char *config_type, wp_descriptor *out)
{
	char cfg[256], digest[WP_DIGEST_BUFSZ];
	wp_manifest m = { 0 };
	wp_buf doc;
	wp_error err;
	int len = snprintf(cfg, sizeof(cfg),
			   "{\"architecture\":\"wasm\",\"os\":\"wasip1\",\"config\":{\"Entrypoint\":[\"/app.wasm\"]},"
			   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"n\":%d}",
			   serial++);

	wp_store_put_blob(&store, cfg, (size_t)len, digest, &err);
	wp_descriptor_init(&m.config, config_type, digest, len);
	for (size_t i = 0; i < n; i++)
		wp_manifest_add_layer(&m, &layers[i]);
	wp_buf_init(&doc, WP_MANIFEST_MAX);
	wp_manifest_emit(&m, &doc, &err);
	wp_store_put_blob(&store, doc.data, doc.len, digest, &err);
	wp_descriptor_init(out, WP_MT_OCI_MANIFEST, digest, (int64_t)doc.len);
	wp_buf_release(&doc);
	wp_manifest_release(&m);
}

static char *read_text(const char *path)
{
	wp_buf b;
	wp_error err;
	char *s;

	wp_buf_init(&b, 1 << 20);
	if (wp_fs_read_file(path, 1 << 20, &b, &err) < 0) {
		wp_buf_release(&b);
		return NULL;
	}
	s = wp_str_fmt("%.*s", (int)b.len, b.data ? b.data : "");
	wp_buf_release(&b);
	return s;
}

/* Nothing in tmp but the store's own folders and files: no dest, no temp folder. */
static bool nothing_left(void)
{
	DIR *d = opendir(tmp);
	struct dirent *e;
	bool clean = true;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "blobs") &&
		    strcmp(e->d_name, "index.json") && strcmp(e->d_name, "oci-layout") && strcmp(e->d_name, ".wasmpack")) {
			printf("# left behind: %s\n", e->d_name);
			clean = false;
		}
	if (d)
		closedir(d);
	return clean;
}

/* Unpacks an image of one layer of the entries: the result code, err filled. */
static int unpack_one(const entry *es, size_t n, const wp_unpack_limits *lim, wp_error *err)
{
	wp_descriptor layer, img;
	json_t *summary = NULL;
	_cleanup_free_ char *dest = wp_str_fmt("%s/out-%d", tmp, serial);
	int rc;

	put_layer(es, n, &layer);
	put_image(&layer, 1, WP_MT_OCI_CONFIG, &img);
	rc = wp_unpack(&store, &img, dest, lim, &summary, err);
	json_decref(summary);
	wp_descriptor_release(&img);
	if (rc == 0)
		wp_fs_rm_rf(dest, err);
	return rc;
}

static void refused(const entry *es, size_t n, const char *words, const char *what)
{
	wp_error err = WP_ERROR_INIT;
	int rc = unpack_one(es, n, NULL, &err);

	ok(rc < 0 && strstr(err.msg, words), "%s: refused (%s)", what, err.msg);
	ok(nothing_left(), "%s: nothing left behind", what);
}

static void test_tree(void)
{
	static const entry base[] = {
		{ 'f', "app.wasm", "\0asm\1\0\0\0", 0 }, { 'd', "static", NULL, 0 },
		{ 'f', "static/index.html", "<h1>hi</h1>", 0 }, { 'f', "static/gone.txt", "old", 0 },
		{ 'd', "cfg", NULL, 0 }, { 'f', "cfg/a", "a", 0 },
		{ 'l', "static/home", "index.html", 0 }, { 'l', "up", "static/../cfg", 0 },
		{ 'h', "static/same.html", "static/index.html", 0 }, { 'f', "run.sh", "#!", 0755 },
	};
	static const entry top[] = {
		{ 'f', "static/.wh.gone.txt", "", 0 }, { 'd', "cfg", NULL, 0 }, { 'f', "cfg/.wh..wh..opq", "", 0 },
		{ 'f', "cfg/b", "b", 0 },
	};
	wp_descriptor layers[2], img;
	json_t *summary = NULL;
	wp_error err = WP_ERROR_INIT;
	_cleanup_free_ char *dest = wp_str_fmt("%s/app", tmp);
	char path[512], link[64];
	struct stat a, b;
	ssize_t n;

	put_layer(base, WP_ARRAY_LEN(base), &layers[0]);
	put_layer(top, WP_ARRAY_LEN(top), &layers[1]);
	put_image(layers, 2, WP_MT_OCI_CONFIG, &img);
	is_int(wp_unpack(&store, &img, dest, NULL, &summary, &err), 0, "an image of two layers unpacks (%s)", err.msg);
	is_str(wp_json_str(summary, "layout"), "image", "the summary says: image layout");
	is_str(json_string_value(json_array_get(json_object_get(summary, "entrypoint"), 0)), "/app.wasm",
	       "with the config's entrypoint");
	{
		_cleanup_free_ char *html = NULL;

		snprintf(path, sizeof(path), "%s/rootfs/static/index.html", dest);
		html = read_text(path);
		is_str(html, "<h1>hi</h1>", "a file has its bytes");
	}
	snprintf(path, sizeof(path), "%s/rootfs/static/gone.txt", dest);
	ok(access(path, F_OK) < 0, "a whiteout removes the lower layer's file");
	snprintf(path, sizeof(path), "%s/rootfs/cfg/a", dest);
	ok(access(path, F_OK) < 0, "an opaque whiteout hides the lower layer's folder content");
	snprintf(path, sizeof(path), "%s/rootfs/cfg/b", dest);
	ok(access(path, F_OK) == 0, "and keeps the upper layer's own");
	snprintf(path, sizeof(path), "%s/rootfs/static/home", dest);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';
	is_str(link, "index.html", "a symlink inside the root stays a symlink");
	snprintf(path, sizeof(path), "%s/rootfs/static/index.html", dest);
	stat(path, &a);
	snprintf(path, sizeof(path), "%s/rootfs/static/same.html", dest);
	ok(stat(path, &b) == 0 && a.st_ino == b.st_ino, "a hard link shares its target's inode");
	snprintf(path, sizeof(path), "%s/rootfs/run.sh", dest);
	ok(stat(path, &a) == 0 && (a.st_mode & 0777) == 0755, "modes are kept");
	snprintf(path, sizeof(path), "%s/config.json", dest);
	ok(access(path, R_OK) == 0, "the config sits beside the rootfs");
	snprintf(path, sizeof(path), "%s/.wasmpack-unpack.json", dest);
	ok(access(path, R_OK) == 0, "with the summary for the engines");
	json_decref(summary);
	summary = NULL;
	is_int(wp_unpack(&store, &img, dest, NULL, &summary, &err), WP_EEXISTS, "unpacking onto an existing folder is refused");
	json_decref(summary);
	wp_fs_rm_rf(dest, &err);
	wp_descriptor_release(&img);
}

static void test_wasm_layout(void)
{
	const char wasm[] = "\0asm\1\0\0\0";
	char digest[WP_DIGEST_BUFSZ];
	wp_descriptor layer, img;
	json_t *summary = NULL;
	wp_error err = WP_ERROR_INIT;
	_cleanup_free_ char *dest = wp_str_fmt("%s/wasm", tmp), *path = wp_str_fmt("%s/hello.wasm", dest);
	struct stat st;

	wp_store_put_blob(&store, wasm, 8, digest, &err);
	wp_descriptor_init(&layer, WP_MT_WASM_LAYER, digest, 8);
	wp_kvlist_set(&layer.annotations, WP_ANN_TITLE, "hello.wasm");
	put_image(&layer, 1, WP_MT_WASM_CONFIG, &img);
	is_int(wp_unpack(&store, &img, dest, NULL, &summary, &err), 0, "a wasm artifact unpacks (%s)", err.msg);
	is_str(wp_json_str(summary, "module"), "hello.wasm", "its module keeps its title");
	ok(stat(path, &st) == 0 && st.st_size == 8, "and its bytes");
	json_decref(summary);
	summary = NULL;
	wp_fs_rm_rf(dest, &err);
	wp_descriptor_release(&img);

	/* a title that climbs out is no file name: the module gets the default name */
	wp_store_put_blob(&store, wasm, 8, digest, &err);
	wp_descriptor_init(&layer, WP_MT_WASM_LAYER, digest, 8);
	wp_kvlist_set(&layer.annotations, WP_ANN_TITLE, "../../escape.wasm");
	put_image(&layer, 1, WP_MT_WASM_CONFIG, &img);
	is_int(wp_unpack(&store, &img, dest, NULL, &summary, &err), 0, "a wasm artifact with a climbing title unpacks");
	is_str(wp_json_str(summary, "module"), "module.wasm", "as module.wasm, inside its folder");
	json_decref(summary);
	wp_fs_rm_rf(dest, &err);
	wp_descriptor_release(&img);
	{
		_cleanup_free_ char *esc = wp_str_fmt("%s/escape.wasm", tmp);

		ok(access(esc, F_OK) < 0, "nothing was written outside it");
	}
}

static void test_hostile(void)
{
	static const entry climb[] = { { 'f', "../escape", "x", 0 } };
	static const entry abs_climb[] = { { 'f', "/../../escape", "x", 0 } };
	static const entry via_link[] = { { 'l', "out", "/tmp", 0 }, { 'f', "out/escape", "x", 0 } };
	static const entry via_dotdot[] = { { 'l', "out", "../..", 0 }, { 'f', "out/escape", "x", 0 } };
	static const entry hard_out[] = { { 'h', "pw", "../../etc/passwd", 0 } };
	static const entry hard_abs[] = { { 'h', "pw", "/etc/passwd", 0 } };
	static const entry device[] = { { 'c', "null", NULL, 0 } };
	static const entry setuid[] = { { 'f', "su", "x", 04755 } };
	static const entry bad_wh[] = { { 'f', ".wh...", "", 0 } };

	refused(climb, 1, "escapes the root", "an entry climbing out with ..");
	refused(abs_climb, 1, "escapes the root", "an absolute entry climbing out");
	refused(via_link, 2, "leads outside the root", "a file written through an absolute symlink");
	refused(via_dotdot, 2, "leads outside the root", "a file written through a symlink to ../..");
	refused(hard_out, 1, "hard link", "a hard link to a file outside the root");
	refused(hard_abs, 1, "hard link", "a hard link to an absolute path");
	refused(device, 1, "device", "a character device");
	refused(setuid, 1, "setuid", "a setuid file");
	refused(bad_wh, 1, "whiteout", "a whiteout naming ..");
	ok(access("/tmp/escape", F_OK) < 0, "nothing reached /tmp");
}

static void test_limits_and_digests(void)
{
	static const entry big[] = { { 'f', "a", "0123456789", 0 }, { 'f', "b", "0123456789", 0 } };
	wp_unpack_limits bytes = { .max_bytes = 15 }, entries = { .max_bytes = 0, .max_entries = 1 };
	wp_error err = WP_ERROR_INIT;
	wp_descriptor layer, img;
	json_t *summary = NULL;
	_cleanup_free_ char *dest = wp_str_fmt("%s/bad", tmp), *blob = NULL;

	ok(unpack_one(big, 2, &bytes, &err) < 0 && strstr(err.msg, "more than 15 bytes"), "a byte cap is kept (%s)", err.msg);
	ok(nothing_left(), "and nothing is left behind");
	ok(unpack_one(big, 2, &entries, &err) < 0 && strstr(err.msg, "more than 1 entries"), "an entry cap is kept (%s)",
	   err.msg);
	ok(nothing_left(), "and nothing is left behind");

	/* a layer changed in the store after it was written */
	put_layer(big, 2, &layer);
	blob = wp_store_blob_path(&store, layer.digest);
	{
		int fd = open(blob, O_WRONLY);

		(void)!pwrite(fd, "X", 1, 20);
		close(fd);
	}
	put_image(&layer, 1, WP_MT_OCI_CONFIG, &img);
	is_int(wp_unpack(&store, &img, dest, NULL, &summary, &err), WP_EDIGEST, "a layer that does not match its digest fails");
	ok(strstr(err.msg, "does not match its digest") != NULL, "saying so (%s)", err.msg);
	ok(nothing_left(), "and nothing is left behind");
	wp_descriptor_release(&img);
	unlink(blob);

	/* an index is no manifest */
	{
		wp_descriptor ix;

		wp_descriptor_init(&ix, WP_MT_OCI_INDEX, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 2);
		is_int(wp_unpack(&store, &ix, dest, NULL, &summary, &err), WP_EINVALID, "an index is refused: pick a manifest first");
		wp_descriptor_release(&ix);
	}
}

int main(void)
{
	wp_error err;

	if (!mkdtemp(tmp) || wp_store_open(&store, tmp, WP_STORE_SHARED, &err) < 0) {
		ok(0, "a store to work in");
		return done_testing();
	}
	test_tree();
	test_wasm_layout();
	test_hostile();
	test_limits_and_digests();
	wp_store_close(&store);
	wp_fs_rm_rf(tmp, &err);
	return done_testing();
}
