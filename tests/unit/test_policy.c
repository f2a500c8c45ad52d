/* node/policy.c: one spelling for names and rules (issue 22, 6), and what counts as "no
 * policy" (issue 22, 8: only a name that is not there at all). */
#include "tap.h"
#include "common/util.h"
#include "trust/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void norm(const char *in, const char *want)
{
	_cleanup_free_ char *got = wp_policy_normalize(in);

	is_str(got, want, "'%s' is '%s'", in, want);
}

static char tmp[] = "/tmp/wasmpack-policy-unit.XXXXXX";

static int load(const char *text, wp_policy *p, wp_error *err)
{
	_cleanup_free_ char *path = wp_str_fmt("%s/p.toml", tmp);
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	return wp_policy_load(path, p, err);
}

int main(void)
{
	wp_policy p;
	wp_error err;

	norm("LOCALHOST:5000/team/app", "localhost:5000/team/app");
	norm("localhost.:5000/team", "localhost:5000/team");
	norm("Registry.Example.COM.", "registry.example.com");
	norm("registry.example.com:443/team", "registry.example.com/team");
	norm("registry.example.com.:443/team", "registry.example.com/team");
	norm("registry.example.com:4430/team", "registry.example.com:4430/team");
	norm("[::1]:443/x", "[::1]/x");
	norm("[::1]:5000/x", "[::1]:5000/x");
	norm("index.docker.io/nginx", "docker.io/library/nginx");
	norm("registry-1.docker.io/library/nginx", "docker.io/library/nginx");
	norm("DOCKER.IO/nginx", "docker.io/library/nginx");
	norm("docker.io/team/app", "docker.io/team/app");
	norm("nginx", "docker.io/library/nginx");
	norm("team/app", "docker.io/team/app");
	norm("docker.io", "docker.io");
	norm("localhost:5000/Team", "localhost:5000/team");
	norm("*", "*");
	norm("127.0.0.1:09237/signed", "127.0.0.1:9237/signed");
	norm("[::ffff:127.0.0.1]:9237/signed", "127.0.0.1:9237/signed");
	norm("[0::1]:5000/x", "[::1]:5000/x");
	norm("[0:0:0:0:0:0:0:1]:443/x", "[::1]/x");
	norm("127.1:5000/x", "127.0.0.1:5000/x");
	norm("0x7f.0.0.1:5000/x", "127.0.0.1:5000/x");
	norm("registry.example.com:0443/team", "registry.example.com/team");
	norm("cafe.example.com:5000/x", "cafe.example.com:5000/x");

	if (!mkdtemp(tmp))
		return 1;
	ok(load("[[rule]]\nmatch = \"LOCALHOST.:443/Team\"\nkeys = []\n"
		"[[rule]]\nmatch = \"index.docker.io/nginx\"\nkeys = []\n", &p, &err) == 0, "a policy with odd spellings loads");
	{
		const wp_policy_rule *r = wp_policy_match(&p, "localhost/team/app");

		ok(r && !strcmp(r->written, "LOCALHOST.:443/Team"), "a rule written LOCALHOST.:443/Team covers localhost/team/app");
		ok(wp_policy_match(&p, "LOCALHOST:443/team/app") == r, "and LOCALHOST:443/team/app");
		ok(wp_policy_match(&p, "localhost./team") == r, "and localhost./team");
		ok(!wp_policy_match(&p, "localhost/teamx"), "not localhost/teamx");
		ok(!wp_policy_match(&p, "localhost:5000/team"), "not another port");
		ok(wp_policy_match(&p, "docker.io/library/nginx") != NULL, "index.docker.io/nginx covers docker.io/library/nginx");
		ok(wp_policy_match(&p, "registry-1.docker.io/library/nginx") != NULL, "and registry-1.docker.io/library/nginx");
		wp_policy_release(&p);
	}

	/* what is no policy and what refuses */
	{
		_cleanup_free_ char *dangling = wp_str_fmt("%s/dangling.toml", tmp), *fifo = wp_str_fmt("%s/fifo", tmp);

		ok(symlink("/nonexistent/policy.toml", dangling) == 0, "a dangling link");
		ok(wp_policy_load(dangling, &p, &err) < 0 && strstr(err.msg, "cannot be read"), "does not load: %s", err.msg);
		ok(mkfifo(fifo, 0600) == 0, "a FIFO");
		ok(wp_policy_load(fifo, &p, &err) < 0 && strstr(err.msg, "FIFO"), "does not load, and does not hang: %s",
		   err.msg);
		ok(wp_policy_load(tmp, &p, &err) < 0 && strstr(err.msg, "folder"), "a folder does not load: %s", err.msg);
	}
	unsetenv("WASMPACK_POLICY");
	ok(wp_policy_path("given") && !strcmp(wp_policy_path("given"), "given"), "--policy comes first");
	setenv("WASMPACK_POLICY", "env.toml", 1);
	ok(!strcmp(wp_policy_path(NULL), "env.toml"), "then WASMPACK_POLICY");
	{
		_cleanup_free_ char *rm = wp_str_fmt("rm -rf '%s'", tmp);

		(void)!system(rm);
	}
	return done_testing();
}
