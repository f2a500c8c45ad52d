/* push, pull, login, logout: the registry commands. */
#include "cli/cli.h"
#include "trust/trust.h"
#include "common/json.h"
#include "common/log.h"
#include "common/fs.h"
#include "common/path.h"
#include "common/util.h"
#include "oci/archive.h"
#include "oci/ref.h"
#include "registry/transfer.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* The longest password or token read at once, held, and a user name typed. */
#define SECRET_MAX 4096
#define SECRET_BUF_MAX (64u << 10)
#define USER_MAX 256

#define REG_OPTS WP_CLI_REGISTRY_OPTS
/* What pull and copy take of an index. */
#define PICK_OPTS \
	WP_VALUE("platform", 0, "OS/ARCH", "pick this platform from an index (default wasip1/wasm)", \
		 "wasip1/wasm wasip2/wasm wasi/wasm", &wp_opts.platform), \
	WP_FLAG("all-platforms", 0, "keep an index whole: every platform's manifest, then the index", &wp_opts.all_platforms)
#define DIGESTFILE_OPT WP_VALUE("digestfile", 0, "FILE", "write the manifest digest to FILE", "@file", &wp_opts.digestfile)

static void print_json_free(wp_cli *cli, json_t *o)
{
	wp_json_print(o, cli->out);
	json_decref(o);
}

/* --digestfile must be a file that can be written: told before anything moves, not after
 * a push that went through. */
static int check_digestfile(wp_cli *cli)
{
	const char *f = wp_opts.digestfile;
	_cleanup_free_ char *dir = NULL;
	struct stat st;
	wp_buf d;

	if (!f)
		return 0;
	if (cli->args.len > 1)
		return wp_error_set(&cli->err, WP_EUSAGE, "--digestfile takes one REF (%zu given)", cli->args.len);
	if (stat(f, &st) == 0 && S_ISDIR(st.st_mode))
		return wp_error_set(&cli->err, WP_EUSAGE, "--digestfile '%s' is a folder: name a file to write", f);
	wp_buf_init(&d, WP_PATH_MAX);
	if (wp_path_dirname(f, &d) == 0 && d.data)
		dir = wp_xstrdup(d.data);
	wp_buf_release(&d);
	if (!dir || access(dir, W_OK) < 0)
		return wp_error_sys(&cli->err, WP_EUSAGE, "--digestfile '%s': its folder '%s' cannot be written", f,
				    dir ? dir : "?");
	return 0;
}

static int print_transfer(wp_cli *cli, const wp_transfer_result *res, const char *name)
{
	const char *digestfile = wp_opts.digestfile;
	json_t *o, *blobs;

	if (digestfile) {
		wp_buf line;
		int rc;

		wp_buf_init(&line, 256);
		rc = wp_buf_printf(&line, "%s\n", res->manifest.digest);
		if (rc == 0)
			rc = wp_fs_write_atomic(digestfile, line.data, line.len, 0644, &cli->err);
		wp_buf_release(&line);
		if (rc < 0)
			return wp_error_prefix(&cli->err, "--digestfile (the transfer itself went through)");
	}
	if (!cli->json) {
		fprintf(cli->out, "%s\n", res->manifest.digest);
		return 0;
	}
	blobs = json_array();
	for (size_t i = 0; i < res->n_blobs; i++)
		json_array_append_new(blobs, json_pack("{s:s,s:I,s:s}", "digest", res->blobs[i].digest, "size",
						       (json_int_t)res->blobs[i].size, "outcome",
						       res->blobs[i].outcome ? res->blobs[i].outcome : "unknown"));
	o = json_pack("{s:s,s:s,s:s,s:I,s:o,s:{s:I,s:I,s:i,s:i}}", "name", name, "digest", res->manifest.digest,
		      "mediaType", res->manifest.media_type, "size", (json_int_t)res->manifest.size, "blobs", blobs,
		      "transfer", "bytesSent", (json_int_t)res->stats.bytes_up, "bytesReceived",
		      (json_int_t)res->stats.bytes_down, "requests", res->stats.requests, "retries", res->stats.retries);
	if (res->index_digest)
		json_object_set_new(o, "index", json_string(res->index_digest));
	wp_json_print(o, cli->out);
	json_decref(o);
	return 0;
}

