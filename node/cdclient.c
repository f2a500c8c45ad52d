#include "node/cdclient.h"
#include "common/pb.h"
#include "oci/digest.h"
#include "common/util.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

/* A request of a few names and digests (not a container spec: MSG_MAX). */
#define REQ_MAX 4096

/* A response message over 16 MiB is refused (Content.Read sends 1 MiB chunks). */
#define MSG_MAX (16u << 20)

typedef struct call {
	wp_cdclient_msg_fn on_msg;
	void *ctx;
	wp_buf pending;
	int status;          /* -1 until grpc-status arrives */
	char message[512];
	int stopped;
	wp_error *err;
} call;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	call *c = arg;
	size_t len = size * n;

	if (c->stopped || wp_buf_append(&c->pending, data, len) < 0)
		return 0;
	for (;;) {
		const uint8_t *p = (const uint8_t *)c->pending.data;
		uint32_t mlen;

		if (c->pending.len < 5)
			break;
		mlen = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
		if (p[0] != 0 || mlen > MSG_MAX) {
			c->stopped = wp_error_set(c->err, WP_EINVALID, "containerd sent a %s message",
						  p[0] ? "compressed" : "too large a");
			return 0;
		}
		if (c->pending.len < 5 + (size_t)mlen)
			break;
		if (c->on_msg && (c->stopped = c->on_msg(c->ctx, p + 5, mlen, c->err)) != 0)
			return 0;
		memmove(c->pending.data, c->pending.data + 5 + mlen, c->pending.len - 5 - mlen);
		c->pending.len -= 5 + mlen;
	}
	return len;
}

/* grpc-status and grpc-message come as trailers (or as headers in a trailers-only answer). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	call *c = arg;
	size_t len = size * n, vlen;
	const char *v;

	if (len > 12 && !strncasecmp(data, "grpc-status:", 12)) {
		c->status = atoi(data + 12);
	} else if (len > 13 && !strncasecmp(data, "grpc-message:", 13)) {
		v = data + 13;
		while (*v == ' ')
			v++;
		vlen = len - (size_t)(v - data);
		while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
			vlen--;
		snprintf(c->message, sizeof(c->message), "%.*s", (int)vlen, v);
	}
	return len;
}

int wp_cdclient_call(const wp_cdclient *cd, const char *method, const wp_buf *req, wp_cdclient_msg_fn on_msg, void *ctx, wp_error *err)
{
	call c = { .on_msg = on_msg, .ctx = ctx, .status = -1, .err = err };
	struct curl_slist *hdrs = NULL;
	_cleanup_free_ char *url = wp_str_fmt("http://containerd%s", method);
	_cleanup_free_ char *nsh = wp_str_fmt("containerd-namespace: %s", cd->ns);
	wp_buf body;
	CURL *h;
	CURLcode cc;
	int rc = 0;

	wp_buf_init(&c.pending, MSG_MAX + 5);
	wp_buf_init(&body, MSG_MAX + 5);
	{
		uint8_t pre[5] = { 0, (uint8_t)(req->len >> 24), (uint8_t)(req->len >> 16), (uint8_t)(req->len >> 8),
				   (uint8_t)req->len };

		if (wp_buf_append(&body, pre, 5) < 0 || (req->len && wp_buf_append(&body, req->data, req->len) < 0)) {
			wp_buf_release(&body);
			return wp_error_set(err, WP_ETOOBIG, "request too large");
		}
	}
	if (!(h = curl_easy_init())) {
		wp_buf_release(&body);
		return wp_error_set(err, WP_ENOMEM, "libcurl could not start a request");
	}
	hdrs = curl_slist_append(hdrs, "content-type: application/grpc");
	hdrs = curl_slist_append(hdrs, "te: trailers");
	hdrs = curl_slist_append(hdrs, nsh);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, cd->socket);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
	cc = curl_easy_perform(h);
	if (c.stopped)
		rc = c.stopped;
	else if (cc != CURLE_OK)
		rc = wp_error_set(err, WP_EIO, "containerd at '%s': %s: %s", cd->socket, method, curl_easy_strerror(cc));
	else if (c.status != 0)
		rc = wp_error_set(err, c.status == 5 ? WP_ENOTFOUND : WP_EFAIL, "containerd: %s: %s (grpc status %d)", method,
				  c.message[0] ? c.message : "no status", c.status);
	else if (c.pending.len)
		rc = wp_error_set(err, WP_EINVALID, "containerd: %s: a truncated message", method);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	wp_buf_release(&body);
	wp_buf_release(&c.pending);
	return rc;
}

/* Finds field num (LEN) in a message; 1 found, 0 not, -1 malformed. */
static int find_len(const uint8_t *data, size_t len, uint32_t num, const uint8_t **out, size_t *out_len)
{
	wp_pb_reader r;
	wp_pb_field f;
	int n, found = 0;

	wp_pb_reader_init(&r, data, len);
	while ((n = wp_pb_next(&r, &f)) > 0)
		if (f.num == num && f.wire == WP_PB_LEN) {
			*out = f.data;
			*out_len = f.len;
			found = 1;
		}
	return n < 0 ? -1 : found;
}

