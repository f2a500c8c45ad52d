/* libFuzzer target: the image-graph reader (oci/graph.c) over a hostile source. Every
 * manifest or index the walk asks for is the input itself, so any index names itself again
 * under other digests and kinds: the walk must end (its seen set, its depth cap) and must
 * never read a config or a layer as a document, whatever type its descriptor claims (one
 * such image once stopped gc for a whole store). resolve and closure run over it too. */
#include "common/buf.h"
#include "oci/graph.h"
#include "oci/mediatype.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
	const uint8_t *data;
	size_t size;
	size_t reads;
} input;

static int source_read(void *ctx, const char *digest, const char *media_type, size_t max, wp_buf *out, wp_error *err)
{
	input *in = ctx;

	(void)digest;
	/* a document: the input; a blob: never asked for (the visitor checks it) */
	if (!media_type || (!wp_mediatype_is_manifest(media_type) && !wp_mediatype_is_index(media_type)))
		abort();
	in->reads++;
	if (in->size > max)
		return wp_error_set(err, WP_ETOOBIG, "too big");
	return wp_buf_append(out, in->data, in->size) < 0 ? wp_error_set(err, WP_ETOOBIG, "too big") : 0;
}

static int source_has(void *ctx, const char *digest, wp_error *err)
{
	(void)ctx, (void)digest, (void)err;
	return 1;
}

static int visit(void *ctx, const wp_graph_node *n, wp_error *err)
{
	(void)ctx, (void)err;
	/* configs and layers are blobs: never read, whatever they claim */
	if ((n->role == WP_GRAPH_CONFIG || n->role == WP_GRAPH_LAYER) && (n->bytes || n->index || n->manifest))
		abort();
	if (n->depth > WP_GRAPH_MAX_DEPTH + 1)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tops[] = { WP_MT_OCI_INDEX, WP_MT_OCI_MANIFEST };
	static const unsigned flags[] = { 0, WP_GRAPH_CHILDREN_FIRST | WP_GRAPH_SUBJECTS,
					  WP_GRAPH_READ_ERRORS | WP_GRAPH_SUBJECTS, WP_GRAPH_ONE_PLATFORM };
	input in = { .data = data, .size = size };
	wp_blob_source src = { .read = source_read, .has = source_has, .ctx = &in };
	wp_error err;

	for (size_t t = 0; t < sizeof(tops) / sizeof(tops[0]); t++) {
		wp_descriptor top = { .media_type = (char *)tops[t], .size = (int64_t)size };
		wp_descriptor out;
		wp_strv all = { 0 };

		memcpy(top.digest, "sha256:0000000000000000000000000000000000000000000000000000000000000000", 72);
		for (size_t f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
			in.reads = 0;
			wp_graph_walk(&src, &top, flags[f], NULL, visit, NULL, &err);
			/* each digest once per kind: the reads are bounded by what the input names */
			if (in.reads > 1 + size)
				abort();
		}
		if (wp_graph_resolve(&src, &top, NULL, &out, &err) == 0)
			wp_descriptor_release(&out);
		if (wp_graph_resolve(&src, &top, "wasip2/wasm", &out, &err) == 0)
			wp_descriptor_release(&out);
		wp_graph_closure(&src, &top, &all, &err);
		wp_strv_release(&all);
	}
	return 0;
}
