#include "registry/client.h"
#include "common/json.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/toml.h"
#include "common/fs.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define ERROR_BODY_MAX (64u << 10)
#define HEADER_VALUE_MAX 8192
#define MAX_REDIRECTS 5
#define USER_AGENT "wasmpack/0.1.0"
/* libcurl's receive buffer (its default is 16 KiB): a blob arrives in pieces this large
 * where the socket has them, so a 512 MiB pull makes about 4,100 recv and poll calls, not
 * 33,500 of each (512 KiB pieces measured slower: the receiving thread then holds one
 * transfer longer while the others wait). */
#define RECV_BUFFER (128u << 10)

typedef struct token {
	char *scope;
	char *header;
	long long expires_ms;
} token;

struct wp_client {
	char *registry;
	char *base;
	wp_client_opts opts;
	char *ca_file;
	wp_auth_cred cred;
	token *tokens;
	size_t ntokens;
	bool basic;
	bool plain_http_set;  /* config.toml names plain_http for this registry */
	bool fell_back;       /* a loopback registry answered HTTPS with plain HTTP */
	wp_progress *progress;
	CURLSH *share;
	wp_client_stats stats;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void global_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void curl_global(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, global_init_once);
}

/* ---- requests and answers ---- */

void wp_client_req_init(wp_client_req *q, const char *method, char *url)
{
	memset(q, 0, sizeof(*q));
	q->method = method;
	q->url = url;
	q->body_fd = -1;
	q->progress_item = -1;
}

void wp_client_req_release(wp_client_req *q)
{
	free(q->url);
	free(q->scope);
	free(q->content_type);
	free(q->accept);
	free(q->content_range);
	free(q->range);
	q->url = q->scope = q->content_type = q->accept = q->content_range = q->range = NULL;
}

/* What the engine keeps of a job while it runs it. */
struct wp_job_run {
	int attempts;
	int redirects;
	int auth_tries;
	long long wake_at_ms;
};

void wp_client_resp_init(wp_client_resp *p)
{
	memset(p, 0, sizeof(*p));
	wp_buf_init(&p->error_body, ERROR_BODY_MAX);
	p->retry_after = -1;
	p->content_length = -1;
}

void wp_client_resp_release(wp_client_resp *p)
{
	free(p->location);
	free(p->www_authenticate);
	free(p->content_type);
	free(p->docker_content_digest);
	free(p->range);
	free(p->link);
	wp_buf_release(&p->error_body);
	memset(p, 0, sizeof(*p));
}

void wp_client_resp_reset(wp_client_resp *p)
{
	wp_client_resp_release(p);
	wp_client_resp_init(p);
}

/* ---- settings ---- */

/* A key config.toml does not know: said with the file and line (a typo should not be a
 * setting that silently does nothing), with the closest known key. */
