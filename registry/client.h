/* The OCI distribution client (distribution spec v1.1): one session per registry, requests
 * driven through libcurl's multi interface so that several blob transfers run at once,
 * with authentication, redirects and retries handled for every request alike. */
#ifndef WP_REGISTRY_CLIENT_H
#define WP_REGISTRY_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/buf.h"
#include "common/error.h"
#include "registry/auth.h"

typedef struct wp_client_opts {
	bool plain_http;      /* http:// instead of https:// */
	bool insecure;        /* TLS without verification */
	const char *ca_file;  /* extra CA bundle */
	int concurrency;      /* blob transfers at once; 0 means 4 */
	int max_attempts;     /* per request; 0 means 5 */
	FILE *progress;       /* a terminal to report each blob on, or NULL */
} wp_client_opts;

typedef struct wp_client wp_client;

/* registry is "host[:port]" as in a reference ("docker.io" for Docker Hub). Settings from
 * the config file ($XDG_CONFIG_HOME/wasmpack/config.toml) fill what opts leaves unset. */
int wp_client_open(wp_client **out, const char *registry, const wp_client_opts *opts, wp_error *err);
/* A transfer moving under 1 byte/s for this long fails (and is retried): 60 s, or
 * WASMPACK_STALL_SECONDS (1-3600). */
long wp_client_stall_seconds(void);
void wp_client_close(wp_client *r);
/* Uses these credentials instead of the stored ones (login checks them this way). */
int wp_client_set_cred(wp_client *r, const char *username, const char *secret);
const char *wp_client_base_url(const wp_client *r);
FILE *wp_client_progress(const wp_client *r);
struct wp_progress;
/* The display request bodies report their bytes to (wp_client_req.progress_item); NULL
 * for none. The caller keeps it. */
void wp_client_set_progress(wp_client *r, struct wp_progress *p);
struct wp_progress *wp_client_get_progress(const wp_client *r);
int wp_client_concurrency(const wp_client *r);

typedef int (*wp_client_sink)(void *ctx, const void *data, size_t len);

typedef struct wp_client_req {
	const char *method;
	char *url;                  /* absolute; owned (freed by wp_client_req_release) */
	char *scope;                /* auth scope(s), space-separated; owned */
	char *content_type;         /* owned */
	char *accept;               /* owned */
	char *content_range;        /* owned */
	char *range;                /* "bytes=N-" for resumed downloads; owned */
	const char *body;           /* memory body, or */
	int body_fd;                /* file body: fd, offset, length (-1 for none) */
	int64_t body_off, body_len;
	wp_buf *resp_body;          /* capped collector of a 2xx body, or */
	wp_client_sink sink;          /* streaming consumer of a 2xx body */
	void *sink_ctx;
	bool no_auth;               /* set on redirects to another host */
	int progress_item;          /* the progress item its upload body counts to, or -1 */
} wp_client_req;

typedef struct wp_client_resp {
	long status;                /* 0: no HTTP answer (transport failure) */
	int curl_rc;
	char curl_error[256];
	char *location;
	char *www_authenticate;
	char *content_type;
	char *docker_content_digest;
	char *range;
	char *link;
	long retry_after;           /* seconds, -1 when absent */
	int64_t chunk_min;          /* OCI-Chunk-Min-Length, 0 when absent */
	int64_t content_length;     /* -1 when absent */
	wp_buf error_body;          /* body of a non-2xx answer (capped) */
	int64_t received;           /* 2xx body bytes handed to the sink or collector */
	bool sink_failed;
} wp_client_resp;

void wp_client_req_init(wp_client_req *q, const char *method, char *url);
void wp_client_req_release(wp_client_req *q);
/* A response before its request: nothing held, the error body capped. Release it with
 * wp_client_resp_release; reset (release, then init) empties it for another request. */
void wp_client_resp_init(wp_client_resp *p);
void wp_client_resp_release(wp_client_resp *p);
void wp_client_resp_reset(wp_client_resp *p);

/* A transfer made of several requests (a blob push: HEAD, POST, PATCH..., PUT). */
enum { WP_XFER_NEXT = 1, WP_XFER_RETRY = 2 };

typedef struct wp_job wp_job;
struct wp_job {
	/* Fills req for the job's current state: 1 a request is ready, 0 the job is finished,
	 * <0 failed (with job->err). */
	int (*next)(wp_job *job, wp_client_req *req);
	/* Looks at the answer: WP_XFER_NEXT, WP_XFER_RETRY (transient; next is called again
	 * after a backoff), or <0 failed (with job->err). */
	int (*done)(wp_job *job, const wp_client_req *req, const wp_client_resp *resp);
	void *ctx;
	wp_error err;
	int rc;
	struct wp_job_run *run;   /* the client's own, while wp_client_run runs the job */
};

/* Runs jobs with at most the session's concurrency at once; returns the first failure
 * (every job still runs to its end). */
int wp_client_run(wp_client *r, wp_job **jobs, size_t n, wp_error *err);
/* One request, with auth, redirects and retries; the answer's status is the caller's to
 * judge (wp_client_check turns a non-2xx into an error). */
int wp_client_do(wp_client *r, wp_client_req *req, wp_client_resp *resp, wp_error *err);
/* 0 for 2xx, else an error naming what (with the registry's error code and message). */
int wp_client_check(const wp_client_resp *resp, const char *what, wp_error *err);
/* True for answers worth another try: no answer, 408, 429, 5xx. */
bool wp_client_transient(const wp_client_resp *resp);

/* "repository:REPO:ACTIONS", the scope a token is asked for; malloc'ed (a request frees
 * its scope in wp_client_req_release). */
char *wp_client_scope(const char *repo, const char *actions);
/* Is url on the registry's own scheme, host and port (where credentials may go)? */
bool wp_client_same_origin(const wp_client *r, const char *url);
/* Makes an absolute URL: "/v2/..." paths and relative Locations against the base;
 * malloc'ed: the caller frees it. */
char *wp_client_url(const wp_client *r, const char *path_or_url);

/* Counters for --format json and tests. */
typedef struct wp_client_stats {
	int64_t bytes_up;
	int64_t bytes_down;
	int requests;
	int retries;
} wp_client_stats;
void wp_client_get_stats(const wp_client *r, wp_client_stats *out);

#endif
