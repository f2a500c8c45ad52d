#include "registry/auth.h"
#include "common/path.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A token request's URL or form (realm, service, scopes), a decoded "auth" credential,
 * and one read of a credential helper's output: each capped. */
#define TOKEN_REQUEST_MAX (1u << 16)
#define CRED_DECODED_MAX (1u << 16)
#define HELPER_READ_CHUNK 4096

extern char **environ;

#define CONFIG_MAX (4u << 20)
#define HELPER_OUT_MAX (1u << 20)
#define DOCKER_HUB_KEY "https://index.docker.io/v1/"

/* ---- challenges ---- */

void wp_auth_challenge_release(wp_auth_challenge *c)
{
	free(c->scheme);
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static bool is_tchar(char c)
{
	return c && (isalnum((unsigned char)c) || strchr("!#$%&'*+-.^_`|~", c));
}

int wp_auth_challenge_parse(const char *h, wp_auth_challenge *c, wp_error *err)
{
	const char *p = h, *s;
	wp_buf val;

	memset(c, 0, sizeof(*c));
	if (strlen(h) > WP_AUTH_HEADER_MAX)
		return wp_error_set(err, WP_ETOOBIG, "WWW-Authenticate header longer than %d bytes", WP_AUTH_HEADER_MAX);
	while (*p == ' ')
		p++;
	for (s = p; is_tchar(*p); p++)
		;
	if (p == s)
		return wp_error_set(err, WP_EINVALID, "WWW-Authenticate header has no scheme");
	c->scheme = wp_xstrndup(s, (size_t)(p - s));
	wp_buf_init(&val, WP_AUTH_HEADER_MAX);
	for (;;) {
		const char *ks, *ke;
		char **slot = NULL;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		for (ks = p; is_tchar(*p); p++)
			;
		ke = p;
		while (*p == ' ')
			p++;
		if (ke == ks || *p != '=') {
			wp_buf_release(&val);
			wp_auth_challenge_release(c);
			return wp_error_set(err, WP_EINVALID, "malformed WWW-Authenticate parameter");
		}
		p++;
		while (*p == ' ')
			p++;
		wp_buf_reset(&val);
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (wp_buf_putc(&val, *p) < 0) {
					wp_buf_release(&val);
					wp_auth_challenge_release(c);
					return wp_error_set(err, WP_ETOOBIG, "WWW-Authenticate header is too long");
				}
			}
			if (*p != '"') {
				wp_buf_release(&val);
				wp_auth_challenge_release(c);
				return wp_error_set(err, WP_EINVALID, "unterminated quoted string in WWW-Authenticate");
			}
			p++;
		} else {
			for (s = p; *p && *p != ',' && *p != ' '; p++)
				;
			if (wp_buf_append(&val, s, (size_t)(p - s)) < 0) {
				wp_buf_release(&val);
				wp_auth_challenge_release(c);
				return wp_error_set(err, WP_ETOOBIG, "WWW-Authenticate header is too long");
			}
		}
		if ((size_t)(ke - ks) == 5 && !strncasecmp(ks, "realm", 5))
			slot = &c->realm;
		else if ((size_t)(ke - ks) == 7 && !strncasecmp(ks, "service", 7))
			slot = &c->service;
		else if ((size_t)(ke - ks) == 5 && !strncasecmp(ks, "scope", 5))
			slot = &c->scope;
		else if ((size_t)(ke - ks) == 5 && !strncasecmp(ks, "error", 5))
			slot = &c->error;
		if (slot) {
			free(*slot);
			*slot = wp_xstrdup(val.data ? val.data : "");
		}
	}
	wp_buf_release(&val);
	return 0;
}

/* ---- credentials ---- */

