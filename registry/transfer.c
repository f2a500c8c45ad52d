#include "registry/transfer.h"
#include "registry/remote.h"
#include "common/progress.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/mediatype.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define MONOLITHIC_MAX (32ll << 20)
#define CHUNK_SIZE (64ll << 20)
#define ORIGINS_MAX (8u << 20)

void wp_transfer_result_release(wp_transfer_result *res)
{
	wp_descriptor_release(&res->manifest);
	free(res->index_digest);
	free(res->blobs);
	memset(res, 0, sizeof(*res));
}

static char *scope_of(const char *repo, const char *actions)
{
	return wp_client_scope(repo, actions);
}

/* ---- origins: a hint for cross-repository mounts ---- */

static int origins_load(wp_store *s, json_t **out)
{
	_cleanup_free_ char *path = wp_store_private_path(s, "origins.json");
	wp_buf data;

	*out = NULL;
	wp_buf_init(&data, ORIGINS_MAX);
	if (wp_fs_read_file(path, ORIGINS_MAX, &data, NULL) == 0)
		wp_json_parse(data.data, data.len, ORIGINS_MAX, out, NULL);
	wp_buf_release(&data);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = json_object();
	}
	return 0;
}

int wp_transfer_origins_add(wp_store *s, const char *repo_name, const char **digests, size_t n)
{
	_cleanup_free_ char *path = wp_store_private_path(s, "origins.json");
	_cleanup_free_ char *lockp = wp_store_private_path(s, "origins.lock");
	json_t *o = NULL;
	wp_buf data;
	int lock, rc;

	lock = wp_fs_lock_open(lockp, NULL);
	if (lock < 0 || wp_fs_lock_wait(lock, LOCK_EX, lockp, NULL) < 0) {
		if (lock >= 0)
			close(lock);
		return WP_EIO;
	}
	rc = origins_load(s, &o);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		json_t *list = json_object_get(o, digests[i]);
		bool have = false;
		size_t k;
		json_t *v;

		if (!json_is_array(list)) {
			list = json_array();
			json_object_set_new(o, digests[i], list);
		}
		json_array_foreach(list, k, v)
			have |= json_is_string(v) && !strcmp(json_string_value(v), repo_name);
		if (!have) {
			json_array_insert_new(list, 0, json_string(repo_name));
			while (json_array_size(list) > 8)
				json_array_remove(list, json_array_size(list) - 1);
		}
	}
	wp_buf_init(&data, ORIGINS_MAX);
	if (rc == 0 && wp_json_emit(o, &data, NULL) == 0)
		rc = wp_fs_write_atomic(path, data.data, data.len, 0644, NULL);
	wp_buf_release(&data);
	json_decref(o);
	close(lock);
	return rc;
}

char *wp_transfer_origins_find(wp_store *s, const char *digest, const char *registry, const char *not_repo)
{
	json_t *o = NULL, *list, *v;
	size_t prefix = strlen(registry), k;
	char *found = NULL;

	if (origins_load(s, &o) < 0)
		return NULL;
	list = json_object_get(o, digest);
	json_array_foreach(list, k, v) {
		const char *name = json_string_value(v);

		if (name && !strncmp(name, registry, prefix) && name[prefix] == '/' && strcmp(name + prefix + 1, not_repo)) {
			found = wp_xstrdup(name + prefix + 1);
			break;
		}
	}
	json_decref(o);
	return found;
}

/* A blob is done: its line stays on the terminal's progress display. */
static void report_blob(wp_client *r, size_t idx, const wp_blob_report *b)
{
	wp_progress_item_done(wp_client_get_progress(r), idx, b->outcome);
}

/* A display of the blobs (on the terminal the caller handed over, else nothing), handed
 * to the session so request bodies report to it. */
static wp_progress *progress_start(wp_client *r, const wp_transfer_result *res, const char *verb)
{
	wp_progress *pg = wp_progress_new(wp_client_progress(r), verb);

	for (size_t i = 0; pg && i < res->n_blobs; i++)
		wp_progress_item(pg, res->blobs[i].digest, res->blobs[i].size);
	wp_client_set_progress(r, pg);
	return pg;
}

static void progress_stop(wp_client *r, wp_progress *pg)
{
	wp_client_set_progress(r, NULL);
	wp_progress_end(pg);
}