typedef struct one_msg {
	wp_buf data;
	int count;
} one_msg;

static int keep_msg(void *ctx, const uint8_t *msg, size_t len, wp_error *err)
{
	one_msg *o = ctx;

	o->count++;
	wp_buf_reset(&o->data);
	if (wp_buf_append(&o->data, msg, len) < 0)
		return wp_error_set(err, WP_ETOOBIG, "containerd's answer is too large");
	return 0;
}

static int unary(const wp_cdclient *cd, const char *method, const wp_buf *req, one_msg *o, wp_error *err)
{
	int rc;

	wp_buf_init(&o->data, MSG_MAX);
	o->count = 0;
	if ((rc = wp_cdclient_call(cd, method, req, keep_msg, o, err)) == 0 && o->count != 1)
		rc = wp_error_set(err, WP_EINVALID, "containerd: %s: %d answers where one was expected", method, o->count);
	return rc;
}

int wp_cdclient_container_image(const wp_cdclient *cd, const char *id, char **image, wp_error *err)
{
	wp_buf req;
	one_msg o;
	const uint8_t *c, *im;
	size_t c_len, im_len;
	int rc, f;

	wp_buf_init(&req, REQ_MAX);
	if ((rc = wp_pb_put_str(&req, 1, id)) == 0 &&
	    (rc = unary(cd, "/containerd.services.containers.v1.Containers/Get", &req, &o, err)) == 0) {
		if (find_len((uint8_t *)o.data.data, o.data.len, 1, &c, &c_len) != 1 ||
		    (f = find_len(c, c_len, 3, &im, &im_len)) < 0)
			rc = wp_error_set(err, WP_EINVALID, "containerd: a malformed container record for '%s'", id);
		else
			*image = f ? wp_xstrndup((const char *)im, im_len) : wp_xstrdup("");
	}
	if (rc < 0)
		wp_error_prefix(err, "container '%s'", id);
	wp_buf_release(&req);
	wp_buf_release(&o.data);
	return rc;
}

int wp_cdclient_container_snapshot_parent(const wp_cdclient *cd, const char *id, char **parent, wp_error *err)
{
	wp_buf req, sreq;
	one_msg o = { 0 }, so = { 0 };
	const uint8_t *c, *sn, *key, *info, *par;
	size_t c_len, sn_len, key_len, info_len, par_len;
	_cleanup_free_ char *snapshotter = NULL;
	int rc, f;

	*parent = NULL;
	wp_buf_init(&req, REQ_MAX);
	wp_buf_init(&sreq, REQ_MAX);
	/* Container {snapshotter = 6, snapshot_key = 7} */
	if ((rc = wp_pb_put_str(&req, 1, id)) == 0 &&
	    (rc = unary(cd, "/containerd.services.containers.v1.Containers/Get", &req, &o, err)) == 0) {
		if (find_len((uint8_t *)o.data.data, o.data.len, 1, &c, &c_len) != 1 ||
		    find_len(c, c_len, 6, &sn, &sn_len) != 1 || find_len(c, c_len, 7, &key, &key_len) != 1)
			rc = wp_error_set(err, WP_ENOTFOUND, "container '%s' has no snapshot", id);
		else {
			snapshotter = wp_xstrndup((const char *)sn, sn_len);
			/* StatSnapshotRequest {snapshotter = 1, key = 2} -> {info = 1}: Info {parent = 2} */
			if ((rc = wp_pb_put_str(&sreq, 1, snapshotter)) == 0 &&
			    (rc = wp_pb_put_bytes(&sreq, 2, key, key_len)) == 0 &&
			    (rc = unary(cd, "/containerd.services.snapshots.v1.Snapshots/Stat", &sreq, &so, err)) == 0) {
				if (find_len((uint8_t *)so.data.data, so.data.len, 1, &info, &info_len) != 1 ||
				    (f = find_len(info, info_len, 2, &par, &par_len)) < 0)
					rc = wp_error_set(err, WP_EINVALID, "containerd: a malformed snapshot record");
				else
					*parent = f ? wp_xstrndup((const char *)par, par_len) : wp_xstrdup("");
			}
			wp_buf_release(&so.data);
		}
		wp_buf_release(&o.data);
	}
	if (rc < 0)
		wp_error_prefix(err, "the snapshot of container '%s'", id);
	wp_buf_release(&req);
	wp_buf_release(&sreq);
	return rc;
}