static const wp_opt push_opts[] = {
	REG_OPTS,
	WP_CLI_CONCURRENCY_OPT,
	WP_VALUE("platform", 0, "OS/ARCH", "of an index, push this platform's manifest alone (default: the whole index)", "wasip1/wasm wasip2/wasm linux/amd64", &wp_opts.platform),
	DIGESTFILE_OPT,
	{ 0 },
};

static int push_one(wp_cli *cli, wp_store *s, const wp_client_opts *ro, const char *what)
{
	wp_client *r = NULL;
	wp_ref ref;
	wp_descriptor d;
	wp_transfer_result res = { 0 };
	_cleanup_free_ char *full = NULL;
	int rc;

	if ((rc = wp_ref_parse(what, &ref, &cli->err)) < 0)
		return rc;
	full = wp_ref_string(&ref);
	rc = wp_store_resolve(s, what, &d, NULL, &cli->err);
	if (rc == WP_ENOTFOUND)
		wp_cli_append_nearest(cli, s, what);
	if (rc == 0) {
		if ((rc = wp_client_open(&r, ref.registry, ro, &cli->err)) == 0)
			rc = wp_transfer_push_platform(s, r, &ref, &d, wp_opts.platform, &res, &cli->err);
		/* a short name is Docker Hub's, as docker has it: say so when that fails */
		if (rc < 0 && !wp_cli_names_registry(what))
			wp_error_append(&cli->err, "; '%s' names no registry, so it went to %s (%s): to push elsewhere, tag "
					"it with the registry's name first (wasmpack tag %s REGISTRY/%s)", what, ref.registry,
					full, what, what);
		if (rc == 0)
			rc = print_transfer(cli, &res, full);
		wp_descriptor_release(&d);
	}
	wp_transfer_result_release(&res);
	wp_client_close(r);
	wp_ref_release(&ref);
	return rc;
}

static int run_push(wp_cli *cli)
{
	wp_client_opts ro;
	wp_store s = WP_STORE_INIT;
	int rc;

	/* every REF and the options checked before anything moves */
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = check_digestfile(cli)) < 0)
		return rc;
	for (size_t i = 0; i < cli->args.len; i++) {
		wp_ref ref;

		if ((rc = wp_ref_parse(cli->args.items[i], &ref, &cli->err)) < 0)
			return rc;
		wp_ref_release(&ref);
	}
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED | WP_STORE_NOCREATE)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < cli->args.len; i++)
		rc = push_one(cli, &s, &ro, cli->args.items[i]);
	wp_store_close(&s);
	return rc;
}

const wp_cmd wp_cmd_push = {
	.name = "push",
	.args = "REF...",
	.summary = "push images from the store to a registry",
	.opts = push_opts,
	.min_args = 1,
	.max_args = -1,
	.args_complete = "@ref",
	.run = run_push,
	.examples = "wasmpack push localhost:5000/demo/app:v1\n"
		"wasmpack push --digestfile digest.txt ghcr.io/me/app:v1\n",
};

static const wp_opt pull_opts[] = {
	REG_OPTS,
	WP_CLI_CONCURRENCY_OPT,
	PICK_OPTS,
	WP_FLAG("referrers", 0, "also what refers to the image (signatures, SBOMs), kept with it", &wp_opts.referrers),
	DIGESTFILE_OPT,
	{ 0 },
};