static void report_total(wp_client *r, const wp_transfer_result *res, long long ms, const char *verb)
{
	FILE *f = wp_client_progress(r);
	int64_t total = 0;

	if (!f)
		return;
	for (size_t i = 0; i < res->n_blobs; i++)
		total += res->blobs[i].size;
	fprintf(f, "  %s %zu blobs, %.1f MiB in %.1f s (%.1f MiB moved)\n", verb, res->n_blobs, (double)total / 1048576,
		(double)ms / 1000, (double)(res->stats.bytes_up + res->stats.bytes_down) / 1048576);
	fflush(f);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The store remembers that these blobs now live in repository `name` (for mounts). */
static void remember_origins(wp_store *s, const char *name, const wp_transfer_result *res)
{
	const char **digests = wp_xcalloc(res->n_blobs + 1, sizeof(char *));

	for (size_t i = 0; i < res->n_blobs; i++)
		digests[i] = res->blobs[i].digest;
	if (digests && name)
		wp_transfer_origins_add(s, name, digests, res->n_blobs);
	free(digests);
}

/* ---- push ---- */

enum { P_HEAD, P_MOUNT, P_POST, P_PUT_MONO, P_PATCH, P_STATUS, P_PUT_FINAL, P_DONE };

typedef struct push_blob {
	wp_job job;
	wp_client *reg;
	const char *repo;
	wp_blob_report *report;
	size_t idx;               /* its place in the result (and the progress display) */
	int fd;
	char *mount_from;
	int state;
	char *location;
	int64_t offset, chunk;
} push_blob;

static char *with_query(const char *url, const char *query)
{
	return wp_str_fmt("%s%s%s", url, strchr(url, '?') ? "&" : "?", query);
}

static int push_next(wp_job *job, wp_client_req *q)
{
	push_blob *b = job->ctx;
	const char *d = b->report->digest;
	char *url = NULL;

	q->scope = scope_of(b->repo, "pull,push");
	switch (b->state) {
	case P_HEAD:
		q->method = "HEAD";
		url = wp_str_fmt("/v2/%s/blobs/%s", b->repo, d);
		break;
	case P_MOUNT:
		q->method = "POST";
		url = wp_str_fmt("/v2/%s/blobs/uploads/?mount=%s&from=%s", b->repo, d, b->mount_from);
		free(q->scope);
		/* A mount also needs pull on the source repository. */
		q->scope = wp_str_fmt("repository:%s:pull,push repository:%s:pull", b->repo, b->mount_from);
		break;
	case P_POST:
		q->method = "POST";
		url = wp_str_fmt("/v2/%s/blobs/uploads/", b->repo);
		break;
	case P_PUT_MONO: {
		_cleanup_free_ char *dq = wp_str_fmt("digest=%s", d);

		q->method = "PUT";
		url = with_query(b->location, dq);
		q->body_fd = b->fd;
		q->body_off = 0;
		q->body_len = b->report->size;
		q->progress_item = (int)b->idx;
		q->content_type = wp_xstrdup("application/octet-stream");
		break;
	}
	case P_PATCH: {
		int64_t n = b->report->size - b->offset < b->chunk ? b->report->size - b->offset : b->chunk;

		q->method = "PATCH";
		url = wp_xstrdup(b->location);
		q->body_fd = b->fd;
		q->body_off = b->offset;
		q->body_len = n;
		q->progress_item = (int)b->idx;
		q->content_type = wp_xstrdup("application/octet-stream");
		q->content_range = wp_str_fmt("%lld-%lld", (long long)b->offset, (long long)(b->offset + n - 1));
		break;
	}
	case P_STATUS:
		q->method = "GET";
		url = wp_xstrdup(b->location);
		break;
	case P_PUT_FINAL: {
		_cleanup_free_ char *dq = wp_str_fmt("digest=%s", d);

		q->method = "PUT";
		url = dq ? with_query(b->location, dq) : NULL;
		break;
	}
	default:
		report_blob(b->reg, b->idx, b->report);
		return 0;
	}
	q->url = url && url[0] == '/' ? wp_client_url(b->reg, url) : url;
	if (q->url != url)
		free(url);
	return 1;
}

static bool take_location(push_blob *b, const wp_client_resp *p)
{
	char *loc;

	if (!p->location)
		return b->location != NULL;
	loc = wp_client_url(b->reg, p->location);
	if (!loc)
		return false;
	/* an upload moved from https to plain http would carry the blob (and, before the
	 * origin check, the credentials) in the clear: refused, as redirects are */
	if (!strncasecmp(wp_client_base_url(b->reg), "https:", 6) && strncasecmp(loc, "https:", 6)) {
		wp_warn("refusing the upload location '%s': not https, from a registry reached over https", loc);
		free(loc);
		return false;
	}
	if (!wp_client_same_origin(b->reg, loc))
		wp_debug("the upload goes on at %s, another host: without the registry's credentials", loc);
	free(b->location);
	b->location = loc;
	return true;
}

/* "0-1234" -> next offset 1235; no header -> 0. Distribution answers "0-0" both for an
 * empty upload and for one of a single byte; taking 0 is safe: were it 1, the next PATCH
 * is refused with 416 and the upload starts over. */
static int64_t range_end(const wp_client_resp *p)
{
	const char *dash = p->range ? strchr(p->range, '-') : NULL;
	int64_t end;

	if (!dash)
		return 0;
	end = strtoll(dash + 1, NULL, 10);
	return end == 0 ? 0 : end + 1;
}

/* WASMPACK_UPLOAD_CHUNK_MIB (1-1024) sets the size of upload chunks, so tests and slow
 * links can make a blob go up in several; 64 MiB otherwise. */
static int64_t chunk_size(void)
{
	const char *v = getenv("WASMPACK_UPLOAD_CHUNK_MIB");
	long mib = v ? atol(v) : 0;

	return mib >= 1 && mib <= 1024 ? (int64_t)mib << 20 : CHUNK_SIZE;
}

static void after_upload_started(push_blob *b, const wp_client_resp *p)
{
	/* OCI-Chunk-Min-Length: chunks must be at least this long (but the last). */
	b->chunk = p->chunk_min > chunk_size() ? p->chunk_min : chunk_size();
	b->offset = 0;
	b->state = b->report->size <= MONOLITHIC_MAX ? P_PUT_MONO : P_PATCH;
}

static int push_done(wp_job *job, const wp_client_req *q, const wp_client_resp *p)
{
	push_blob *b = job->ctx;
	_cleanup_free_ char *what = wp_str_fmt("pushing blob %s: %s", b->report->digest, q->method);
	int rc;

	switch (b->state) {
	case P_HEAD:
		if (p->status == 200) {
			b->report->outcome = "skipped";
			b->state = P_DONE;
			return WP_XFER_NEXT;
		}
		if (p->status == 404) {
			b->state = b->mount_from ? P_MOUNT : P_POST;
			return WP_XFER_NEXT;
		}
		break;
	case P_MOUNT:
		if (p->status == 201) {
			b->report->outcome = "mounted";
			b->state = P_DONE;
			return WP_XFER_NEXT;
		}
		if (p->status == 202 && take_location(b, p)) {
			after_upload_started(b, p);
			return WP_XFER_NEXT;
		}
		if (!wp_client_transient(p)) {
			b->state = P_POST;
			return WP_XFER_NEXT;
		}
		break;
	case P_POST:
		if (p->status == 202 && take_location(b, p)) {
			after_upload_started(b, p);
			return WP_XFER_NEXT;
		}
		break;
	case P_PUT_MONO:
	case P_PUT_FINAL:
		if (p->status == 201) {
			b->report->outcome = "uploaded";
			b->state = P_DONE;
			return WP_XFER_NEXT;
		}
		if (wp_client_transient(p)) {
			/* The upload session may be gone: start again from HEAD. */
			b->state = P_HEAD;
			return WP_XFER_RETRY;
		}
		break;
	case P_PATCH:
		if (p->status == 202) {
			take_location(b, p);
			b->offset = p->range ? range_end(p) : b->offset + q->body_len;
			b->state = b->offset >= b->report->size ? P_PUT_FINAL : P_PATCH;
			return WP_XFER_NEXT;
		}
		if (wp_client_transient(p)) {
			/* Ask the registry how much arrived, then go on from there. */
			b->state = P_STATUS;
			return WP_XFER_RETRY;
		}
		if (p->status == 416) {
			/* The registry holds another amount than we thought: start afresh. */
			b->state = P_POST;
			return WP_XFER_RETRY;
		}
		break;
	case P_STATUS:
		if (p->status == 204 || p->status == 200) {
			take_location(b, p);
			b->offset = range_end(p);
			b->state = b->offset >= b->report->size ? P_PUT_FINAL : P_PATCH;
			return WP_XFER_NEXT;
		}
		if (p->status == 404) {
			b->state = P_POST;
			return WP_XFER_NEXT;
		}
		break;
	}
	if (wp_client_transient(p)) {
		wp_client_check(p, what ? what : "pushing a blob", &job->err);
		return WP_XFER_RETRY;
	}
	rc = wp_client_check(p, what ? what : "pushing a blob", &job->err);
	return rc < 0 ? rc : wp_error_set(&job->err, WP_EFAIL, "%s: unexpected HTTP %ld", what ? what : "", p->status);
}

static void add_report(wp_transfer_result *res, const wp_descriptor *d)
{
	wp_blob_report *b;

	for (size_t i = 0; i < res->n_blobs; i++)
		if (!strcmp(res->blobs[i].digest, d->digest))
			return;
	b = wp_xreallocarray(res->blobs, res->n_blobs + 1, sizeof(*b));
	res->blobs = b;
	memset(&b[res->n_blobs], 0, sizeof(*b));
	memcpy(b[res->n_blobs].digest, d->digest, WP_DIGEST_BUFSZ);
	b[res->n_blobs].size = d->size;
	b[res->n_blobs].media_type = wp_mediatype_is_manifest(d->media_type) ? "manifest" : "blob";
	res->n_blobs++;
}

/* A report for each blob a manifest names: its config, then its layers (once each). */
static void add_reports(wp_transfer_result *res, const wp_manifest *m)
{
	add_report(res, &m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		add_report(res, &m->layers[i]);
}

int wp_transfer_put_manifest(wp_client *r, const char *repo, const char *reference, const char *media_type,
			     const wp_buf *data, const char *digest, wp_error *err)
{
	wp_client_req q;
	wp_client_resp p = { 0 };
	char *url = wp_str_fmt("%s/v2/%s/manifests/%s", wp_client_base_url(r), repo, reference);
	int rc;

	wp_client_req_init(&q, "PUT", url);
	q.scope = scope_of(repo, "pull,push");
	q.content_type = wp_xstrdup(media_type);
	q.body = data->data;
	q.body_len = (int64_t)data->len;
	wp_client_resp_init(&p);
	rc = wp_client_do(r, &q, &p, err);
	if (rc == 0)
		rc = wp_client_check(&p, "pushing the manifest", err);
	if (rc == 0 && p.docker_content_digest && strcmp(p.docker_content_digest, digest))
		rc = wp_error_set(err, WP_EDIGEST, "the registry stored the manifest as %s, not %s", p.docker_content_digest, digest);
	wp_client_req_release(&q);
	wp_client_resp_release(&p);
	return rc;
}

static int push_manifest(wp_store *s, wp_client *r, const wp_ref *ref, const wp_descriptor *desc,
			 wp_transfer_result *res, wp_error *err)
{
	long long started = mono_ms();
	wp_buf data;
	wp_manifest m = { 0 };
	push_blob *blobs = NULL;
	wp_job **jobs = NULL;
	wp_progress *pg;
	size_t nblobs = 0;
	_cleanup_free_ char *name = wp_ref_name(ref);
	int rc;

	memset(res, 0, sizeof(*res));
	wp_buf_init(&data, WP_MANIFEST_MAX);
	if ((rc = wp_store_read_blob(s, desc->digest, WP_MANIFEST_MAX, &data, err)) < 0 ||
	    (rc = wp_manifest_parse(data.data, data.len, &m, err)) < 0)
		goto done;
	add_reports(res, &m);
	blobs = wp_xcalloc(res->n_blobs, sizeof(*blobs));
	jobs = wp_xcalloc(res->n_blobs, sizeof(*jobs));
	for (size_t i = 0; i < res->n_blobs; i++) {
		push_blob *b = &blobs[i];
		_cleanup_free_ char *path = wp_store_blob_path(s, res->blobs[i].digest);

		b->job.next = push_next;
		b->job.done = push_done;
		b->job.ctx = b;
		b->reg = r;
		b->repo = ref->repository;
		b->report = &res->blobs[i];
		b->idx = i;
		b->fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		nblobs++;
		if (b->fd < 0) {
			rc = wp_error_set(err, WP_ENOTFOUND, "blob %s of %s is not in the store", res->blobs[i].digest, desc->digest);
			goto done;
		}
		b->mount_from = wp_transfer_origins_find(s, res->blobs[i].digest, ref->registry, ref->repository);
		jobs[i] = &b->job;
	}
	pg = progress_start(r, res, "pushing");
	rc = wp_client_run(r, jobs, res->n_blobs, err);
	progress_stop(r, pg);
	if (rc < 0)
		goto done;
	rc = wp_transfer_put_manifest(r, ref->repository, ref->tag ? ref->tag : desc->digest, desc->media_type, &data,
				      desc->digest, err);
	if (rc < 0)
		goto done;
	wp_descriptor_copy(&res->manifest, desc);
	remember_origins(s, name, res);
	wp_client_get_stats(r, &res->stats);
	report_total(r, res, mono_ms() - started, "pushed");
done:
	for (size_t i = 0; i < nblobs; i++) {
		if (blobs[i].fd >= 0)
			close(blobs[i].fd);
		free(blobs[i].mount_from);
		free(blobs[i].location);
	}
	free(blobs);
	free(jobs);
	wp_manifest_release(&m);
	wp_buf_release(&data);
	if (rc < 0)
		wp_error_prefix(err, "pushing to %s/%s", ref->registry, ref->repository);
	return rc;
}

/* ---- pull ---- */

typedef struct pull_blob {
	wp_job job;
	wp_store *store;
	wp_client *reg;
	const char *repo;
	wp_blob_report *report;
	size_t idx;               /* its place in the result (and the progress display) */
	wp_store_writer *w;
	int64_t got;
	bool ranged;
	int digest_failures;
	bool finished;
} pull_blob;

static int pull_sink(void *ctx, const void *data, size_t len)
{
	pull_blob *b = ctx;
	wp_error err;

	if (b->got + (int64_t)len > b->report->size)
		return -1;
	if (wp_store_writer_write(b->w, data, len, &err) < 0)
		return -1;
	b->got += (int64_t)len;
	wp_progress_set(wp_client_get_progress(b->reg), b->idx, b->got);
	return 0;
}

static int pull_next(wp_job *job, wp_client_req *q)
{
	pull_blob *b = job->ctx;

	if (b->finished)
		return 0;
	if (!b->w && wp_store_writer_new(b->store, &b->w, &job->err) < 0)
		return job->err.code;
	q->method = "GET";
	q->url = wp_str_fmt("%s/v2/%s/blobs/%s", wp_client_base_url(b->reg), b->repo, b->report->digest);
	q->scope = scope_of(b->repo, "pull");
	b->ranged = b->got > 0;
	if (b->ranged)
		q->range = wp_str_fmt("bytes=%lld-", (long long)b->got);
	q->sink = pull_sink;
	q->sink_ctx = b;
	return 1;
}

/* Folds a child's result (an index's manifest) into the whole's: its blobs (each once)
 * and the session's counters. */
static void merge_result(wp_transfer_result *into, const wp_transfer_result *from)
{
	for (size_t i = 0; i < from->n_blobs; i++) {
		bool seen = false;

		for (size_t k = 0; k < into->n_blobs && !seen; k++)
			seen = !strcmp(into->blobs[k].digest, from->blobs[i].digest);
		if (seen)
			continue;
		into->blobs = wp_xreallocarray(into->blobs, into->n_blobs + 1, sizeof(*into->blobs));
		into->blobs[into->n_blobs++] = from->blobs[i];
	}
	into->stats = from->stats;
}

typedef struct index_push {
	wp_store *s;
	wp_client *r;
	wp_ref child_ref;           /* the repository, by digest */
	const wp_descriptor *top;
	wp_buf bytes;               /* the index's own bytes, PUT once its manifests are there */
	wp_transfer_result *res;
} index_push;

/* The index (its bytes kept), then each manifest it names, pushed whole (not gone into). */
static int index_push_visit(void *ctx, const wp_graph_node *n, wp_error *err)
{
	index_push *p = ctx;
	wp_transfer_result one = { 0 };
	int rc;

	if (n->role == WP_GRAPH_TOP && n->rc < 0)
		return n->rc;
	if (n->role == WP_GRAPH_TOP)
		return wp_buf_append(&p->bytes, n->bytes->data, n->bytes->len) < 0
			       ? wp_error_set(err, WP_ETOOBIG, "the index %s is too large", n->desc->digest) : 0;
	if (n->rc == WP_ENOTFOUND)
		return wp_error_set(err, WP_ENOTFOUND, "the index %s names %s, which the store does not hold (pull it with "
				    "--all-platforms, or push one platform with --platform)", p->top->digest, n->desc->digest);
	if (n->rc < 0)
		return n->rc;
	if (!n->manifest)
		return wp_error_set(err, WP_EINVALID, "the index %s names %s, a '%s': only manifests are pushed",
				    p->top->digest, n->desc->digest, n->desc->media_type ? n->desc->media_type : "");
	if ((rc = push_manifest(p->s, p->r, &p->child_ref, n->desc, &one, err)) == 0)
		merge_result(p->res, &one);
	wp_transfer_result_release(&one);
	return rc < 0 ? rc : WP_GRAPH_PRUNE;
}

/* An index: each manifest it names (by digest, from the store), then the index itself
 * under ref's tag; platform ("os/arch") pushes that platform's manifest alone instead. */
static int push_index(wp_store *s, wp_client *r, const wp_ref *ref, const wp_descriptor *desc, const char *platform,
		      wp_transfer_result *res, wp_error *err)
{
	wp_blob_source src = wp_store_source(s);
	index_push p = { .s = s, .r = r, .child_ref = *ref, .top = desc, .res = res };
	int rc;

	if (platform) {
		wp_descriptor pick;

		if ((rc = wp_graph_resolve(&src, desc, platform, &pick, err)) == 0)
			rc = push_manifest(s, r, ref, &pick, res, err);
		wp_descriptor_release(&pick);
		return rc;
	}
	p.child_ref.tag = NULL;
	p.child_ref.digest = NULL;
	wp_buf_init(&p.bytes, WP_MANIFEST_MAX);
	if ((rc = wp_graph_walk(&src, desc, WP_GRAPH_READ_ERRORS, NULL, index_push_visit, &p, err)) == 0 &&
	    (rc = wp_transfer_put_manifest(r, ref->repository, ref->tag ? ref->tag : desc->digest, desc->media_type,
					   &p.bytes, desc->digest, err)) == 0)
		wp_descriptor_copy(&res->manifest, desc);
	wp_buf_release(&p.bytes);
	return rc;
}

int wp_transfer_push_platform(wp_store *s, wp_client *r, const wp_ref *ref, const wp_descriptor *desc,
			      const char *platform, wp_transfer_result *res, wp_error *err)
{
	memset(res, 0, sizeof(*res));
	if (wp_mediatype_is_index(desc->media_type))
		return push_index(s, r, ref, desc, platform, res, err);
	return push_manifest(s, r, ref, desc, res, err);
}

int wp_transfer_push(wp_store *s, wp_client *r, const wp_ref *ref, const wp_descriptor *desc,
		     wp_transfer_result *res, wp_error *err)
{
	return wp_transfer_push_platform(s, r, ref, desc, NULL, res, err);
}

static void pull_restart(pull_blob *b)
{
	wp_store_writer_abort(b->w);
	b->w = NULL;
	b->got = 0;
}

static int pull_done(wp_job *job, const wp_client_req *q, const wp_client_resp *p)
{
	pull_blob *b = job->ctx;
	char digest[WP_DIGEST_BUFSZ];
	int64_t size;
	int rc;

	(void)q;
	if (p->status == 200 && b->ranged && p->received + 0 != b->got) {
		/* Asked for a range, got the whole blob appended: start over without one. */
		pull_restart(b);
		return WP_XFER_RETRY;
	}
	if (p->sink_failed) {
		pull_restart(b);
		wp_error_set(&job->err, WP_EDIGEST, "blob %s is larger than its descriptor says (%lld bytes)",
			     b->report->digest, (long long)b->report->size);
		return WP_XFER_RETRY;
	}
	if (wp_client_transient(p)) {
		wp_client_check(p, "pulling a blob", &job->err);
		return WP_XFER_RETRY;
	}
	if (p->status != 200 && p->status != 206)
		return wp_client_check(p, "pulling a blob", &job->err) < 0 ? job->err.code :
		       wp_error_set(&job->err, WP_EFAIL, "pulling blob %s: HTTP %ld", b->report->digest, p->status);
	if (b->got < b->report->size) {
		wp_error_set(&job->err, WP_EIO, "blob %s ended after %lld of %lld bytes", b->report->digest,
			     (long long)b->got, (long long)b->report->size);
		return WP_XFER_RETRY;
	}
	rc = wp_store_writer_commit(b->w, b->report->digest, digest, &size, &job->err);
	b->w = NULL;
	b->got = 0;
	if (rc == WP_EDIGEST && ++b->digest_failures < 3) {
		wp_warn("blob %s arrived damaged; fetching it again", b->report->digest);
		return WP_XFER_RETRY;
	}
	if (rc < 0)
		return rc;
	b->report->outcome = "downloaded";
	b->finished = true;
	report_blob(b->reg, b->idx, b->report);
	return WP_XFER_NEXT;
}

/* The whole index: each manifest it names (by digest, untagged), then the index's own
 * bytes, stored last and tagged. */
static int pull_index_whole(wp_store *s, wp_client *r, const wp_ref *ref, const wp_buf *body, const char *mt,
			    const char *digest, unsigned flags, wp_transfer_result *res, wp_error *err)
{
	wp_index ix = { 0 };
	char stored[WP_DIGEST_BUFSZ];
	int rc;

	if ((rc = wp_index_parse(body->data, body->len, &ix, err)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < ix.n_manifests; i++) {
		wp_ref child = *ref;
		wp_transfer_result one = { 0 };

		child.tag = NULL;
		child.digest = ix.manifests[i].digest;
		rc = wp_transfer_pull(s, r, &child, NULL, WP_PULL_NO_TAG, &one, err);
		if (rc == 0)
			merge_result(res, &one);
		wp_transfer_result_release(&one);
	}
	wp_index_release(&ix);
	if (rc == 0 && (rc = wp_store_put_blob(s, body->data, body->len, stored, err)) == 0) {
		wp_descriptor_init(&res->manifest, mt, digest, (int64_t)body->len);
		res->index_digest = wp_xstrdup(digest);
		if (!(flags & WP_PULL_NO_TAG)) {
			wp_ref tagged = *ref;
			_cleanup_free_ char *tagname = NULL;

			tagged.digest = ref->tag ? NULL : (char *)digest;
			tagname = wp_ref_string(&tagged);
			rc = wp_store_tag(s, tagname, &res->manifest, err);
		}
	}
	return rc;
}

/* body holds the index at digest: the manifest the one platform picker chooses (the
 * store's and the node's pick: wasip1/wasm, else wasip2/wasm, or platform) replaces it,
 * with its media type and digest; the index's digest goes to res. */
static int follow_index(wp_client *r, const wp_ref *ref, const char *platform, wp_buf *body, char **mt,
			char digest[WP_DIGEST_BUFSZ], wp_transfer_result *res, wp_error *err)
{
	wp_descriptor pick;
	wp_index ix;
	int rc;

	if ((rc = wp_index_parse(body->data, body->len, &ix, err)) < 0)
		return rc;
	rc = wp_graph_pick(&ix, digest, platform, &pick, err);
	wp_index_release(&ix);
	if (rc < 0)
		return rc;
	res->index_digest = wp_xstrdup(digest);
	free(*mt);
	*mt = NULL;
	wp_buf_reset(body);
	rc = wp_remote_manifest(r, ref, pick.digest, body, mt, digest, err);
	wp_descriptor_release(&pick);
	return rc;
}

/* A pull job for each blob the store lacks (those it has are reported present); their
 * number. */
static size_t pull_jobs(wp_store *s, wp_client *r, const wp_ref *ref, wp_transfer_result *res, pull_blob *blobs,
			wp_job **jobs)
{
	size_t njobs = 0;

	for (size_t i = 0; i < res->n_blobs; i++) {
		int64_t have;

		if (wp_store_has_blob(s, res->blobs[i].digest, &have) && have == res->blobs[i].size) {
			res->blobs[i].outcome = "present";
			continue;
		}
		blobs[njobs].job.next = pull_next;
		blobs[njobs].job.done = pull_done;
		blobs[njobs].job.ctx = &blobs[njobs];
		blobs[njobs].store = s;
		blobs[njobs].reg = r;
		blobs[njobs].repo = ref->repository;
		blobs[njobs].report = &res->blobs[i];
		blobs[njobs].idx = i;
		jobs[njobs] = &blobs[njobs].job;
		njobs++;
	}
	return njobs;
}

/* The tag ref names is not in its repository: say so in the user's words, with the
 * repository's nearest tags (or that the repository has none), rather than the registry's
 * MANIFEST_UNKNOWN alone. Returns WP_ENOTFOUND. */
static int explain_missing_tag(wp_client *r, const wp_ref *ref, wp_error *err)
{
	wp_error listing = WP_ERROR_INIT; /* the registry client reads its error back: a real one */
	wp_error said = *err;             /* the registry's own words, kept at the end */
	wp_strv tags = { 0 };
	const char *near[4];
	size_t n;

	if (wp_remote_tags(r, ref->repository, &tags, &listing) < 0 || !tags.len) {
		wp_strv_release(&tags);
		wp_error_set(err, WP_ENOTFOUND, "%s has no repository %s (nor a tag '%s' in it)", ref->registry,
			     ref->repository, ref->tag);
		wp_error_append(err, " (the registry: %s)", said.msg);
		return WP_ENOTFOUND;
	}
	n = wp_str_nearest(ref->tag, (const char *const *)tags.items, tags.len, 3, near, WP_ARRAY_LEN(near));
	wp_error_set(err, WP_ENOTFOUND, "%s/%s has no tag '%s'", ref->registry, ref->repository, ref->tag);
	for (size_t i = 0; i < n; i++)
		wp_error_append(err, "%s%s", i ? ", " : "; the nearest it has: ", near[i]);
	if (!n)
		wp_error_append(err, "; it has %zu tag(s) ('wasmpack tags %s/%s' lists them)", tags.len, ref->registry,
				ref->repository);
	wp_error_append(err, " (the registry: %s)", said.msg);
	wp_strv_release(&tags);
	return WP_ENOTFOUND;
}

int wp_transfer_pull(wp_store *s, wp_client *r, const wp_ref *ref, const char *platform, unsigned flags,
		     wp_transfer_result *res, wp_error *err)
{
	long long started = mono_ms();
	wp_buf body;
	char *mt = NULL;
	char digest[WP_DIGEST_BUFSZ], stored[WP_DIGEST_BUFSZ];
	wp_manifest m = { 0 };
	pull_blob *blobs = NULL;
	wp_job **jobs = NULL;
	size_t njobs = 0;
	wp_progress *pg;
	_cleanup_free_ char *name = wp_ref_name(ref);
	_cleanup_free_ char *full = wp_ref_string(ref);
	int rc;

	memset(res, 0, sizeof(*res));
	wp_buf_init(&body, WP_MANIFEST_MAX);
	rc = wp_remote_manifest(r, ref, ref->digest ? ref->digest : ref->tag, &body, &mt, digest, err);
	if (rc == WP_ENOTFOUND && !ref->digest && ref->tag)
		rc = explain_missing_tag(r, ref, err);
	if (rc == 0 && wp_mediatype_is_index(mt) && (flags & WP_PULL_ALL_PLATFORMS)) {
		rc = pull_index_whole(s, r, ref, &body, mt, digest, flags, res, err);
		goto done;
	}
	if (rc == 0 && wp_mediatype_is_index(mt))
		rc = follow_index(r, ref, platform, &body, &mt, digest, res, err);
	if (rc < 0)
		goto done;
	if (!wp_mediatype_is_manifest(mt)) {
		rc = wp_error_set(err, WP_EINVALID, "'%s' is a '%s', not an image manifest", full ? full : "", mt);
		goto done;
	}
	if ((rc = wp_manifest_parse(body.data, body.len, &m, err)) < 0)
		goto done;
	add_reports(res, &m);
	blobs = wp_xcalloc(res->n_blobs, sizeof(*blobs));
	jobs = wp_xcalloc(res->n_blobs, sizeof(*jobs));
	njobs = pull_jobs(s, r, ref, res, blobs, jobs);
	pg = progress_start(r, res, "pulling");
	for (size_t i = 0; i < res->n_blobs; i++)
		if (res->blobs[i].outcome)
			report_blob(r, i, &res->blobs[i]);
	rc = njobs ? wp_client_run(r, jobs, njobs, err) : 0;
	progress_stop(r, pg);
	if (rc < 0)
		goto done;
	/* The manifest goes in last: it never points at blobs the store lacks. */
	if ((rc = wp_store_put_blob(s, body.data, body.len, stored, err)) < 0)
		goto done;
	wp_descriptor_init(&res->manifest, mt, digest, (int64_t)body.len);
	{
		wp_ref tagged = *ref;
		_cleanup_free_ char *tagname = NULL;

		if (!ref->tag)
			tagged.digest = digest;
		else
			tagged.digest = NULL;
		tagname = wp_ref_string(&tagged);
		if (!(flags & WP_PULL_NO_TAG) && (rc = wp_store_tag(s, tagname, &res->manifest, err)) < 0)
			goto done;
	}
	remember_origins(s, name, res);
	wp_client_get_stats(r, &res->stats);
	report_total(r, res, mono_ms() - started, "pulled");
done:
	for (size_t i = 0; i < njobs; i++)
		wp_store_writer_abort(blobs[i].w);
	free(blobs);
	free(jobs);
	free(mt);
	wp_manifest_release(&m);
	wp_buf_release(&body);
	if (rc < 0)
		wp_error_prefix(err, "pulling %s", full ? full : "");
	return rc;
}