void wp_auth_cred_release(wp_auth_cred *c)
{
	free(c->username);
	if (c->secret)
		OPENSSL_cleanse(c->secret, strlen(c->secret));
	free(c->secret);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

const char *wp_auth_creds_key(const char *registry)
{
	if (!strcmp(registry, "docker.io") || !strcmp(registry, "index.docker.io") ||
	    !strcmp(registry, "registry-1.docker.io"))
		return DOCKER_HUB_KEY;
	return registry;
}

/* "https://host:5000/v1/" -> "host:5000" */
static char *normalize_key(const char *k)
{
	const char *p = strstr(k, "://");
	const char *end;

	if (!strcmp(k, DOCKER_HUB_KEY) || !strcmp(k, "index.docker.io") || !strcmp(k, "docker.io"))
		return wp_xstrdup("docker.io");
	p = p ? p + 3 : k;
	end = strchr(p, '/');
	return end ? wp_xstrndup(p, (size_t)(end - p)) : wp_xstrdup(p);
}

static char *docker_config_path(void)
{
	const char *dir = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");

	if (dir && *dir)
		return wp_str_fmt("%s/config.json", dir);
	if (home && *home)
		return wp_str_fmt("%s/.docker/config.json", home);
	return NULL;
}

static int load_json_file(const char *path, json_t **out, wp_error *err)
{
	wp_buf data;
	int rc;

	*out = NULL;
	wp_buf_init(&data, CONFIG_MAX);
	rc = wp_fs_read_file(path, CONFIG_MAX, &data, err);
	if (rc == 0)
		rc = wp_json_parse(data.data, data.len, CONFIG_MAX, out, err);
	if (rc == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = wp_error_set(err, WP_EINVALID, "not a JSON object");
	}
	if (data.data)
		OPENSSL_cleanse(data.data, data.len);
	wp_buf_release(&data);
	if (rc < 0 && rc != WP_ENOTFOUND)
		wp_error_prefix(err, "reading '%s'", path);
	return rc;
}

static bool bearer_token_valid(const char *t)
{
	size_t i = 0;

	while (t[i] && (isalnum((unsigned char)t[i]) || strchr("-._~+/", t[i])))
		i++;
	if (i == 0)
		return false;
	while (t[i] == '=')
		i++;
	return t[i] == '\0';
}

int wp_auth_token_parse(const char *body, size_t len, char **token, long long *ttl_s, wp_error *err)
{
	json_t *j = NULL;
	const char *tok;
	json_t *ttl;
	int rc;

	*token = NULL;
	if ((rc = wp_json_parse(body, len, WP_TOKEN_RESPONSE_MAX, &j, err)) < 0)
		return rc;
	tok = wp_json_str(j, "token") ? wp_json_str(j, "token") : wp_json_str(j, "access_token");
	if (!tok || !*tok) {
		json_decref(j);
		return wp_error_set(err, WP_EAUTH, "the answer holds no token");
	}
	if (!bearer_token_valid(tok)) {
		json_decref(j);
		return wp_error_set(err, WP_EAUTH, "the token holds characters a bearer token cannot");
	}
	/* A lifetime is taken as at most a day: a huge one would overflow the clock's
	 * arithmetic and make the token count as expired at once. */
	ttl = json_object_get(j, "expires_in");
	*ttl_s = json_is_integer(ttl) ? (long long)json_integer_value(ttl) : 0;
	if (*ttl_s <= 0)
		*ttl_s = 60;
	if (*ttl_s > 86400)
		*ttl_s = 86400;
	*token = wp_xstrdup(tok);
	json_decref(j);
	return 0;
}

static size_t collect(char *data, size_t size, size_t n, void *ctx)
{
	return wp_buf_append(ctx, data, size * n) < 0 ? 0 : size * n;
}

static char *urlenc(CURL *e, const char *s)
{
	char *t = curl_easy_escape(e, s, 0), *out = t ? wp_xstrdup(t) : NULL;

	curl_free(t);
	return out;
}

/* The request: the URL (and for a refresh token the form) into url and form. < 0 when a
 * hostile registry's realm and scopes would make it longer than 64 KiB. */
static int token_request(CURL *e, const wp_auth_challenge *c, char *scopes, const wp_auth_cred *cred, wp_buf *url,
			 wp_buf *form)
{
	int rc = wp_buf_puts(url, c->realm);

	if (rc < 0)
		return rc;
	if (cred && cred->secret && cred->identity_token) {
		_cleanup_free_ char *svc = urlenc(e, c->service ? c->service : "");
		_cleanup_free_ char *sc = urlenc(e, scopes);
		_cleanup_free_ char *tok = urlenc(e, cred->secret);

		rc = wp_buf_printf(form, "grant_type=refresh_token&client_id=wasmpack&service=%s&scope=%s&refresh_token=%s",
				   svc, sc, tok);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, form->data);
		return rc;
	}
	{
		char *save = NULL, *one;
		_cleanup_free_ char *svc = urlenc(e, c->service ? c->service : "");
		bool q = strchr(c->realm, '?') != NULL;

		if (c->service) {
			rc = wp_buf_printf(url, "%sservice=%s", q ? "&" : "?", svc);
			q = true;
		}
		for (one = strtok_r(scopes, " ", &save); rc == 0 && one; one = strtok_r(NULL, " ", &save)) {
			_cleanup_free_ char *enc = urlenc(e, one);

			rc = wp_buf_printf(url, "%sscope=%s", q ? "&" : "?", enc);
			q = true;
		}
		if (cred && cred->secret) {
			curl_easy_setopt(e, CURLOPT_USERNAME, cred->username ? cred->username : "");
			curl_easy_setopt(e, CURLOPT_PASSWORD, cred->secret);
		}
	}
	return rc;
}