static int run_pull(wp_cli *cli)
{
	wp_client_opts ro;
	wp_store s = WP_STORE_INIT;
	wp_client *r = NULL;
	wp_ref ref;
	wp_transfer_result res = { 0 };
	_cleanup_free_ char *full = NULL;
	int rc;

	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = check_digestfile(cli)) < 0 || (rc = wp_ref_parse(cli->args.items[0], &ref, &cli->err)) < 0)
		return rc;
	full = wp_ref_string(&ref);
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0) {
		wp_ref_release(&ref);
		return rc;
	}
	if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
		rc = wp_transfer_pull(&s, r, &ref, wp_opts.platform,
				      wp_opts.all_platforms ? WP_PULL_ALL_PLATFORMS : 0, &res, &cli->err);
	if (rc == 0 && wp_opts.referrers) {
		size_t n = 0;

		if ((rc = wp_trust_pull_referrers(r, &ref, &s, res.manifest.digest, &n, &cli->err)) == 0)
			wp_info("%zu referrer(s) of %s pulled with it", n, res.manifest.digest);
	}
	if (rc == 0)
		rc = print_transfer(cli, &res, full ? full : "");
	wp_transfer_result_release(&res);
	wp_client_close(r);
	wp_store_close(&s);
	wp_ref_release(&ref);
	return rc;
}

const wp_cmd wp_cmd_pull = {
	.name = "pull",
	.args = "REF",
	.summary = "pull an image from a registry into the store",
	.opts = pull_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_pull,
	.examples = "wasmpack pull ghcr.io/me/app:v1\nwasmpack pull --platform wasip2/wasm ghcr.io/me/app@sha256:...\n",
};

/* A registry name as given to login: "host[:port]" or a URL; Docker Hub by any name. */
static char *registry_arg(const char *arg)
{
	const char *p = strstr(arg, "://");
	size_t len;

	p = p ? p + 3 : arg;
	len = strcspn(p, "/");
	if ((len == 15 && !strncmp(p, "index.docker.io", 15)) || (len == 20 && !strncmp(p, "registry-1.docker.io", 20)))
		return wp_xstrdup("docker.io");
	return wp_xstrndup(p, len);
}