static void warn_unknown(const char *path, const wp_toml *t, const char *where, const char *const *known, size_t n)
{
	for (size_t i = 0; t && t->type == WP_TOML_TABLE && i < t->u.tab.len; i++) {
		const char *k = t->u.tab.keys[i], *near;
		bool ok = false;

		for (size_t j = 0; j < n && !ok; j++)
			ok = !strcmp(k, known[j]);
		if (ok)
			continue;
		near = wp_str_closest(k, known, n);
		wp_warn("%s:%d: unknown key '%s'%s%s%s%s (ignored)", path, t->u.tab.vals[i]->line, k, where,
			near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
	}
}

/* Every key of the file, for warn_unknown: [registry."HOST"] tables of three settings. */
static void check_settings(const char *path, const wp_toml *doc)
{
	static const char *const top[] = { "registry", "cache" };
	static const char *const reg[] = { "plain_http", "insecure", "ca_file" };
	const wp_toml *regs = wp_toml_get_table(doc, "registry");

	warn_unknown(path, doc, "", top, WP_ARRAY_LEN(top));
	for (size_t i = 0; regs && i < regs->u.tab.len; i++) {
		_cleanup_free_ char *where = wp_str_fmt(" in [registry.\"%s\"]", regs->u.tab.keys[i]);

		if (regs->u.tab.vals[i]->type == WP_TOML_TABLE)
			warn_unknown(path, regs->u.tab.vals[i], where, reg, WP_ARRAY_LEN(reg));
	}
}

static int load_settings(wp_client *r, wp_error *err)
{
	_cleanup_free_ char *path = wp_config_path();
	const wp_toml *regs, *mine;
	wp_toml *doc = NULL;
	wp_buf data;
	int rc;

	if (!path)
		return 0;
	wp_buf_init(&data, 1 << 20);
	rc = wp_fs_read_file(path, 1 << 20, &data, err);
	if (rc == WP_ENOTFOUND) {
		wp_buf_release(&data);
		return 0;
	}
	if (rc == 0)
		rc = wp_toml_parse(data.data, data.len, &doc, err);
	wp_buf_release(&data);
	if (rc < 0)
		return wp_error_prefix(err, "reading '%s'", path);
	check_settings(path, doc);
	regs = wp_toml_get_table(doc, "registry");
	mine = wp_toml_get_table(regs, r->registry);
	if (mine) {
		const wp_toml *v;

		if ((v = wp_toml_get(mine, "plain_http")) && v->type == WP_TOML_BOOL) {
			/* false says "never": no fallback to plain HTTP on a loopback registry */
			r->plain_http_set = true;
			if (v->u.b)
				r->opts.plain_http = true;
		}
		if ((v = wp_toml_get(mine, "insecure")) && v->type == WP_TOML_BOOL && v->u.b)
			r->opts.insecure = true;
		if (!r->ca_file && wp_toml_get_str(mine, "ca_file"))
			r->ca_file = wp_xstrdup(wp_toml_get_str(mine, "ca_file"));
	}
	wp_toml_free(doc);
	return 0;
}

int wp_client_open(wp_client **out, const char *registry, const wp_client_opts *opts, wp_error *err)
{
	wp_client *r = wp_xcalloc(1, sizeof(*r));
	const char *host;
	int rc = 0;

	*out = NULL;
	curl_global();
	if (opts)
		r->opts = *opts;
	if (r->opts.concurrency <= 0)
		r->opts.concurrency = 4;
	if (r->opts.max_attempts <= 0)
		r->opts.max_attempts = 5;
	r->registry = wp_xstrdup(registry);
	r->ca_file = opts && opts->ca_file ? wp_xstrdup(opts->ca_file) : NULL;
	if ((rc = load_settings(r, err)) < 0 || (rc = wp_auth_creds_lookup(registry, &r->cred, err)) < 0) {
		wp_client_close(r);
		return rc;
	}
	if (r->cred.secret)
		wp_debug("%s: credentials of %s from %s", registry, r->cred.username && *r->cred.username ? r->cred.username :
			 "(a token)", r->cred.source ? r->cred.source : "?");
	else
		wp_debug("%s: no credentials stored: anonymous", registry);
	host = !strcmp(registry, "docker.io") ? "registry-1.docker.io" : registry;
	r->base = wp_str_fmt("%s://%s", r->opts.plain_http ? "http" : "https", host);
	r->share = curl_share_init();
	if (!r->share) {
		wp_client_close(r);
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	}
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = r;
	return 0;
}

void wp_client_close(wp_client *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ntokens; i++) {
		free(r->tokens[i].scope);
		if (r->tokens[i].header)
			OPENSSL_cleanse(r->tokens[i].header, strlen(r->tokens[i].header));
		free(r->tokens[i].header);
	}
	free(r->tokens);
	wp_auth_cred_release(&r->cred);
	if (r->share)
		curl_share_cleanup(r->share);
	free(r->registry);
	free(r->base);
	free(r->ca_file);
	free(r);
}

int wp_client_set_cred(wp_client *r, const char *username, const char *secret)
{
	wp_auth_cred_release(&r->cred);
	r->cred.username = wp_xstrdup(username);
	r->cred.secret = wp_xstrdup(secret);
	r->cred.source = wp_xstrdup("the command line");
	return 0;
}

void wp_client_set_progress(wp_client *r, wp_progress *p)
{
	r->progress = p;
}

wp_progress *wp_client_get_progress(const wp_client *r)
{
	return r->progress;
}

FILE *wp_client_progress(const wp_client *r)
{
	return r->opts.progress;
}

const char *wp_client_base_url(const wp_client *r)
{
	return r->base;
}

int wp_client_concurrency(const wp_client *r)
{
	return r->opts.concurrency;
}

void wp_client_get_stats(const wp_client *r, wp_client_stats *out)
{
	*out = r->stats;
}

char *wp_client_scope(const char *repo, const char *actions)
{
	return wp_str_fmt("repository:%s:%s", repo, actions);
}

char *wp_client_url(const wp_client *r, const char *path_or_url)
{
	CURLU *u;
	char *res = NULL, *out;

	if (path_or_url[0] == '/' && path_or_url[1] != '/')
		return wp_str_fmt("%s%s", r->base, path_or_url);
	u = curl_url();
	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, r->base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, path_or_url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &res, 0) == CURLUE_OK) {
		out = wp_xstrdup(res);
		curl_free(res);
		curl_url_cleanup(u);
		return out;
	}
	curl_url_cleanup(u);
	return NULL;
}

/* ---- authentication ---- */

static const char *token_for(wp_client *r, const char *scope)
{
	long long now = now_ms();

	for (size_t i = 0; i < r->ntokens; i++)
		if (!strcmp(r->tokens[i].scope, scope ? scope : "") && r->tokens[i].expires_ms > now)
			return r->tokens[i].header;
	return NULL;
}

/* Takes header. */
static void token_put(wp_client *r, const char *scope, char *header, long long expires_ms)
{
	token *t;

	for (size_t i = 0; i < r->ntokens; i++)
		if (!strcmp(r->tokens[i].scope, scope ? scope : "")) {
			free(r->tokens[i].header);
			r->tokens[i].header = header;
			r->tokens[i].expires_ms = expires_ms;
			return;
		}
	r->tokens = t = wp_xreallocarray(r->tokens, r->ntokens + 1, sizeof(*t));
	t[r->ntokens].scope = wp_xstrdup(scope ? scope : "");
	t[r->ntokens].header = header;
	t[r->ntokens].expires_ms = expires_ms;
	r->ntokens++;
}