int wp_auth_token_fetch(void *curl, const wp_auth_challenge *c, const char *scope, const wp_auth_cred *cred,
			const char *registry, char **token, long long *ttl_s, wp_error *err)
{
	CURL *e = curl;
	wp_buf url, form, body;
	long status = 0;
	CURLcode cc;
	int rc;
	_cleanup_free_ char *scopes = wp_xstrdup(scope ? scope : "");
	bool anonymous = !cred || !cred->secret;

	*token = NULL;
	if (c->scope && !strstr(scopes, c->scope)) {
		char *both = wp_str_fmt("%s%s%s", scopes, scopes[0] ? " " : "", c->scope);

		free(scopes);
		scopes = both;
	}
	wp_buf_init(&url, TOKEN_REQUEST_MAX);
	wp_buf_init(&form, TOKEN_REQUEST_MAX);
	wp_buf_init(&body, WP_TOKEN_RESPONSE_MAX);
	if (token_request(e, c, scopes, cred, &url, &form) < 0) {
		rc = wp_error_set(err, WP_ETOOBIG, "the token request for '%s' would be longer than 64 KiB", c->realm);
		goto done;
	}
	curl_easy_setopt(e, CURLOPT_URL, url.data);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
	cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		rc = wp_error_set(err, WP_EIO, "getting a token from '%s': %s", c->realm, curl_easy_strerror(cc));
	else if (status == 401 || status == 403)
		rc = wp_error_set(err, WP_EAUTH, "%s refused %s (HTTP %ld from the token service)", registry,
				  anonymous ? "anonymous access" : "the credentials", status);
	else if (status != 200)
		rc = wp_error_set(err, WP_EAUTH, "the token service of %s answered HTTP %ld without a token", registry, status);
	else if ((rc = wp_auth_token_parse(body.data, body.len, token, ttl_s, err)) < 0)
		wp_error_prefix(err, "the token service of %s", registry);
done:
	if (body.data)
		OPENSSL_cleanse(body.data, body.len);
	if (form.data)
		OPENSSL_cleanse(form.data, form.len);
	wp_buf_release(&url);
	wp_buf_release(&form);
	wp_buf_release(&body);
	return rc;
}

static int b64decode(const char *in, wp_buf *out)
{
	size_t len = strlen(in);
	unsigned char *tmp = wp_xmalloc(len / 4 * 3 + 4);
	int n, rc;

	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (n < 0) {
		free(tmp);
		return WP_EINVALID;
	}
	while (len > 0 && in[len - 1] == '=') {
		len--;
		n--;
	}
	wp_buf_reset(out);
	rc = wp_buf_append(out, tmp, (size_t)n);
	OPENSSL_cleanse(tmp, (size_t)n);
	free(tmp);
	return rc;
}

/* An "auths" map: entries keyed by host or URL, {auth: base64(user:pass)} and/or
 * {identitytoken}. */
