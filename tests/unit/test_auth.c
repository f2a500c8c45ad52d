/* WWW-Authenticate challenges and the credential store's key names. */
#include "tap.h"
#include "registry/auth.h"

int main(void)
{
	wp_auth_challenge c;
	wp_error err;

	ok(wp_auth_challenge_parse("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
			      "scope=\"repository:samalba/my-app:pull,push\"", &c, &err) == 0, "parse a Bearer challenge");
	is_str(c.scheme, "Bearer", "scheme");
	is_str(c.realm, "https://auth.docker.io/token", "realm");
	is_str(c.service, "registry.docker.io", "service");
	is_str(c.scope, "repository:samalba/my-app:pull,push", "a scope with a comma inside quotes");
	wp_auth_challenge_release(&c);
	ok(wp_auth_challenge_parse("Basic realm=\"Registry Realm\"", &c, &err) == 0 && !strcmp(c.scheme, "Basic") &&
	   !strcmp(c.realm, "Registry Realm"), "parse a Basic challenge");
	wp_auth_challenge_release(&c);
	ok(wp_auth_challenge_parse("bearer Realm=http://x/t , error=\"insufficient_scope\", scope=\"a\\\"b\"", &c, &err) == 0,
	   "tokens, case, spaces and escapes");
	is_str(c.realm, "http://x/t", "unquoted value");
	is_str(c.error, "insufficient_scope", "error parameter");
	is_str(c.scope, "a\"b", "backslash escape");
	wp_auth_challenge_release(&c);
	ok(wp_auth_challenge_parse("Bearer realm=\"unterminated", &c, &err) == WP_EINVALID, "unterminated quote refused");
	ok(wp_auth_challenge_parse("", &c, &err) == WP_EINVALID, "empty header refused");
	ok(wp_auth_challenge_parse("Bearer =x", &c, &err) == WP_EINVALID, "parameter without a name refused");
	is_str(wp_auth_creds_key("docker.io"), "https://index.docker.io/v1/", "Docker Hub's credential key");
	is_str(wp_auth_creds_key("ghcr.io"), "ghcr.io", "other registries by host");
	return done_testing();
}
