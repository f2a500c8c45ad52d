/* Image references: [registry[:port]/]repository[:tag][@digest], normalised as Docker does
 * ("alpine" is docker.io/library/alpine:latest). */
#ifndef WP_OCI_REF_H
#define WP_OCI_REF_H

#include <stdbool.h>

#include "common/error.h"

typedef struct wp_ref {
	char *registry;    /* "docker.io", "localhost:5000", "[::1]:5000" */
	char *repository;  /* "library/alpine" */
	char *tag;         /* NULL when only a digest was given */
	char *digest;      /* NULL unless "@sha256:..." was given */
} wp_ref;

#define WP_REF_DOCKER_HUB "docker.io"
#define WP_REF_DOCKER_HUB_API "registry-1.docker.io"

/* Parses and normalises; a reference with neither tag nor digest gets tag "latest". A
 * malformed one is WP_EUSAGE (exit 2): references come from the command line. */
int wp_ref_parse(const char *s, wp_ref *ref, wp_error *err);
/* host[:port]: DNS labels (RFC 1123, 253 characters at most) or a bracketed IPv6 address,
 * and a port of 1-65535. */
bool wp_ref_host_valid(const char *host);
void wp_ref_release(wp_ref *ref);
/* The full normalised string, malloc'ed: "docker.io/library/alpine:latest". */
char *wp_ref_string(const wp_ref *ref);
/* registry/repository, malloc'ed. */
char *wp_ref_name(const wp_ref *ref);
/* The host the distribution API is served from (Docker Hub's differs from its name). */
const char *wp_ref_api_host(const wp_ref *ref);
/* Distribution spec name grammar: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/...)* */
bool wp_ref_repository_valid(const char *repo);
/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
bool wp_ref_tag_valid(const char *tag);

#endif