static int read_secret(wp_cli *cli, bool from_stdin, wp_buf *out)
{
	char buf[SECRET_MAX];
	struct termios old, quiet;
	bool tty = isatty(0) && !from_stdin;
	ssize_t n;

	if (!from_stdin && !isatty(0))
		return wp_error_set(&cli->err, WP_EUSAGE, "login: give the password with --password-stdin");
	if (tty) {
		fprintf(stderr, "Password: ");
		tcgetattr(0, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSANOW, &quiet);
	}
	wp_buf_reset(out);
	while ((n = read(0, buf, sizeof(buf))) > 0) {
		if (wp_buf_append(out, buf, (size_t)n) < 0)
			break;
		if (tty && memchr(buf, '\n', (size_t)n))
			break;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (tty) {
		tcsetattr(0, TCSANOW, &old);
		fputc('\n', stderr);
	}
	while (out->len && (out->data[out->len - 1] == '\n' || out->data[out->len - 1] == '\r'))
		out->data[--out->len] = '\0';
	if (!out->len)
		return wp_error_set(&cli->err, WP_EUSAGE, "login: empty password");
	return 0;
}

static const wp_opt login_opts[] = {
	REG_OPTS,
	WP_VALUE("username", 'u', "USER", "the user name (asked for on a terminal when not given)", NULL, &wp_opts.username),
	WP_FLAG("password-stdin", 0, "read the password (or token) from standard input (the way for scripts and CI)",
		&wp_opts.password_stdin),
	WP_VALUE("password", 'p', "PASSWORD", "the password on the command line: other users of this machine can see it "
		 "(ps); use --password-stdin", NULL, &wp_opts.password),
	{ 0 },
};

/* Checks the credentials against the registry before saving them: GET /v2/ answers 200
 * once the challenge it sets has been met with them. */
/* The user name asked for on a terminal, as docker asks; NULL (with the error) when there
 * is none to ask. */
static const char *ask_user(wp_cli *cli, const char *registry, char *buf, size_t cap)
{
	size_t n;

	if (!isatty(0) || wp_opts.password_stdin) {
		wp_error_set(&cli->err, WP_EUSAGE, "login: give the user name with -u USER");
		return NULL;
	}
	fprintf(stderr, "Username for %s: ", registry);
	fflush(stderr);
	if (!fgets(buf, (int)cap, stdin) || !(n = strcspn(buf, "\r\n"))) {
		wp_error_set(&cli->err, WP_EUSAGE, "login: no user name given");
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int run_login(wp_cli *cli)
{
	_cleanup_free_ char *registry = registry_arg(cli->args.items[0]);
	const char *user = wp_opts.username;
	char user_buf[USER_MAX];
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_buf secret;
	wp_client_req q;
	wp_client_resp p = { 0 };
	int rc;

	if (!registry || !*registry)
		return wp_error_set(&cli->err, WP_EUSAGE, "login: no registry named");
	if (!wp_ref_host_valid(registry))
		return wp_error_set(&cli->err, WP_EUSAGE, "login: '%s' is not a registry host[:port]", registry);
	if (wp_opts.password && wp_opts.password_stdin)
		return wp_error_set(&cli->err, WP_EUSAGE, "login: --password and --password-stdin are exclusive");
	if (!user && !(user = ask_user(cli, registry, user_buf, sizeof(user_buf))))
		return cli->err.code;
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0)
		return rc;
	wp_buf_init(&secret, SECRET_BUF_MAX);
	if (wp_opts.password) {
		/* docker's words: the password is in this command line, which ps shows */
		fprintf(stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
		rc = wp_buf_puts(&secret, wp_opts.password) < 0 ? wp_error_set(&cli->err, WP_EUSAGE, "login: password too long")
							     : !*wp_opts.password ? wp_error_set(&cli->err, WP_EUSAGE, "login: empty password")
										 : 0;
	} else {
		rc = read_secret(cli, wp_opts.password_stdin, &secret);
	}
	if (rc < 0)
		goto done;
	if ((rc = wp_client_open(&r, registry, &ro, &cli->err)) < 0)
		goto done;
	wp_client_set_cred(r, user, secret.data);
	wp_client_req_init(&q, "GET", wp_client_url(r, "/v2/"));
	wp_client_resp_init(&p);
	rc = wp_client_do(r, &q, &p, &cli->err);
	if (rc == 0)
		rc = wp_client_check(&p, "checking the credentials", &cli->err);
	wp_client_req_release(&q);
	wp_client_resp_release(&p);
	if (rc == WP_EAUTH)
		wp_error_set(&cli->err, WP_EAUTH, "login to %s refused: wrong user name or password", registry);
	if (rc == 0)
		rc = wp_auth_creds_store(registry, user, secret.data, &cli->err);
	if (rc == 0 && cli->json)
		print_json_free(cli, json_pack("{s:s,s:s,s:b}", "registry", registry, "username", user, "loggedIn", 1));
	else if (rc == 0 && cli->verbosity > 0)
		fprintf(cli->out, "logged in to %s\n", registry);
done:
	if (secret.data)
		OPENSSL_cleanse(secret.data, secret.len);
	wp_buf_release(&secret);
	wp_client_close(r);
	return rc;
}

const wp_cmd wp_cmd_login = {
	.name = "login",
	.args = "REGISTRY",
	.summary = "check and save credentials for a registry",
	.opts = login_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_login,
	.examples = "echo \"$TOKEN\" | wasmpack login ghcr.io -u me --password-stdin\n",
};

static const wp_opt logout_opts[] = { { 0 } };

static int run_logout(wp_cli *cli)
{
	_cleanup_free_ char *registry = registry_arg(cli->args.items[0]);
	int rc;

	if (!wp_ref_host_valid(registry))
		return wp_error_set(&cli->err, WP_EUSAGE, "logout: '%s' is not a registry host[:port]", registry);
	rc = wp_auth_creds_erase(registry, &cli->err);
	if (rc == 0 && cli->json)
		print_json_free(cli, json_pack("{s:s,s:b}", "registry", registry, "loggedIn", 0));
	else if (rc == 0 && cli->verbosity > 0)
		fprintf(cli->out, "logged out of %s\n", registry);
	return rc;
}

const wp_cmd wp_cmd_logout = {
	.name = "logout",
	.args = "REGISTRY",
	.summary = "forget the saved credentials for a registry",
	.opts = logout_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_logout,
	.examples = "wasmpack logout ghcr.io\n",
};

static const wp_opt copy_opts[] = {
	REG_OPTS,
	WP_CLI_CONCURRENCY_OPT,
	PICK_OPTS,
	WP_FLAG("referrers", 0, "also what refers to the image (signatures, SBOMs), between registries", &wp_opts.referrers),
	DIGESTFILE_OPT,
	{ 0 },
};

/* "oci:PATH[:NAME]" / "oci-archive:PATH[:NAME]": kind 1 folder, 2 archive, 0 a reference. */
static int layout_arg(const char *arg, char **path, char **name)
{
	const char *p, *colon;
	int kind;

	if (wp_str_has_prefix(arg, "oci:"))
		kind = 1, p = arg + 4;
	else if (wp_str_has_prefix(arg, "oci-archive:"))
		kind = 2, p = arg + 12;
	else
		return 0;
	colon = strchr(p, ':');
	*path = colon ? wp_xstrndup(p, (size_t)(colon - p)) : wp_xstrdup(p);
	*name = colon && colon[1] ? wp_xstrdup(colon + 1) : NULL;
	return kind;
}

/* Any of a registry, an OCI layout folder, an OCI archive, to any other; the store keeps
 * the blobs on the way (deduplicated, verified) but gains no tag. */
/* skopeo's transports: docker:// is a registry (always, never the store), oci: and
 * oci-archive: are wasmpack's too; the others are refused with what to do instead. */
static int transport(wp_cli *cli, const char **arg, bool *registry)
{
	static const struct {
		const char *prefix, *why;
	} other[] = {
		{ "containers-storage:", "podman's and CRI-O's local storage: export the image with 'podman save --format "
					 "oci-archive -o app.tar IMAGE', then copy oci-archive:app.tar" },
		{ "docker-daemon:", "a docker daemon's images: 'docker save IMAGE -o app.tar' makes an archive docker's way; "
				    "push it to a registry, or load it with 'wasmpack load' when it is an OCI archive" },
		{ "docker-archive:", "docker's own archive format: give an OCI archive (oci-archive:) instead" },
		{ "dir:", "skopeo's dir: layout: give an OCI layout (oci:DIR) instead" },
	};

	*registry = false;
	if (wp_str_has_prefix(*arg, "docker://")) {
		*arg += strlen("docker://");
		*registry = true;
		return 0;
	}
	for (size_t i = 0; i < WP_ARRAY_LEN(other); i++)
		if (wp_str_has_prefix(*arg, other[i].prefix))
			return wp_error_set(&cli->err, WP_EUSAGE, "'%s': %s is %s", *arg, other[i].prefix, other[i].why);
	return 0;
}

/* src (a registry's when src_registry, else the store's first) to dst. */
static int copy(wp_cli *cli, const char *src, bool src_registry, const char *dst)
{
	_cleanup_free_ char *spath = NULL, *sname = NULL, *dpath = NULL, *dname = NULL, *found = NULL, *src_full = NULL;
	int skind = layout_arg(src, &spath, &sname), dkind = layout_arg(dst, &dpath, &dname);
	bool referrers = wp_opts.referrers;
	wp_transfer_result res = { 0 };
	wp_client_opts ro;
	wp_descriptor d = { 0 };
	wp_store s = WP_STORE_INIT;
	wp_client *r = NULL;
	wp_ref ref;
	int rc;

	if (referrers && (skind || dkind))
		return wp_error_set(&cli->err, WP_EUSAGE, "--referrers copies between registries (and from the store): "
				    "OCI layouts and archives carry no referrers here");
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0)
		return rc;
	if (skind) {
		rc = wp_archive_import(&s, spath, skind == 1, sname, &d, &found, &cli->err);
	} else if (!src_registry && !wp_cli_names_registry(src) && wp_store_resolve(&s, src, &d, &found, &cli->err) == 0) {
		/* an image of the store (a short name, an id) is copied from it, as push would;
		 * a reference with a registry host goes to that registry */
		rc = 0;
	} else if (wp_str_has_prefix(src, "sha256:")) {
		rc = cli->err.code;
	} else if ((rc = wp_ref_parse(src, &ref, &cli->err)) == 0) {
		src_full = wp_ref_string(&ref);
		if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
			rc = wp_transfer_pull(&s, r, &ref, wp_opts.platform,
					      WP_PULL_NO_TAG | (wp_opts.all_platforms ? WP_PULL_ALL_PLATFORMS : 0), &res,
					      &cli->err);
		if (rc == 0)
			wp_descriptor_copy(&d, &res.manifest);
		if (rc == 0 && referrers) {
			size_t n = 0;

			rc = wp_trust_pull_referrers(r, &ref, &s, d.digest, &n, &cli->err);
		}
		wp_client_close(r);
		r = NULL;
		wp_ref_release(&ref);
		wp_transfer_result_release(&res);
	}
	if (rc < 0)
		goto done;
	if (dkind == 1) {
		rc = wp_archive_export_dir(&s, &d, dname ? dname : found ? found : src_full ? src_full : "latest", dpath, &cli->err);
	} else if (dkind == 2) {
		rc = wp_archive_save(&s, &d, dname ? dname : found ? found : src_full ? src_full : "latest", dpath, &cli->err);
	} else if ((rc = wp_ref_parse(dst, &ref, &cli->err)) == 0) {
		if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) == 0)
			rc = wp_transfer_push(&s, r, &ref, &d, &res, &cli->err);
		if (rc == 0 && referrers) {
			size_t n = 0;

			if ((rc = wp_trust_push_referrers(r, &ref, &s, d.digest, &n, &cli->err)) == 0)
				wp_info("%zu referrer(s) of %s copied with it", n, d.digest);
		}
		wp_ref_release(&ref);
	}
	if (rc == 0) {
		if (!res.manifest.media_type)
			wp_descriptor_copy(&res.manifest, &d);
		rc = print_transfer(cli, &res, dst);
	}
done:
	wp_transfer_result_release(&res);
	wp_descriptor_release(&d);
	wp_client_close(r);
	wp_store_close(&s);
	return rc;
}

static int run_copy(wp_cli *cli)
{
	const char *src = cli->args.items[0], *dst = cli->args.items[1];
	bool src_registry, dst_registry;
	int trc;

	if ((trc = transport(cli, &src, &src_registry)) < 0 || (trc = transport(cli, &dst, &dst_registry)) < 0)
		return trc;
	return copy(cli, src, src_registry, dst);
}

const wp_cmd wp_cmd_copy = {
	.name = "copy",
	.args = "SRC DST",
	.summary = "copy an image between registries, oci:DIR[:NAME] and oci-archive:FILE[:NAME]",
	.opts = copy_opts,
	.min_args = 2,
	.max_args = 2,
	.args_complete = "@ref",
	.run = run_copy,
	.examples = "wasmpack copy ghcr.io/me/app:v1 localhost:5000/mirror/app:v1\n"
		"wasmpack copy app:v1 oci-archive:app.tar\n",
};