int wp_cdclient_content_exists(const wp_cdclient *cd, const char *digest, wp_error *err)
{
	wp_buf req;
	one_msg o = { 0 };
	int rc;

	/* Content.Info {digest = 1}: NOT_FOUND when containerd no longer holds it */
	wp_buf_init(&req, 256);
	if ((rc = wp_pb_put_str(&req, 1, digest)) == 0)
		rc = unary(cd, "/containerd.services.content.v1.Content/Info", &req, &o, err);
	wp_buf_release(&o.data);
	wp_buf_release(&req);
	return rc;
}

int wp_cdclient_image_target(const wp_cdclient *cd, const char *name, wp_descriptor *target, wp_error *err)
{
	wp_buf req;
	one_msg o;
	const uint8_t *im, *t;
	size_t im_len, t_len;
	int rc;

	memset(target, 0, sizeof(*target));
	wp_buf_init(&req, REQ_MAX);
	if ((rc = wp_pb_put_str(&req, 1, name)) == 0 &&
	    (rc = unary(cd, "/containerd.services.images.v1.Images/Get", &req, &o, err)) == 0) {
		wp_pb_reader r;
		wp_pb_field f;
		int n;

		if (find_len((uint8_t *)o.data.data, o.data.len, 1, &im, &im_len) != 1 ||
		    find_len(im, im_len, 3, &t, &t_len) != 1) {
			rc = wp_error_set(err, WP_EINVALID, "containerd: image '%s' has no target", name);
			goto done;
		}
		/* containerd.types.Descriptor {media_type = 1, digest = 2, size = 3} */
		wp_pb_reader_init(&r, t, t_len);
		while ((n = wp_pb_next(&r, &f)) > 0) {
			if (f.num == 1 && f.wire == WP_PB_LEN) {
				free(target->media_type);
				target->media_type = wp_pb_strdup(&f);
			} else if (f.num == 2 && f.wire == WP_PB_LEN && f.len < sizeof(target->digest)) {
				memcpy(target->digest, f.data, f.len);
				target->digest[f.len] = '\0';
			} else if (f.num == 3 && f.wire == WP_PB_VARINT)
				target->size = (int64_t)f.v;
		}
		if (n < 0 || !target->media_type || wp_digest_check(target->digest, err) < 0)
			rc = wp_error_set(err, WP_EINVALID, "containerd: image '%s' has a malformed target", name);
	}
done:
	if (rc < 0) {
		wp_descriptor_release(target);
		wp_error_prefix(err, "image '%s'", name);
	}
	wp_buf_release(&req);
	wp_buf_release(&o.data);
	return rc;
}

typedef struct fetch {
	wp_store_writer *w;
	uint64_t got;
	int64_t size;               /* -1: unknown */
	uint64_t max;
} fetch;

static int on_chunk(void *ctx, const uint8_t *msg, size_t len, wp_error *err)
{
	fetch *f = ctx;
	const uint8_t *d;
	size_t d_len;
	int found = find_len(msg, len, 2, &d, &d_len);

	if (found < 0)
		return wp_error_set(err, WP_EINVALID, "containerd sent a malformed content chunk");
	if (!found)
		return 0;
	f->got += d_len;
	if (f->size >= 0 && f->got > (uint64_t)f->size)
		return wp_error_set(err, WP_EDIGEST, "containerd sent more bytes than the blob's size %lld", (long long)f->size);
	if (f->got > f->max)
		return wp_error_set(err, WP_ETOOBIG, "containerd sent a blob larger than %llu bytes", (unsigned long long)f->max);
	return wp_store_writer_write(f->w, d, d_len, err);
}

static int fetch_blob(const wp_cdclient *cd, wp_store *s, const char *digest, int64_t size, uint64_t max, wp_error *err)
{
	fetch f = { .size = size, .max = max };
	wp_buf req;
	char got[WP_DIGEST_BUFSZ];
	int64_t have;
	int rc;

	if (wp_store_has_blob(s, digest, &have) && (size < 0 || have == size))
		return 0;
	if ((rc = wp_store_writer_new(s, &f.w, err)) < 0)
		return rc;
	wp_buf_init(&req, REQ_MAX);
	if ((rc = wp_pb_put_str(&req, 1, digest)) == 0 &&
	    (rc = wp_cdclient_call(cd, "/containerd.services.content.v1.Content/Read", &req, on_chunk, &f, err)) == 0) {
		if (size >= 0 && f.got != (uint64_t)size)
			rc = wp_error_set(err, WP_EDIGEST, "blob %s: containerd sent %llu bytes where the descriptor says %lld",
					  digest, (unsigned long long)f.got, (long long)size);
		else {
			rc = wp_store_writer_commit(f.w, digest, got, NULL, err);
			f.w = NULL;
		}
	}
	if (f.w)
		wp_store_writer_abort(f.w);
	wp_buf_release(&req);
	return rc;
}

