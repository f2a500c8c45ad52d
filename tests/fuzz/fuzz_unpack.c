/* libFuzzer target: the unpacker over hostile layers, in the image and Spin layouts.
 *
 * Input: a mode byte, then parts separated by "\n@@\n".
 *   mode even: the image layout, each part a layer (gzip when it starts with gzip's
 *              magic, else plain tar), applied in order: links, hard links, whiteouts
 *              across layers.
 *   mode odd:  Spin's layout: part 0 is the locked app, parts 1.. are layers in turn
 *              wasm, archive (tar+gzip bundle), data, archive...; "@L1@", "@L2@"... in
 *              the locked app become the digests of those parts.
 * What must hold, whatever the input: a successful unpack leaves a tree whose every link
 * stays inside it (judged as the kernel follows links); a failed one leaves nothing; and
 * nothing outside the destination changes (a canary beside it, and the folder holding
 * both lists nothing else). A breach aborts. */
#include "common/fs.h"
#include "common/util.h"
#include "common/links.h"
#include "oci/digest.h"
#include "oci/mediatype.h"
#include "oci/store.h"
#include "node/unpack.h"

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEP "\n@@\n"
#define MAX_PARTS 8
#define CANARY "canary: must stay as it is\n"

static char fuzz_dir[64];

static void remove_fuzz_dir(void)
{
	wp_error err;

	wp_fs_rm_rf(fuzz_dir, &err);
}

/* The work folder holds exactly the canary (and the store): anything else is a leftover. */
static void check_work(const char *work)
{
	DIR *d = opendir(work);
	struct dirent *e;
	char path[128], buf[64];
	int fd;
	ssize_t n;

	if (!d)
		abort();
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "canary"))
			abort();
	closedir(d);
	snprintf(path, sizeof(path), "%s/canary", work);
	fd = open(path, O_RDONLY | O_NOFOLLOW);
	if (fd < 0)
		abort();
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != (ssize_t)strlen(CANARY) || memcmp(buf, CANARY, (size_t)n))
		abort();
}

static char *substitute(const uint8_t *p, size_t n, char digests[][WP_DIGEST_BUFSZ], size_t nd, size_t *outlen)
{
	wp_buf b;
	char *out;

	wp_buf_init(&b, WP_MANIFEST_MAX);
	for (size_t i = 0; i < n;) {
		if (n - i >= 4 && p[i] == '@' && p[i + 1] == 'L' && p[i + 2] >= '1' && p[i + 2] <= '9' && p[i + 3] == '@' &&
		    (size_t)(p[i + 2] - '1') < nd) {
			if (wp_buf_puts(&b, digests[p[i + 2] - '1']) < 0)
				break;
			i += 4;
			continue;
		}
		if (wp_buf_append(&b, p + i, 1) < 0)
			break;
		i++;
	}
	out = wp_buf_detach(&b, outlen);
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static wp_store store;
	static char work[96], dest[128];
	const uint8_t *parts[MAX_PARTS];
	size_t lens[MAX_PARTS], np = 0;
	char digests[MAX_PARTS][WP_DIGEST_BUFSZ];
	json_t *m, *layers, *summary = NULL;
	wp_descriptor desc = { 0 };
	wp_unpack_limits lim = { .max_bytes = 64 << 20, .max_entries = 10000 };
	wp_error err;
	bool spin;
	char *text, mdigest[WP_DIGEST_BUFSZ];
	int rc;

	if (!fuzz_dir[0]) {
		FILE *f;

		strcpy(fuzz_dir, "/tmp/wasmpack-fuzz-unpack.XXXXXX");
		if (!mkdtemp(fuzz_dir))
			abort();
		atexit(remove_fuzz_dir);
		snprintf(work, sizeof(work), "%s/work", fuzz_dir);
		snprintf(dest, sizeof(dest), "%s/app", work);
		if (wp_fs_mkdir_p(work, 0755, &err) < 0)
			abort();
		snprintf((char *)digests[0], sizeof(digests[0]), "%s/store", fuzz_dir);
		if (wp_store_open(&store, digests[0], WP_STORE_SHARED, &err) < 0)
			abort();
		snprintf((char *)digests[0], sizeof(digests[0]), "%s/canary", work);
		f = fopen(digests[0], "w");
		if (!f || fputs(CANARY, f) < 0 || fclose(f) != 0)
			abort();
	}
	if (size < 1)
		return 0;
	spin = data[0] & 1;
	data++;
	size--;
	/* split into parts */
	while (np < MAX_PARTS) {
		const uint8_t *at = memmem(data, size, SEP, strlen(SEP));

		parts[np] = data;
		lens[np++] = at ? (size_t)(at - data) : size;
		if (!at)
			break;
		size -= (size_t)(at - data) + strlen(SEP);
		data = at + strlen(SEP);
	}
	/* store the layers (for Spin, parts 1..; part 0 is the locked app) */
	layers = json_array();
	for (size_t i = spin ? 1 : 0; i < np; i++) {
		const char *mt;
		size_t k = spin ? i - 1 : i;

		if (wp_store_put_blob(&store, parts[i], lens[i], digests[k], &err) < 0)
			abort();
		if (spin)
			mt = k % 3 == 0 ? WP_MT_SPIN_WASM : k % 3 == 1 ? WP_MT_SPIN_ARCHIVE : WP_MT_SPIN_DATA;
		else
			mt = lens[i] >= 2 && parts[i][0] == 0x1f && parts[i][1] == 0x8b ? WP_MT_OCI_LAYER_GZIP : WP_MT_OCI_LAYER_TAR;
		json_array_append_new(layers, json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest", digests[k], "size",
							(json_int_t)lens[i]));
	}
	{
		char cfg_digest[WP_DIGEST_BUFSZ];
		size_t clen;
		char *cfg = spin ? substitute(parts[0], lens[0], digests, np - 1, &clen)
				 : wp_str_fmt("{\"architecture\":\"wasm\",\"os\":\"wasip1\",\"config\":{\"Entrypoint\":[\"/a.wasm\"]},"
					     "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");

		if (!spin)
			clen = strlen(cfg);
		if (wp_store_put_blob(&store, cfg, clen, cfg_digest, &err) < 0)
			abort();
		m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType", WP_MT_OCI_MANIFEST, "config",
			      "mediaType", spin ? WP_MT_SPIN_CONFIG : WP_MT_OCI_CONFIG, "digest", cfg_digest, "size",
			      (json_int_t)clen, "layers", layers);
		free(cfg);
	}
	text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	if (!text || wp_store_put_blob(&store, text, strlen(text), mdigest, &err) < 0)
		abort();
	wp_descriptor_init(&desc, WP_MT_OCI_MANIFEST, mdigest, (int64_t)strlen(text));
	free(text);

	rc = wp_unpack(&store, &desc, dest, &lim, &summary, &err);
	if (rc == 0) {
		int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		wp_error lerr;

		if (fd < 0 || wp_links_check_tree(fd, 1000000, &lerr) != 0) {
			fprintf(stderr, "unpacked tree holds a link out: %s\n", lerr.msg);
			abort();
		}
		close(fd);
		json_decref(summary);
		if (wp_fs_rm_rf(dest, &err) < 0)
			abort();
	} else if (access(dest, F_OK) == 0) {
		abort(); /* a failed unpack left its destination */
	}
	check_work(work);
	wp_descriptor_release(&desc);
	return 0;
}