static int from_auths(json_t *auths, const char *registry, const char *path, wp_auth_cred *out, wp_error *err)
{
	const char *k;
	json_t *v;

	json_object_foreach(auths, k, v) {
		_cleanup_free_ char *nk = normalize_key(k);
		const char *auth = wp_json_str(v, "auth");
		const char *idt = wp_json_str(v, "identitytoken");

		if (!nk || strcmp(nk, registry))
			continue;
		if (auth && *auth) {
			wp_buf dec;
			char *colon;

			wp_buf_init(&dec, CRED_DECODED_MAX);
			if (b64decode(auth, &dec) < 0 || !dec.data || !(colon = strchr(dec.data, ':'))) {
				wp_buf_release(&dec);
				return wp_error_set(err, WP_EINVALID, "credentials for '%s' in '%s' are malformed", registry, path);
			}
			*colon = '\0';
			out->username = wp_xstrdup(dec.data);
			out->secret = wp_xstrdup(colon + 1);
			OPENSSL_cleanse(dec.data, dec.len);
			wp_buf_release(&dec);
		}
		if (idt && *idt) {
			free(out->secret);
			out->secret = wp_xstrdup(idt);
			out->identity_token = true;
			if (!out->username)
				out->username = wp_xstrdup("<token>");
		}
		if (out->secret) {
			out->source = wp_xstrdup(path);
			return 1;
		}
	}
	return 0;
}

