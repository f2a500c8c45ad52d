#include "registry/fetch.h"
#include "registry/client.h"
#include "common/log.h"

#include <curl/curl.h>
#include <string.h>

typedef struct sink {
	wp_store_writer *w;
	wp_error *err;
	int rc;
} sink;

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	sink *k = ctx;

	if (wp_store_writer_write(k->w, data, size * n, k->err) < 0) {
		k->rc = k->err->code;
		return 0;
	}
	return size * n;
}

int wp_fetch_to_store(void *ctx, wp_store *s, const char *url, const char *digest, wp_error *err)
{
	CURL *e;
	sink k = { .err = err };
	char got[WP_DIGEST_BUFSZ];
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	int64_t size;
	CURLcode cc;
	int rc;

	(void)ctx;
	if (wp_store_has_blob(s, digest, NULL))
		return 0;
	if (strncmp(url, "https://", 8) && strncmp(url, "http://", 7))
		return wp_error_set(err, WP_EINVALID, "source URL '%s' is not http(s)", url);
	e = curl_easy_init();
	if (!e)
		return wp_error_set(err, WP_ENOMEM, "out of memory");
	if ((rc = wp_store_writer_new(s, &k.w, err)) < 0) {
		curl_easy_cleanup(e);
		return rc;
	}
	wp_info("fetching %s", url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	/* http(s) only, and no redirect from https down to http */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, strncmp(url, "https://", 8) ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, wp_client_stall_seconds());
	curl_easy_setopt(e, CURLOPT_USERAGENT, "wasmpack/0.1.0");
	cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(e);
	if (cc != CURLE_OK) {
		wp_store_writer_abort(k.w);
		if (k.rc < 0)
			return k.rc;
		return wp_error_set(err, status == 404 ? WP_ENOTFOUND : WP_EIO, "fetching '%s': %s", url,
				    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	rc = wp_store_writer_commit(k.w, digest, got, &size, err);
	return rc < 0 ? wp_error_prefix(err, "fetching '%s'", url) : 0;
}
