/* wasmpack sign REF --key KEY: a Sigstore bundle signing REF's manifest digest, attached
 * as its referrer (the shape cosign 3 writes). wasmpack verify REF --key PUB: exit 0 when
 * a bundle among REF's referrers is a signature of this very manifest by that key, exit 5
 * saying why not. oci/sigstore.h has the format. */
#include "cli/cli.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "oci/digest.h"
#include "oci/manifest.h"
#include "oci/mediatype.h"
#include "oci/sigstore.h"
#include "registry/referrers.h"
#include "registry/remote.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const wp_opt sign_opts[] = {
	{ "key", 0, WP_OPT_VALUE, "FILE", "the private key, PEM (ECDSA P-256; env WASMPACK_KEY_PASSWORD when encrypted)",
	  "@file" },
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_sign(wp_cli *cli)
{
	const char *key = wp_cli_value(cli, "key");
	wp_client_opts ro;
	wp_client *r = NULL;
	wp_store s = { .lock_fd = -1 };
	wp_ref ref = { 0 };
	wp_descriptor subject = { 0 }, art = { 0 }, layer = { 0 };
	wp_kvlist ann = { 0 };
	_cleanup_free_ char *name = NULL;
	char digest[WP_DIGEST_BUFSZ], created[32];
	time_t now = time(NULL);
	wp_buf bundle;
	bool api = false;
	int rc;

	if (!key)
		return wp_error_set(&cli->err, WP_EUSAGE, "sign needs --key FILE, a private key (openssl ecparam -name "
				    "prime256v1 -genkey -noout -out key.pem)");
	if ((rc = wp_cli_reg_opts(cli, &ro)) < 0 || (rc = wp_cli_registry_ref(cli, cli->args.items[0], &ref)) < 0)
		return rc;
	wp_buf_init(&bundle, WP_SIGSTORE_BUNDLE_MAX);
	name = wp_str_fmt("%s/%s", ref.registry, ref.repository);
	if ((rc = wp_cli_open_store(cli, &s, WP_STORE_SHARED)) < 0 ||
	    (rc = wp_client_open(&r, ref.registry, &ro, &cli->err)) < 0 ||
	    (rc = wp_cli_subject_of(r, &ref, &subject, &cli->err)) < 0 ||
	    (rc = wp_sigstore_sign(key, getenv("WASMPACK_KEY_PASSWORD"), name, subject.digest, &bundle, &cli->err)) < 0 ||
	    (rc = wp_store_put_blob(&s, bundle.data, bundle.len, digest, &cli->err)) < 0)
		goto done;
	wp_descriptor_init(&layer, WP_MT_SIGSTORE_BUNDLE, digest, (int64_t)bundle.len);
	/* the annotations cosign's bundle specification lists */
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	wp_kvlist_set(&ann, "dev.sigstore.bundle.content", "dsse-envelope");
	wp_kvlist_set(&ann, "dev.sigstore.bundle.predicateType", WP_COSIGN_SIGN_PREDICATE);
	wp_kvlist_set(&ann, "org.opencontainers.image.created", created);
	if ((rc = wp_cli_attach(cli, r, &s, &ref, &subject, WP_MT_SIGSTORE_BUNDLE, &layer, 1, &ann, &art, &api)) < 0)
		goto done;
	if (cli->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "signature", art.digest, "subject", subject.digest, "bundle", digest,
				      "referrersApi", api);

		wp_json_print(o, cli->out);
		json_decref(o);
	} else {
		fprintf(cli->out, "%s\n", art.digest);
		wp_info("signed %s@%s: the Sigstore bundle is its referrer %s", name, subject.digest, art.digest);
	}
done:
	wp_kvlist_release(&ann);
	wp_descriptor_release(&layer);
	wp_descriptor_release(&art);
	wp_descriptor_release(&subject);
	wp_buf_release(&bundle);
	wp_client_close(r);
	wp_store_close(&s);
	wp_ref_release(&ref);
	return rc;
}

const wp_cmd wp_cmd_sign = {
	"sign", "REF", "sign an image in a registry with a key (a Sigstore bundle, attached as its referrer)",
	sign_opts, 1, 1, NULL, run_sign, false,
	.examples = "openssl ecparam -name prime256v1 -genkey -noout -out key.pem\n"
		    "openssl ec -in key.pem -pubout -out key.pub\n"
		    "wasmpack sign localhost:5000/app:v1 --key key.pem\n",
};

/* ---- verify ---- */

