/* Registry authentication: WWW-Authenticate challenges, credentials from the places
 * people already keep them, and bearer tokens (Distribution's token auth and OAuth2). */
#ifndef WP_REGISTRY_AUTH_H
#define WP_REGISTRY_AUTH_H

#include <stdbool.h>
#include <time.h>

#include "common/error.h"
#include "common/strv.h"

#define WP_AUTH_HEADER_MAX 8192

typedef struct wp_auth_challenge {
	char *scheme;    /* "Bearer" or "Basic", as sent */
	char *realm;
	char *service;
	char *scope;
	char *error;     /* Bearer error="insufficient_scope" */
} wp_auth_challenge;

/* Parses one challenge (RFC 7235: scheme then comma-separated params, values plain tokens
 * or quoted strings with backslash escapes). */
int wp_auth_challenge_parse(const char *header, wp_auth_challenge *c, wp_error *err);
void wp_auth_challenge_release(wp_auth_challenge *c);

/* A token service's answer (Distribution's token auth, OAuth2): {"token" or
 * "access_token", "expires_in"}. The token must be a bearer token as RFC 6750 writes it
 * (letters, digits, "-._~+/", then "=" padding), which also keeps it from adding lines
 * to a request's headers. The lifetime is in seconds, clamped to 1 s..1 day (60 s when
 * missing, zero, negative or not a number). *token is malloc'ed. */
#define WP_TOKEN_RESPONSE_MAX (1u << 20)
int wp_auth_token_parse(const char *body, size_t len, char **token, long long *ttl_s, wp_error *err);

struct wp_auth_cred;

/* Distribution's token auth: GET realm?service=&scope= with Basic credentials (or none);
 * with an identity token, OAuth2's form POST with grant_type=refresh_token. curl is a
 * libcurl easy handle with the caller's transport settings (TLS, protocols, timeouts)
 * already on it; this adds the URL, credentials and body, and parses the answer with
 * wp_auth_token_parse. The scopes asked for are scope plus the challenge's own. cred may
 * be NULL (anonymous); registry names the registry in messages. WP_EAUTH when the service
 * refuses, WP_EIO when it cannot be reached. *token is malloc'ed: cleanse it before free. */
int wp_auth_token_fetch(void *curl, const wp_auth_challenge *c, const char *scope, const struct wp_auth_cred *cred,
			const char *registry, char **token, long long *ttl_s, wp_error *err);

typedef struct wp_auth_cred {
	char *username;
	char *secret;          /* password, or an identity (refresh) token */
	bool identity_token;   /* secret is an OAuth2 refresh token */
	char *source;          /* where it came from, for messages: never the secret */
} wp_auth_cred;

void wp_auth_cred_release(wp_auth_cred *c);

/* The key under which a registry's credentials are kept: "docker.io" is Docker Hub's
 * "https://index.docker.io/v1/"; others are the host[:port]. */
const char *wp_auth_creds_key(const char *registry);
/* Looks in $REGISTRY_AUTH_FILE, then $DOCKER_CONFIG/config.json (or ~/.docker/config.json:
 * credHelpers, credsStore, auths with auth/identitytoken), then
 * ${XDG_RUNTIME_DIR}/containers/auth.json. Nothing found is not an error (empty cred). */
int wp_auth_creds_lookup(const char *registry, wp_auth_cred *out, wp_error *err);
/* Saves through the configured helper if there is one, else into config.json (0600). */
int wp_auth_creds_store(const char *registry, const char *username, const char *secret, wp_error *err);
/* Removes what wp_auth_creds_store saved; WP_ENOTFOUND when there was nothing. */
int wp_auth_creds_erase(const char *registry, wp_error *err);

#endif