static char *basic_header(const wp_auth_cred *c)
{
	_cleanup_free_ char *pair = wp_str_fmt("%s:%s", c->username ? c->username : "", c->secret);
	size_t len = strlen(pair);
	char *enc = wp_xmalloc(len / 3 * 4 + 8), *h;

	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)pair, (int)len);
	h = wp_str_fmt("Authorization: Basic %s", enc);
	OPENSSL_cleanse(pair, len);
	OPENSSL_cleanse(enc, strlen(enc));
	free(enc);
	return h;
}

/* Do URLs a and b share scheme, host and port (the port a scheme implies when none is
 * written)? With schemes false, only host and port. */
static bool same_place(const char *a, const char *b, bool schemes)
{
	CURLU *ua = curl_url(), *ub = curl_url();
	char *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL, *sa = NULL, *sb = NULL;
	bool same = false;

	if (ua && ub && curl_url_set(ua, CURLUPART_URL, a, 0) == CURLUE_OK &&
	    curl_url_set(ub, CURLUPART_URL, b, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_HOST, &ha, 0) == CURLUE_OK && curl_url_get(ub, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
	    curl_url_get(ua, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK && curl_url_get(ub, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK) {
		curl_url_get(ua, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT);
		curl_url_get(ub, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT);
		same = !strcasecmp(ha, hb) && pa && pb && !strcmp(pa, pb) && (!schemes || !strcasecmp(sa, sb));
	}
	curl_free(ha);
	curl_free(hb);
	curl_free(pa);
	curl_free(pb);
	curl_free(sa);
	curl_free(sb);
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

static bool same_host(const char *a, const char *b)
{
	return same_place(a, b, false);
}

bool wp_client_same_origin(const wp_client *r, const char *url)
{
	return url && same_place(r->base, url, true);
}

static const char *auth_header(wp_client *r, const wp_client_req *q)
{
	static __thread char *basic;

	/* Credentials go only to the registry itself: a URL the registry handed out (an
	 * upload's Location, a redirect, a next page) on another scheme, host or port gets
	 * none, whichever request follows it (as containerd's docker resolver does). */
	if (q->no_auth || !wp_client_same_origin(r, q->url))
		return NULL;
	if (r->basic && r->cred.secret) {
		free(basic);
		basic = basic_header(&r->cred);
		return basic;
	}
	return token_for(r, q->scope);
}

/* Only http(s) ever goes out (libcurl knows gopher, file, dict, ... too), and http only
 * for a registry configured plain-http: no downgrade by a redirect or a token realm. */
static const char *allowed_protocols(const wp_client *r)
{
	return r->opts.plain_http ? "http,https" : "https";
}

/* 0 if url may be requested for r, else an error naming its scheme. */
static int check_scheme(const wp_client *r, const char *url, const char *what, wp_error *err)
{
	size_t n = strcspn(url, ":");

	if (url[n] == ':' && ((n == 5 && !strncasecmp(url, "https", 5)) || (n == 4 && !strncasecmp(url, "http", 4) && r->opts.plain_http)))
		return 0;
	if (url[n] == ':' && n == 4 && !strncasecmp(url, "http", 4))
		return wp_error_set(err, WP_EINVALID, "refusing %s '%s': plain http from a registry reached over https", what, url);
	return wp_error_set(err, WP_EINVALID, "refusing %s '%s': the scheme '%.*s' is not http or https", what, url,
			    (int)(url[n] == ':' && n < 32 ? n : 0), url);
}

static void apply_tls(wp_client *r, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, allowed_protocols(r));
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, allowed_protocols(r));
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r->opts.insecure ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r->opts.insecure ? 0L : 2L);
	if (r->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, wp_client_stall_seconds());
	curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(e, CURLOPT_SHARE, r->share);
}

/* A token for scope from the realm of challenge c, kept for its lifetime. The request
 * goes out with this client's transport settings; auth.c speaks the token service. */
static int fetch_token(wp_client *r, const wp_auth_challenge *c, const char *scope, wp_error *err)
{
	CURL *e;
	char *tok = NULL;
	long long ttl = 0;
	int rc;

	if ((rc = check_scheme(r, c->realm, "the token realm", err)) < 0)
		return rc;
	if (!(e = curl_easy_init()))
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	apply_tls(r, e);
	rc = wp_auth_token_fetch(e, c, scope, &r->cred, r->registry, &tok, &ttl, err);
	r->stats.requests++;
	curl_easy_cleanup(e);
	if (rc < 0)
		return rc;
	token_put(r, scope, wp_str_fmt("Authorization: Bearer %s", tok), now_ms() + (ttl > 30 ? ttl - 10 : ttl) * 1000);
	wp_debug("%s: a token for '%s' from %s, good for %lld s", r->registry, scope ? scope : "", c->realm, ttl);
	OPENSSL_cleanse(tok, strlen(tok));
	free(tok);
	return 0;
}

static int authenticate(wp_client *r, const char *header, const char *scope, wp_error *err)
{
	wp_auth_challenge c;
	int rc;

	if (!header)
		return wp_error_set(err, WP_EAUTH, "%s answered 401 without a WWW-Authenticate challenge", r->registry);
	if ((rc = wp_auth_challenge_parse(header, &c, err)) < 0)
		return rc;
	if (!strcasecmp(c.scheme, "basic")) {
		if (!r->cred.secret)
			rc = wp_error_set(err, WP_EAUTH, "%s requires credentials: run 'wasmpack login %s'", r->registry, r->registry);
		else if (r->basic)
			rc = wp_error_set(err, WP_EAUTH, "%s refused the credentials from %s", r->registry, r->cred.source);
		r->basic = true;
	} else if (!strcasecmp(c.scheme, "bearer") && c.realm) {
		rc = fetch_token(r, &c, scope, err);
	} else {
		rc = wp_error_set(err, WP_EAUTH, "%s asks for an unsupported authentication scheme '%s'", r->registry, c.scheme);
	}
	wp_auth_challenge_release(&c);
	return rc;
}

/* ---- one easy handle per request in flight ---- */

typedef struct slot {
	wp_client *reg;
	wp_job *job;
	CURL *easy;
	struct curl_slist *hdrs;
	wp_client_req req;
	wp_client_resp resp;
	int64_t body_pos;
	char *auth_used;
	char errbuf[CURL_ERROR_SIZE];
	long long started_ms;      /* when the request went out, for -v */
} slot;

static char *header_value(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	const char *v, *e;

	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return NULL;
	for (v = line + n + 1; v < line + len && (*v == ' ' || *v == '\t'); v++)
		;
	for (e = line + len; e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '); e--)
		;
	if (e - v > HEADER_VALUE_MAX)
		return NULL;
	return wp_xstrndup(v, (size_t)(e - v));
}

static void set_hdr(char **slotp, char *v)
{
	if (v) {
		free(*slotp);
		*slotp = v;
	}
}

static size_t on_header(char *line, size_t size, size_t n, void *ctx)
{
	slot *s = ctx;
	wp_client_resp *p = &s->resp;
	size_t len = size * n;
	char *v;

	if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* A new answer (after 100 Continue): forget the previous one's headers. */
		wp_client_resp_reset(p);
		return len;
	}
	set_hdr(&p->location, header_value(line, len, "location"));
	if ((v = header_value(line, len, "www-authenticate"))) {
		if (!p->www_authenticate || !strncasecmp(v, "bearer", 6))
			set_hdr(&p->www_authenticate, v);
		else
			free(v);
	}
	set_hdr(&p->content_type, header_value(line, len, "content-type"));
	set_hdr(&p->docker_content_digest, header_value(line, len, "docker-content-digest"));
	set_hdr(&p->range, header_value(line, len, "range"));
	set_hdr(&p->link, header_value(line, len, "link"));
	if ((v = header_value(line, len, "retry-after"))) {
		char *end;
		long secs = strtol(v, &end, 10);

		p->retry_after = *end || secs < 0 ? 1 : secs;
		free(v);
	}
	if ((v = header_value(line, len, "oci-chunk-min-length"))) {
		p->chunk_min = strtoll(v, NULL, 10);
		free(v);
	}
	if ((v = header_value(line, len, "content-length"))) {
		p->content_length = strtoll(v, NULL, 10);
		free(v);
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	slot *s = ctx;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	s->reg->stats.bytes_down += (int64_t)len;
	if (status < 200 || status >= 300) {
		wp_buf_append_truncated(&s->resp.error_body, data, len);
		return len;
	}
	if (s->req.sink) {
		if (s->req.sink(s->req.sink_ctx, data, len) < 0) {
			s->resp.sink_failed = true;
			return 0;
		}
	} else if (s->req.resp_body && wp_buf_append(s->req.resp_body, data, len) < 0) {
		s->resp.sink_failed = true;
		return 0;
	}
	s->resp.received += (int64_t)len;
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ctx)
{
	slot *s = ctx;
	int64_t left = s->req.body_len - s->body_pos;
	size_t want = size * n;

	if (left <= 0)
		return 0;
	if ((int64_t)want > left)
		want = (size_t)left;
	if (s->req.body) {
		memcpy(buf, s->req.body + s->body_pos, want);
	} else {
		ssize_t got = pread(s->req.body_fd, buf, want, s->req.body_off + s->body_pos);

		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	s->body_pos += (int64_t)want;
	s->reg->stats.bytes_up += (int64_t)want;
	if (s->req.progress_item >= 0)
		wp_progress_set(s->reg->progress, (size_t)s->req.progress_item, s->req.body_off + s->body_pos);
	return want;
}

static int on_seek(void *ctx, curl_off_t off, int origin)
{
	slot *s = ctx;

	if (origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	s->body_pos = off;
	return CURL_SEEKFUNC_OK;
}

static void add_header(slot *s, const char *fmt, const char *v)
{
	_cleanup_free_ char *h = NULL;

	if (!v)
		return;
	h = wp_str_fmt(fmt, v);
	if (h)
		s->hdrs = curl_slist_append(s->hdrs, h);
}

static int slot_start(slot *s, CURLM *multi)
{
	wp_client *r = s->reg;
	const wp_client_req *q = &s->req;
	const char *auth = auth_header(r, q);
	bool has_body = q->body || q->body_fd >= 0;

	if (!s->easy)
		s->easy = curl_easy_init();
	else
		curl_easy_reset(s->easy);
	if (!s->easy)
		return WP_ENOMEM;
	curl_slist_free_all(s->hdrs);
	s->hdrs = NULL;
	free(s->auth_used);
	s->auth_used = auth ? wp_xstrdup(auth) : NULL;
	wp_client_resp_reset(&s->resp);
	s->body_pos = 0;
	s->errbuf[0] = '\0';
	s->hdrs = curl_slist_append(s->hdrs, "Expect:");
	if (auth)
		s->hdrs = curl_slist_append(s->hdrs, auth);
	add_header(s, "Accept: %s", q->accept);
	add_header(s, "Content-Type: %s", q->content_type);
	add_header(s, "Content-Range: %s", q->content_range);
	add_header(s, "Range: %s", q->range);
	curl_easy_setopt(s->easy, CURLOPT_URL, q->url);
	curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
	curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
	if (q->sink)
		curl_easy_setopt(s->easy, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
	curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
	curl_easy_setopt(s->easy, CURLOPT_FOLLOWLOCATION, 0L);
	apply_tls(r, s->easy);
	if (has_body) {
		curl_easy_setopt(s->easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(s->easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(s->easy, CURLOPT_READDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(s->easy, CURLOPT_SEEKDATA, s);
		curl_easy_setopt(s->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->body_len);
		curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(s->easy, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "POST") || !strcmp(q->method, "PUT")) {
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, q->method);
	} else if (strcmp(q->method, "GET")) {
		curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, q->method);
	}
	r->stats.requests++;
	s->started_ms = now_ms();
	return curl_multi_add_handle(multi, s->easy) == CURLM_OK ? 0 : WP_EIO;
}

static void slot_release(slot *s)
{
	if (s->easy)
		curl_easy_cleanup(s->easy);
	curl_slist_free_all(s->hdrs);
	wp_client_req_release(&s->req);
	wp_client_resp_reset(&s->resp);
	wp_buf_release(&s->resp.error_body);
	free(s->auth_used);
	memset(s, 0, sizeof(*s));
}

bool wp_client_transient(const wp_client_resp *p)
{
	return p->status == 0 || p->status == 408 || p->status == 429 || p->status >= 500;
}

int wp_client_check(const wp_client_resp *p, const char *what, wp_error *err)
{
	json_t *j = NULL, *first;
	const char *code = NULL, *msg = NULL;
	int ecode;

	if (p->status >= 200 && p->status < 300)
		return 0;
	if (p->status == 0)
		return wp_error_set(err, WP_EIO, "%s: %s", what, p->curl_error[0] ? p->curl_error : "no answer");
	if (p->error_body.len && wp_json_parse(p->error_body.data, p->error_body.len, ERROR_BODY_MAX, &j, NULL) == 0) {
		first = json_array_get(json_object_get(j, "errors"), 0);
		code = wp_json_str(first, "code");
		msg = wp_json_str(first, "message");
	}
	if (p->status == 401 || p->status == 403 || (code && (!strcmp(code, "UNAUTHORIZED") || !strcmp(code, "DENIED"))))
		ecode = WP_EAUTH;
	else if (p->status == 404 || (code && wp_str_has_suffix(code, "_UNKNOWN")))
		ecode = WP_ENOTFOUND;
	else if (code && !strcmp(code, "DIGEST_INVALID"))
		ecode = WP_EDIGEST;
	else
		ecode = WP_EFAIL;
	if (code)
		wp_error_set(err, ecode, "%s: %s: %s (HTTP %ld)", what, code, msg ? msg : "", p->status);
	else
		wp_error_set(err, ecode, "%s: HTTP %ld", what, p->status);
	json_decref(j);
	return ecode;
}

long wp_client_stall_seconds(void)
{
	const char *v = getenv("WASMPACK_STALL_SECONDS");
	long s = v ? atol(v) : 0;

	return s > 0 && s <= 3600 ? s : 60;
}

static long long backoff_ms(const wp_job *j, const wp_client_resp *p)
{
	const char *base_env = getenv("WASMPACK_RETRY_BASE_MS");
	long long base = base_env ? atoll(base_env) : 250, ms;

	if (p->retry_after >= 0)
		return (p->retry_after > 60 ? 60 : p->retry_after) * 1000;
	ms = base << (j->run->attempts > 6 ? 6 : j->run->attempts);
	return ms > 8000 ? 8000 : ms;
}

/* ---- transport failures ---- */

/* A TLS handshake answered by a server that speaks plain HTTP (OpenSSL reads the start
 * of an HTTP answer as a TLS record). */
static bool answered_plain_http(CURLcode cc, const char *msg)
{
	return cc == CURLE_SSL_CONNECT_ERROR &&
	       (strstr(msg, "wrong version number") || strstr(msg, "packet length too long") ||
		strstr(msg, "record layer failure") || strstr(msg, "http request"));
}

/* localhost, 127.0.0.0/8 or ::1, with or without a port. */
static bool loopback_host(const char *registry)
{
	size_t n = registry[0] == '[' ? strcspn(registry, "]") + 1 : strcspn(registry, ":");
	char host[256];
	struct in_addr a4;

	if (n >= sizeof(host))
		return false;
	memcpy(host, registry, n);
	host[n] = '\0';
	if (!strcasecmp(host, "localhost") || !strcmp(host, "[::1]"))
		return true;
	return inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static bool may_fall_back(const wp_client *r)
{
	return (r->fell_back || !r->opts.plain_http) && !r->plain_http_set && !r->opts.insecure &&
	       loopback_host(r->registry);
}

/* Switches the session to plain HTTP (once: requests in flight on other slots fail the
 * same way and follow) and the request with it; false if its URL is not the registry's. */
static bool fall_back_to_http(wp_client *r, wp_client_req *q)
{
	_cleanup_free_ char *https = wp_str_fmt("https://%s", r->registry);
	size_t hl = strlen(https);
	char *url;

	if (strncmp(q->url, https, hl) || (q->url[hl] && q->url[hl] != '/'))
		return false;
	url = wp_str_fmt("http://%s", q->url + strlen("https://"));
	free(q->url);
	q->url = url;
	if (!r->fell_back) {
		r->fell_back = true;
		r->opts.plain_http = true;
		free(r->base);
		r->base = wp_str_fmt("http://%s", r->registry);
		wp_info("%s speaks plain HTTP: using it (a registry on this machine; plain_http = false in "
			"config.toml turns this off)", r->registry);
	}
	return true;
}

/* Failures worth another try: timeouts, resets, a connection cut short, a stall. Not
 * these: an unknown host, a refused connection, a TLS handshake or certificate that
 * will not change by trying again. */
static bool transport_may_heal(CURLcode cc)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return false;
	default:
		return true;
	}
}

/* What a failure that cannot heal means, naming the host and what fixes it. */
static void transport_error(const wp_client *r, CURLcode cc, const char *msg, wp_error *err)
{
	const char *h = r->registry;

	if (answered_plain_http(cc, msg))
		wp_error_set(err, WP_EIO,
			     "%s answered HTTPS with plain HTTP: it is a plain-HTTP registry; use --plain-http, or set "
			     "plain_http = true under [registry.\"%s\"] in config.toml (%s)",
			     h, h, msg);
	else if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY)
		wp_error_set(err, WP_EIO, "cannot find the host of %s (%s): is the registry's name right?", h, msg);
	else if (cc == CURLE_COULDNT_CONNECT)
		wp_error_set(err, WP_EIO, "cannot connect to %s (%s): is the registry running, on this port?", h, msg);
	else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_ISSUER_ERROR)
		wp_error_set(err, WP_EIO,
			     "%s's TLS certificate is not trusted (%s): give its CA with --ca-file, or ca_file under "
			     "[registry.\"%s\"] in config.toml; --insecure skips the check",
			     h, msg, h);
	else if (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CIPHER || cc == CURLE_SSL_CERTPROBLEM)
		wp_error_set(err, WP_EIO, "the TLS handshake with %s failed (%s)%s", h, msg,
			     r->opts.plain_http ? "" : "; if it speaks plain HTTP, use --plain-http");
	else
		wp_error_set(err, WP_EIO, "%s: %s", h, msg);
}

typedef struct engine {
	wp_client *r;
	wp_job **jobs;
	size_t n, next_new;
	slot *slots;
	int nslots;
	CURLM *multi;
	size_t finished;
} engine;

static void job_finish(engine *e, wp_job *j, int rc)
{
	j->rc = rc;
	j->run->wake_at_ms = -1;
	e->finished++;
}

/* Asks the job for its next request and starts it in s; finishes the job when it has
 * none. */
static void job_advance(engine *e, slot *s, wp_job *j)
{
	int r;

	wp_client_req_release(&s->req);
	wp_client_req_init(&s->req, "GET", NULL);
	s->job = j;
	r = j->next(j, &s->req);
	if (r <= 0) {
		job_finish(e, j, r < 0 ? (j->err.code ? j->err.code : r) : 0);
		s->job = NULL;
		return;
	}
	j->run->redirects = 0;
	j->run->auth_tries = 0;
	if (slot_start(s, e->multi) < 0) {
		wp_error_set(&j->err, WP_EIO, "starting a request to %s failed", e->r->registry);
		job_finish(e, j, WP_EIO);
		s->job = NULL;
	}
}

/* The job of s ends with code (j->err says why), its slot free for the next. */
static void finish(engine *e, slot *s, int code)
{
	job_finish(e, s->job, code);
	s->job = NULL;
}

/* What an answer is: sent again already (credentials, a redirect, plain HTTP to a
 * registry on this machine), the job's failure (its err says why), or an answer for the
 * job to judge. */
enum { RESENT, FAILED, ANSWERED };

static int classify(engine *e, slot *s, CURLcode cc)
{
	wp_job *j = s->job;
	wp_client_resp *p = &s->resp;

	if (p->status == 0 && cc != CURLE_OK && !p->sink_failed) {
		/* A registry on this machine that speaks plain HTTP gets it, as docker and
		 * containerd do for localhost; elsewhere a failure that cannot heal is not
		 * retried, and the message says what would fix it. */
		if (answered_plain_http(cc, p->curl_error) && may_fall_back(e->r) && fall_back_to_http(e->r, &s->req) &&
		    slot_start(s, e->multi) == 0)
			return RESENT;
		if (!transport_may_heal(cc)) {
			transport_error(e->r, cc, p->curl_error, &j->err);
			return FAILED;
		}
	}
	/* The consumer refused the body: its own error says why, when it judges. */
	if (p->sink_failed && p->status >= 200 && p->status < 300)
		return ANSWERED;
	if (p->status == 401 && !s->req.no_auth && j->run->auth_tries >= 2) {
		/* Authenticated and still refused: the credentials lack the rights asked for. */
		wp_auth_challenge c = { 0 };

		if (p->www_authenticate)
			wp_auth_challenge_parse(p->www_authenticate, &c, NULL);
		wp_error_set(&j->err, WP_EAUTH, "%s refused %s access to %s%s%s", e->r->registry,
			     e->r->cred.secret ? e->r->cred.username : "anonymous",
			     s->req.scope ? s->req.scope : "this resource", c.error ? ": " : "", c.error ? c.error : "");
		wp_auth_challenge_release(&c);
		return FAILED;
	}
	/* A challenge from anywhere but the registry itself (an upload's Location elsewhere)
	 * gets no credentials: its realm would collect them. */
	if (p->status == 401 && !s->req.no_auth && wp_client_same_origin(e->r, s->req.url)) {
		/* Another request may have authenticated meanwhile: then just send again. */
		const char *now = auth_header(e->r, &s->req);

		j->run->auth_tries++;
		if (!(now && (!s->auth_used || strcmp(now, s->auth_used))) &&
		    authenticate(e->r, p->www_authenticate, s->req.scope, &j->err) < 0)
			return FAILED;
		if (slot_start(s, e->multi) == 0)
			return RESENT;
	}
	if (p->status >= 300 && p->status < 400 && p->status != 304 && p->location &&
	    (!strcmp(s->req.method, "GET") || !strcmp(s->req.method, "HEAD")) && j->run->redirects < MAX_REDIRECTS) {
		char *to = wp_client_url(e->r, p->location);

		if (to && check_scheme(e->r, to, "the redirect to", &j->err) < 0) {
			free(to);
			return FAILED;
		}
		if (to) {
			/* Credentials never follow a redirect to another host (blob GETs often
			 * redirect to object storage). */
			if (!same_host(s->req.url, to))
				s->req.no_auth = true;
			free(s->req.url);
			s->req.url = to;
			j->run->redirects++;
			if (slot_start(s, e->multi) == 0)
				return RESENT;
		}
	}
	return ANSWERED;
}

/* What the job made of its answer (r): a retry later (until the attempts run out), its
 * end, or its next request. */
static void judge(engine *e, slot *s, int r)
{
	wp_job *j = s->job;
	wp_client_resp *p = &s->resp;

	if (r == WP_XFER_RETRY && j->run->attempts + 1 < e->r->opts.max_attempts) {
		long long wait = backoff_ms(j, p);

		j->run->attempts++;
		e->r->stats.retries++;
		wp_debug("retrying %s %s in %lld ms (%s)", s->req.method, s->req.url, wait,
			 p->status ? "transient answer" : p->curl_error);
		j->run->wake_at_ms = now_ms() + wait;
		s->job = NULL;
		return;
	}
	if (r == WP_XFER_RETRY) {
		char what[320];

		snprintf(what, sizeof(what), "%s: giving up after %d attempts", e->r->registry, j->run->attempts + 1);
		if (!j->err.msg[0] || j->err.code == WP_OK)
			wp_client_check(p, what, &j->err);
		else
			wp_error_prefix(&j->err, "%s", what);
		if (j->err.code == WP_OK)
			j->err.code = WP_EIO;
		finish(e, s, j->err.code);
		return;
	}
	if (r < 0) {
		finish(e, s, j->err.code ? j->err.code : r);
		return;
	}
	j->run->attempts = 0;
	job_advance(e, s, j);
}

static void on_done(engine *e, slot *s, CURLcode cc)
{
	wp_job *j = s->job;
	wp_client_resp *p = &s->resp;

	curl_multi_remove_handle(e->multi, s->easy);
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &p->status);
	p->curl_rc = cc;
	if (cc != CURLE_OK && !p->sink_failed) {
		snprintf(p->curl_error, sizeof(p->curl_error), "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
		p->status = 0;
	}
	if (p->status)
		wp_debug("%s %s: %ld in %lld ms", s->req.method, s->req.url, p->status, now_ms() - s->started_ms);
	else
		wp_debug("%s %s: %s after %lld ms", s->req.method, s->req.url, p->curl_error, now_ms() - s->started_ms);
	switch (classify(e, s, cc)) {
	case RESENT:
		return;
	case FAILED:
		finish(e, s, j->err.code);
		return;
	default:
		judge(e, s, j->done(j, &s->req, p));
	}
}

int wp_client_run(wp_client *r, wp_job **jobs, size_t n, wp_error *err)
{
	engine e = { .r = r, .jobs = jobs, .n = n };
	struct wp_job_run *runs;
	int rc = 0;

	e.nslots = r->opts.concurrency < (int)n ? r->opts.concurrency : (int)n;
	if (e.nslots < 1)
		e.nslots = 1;
	e.slots = wp_xcalloc((size_t)e.nslots, sizeof(*e.slots));
	e.multi = curl_multi_init();
	if (!e.multi) {
		free(e.slots);
		return wp_error_set(err, WP_ENOMEM, "libcurl could not start a transfer");
	}
	for (int i = 0; i < e.nslots; i++) {
		e.slots[i].reg = r;
		wp_buf_init(&e.slots[i].resp.error_body, ERROR_BODY_MAX);
	}
	runs = wp_xcalloc(n ? n : 1, sizeof(*runs));
	for (size_t i = 0; i < n; i++) {
		jobs[i]->run = &runs[i];
		jobs[i]->rc = 1;
		wp_error_init(&jobs[i]->err);
	}
	while (e.finished < n) {
		int running, msgs;
		long long now = now_ms(), next_wake = -1;
		CURLMsg *m;

		/* Idle slots take jobs that are due: waiting retries first, then new ones. */
		for (int i = 0; i < e.nslots; i++) {
			slot *s = &e.slots[i];
			wp_job *pick = NULL;

			if (s->job)
				continue;
			for (size_t k = 0; k < e.next_new && !pick; k++) {
				wp_job *j = jobs[k];
				bool busy = false;

				for (int t = 0; t < e.nslots; t++)
					busy |= e.slots[t].job == j;
				if (j->rc == 1 && !busy && j->run->wake_at_ms > 0) {
					if (j->run->wake_at_ms <= now)
						pick = j;
					else if (next_wake < 0 || j->run->wake_at_ms < next_wake)
						next_wake = j->run->wake_at_ms;
				}
			}
			if (pick) {
				pick->run->wake_at_ms = 0;
				job_advance(&e, s, pick);
			} else if (e.next_new < n) {
				job_advance(&e, s, jobs[e.next_new++]);
			}
		}
		curl_multi_perform(e.multi, &running);
		while ((m = curl_multi_info_read(e.multi, &msgs))) {
			slot *s = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			on_done(&e, s, m->data.result);
		}
		if (e.finished < n) {
			int timeout = 100;

			if (next_wake > 0 && next_wake - now < timeout)
				timeout = (int)(next_wake - now > 0 ? next_wake - now : 0);
			curl_multi_poll(e.multi, NULL, 0, timeout, NULL);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->rc < 0 && rc == 0) {
			rc = jobs[i]->rc;
			if (err)
				*err = jobs[i]->err;
		}
		jobs[i]->run = NULL;
	}
	free(runs);
	for (int i = 0; i < e.nslots; i++)
		slot_release(&e.slots[i]);
	free(e.slots);
	curl_multi_cleanup(e.multi);
	return rc;
}

/* ---- one request ---- */

typedef struct single {
	wp_client_req *req;
	wp_client_resp *resp;
	bool sent;
} single;

static int single_next(wp_job *j, wp_client_req *q)
{
	single *s = j->ctx;
	const wp_client_req *src = s->req;

	if (s->sent)
		return 0;
	q->method = src->method;
	q->url = wp_xstrdup(src->url);
	q->scope = src->scope ? wp_xstrdup(src->scope) : NULL;
	q->content_type = src->content_type ? wp_xstrdup(src->content_type) : NULL;
	q->accept = src->accept ? wp_xstrdup(src->accept) : NULL;
	q->content_range = src->content_range ? wp_xstrdup(src->content_range) : NULL;
	q->range = src->range ? wp_xstrdup(src->range) : NULL;
	q->body = src->body;
	q->body_fd = src->body_fd;
	q->body_off = src->body_off;
	q->body_len = src->body_len;
	q->resp_body = src->resp_body;
	q->sink = src->sink;
	q->sink_ctx = src->sink_ctx;
	q->no_auth = src->no_auth;
	q->progress_item = src->progress_item;
	if (src->resp_body)
		wp_buf_reset(src->resp_body);
	return 1;
}

static int single_done(wp_job *j, const wp_client_req *q, const wp_client_resp *p)
{
	single *s = j->ctx;
	wp_client_resp *dst = s->resp;

	(void)q;
	if (wp_client_transient(p) && !p->sink_failed)
		return WP_XFER_RETRY;
	/* Hand the answer over: the slot's copy is reset right after. */
	wp_client_resp_reset(dst);
	wp_buf_release(&dst->error_body);
	*dst = *p;
	memset((wp_client_resp *)p, 0, sizeof(*p));
	wp_buf_init(&((wp_client_resp *)p)->error_body, ERROR_BODY_MAX);
	s->sent = true;
	return WP_XFER_NEXT;
}

int wp_client_do(wp_client *r, wp_client_req *req, wp_client_resp *resp, wp_error *err)
{
	single s = { req, resp, false };
	wp_job j = { .next = single_next, .done = single_done, .ctx = &s };
	wp_job *jobs[1] = { &j };
	int rc;

	wp_client_resp_reset(resp);
	rc = wp_client_run(r, jobs, 1, err);
	if (rc < 0 && !s.sent)
		return rc;
	return 0;
}