/* The Sigstore bundle an artifact manifest holds (its first layer of the bundle type). */
static int bundle_of(wp_client *r, const wp_ref *ref, const char *art, wp_buf *out, wp_error *err)
{
	_cleanup_free_ char *mt = NULL;
	char digest[WP_DIGEST_BUFSZ];
	wp_manifest m = { 0 };
	wp_buf body;
	int rc;

	wp_buf_init(&body, WP_MANIFEST_MAX);
	if ((rc = wp_remote_manifest(r, ref, art, &body, &mt, digest, err)) == 0 &&
	    (rc = wp_manifest_parse(body.data, body.len, &m, err)) == 0) {
		rc = wp_error_set(err, WP_EDIGEST, "the signature artifact %s holds no Sigstore bundle", art);
		for (size_t i = 0; i < m.n_layers; i++)
			if (m.layers[i].media_type && !strncmp(m.layers[i].media_type, "application/vnd.dev.sigstore.bundle", 35)) {
				rc = wp_remote_blob(r, ref->repository, m.layers[i].digest, WP_SIGSTORE_BUNDLE_MAX, out, err);
				break;
			}
	}
	wp_manifest_release(&m);
	wp_buf_release(&body);
	return rc;
}

int wp_cli_verify_signed(wp_client *r, const wp_ref *ref, const char *digest, const wp_strv *keys,
			 const wp_strv *predicate_types,
			 wp_sigstore_verified *v, char sig[WP_DIGEST_BUFSZ], wp_error *err)
{
	_cleanup_free_ char *name = wp_ref_name(ref);
	wp_index ix = { 0 };
	wp_error last = WP_ERROR_INIT;
	bool api = false, good = false;
	int rc;

	if ((rc = wp_referrers_list(r, ref->repository, digest, WP_MT_SIGSTORE_BUNDLE, &ix, &api, err)) < 0)
		return rc;
	/* every signature of the image is tried, with every key: one that verifies is enough */
	for (size_t i = 0; i < ix.n_manifests && !good; i++) {
		wp_buf b;

		wp_buf_init(&b, WP_SIGSTORE_BUNDLE_MAX);
		if ((rc = bundle_of(r, ref, ix.manifests[i].digest, &b, &last)) == 0)
			for (size_t k = 0; k < keys->len && !good; k++)
				if (wp_sigstore_verify(b.data ? b.data : "", b.len, keys->items[k], digest, predicate_types, v,
						       &last) == 0) {
					good = true;
					wp_str_copy(sig, ix.manifests[i].digest, WP_DIGEST_BUFSZ);
				}
		wp_buf_release(&b);
		/* a registry that stopped answering is no verdict on the image */
		if (!good && rc < 0 && rc != WP_EDIGEST && rc != WP_ENOTFOUND && rc != WP_EINVALID) {
			*err = last;
			wp_index_release(&ix);
			return rc;
		}
	}
	rc = 0;
	if (!good && !ix.n_manifests)
		rc = wp_error_set(err, WP_EDIGEST, "%s@%s is not signed: no Sigstore bundle refers to it", name, digest);
	else if (!good)
		rc = wp_error_set(err, WP_EDIGEST, "%s@%s: none of its %zu signature(s) verifies with %s%s: %s", name, digest,
				  ix.n_manifests, keys->len == 1 ? keys->items[0] : "any of the keys",
				  keys->len == 1 ? "" : " given", last.msg);
	wp_index_release(&ix);
	return rc;
}

static const wp_opt verify_opts[] = {
	{ "key", 0, WP_OPT_VALUE, "FILE", "the public key, PEM (a private key file stands for its public half)", "@file" },
	{ "predicate-type", 0, WP_OPT_LIST, "URI", "a DSSE bundle's predicate type that counts as a signature (repeatable; "
	  "default https://sigstore.dev/cosign/sign/v1)", NULL },
	WP_CLI_REGISTRY_OPTS,
	{ 0 },
};

static int run_verify(wp_cli *cli)
{
	const char *key = wp_cli_value(cli, "key");
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
	    (rc = wp_cli_subject_of(r, &ref, &subject, &cli->err)) < 0 ||
	    (rc = wp_cli_verify_signed(r, &ref, subject.digest, &keys, wp_cli_list(cli, "predicate-type"), &v, sig,
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
	"verify", "REF", "check that an image in a registry is signed by a key (exit 5 saying why when not)",
	verify_opts, 1, 1, NULL, run_verify, false,
	.examples = "wasmpack verify localhost:5000/app:v1 --key key.pub\n",
};
