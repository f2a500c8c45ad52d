#include "oci/ref.h"
#include "oci/digest.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 255

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: alnum runs joined by ".", "_", "__" or one or more "-". */
static bool component_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	while (i < len) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < len && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= len || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

bool wp_ref_repository_valid(const char *repo)
{
	const char *p = repo;

	if (!*repo || strlen(repo) > NAME_MAX_LEN)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (!component_valid(p, len))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

bool wp_ref_tag_valid(const char *tag)
{
	size_t len = strlen(tag), i;

	if (len == 0 || len > 128)
		return false;
	if (!(isalnum((unsigned char)tag[0]) || tag[0] == '_'))
		return false;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)tag[i];

		if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* One DNS label: letters, digits and inner hyphens, 1-63 characters (RFC 1123). */
static bool label_valid(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* A port: 1-65535, decimal digits only. */
static bool port_valid(const char *s, size_t len)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

/* host[:port], the host a name of labels (an IPv4 address is one too) or a bracketed
 * IPv6 address ("[::1]:5000"). */
static bool host_valid(const char *h, size_t len)
{
	size_t hl;

	if (len == 0)
		return false;
	if (h[0] == '[') {
		const char *close = memchr(h, ']', len);
		char addr[INET6_ADDRSTRLEN];
		unsigned char bin[16];

		if (!close || close == h + 1 || (size_t)(close - h - 1) >= sizeof(addr))
			return false;
		memcpy(addr, h + 1, (size_t)(close - h - 1));
		addr[close - h - 1] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return false;
		hl = (size_t)(close - h) + 1;
	} else {
		const char *colon = memchr(h, ':', len);

		hl = colon ? (size_t)(colon - h) : len;
		if (hl > 253)
			return false;
		for (size_t at = 0;;) {
			const char *dot = memchr(h + at, '.', hl - at);
			size_t n = dot ? (size_t)(dot - h) - at : hl - at;

			if (!label_valid(h + at, n))
				return false;
			if (!dot)
				break;
			at += n + 1;
		}
	}
	if (hl == len)
		return true;
	return h[hl] == ':' && port_valid(h + hl + 1, len - hl - 1);
}

bool wp_ref_host_valid(const char *host)
{
	return host_valid(host, strlen(host));
}

void wp_ref_release(wp_ref *ref)
{
	free(ref->registry);
	free(ref->repository);
	free(ref->tag);
	free(ref->digest);
	memset(ref, 0, sizeof(*ref));
}

int wp_ref_parse(const char *s, wp_ref *ref, wp_error *err)
{
	_cleanup_free_ char *copy = wp_xstrdup(s);
	char *at, *name, *slash, *colon, *last_slash;
	char *registry = NULL, *repository = NULL;

	memset(ref, 0, sizeof(*ref));
	if (!*s)
		return wp_error_set(err, WP_EUSAGE, "invalid reference '': empty");
	at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		if (!wp_digest_valid(at + 1))
			return wp_error_set(err, WP_EUSAGE, "invalid reference '%s': bad digest '%s'", s, at + 1);
		ref->digest = wp_xstrdup(at + 1);
	}
	name = copy;
	last_slash = strrchr(name, '/');
	colon = strrchr(last_slash ? last_slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!wp_ref_tag_valid(colon + 1)) {
			wp_ref_release(ref);
			return wp_error_set(err, WP_EUSAGE, "invalid reference '%s': bad tag '%s'", s, colon + 1);
		}
		ref->tag = wp_xstrdup(colon + 1);
	} else if (!ref->digest) {
		ref->tag = wp_xstrdup("latest");
	}
	slash = strchr(name, '/');
	if (slash && (memchr(name, '.', (size_t)(slash - name)) || memchr(name, ':', (size_t)(slash - name)) ||
		      ((size_t)(slash - name) == 9 && !strncmp(name, "localhost", 9)) || name[0] == '[')) {
		if (!host_valid(name, (size_t)(slash - name))) {
			wp_ref_release(ref);
			return wp_error_set(err, WP_EUSAGE, "invalid reference '%s': bad registry host '%.*s' (host names "
					    "of letters, digits, '-' and '.', or [IPv6], and a port of 1-65535)", s,
					    (int)(slash - name), name);
		}
		*slash = '\0';
		registry = wp_xstrdup(!strcmp(name, "index.docker.io") || !strcmp(name, WP_REF_DOCKER_HUB_API) ?
				  WP_REF_DOCKER_HUB : name);
		repository = wp_xstrdup(slash + 1);
	} else {
		registry = wp_xstrdup(WP_REF_DOCKER_HUB);
		repository = wp_xstrdup(name);
	}
	if (registry && repository && !strcmp(registry, WP_REF_DOCKER_HUB) && !strchr(repository, '/')) {
		char *full = wp_str_fmt("library/%s", repository);

		free(repository);
		repository = full;
	}
	ref->registry = registry;
	ref->repository = repository;
	if (strchr(ref->repository, ':')) {
		/* "a:b:c": one colon too many (a port belongs to a host, before a '/') */
		wp_ref_release(ref);
		return wp_error_set(err, WP_EUSAGE,
				    "invalid reference '%s': too many ':' (a reference is [HOST[:PORT]/]NAME[:TAG][@DIGEST]; "
				    "a port comes with its host, before a '/')",
				    s);
	}
	if (!wp_ref_repository_valid(ref->repository)) {
		wp_ref_release(ref);
		return wp_error_set(err, WP_EUSAGE,
				    "invalid reference '%s': repository names are lowercase letters, digits and "
				    "'.', '_', '-' separators between '/'", s);
	}
	if (strlen(ref->registry) + 1 + strlen(ref->repository) > NAME_MAX_LEN) {
		wp_ref_release(ref);
		return wp_error_set(err, WP_EUSAGE, "invalid reference '%s': name longer than %d", s, NAME_MAX_LEN);
	}
	return 0;
}

char *wp_ref_name(const wp_ref *ref)
{
	return wp_str_fmt("%s/%s", ref->registry, ref->repository);
}

char *wp_ref_string(const wp_ref *ref)
{
	return wp_str_fmt("%s/%s%s%s%s%s", ref->registry, ref->repository, ref->tag ? ":" : "",
			 ref->tag ? ref->tag : "", ref->digest ? "@" : "", ref->digest ? ref->digest : "");
}

const char *wp_ref_api_host(const wp_ref *ref)
{
	return strcmp(ref->registry, WP_REF_DOCKER_HUB) ? ref->registry : WP_REF_DOCKER_HUB_API;
}