int wp_cdclient_fetch_blob(const wp_cdclient *cd, wp_store *s, const char *digest, int64_t size, wp_error *err)
{
	return fetch_blob(cd, s, digest, size, UINT64_MAX, err);
}

static int source_read(void *ctx, const char *digest, const char *media_type, size_t max, wp_buf *out, wp_error *err)
{
	wp_cdclient_content *c = ctx;
	int rc;

	(void)media_type;
	if ((rc = wp_digest_check(digest, err)) < 0 || (rc = fetch_blob(c->cd, c->into, digest, -1, max, err)) < 0)
		return rc;
	return wp_store_read_blob(c->into, digest, max, out, err);
}

static int source_has(void *ctx, const char *digest, wp_error *err)
{
	wp_cdclient_content *c = ctx;
	int rc = wp_cdclient_content_exists(c->cd, digest, err);

	return rc == 0 ? 1 : rc == WP_ENOTFOUND ? 0 : rc;
}

wp_blob_source wp_cdclient_source(wp_cdclient_content *c)
{
	return (wp_blob_source){ .read = source_read, .has = source_has, .ctx = c };
}

int wp_cdclient_container_create(const wp_cdclient *cd, const char *id, const char *image, const char *runtime,
			   const char *spec_json, wp_error *err)
{
	wp_buf c, rt, req;
	int rc;

	wp_buf_init(&c, MSG_MAX);
	wp_buf_init(&rt, REQ_MAX);
	wp_buf_init(&req, MSG_MAX);
	{
		wp_buf js = { .data = (char *)spec_json, .len = strlen(spec_json) };

		/* The spec is an Any holding the runtime spec as JSON, under the type URL
		 * containerd registers for it. */
		if ((rc = wp_pb_put_str(&rt, 1, runtime)) == 0 && (rc = wp_pb_put_str(&c, 1, id)) == 0 &&
		    (rc = wp_pb_put_str(&c, 3, image)) == 0 && (rc = wp_pb_put_msg(&c, 4, &rt)) == 0 &&
		    (rc = wp_pb_put_any(&c, 5, "types.containerd.io/opencontainers/runtime-spec/1/Spec", &js)) == 0 &&
		    (rc = wp_pb_put_msg(&req, 1, &c)) == 0)
			rc = wp_cdclient_call(cd, "/containerd.services.containers.v1.Containers/Create", &req, NULL, NULL, err);
	}
	wp_buf_release(&c);
	wp_buf_release(&rt);
	wp_buf_release(&req);
	return rc;
}

int wp_cdclient_container_delete(const wp_cdclient *cd, const char *id, wp_error *err)
{
	wp_buf req;
	int rc;

	wp_buf_init(&req, REQ_MAX);
	if ((rc = wp_pb_put_str(&req, 1, id)) == 0)
		rc = wp_cdclient_call(cd, "/containerd.services.containers.v1.Containers/Delete", &req, NULL, NULL, err);
	wp_buf_release(&req);
	return rc;
}

int wp_cdclient_image_names(const wp_cdclient *cd, const char *digest, wp_strv *names, wp_error *err)
{
	_cleanup_free_ char *filter = wp_str_fmt("target.digest==%s", digest);
	wp_buf req;
	one_msg o;
	int rc;

	/* ListImagesRequest {filters = 1} -> ListImagesResponse {images = 1}, Image {name = 1} */
	wp_buf_init(&req, REQ_MAX);
	if ((rc = wp_pb_put_str(&req, 1, filter)) == 0 &&
	    (rc = unary(cd, "/containerd.services.images.v1.Images/List", &req, &o, err)) == 0) {
		wp_pb_reader r;
		wp_pb_field f;
		int n;

		wp_pb_reader_init(&r, (const uint8_t *)o.data.data, o.data.len);
		while ((n = wp_pb_next(&r, &f)) > 0) {
			const uint8_t *nm;
			size_t nl;

			if (f.num == 1 && f.wire == WP_PB_LEN && find_len(f.data, f.len, 1, &nm, &nl) == 1) {
				_cleanup_free_ char *name = wp_xstrndup((const char *)nm, nl);

				wp_strv_push(names, name);
			}
		}
		if (n < 0)
			rc = wp_error_set(err, WP_EINVALID, "containerd: a malformed list of images");
	}
	wp_buf_release(&req);
	wp_buf_release(&o.data);
	return rc;
}
