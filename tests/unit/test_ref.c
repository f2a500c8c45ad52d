/* Image references: Docker Hub normalisation and the distribution spec's grammar. */
#include "tap.h"
#include "oci/ref.h"

#include <stdlib.h>

static void norm(const char *in, const char *want, const char *api)
{
	wp_ref r;
	wp_error err;
	char *s;

	if (!ok(wp_ref_parse(in, &r, &err) == 0, "parse '%s'", in)) {
		printf("#   %s\n", err.msg);
		return;
	}
	s = wp_ref_string(&r);
	is_str(s, want, "'%s' normalises to '%s'", in, want);
	is_str(wp_ref_api_host(&r), api, "'%s' is served by %s", in, api);
	free(s);
	wp_ref_release(&r);
}

static void bad(const char *in, const char *why)
{
	wp_ref r;
	wp_error err;

	if (!ok(wp_ref_parse(in, &r, &err) == WP_EUSAGE, "'%s' is refused as a usage error (%s)", in, why))
		wp_ref_release(&r);
}

int main(void)
{
	static const char dg[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char buf[256];

	norm("alpine", "docker.io/library/alpine:latest", "registry-1.docker.io");
	norm("alpine:3.19", "docker.io/library/alpine:3.19", "registry-1.docker.io");
	norm("user/app", "docker.io/user/app:latest", "registry-1.docker.io");
	norm("index.docker.io/user/app:v1", "docker.io/user/app:v1", "registry-1.docker.io");
	norm("docker.io/alpine", "docker.io/library/alpine:latest", "registry-1.docker.io");
	norm("localhost:5000/app:v1", "localhost:5000/app:v1", "localhost:5000");
	norm("localhost/app", "localhost/app:latest", "localhost");
	norm("ghcr.io/org/team/app:1.0.0-rc.1", "ghcr.io/org/team/app:1.0.0-rc.1", "ghcr.io");
	norm("127.0.0.1:5000/a__b/c-d.e", "127.0.0.1:5000/a__b/c-d.e:latest", "127.0.0.1:5000");
	norm("[::1]:5000/app:v1", "[::1]:5000/app:v1", "[::1]:5000");
	snprintf(buf, sizeof(buf), "ghcr.io/org/app@%s", dg);
	norm(buf, buf, "ghcr.io");
	snprintf(buf, sizeof(buf), "ghcr.io/org/app:v1@%s", dg);
	norm(buf, buf, "ghcr.io");

	bad("", "empty");
	bad("App", "upper case repository");
	bad("app:", "empty tag");
	bad("app:-x", "tag starts with '-'");
	bad("app:a/b", "tag with a slash");
	bad("a..b", "double dot");
	bad("a-/b", "component ends with a separator");
	bad("_a", "component starts with a separator");
	bad("a___b", "three underscores");
	bad("app@sha256:123", "short digest");
	bad("app@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "upper case hex");
	bad("exa_mple.com/app", "underscore in a host is a repository component, here invalid");
	bad("host:port/app", "port not numeric");
	/* hosts: RFC 1123 labels or bracketed IPv6, ports 1-65535 */
	bad("localhost:99999999999999999999/x:y", "port past 65535 (and past 2^64)");
	bad("localhost:65536/x", "port 65536");
	bad("localhost:0/x", "port 0");
	bad("localhost:/x", "empty port");
	bad("localhost:+80/x", "signed port");
	bad("[]", "empty brackets");
	bad("[]/x", "empty IPv6 address");
	bad("[]:5000/x", "empty IPv6 address with a port");
	bad("[::1/x", "unclosed bracket");
	bad("[zz::1]/x", "not an IPv6 address");
	bad("[1.2.3.4]/x", "IPv4 in brackets");
	bad("[fe80::1%eth0]:5000/x", "a zone in the address");
	bad("[::1]x/x", "junk after the bracket");
	bad("a..b.com/x", "empty label");
	bad(".example.com/x", "leading dot");
	bad("example.com./x", "trailing dot");
	bad("ex-.com/x", "label ends with a hyphen");
	bad("-ex.com:5000/x", "label starts with a hyphen");
	bad("exa mple.com/x", "space");
	memset(buf, 'a', 64);
	memcpy(buf + 64, ".com/x", 7);
	bad(buf, "a label of 64 characters");
	memset(buf, 'a', 63);
	memcpy(buf + 63, ".com/x", 7);
	norm(buf, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com/x:latest",
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com");
	norm("localhost:65535/x", "localhost:65535/x:latest", "localhost:65535");
	norm("localhost:1/x", "localhost:1/x:latest", "localhost:1");
	norm("[2001:db8::7]/x", "[2001:db8::7]/x:latest", "[2001:db8::7]");
	norm("[::ffff:127.0.0.1]:443/x", "[::ffff:127.0.0.1]:443/x:latest", "[::ffff:127.0.0.1]:443");
	norm("Example.COM/x", "Example.COM/x:latest", "Example.COM");
	ok(wp_ref_host_valid("registry.example.com:5000"), "host_valid: name and port");
	ok(!wp_ref_host_valid("registry.example.com:99999"), "host_valid: port past 65535");
	ok(!wp_ref_host_valid(""), "host_valid: empty");
	memset(buf, 'a', 140);
	memcpy(buf, "app:", 4);
	buf[140] = '\0';
	bad(buf, "tag longer than 128");
	ok(wp_ref_tag_valid("_under"), "a tag may start with '_'");
	ok(wp_ref_repository_valid("a.b_c__d-----e/f"), "all separators");
	return done_testing();
}
