/* wasmpack sign REF --key KEY: a Sigstore bundle signing REF's manifest digest, attached
 * as its referrer (the shape cosign 3 writes). wasmpack verify REF --key PUB: exit 0 when
 * a bundle among REF's referrers is a signature of this very manifest by that key, exit 5
 * saying why not. The work is trust/trust.h's; trust/sigstore.h has the format. */
#include "cli/cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "trust/trust.h"
#include "registry/referrers.h"
#include "registry/remote.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const wp_opt sign_opts[] = {
	WP_VALUE("key", 0, "FILE", "the private key, PEM (ECDSA P-256; env WASMPACK_KEY_PASSWORD when encrypted)", "@file", &wp_opts.key),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_sign(wp_cli *cli)
{
	const char *key = wp_opts.key;
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_store s = WP_STORE_INIT;
	wp_ref ref = { 0 };
	wp_descriptor subject = { 0 }, art = { 0 };
	_cleanup_free_ char *name = NULL;
	char bundle[WP_DIGEST_BUFSZ];
	bool api = false;
	int rc;

	if (!key)
		return wp_error_set(&cli->err, WP_EUSAGE, "sign needs --key FILE, a private key (openssl ecparam -name "
				    "prime256v1 -genkey -noout -out key.pem)");
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_cli_registry_ref(cli, cli->args.items[0], &ref)) < 0)
		return rc;
	name = wp_ref_name(&ref);
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0 ||
	    (rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) < 0 ||
	    (rc = wp_remote_describe(r, &ref, &subject, &cli->err)) < 0 ||
	    (rc = wp_trust_sign(r, &s, &ref, &subject, key, getenv("WASMPACK_KEY_PASSWORD"), &art, bundle, &api,
				&cli->err)) < 0)
		goto done;
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "signature", art.digest, "subject", subject.digest, "bundle", bundle,
				      "referrersApi", api);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else {
		fprintf(cli->out, "%s\n", art.digest);
		wp_info("signed %s@%s: the Sigstore bundle is its referrer %s", name, subject.digest, art.digest);
	}
done:
	wp_descriptor_release(&art);
	wp_descriptor_release(&subject);
	wp_client_close(r);
	wp_store_close(&s);
	wp_ref_release(&ref);
	return rc;
}

const wp_cmd wp_cmd_sign = {
	.name = "sign",
	.args = "REF",
	.summary = "sign an image in a registry with a key (a Sigstore bundle, attached as its referrer)",
	.opts = sign_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_sign,
	.examples = "openssl ecparam -name prime256v1 -genkey -noout -out key.pem\n"
		"openssl ec -in key.pem -pubout -out key.pub\n"
		"wasmpack sign localhost:5000/app:v1 --key key.pem\n",
};

/* ---- verify ---- */

static const wp_opt verify_opts[] = {
	WP_VALUE("key", 0, "FILE", "the public key, PEM (a private key file stands for its public half)", "@file", &wp_opts.key),
	WP_LIST("predicate-type", 0, "URI", "a DSSE bundle's predicate type that counts as a signature (repeatable; "
	  "default https://sigstore.dev/cosign/sign/v1)", NULL, &wp_opts.predicate_types),
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_verify(wp_cli *cli)
{
	const char *key = wp_opts.key;
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_ref ref = { 0 };
	wp_descriptor subject = { 0 };
	wp_sigstore_verified v = { 0 };
	wp_strv keys = { 0 };
	_cleanup_free_ char *name = NULL;
	char hint[64], sig[WP_DIGEST_BUFSZ];
	int rc;

	if (!key)
		return wp_error_set(&cli->err, WP_EUSAGE, "verify needs --key FILE, the signer's public key");
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_cli_registry_ref(cli, cli->args.items[0], &ref)) < 0 ||
	    (rc = wp_sigstore_key_hint(key, hint, &cli->err)) < 0)
		return rc;
	name = wp_ref_name(&ref);
	wp_strv_push(&keys, key);
	if ((rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) < 0 ||
	    (rc = wp_remote_describe(r, &ref, &subject, &cli->err)) < 0 ||
	    (rc = wp_trust_verify_signed(r, &ref, subject.digest, &keys, &wp_opts.predicate_types, &v, sig,
					   &cli->err)) < 0)
		goto done;
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "verified", name, "digest", subject.digest, "signature",
				      sig, "keyHint", v.hint, "content", v.content, "predicateType", v.predicate_type);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else {
		fprintf(cli->out, "verified: %s@%s, signed by the key %s (%s)\n", name, subject.digest, v.hint,
			*v.predicate_type ? v.predicate_type : v.content);
	}
done:
	wp_strv_release(&keys);
	wp_descriptor_release(&subject);
	wp_client_close(r);
	wp_ref_release(&ref);
	return rc;
}

const wp_cmd wp_cmd_verify = {
	.name = "verify",
	.args = "REF",
	.summary = "check that an image in a registry is signed by a key (exit 5 saying why when not)",
	.opts = verify_opts,
	.min_args = 1,
	.max_args = 1,
	.run = run_verify,
	.examples = "wasmpack verify localhost:5000/app:v1 --key key.pub\n",
};