/* Runs `docker-credential-<helper> <verb>` with input on stdin; output (capped) in out. */
static int run_helper(const char *helper, const char *verb, const char *input, wp_buf *out, wp_error *err)
{
	_cleanup_free_ char *prog = wp_str_fmt("docker-credential-%s", helper);
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	char *argv[3];
	pid_t pid;
	int status, rc = 0;
	size_t off = 0, inlen = strlen(input);
	struct pollfd pfd[2];

	if (pipe2(in_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0) {
		rc = wp_error_sys(err, WP_EIO, "starting credential helper '%s'", prog);
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	argv[0] = prog;
	argv[1] = (char *)verb;
	argv[2] = NULL;
	rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(in_pipe[0]);
	close(out_pipe[1]);
	in_pipe[0] = out_pipe[1] = -1;
	if (rc != 0) {
		errno = rc;
		rc = wp_error_sys(err, WP_EIO, "running credential helper '%s'", prog);
		goto done;
	}
	wp_buf_reset(out);
	pfd[0].fd = in_pipe[1];
	pfd[0].events = POLLOUT;
	pfd[1].fd = out_pipe[0];
	pfd[1].events = POLLIN;
	while (pfd[1].fd >= 0) {
		if (poll(pfd, 2, 30000) <= 0) {
			kill(pid, SIGKILL);
			rc = wp_error_set(err, WP_EIO, "credential helper '%s' did not answer", prog);
			break;
		}
		if (pfd[0].fd >= 0 && (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t n = (pfd[0].revents & POLLOUT) ? write(pfd[0].fd, input + off, inlen - off) : -1;

			if (n > 0)
				off += (size_t)n;
			if (n < 0 || off == inlen) {
				close(pfd[0].fd);
				in_pipe[1] = pfd[0].fd = -1;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[HELPER_READ_CHUNK];
			ssize_t n = read(pfd[1].fd, buf, sizeof(buf));

			if (n <= 0) {
				close(pfd[1].fd);
				out_pipe[0] = pfd[1].fd = -1;
			} else if (wp_buf_append(out, buf, (size_t)n) < 0) {
				kill(pid, SIGKILL);
				rc = wp_error_set(err, WP_ETOOBIG, "credential helper '%s' said too much", prog);
				break;
			}
		}
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		/* Helpers answer "credentials not found in native keychain" on stdout with status 1. */
		rc = out->data && strstr(out->data, "not found") ? WP_ENOTFOUND :
		     wp_error_set(err, WP_EAUTH, "credential helper '%s %s' failed", prog, verb);
	}
done:
	for (int i = 0; i < 2; i++) {
		if (in_pipe[i] >= 0)
			close(in_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	return rc;
}

static int from_helper(const char *helper, const char *registry, wp_auth_cred *out, wp_error *err)
{
	wp_buf data;
	json_t *j = NULL;
	int rc;

	wp_buf_init(&data, HELPER_OUT_MAX);
	rc = run_helper(helper, "get", wp_auth_creds_key(registry), &data, err);
	if (rc == WP_ENOTFOUND) {
		rc = 0;
		goto done;
	}
	if (rc == 0 && (rc = wp_json_parse(data.data, data.len, HELPER_OUT_MAX, &j, err)) == 0) {
		const char *user = wp_json_str(j, "Username"), *secret = wp_json_str(j, "Secret");

		if (secret && *secret) {
			out->identity_token = user && !strcmp(user, "<token>");
			out->username = wp_xstrdup(user ? user : "");
			out->secret = wp_xstrdup(secret);
			out->source = wp_str_fmt("docker-credential-%s", helper);
			rc = 1;
		}
	}
	if (rc < 0)
		wp_error_prefix(err, "credentials for '%s'", registry);
done:
	json_decref(j);
	if (data.data)
		OPENSSL_cleanse(data.data, data.len);
	wp_buf_release(&data);
	return rc;
}

static int from_file(const char *path, const char *registry, bool docker, wp_auth_cred *out, wp_error *err)
{
	json_t *root;
	const char *helper = NULL;
	int rc = load_json_file(path, &root, err);

	if (rc == WP_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (docker) {
		json_t *helpers = json_object_get(root, "credHelpers");
		const char *k;
		json_t *v;

		json_object_foreach(helpers, k, v) {
			_cleanup_free_ char *nk = normalize_key(k);

			if (nk && !strcmp(nk, registry) && json_is_string(v))
				helper = json_string_value(v);
		}
		if (helper) {
			rc = from_helper(helper, registry, out, err);
			json_decref(root);
			return rc;
		}
	}
	rc = from_auths(json_object_get(root, "auths"), registry, path, out, err);
	if (rc == 0 && docker && (helper = wp_json_str(root, "credsStore")) && *helper)
		rc = from_helper(helper, registry, out, err);
	json_decref(root);
	return rc;
}

int wp_auth_creds_lookup(const char *registry, wp_auth_cred *out, wp_error *err)
{
	const char *raf = getenv("REGISTRY_AUTH_FILE");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	_cleanup_free_ char *docker = docker_config_path();
	_cleanup_free_ char *reg = normalize_key(registry);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (raf && *raf)
		rc = from_file(raf, reg, false, out, err);
	if (rc == 0 && docker)
		rc = from_file(docker, reg, true, out, err);
	if (rc == 0 && xdg && *xdg) {
		_cleanup_free_ char *path = wp_str_fmt("%s/containers/auth.json", xdg);

		if (path)
			rc = from_file(path, reg, false, out, err);
	}
	if (rc < 0) {
		wp_auth_cred_release(out);
		return rc;
	}
	if (rc > 0)
		wp_debug("credentials for %s from %s", reg, out->source);
	return 0;
}

/* Where config.json really is: a symbolic link (a dotfile manager's) is followed, so that
 * the file it points at is the one replaced, not the link. Links to links too, at most 40. */
static char *config_target(const char *path, wp_error *err)
{
	char *cur = wp_xstrdup(path);

	for (int hops = 0; hops < 40; hops++) {
		char text[PATH_MAX];
		ssize_t n = readlink(cur, text, sizeof(text) - 1);
		wp_buf dir;
		char *next;

		if (n < 0) {
			if (errno == EINVAL || errno == ENOENT)
				return cur;   /* not a link, or nothing there yet */
			wp_error_sys(err, WP_EIO, "reading the link '%s'", cur);
			free(cur);
			return NULL;
		}
		text[n] = '\0';
		wp_buf_init(&dir, PATH_MAX);
		if (text[0] == '/' || wp_path_dirname(cur, &dir) < 0)
			next = wp_xstrdup(text);
		else
			next = wp_str_fmt("%s/%s", dir.data, text);
		wp_buf_release(&dir);
		free(cur);
		cur = next;
	}
	wp_error_set(err, WP_EINVALID, "'%s' is a chain of more than 40 symbolic links", path);
	free(cur);
	return NULL;
}

static int save_docker_config(const char *path, json_t *root, wp_error *err)
{
	_cleanup_free_ char *target = config_target(path, err);
	mode_t mode = 0600;
	struct stat st;
	wp_buf dir;
	char *s;
	int rc;

	if (!target)
		return err->code;
	/* The file keeps its mode (a user who made it 0640 meant it); a new one is 0600. */
	if (stat(target, &st) == 0)
		mode = st.st_mode & 07777;
	wp_buf_init(&dir, PATH_MAX);
	rc = wp_path_dirname(target, &dir) < 0 ? wp_error_set(err, WP_ETOOBIG, "path too long: '%s'", target)
					       : wp_fs_mkdir_p(dir.data, 0700, err);
	wp_buf_release(&dir);
	if (rc < 0)
		return rc;
	s = json_dumps(root, JSON_INDENT(1));
	if (!s)
		return wp_error_set(err, WP_EINVALID, "serialising '%s' failed", path);
	rc = wp_fs_write_atomic(target, s, strlen(s), mode, err);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return rc;
}

static const char *configured_helper(json_t *root, const char *registry)
{
	json_t *helpers = json_object_get(root, "credHelpers");
	const char *k, *store = wp_json_str(root, "credsStore");
	json_t *v;

	json_object_foreach(helpers, k, v) {
		_cleanup_free_ char *nk = normalize_key(k);

		if (nk && !strcmp(nk, registry) && json_is_string(v))
			return json_string_value(v);
	}
	return store && *store ? store : NULL;
}

int wp_auth_creds_store(const char *registry, const char *username, const char *secret, wp_error *err)
{
	_cleanup_free_ char *path = docker_config_path();
	_cleanup_free_ char *reg = normalize_key(registry);
	json_t *root = NULL, *auths;
	const char *helper;
	int rc;

	if (!path || !reg)
		return wp_error_set(err, WP_EUSAGE, "no place for credentials: set DOCKER_CONFIG or HOME");
	rc = load_json_file(path, &root, err);
	if (rc == WP_ENOTFOUND)
		root = json_object();
	else if (rc < 0)
		return rc;
	helper = configured_helper(root, reg);
	if (helper) {
		json_t *in = json_pack("{s:s,s:s,s:s}", "ServerURL", wp_auth_creds_key(reg), "Username", username, "Secret", secret);
		char *s = json_dumps(in, JSON_COMPACT);
		wp_buf out;

		wp_buf_init(&out, HELPER_OUT_MAX);
		rc = s ? run_helper(helper, "store", s, &out, err) : wp_error_set(err, WP_ENOMEM, "out of memory");
		if (s)
			OPENSSL_cleanse(s, strlen(s));
		free(s);
		json_decref(in);
		wp_buf_release(&out);
		json_decref(root);
		return rc;
	}
	auths = json_object_get(root, "auths");
	if (!json_is_object(auths)) {
		auths = json_object();
		json_object_set_new(root, "auths", auths);
	}
	{
		_cleanup_free_ char *pair = wp_str_fmt("%s:%s", username, secret);
		size_t plen = strlen(pair);
		char *enc = wp_xmalloc(plen / 3 * 4 + 8);

		EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)pair, (int)plen);
		json_object_set_new(auths, wp_auth_creds_key(reg), json_pack("{s:s}", "auth", enc));
		OPENSSL_cleanse(pair, plen);
		OPENSSL_cleanse(enc, strlen(enc));
		free(enc);
	}
	rc = save_docker_config(path, root, err);
	json_decref(root);
	return rc;
}

int wp_auth_creds_erase(const char *registry, wp_error *err)
{
	_cleanup_free_ char *path = docker_config_path();
	_cleanup_free_ char *reg = normalize_key(registry);
	json_t *root = NULL, *auths;
	const char *helper, *k;
	json_t *v, *tmp;
	bool found = false;
	int rc;

	if (!path || !reg)
		return wp_error_set(err, WP_EUSAGE, "no place for credentials: set DOCKER_CONFIG or HOME");
	rc = load_json_file(path, &root, err);
	if (rc < 0)
		return rc == WP_ENOTFOUND ? wp_error_set(err, WP_ENOTFOUND, "not logged in to '%s'", reg) : rc;
	helper = configured_helper(root, reg);
	if (helper) {
		wp_buf out;

		wp_buf_init(&out, HELPER_OUT_MAX);
		rc = run_helper(helper, "erase", wp_auth_creds_key(reg), &out, err);
		wp_buf_release(&out);
		json_decref(root);
		return rc == WP_ENOTFOUND ? wp_error_set(err, WP_ENOTFOUND, "not logged in to '%s'", reg) : rc;
	}
	auths = json_object_get(root, "auths");
	json_object_foreach_safe(auths, tmp, k, v) {
		_cleanup_free_ char *nk = normalize_key(k);

		if (nk && !strcmp(nk, reg)) {
			json_object_del(auths, k);
			found = true;
		}
	}
	rc = found ? save_docker_config(path, root, err) : wp_error_set(err, WP_ENOTFOUND, "not logged in to '%s'", reg);
	json_decref(root);
	return rc;
}
