#include "trust/sigstore.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/util.h"
#include "oci/digest.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_TYPE "application/vnd.in-toto+json"
#define STATEMENT_V1 "https://in-toto.io/Statement/v1"
#define STATEMENT_V01 "https://in-toto.io/Statement/v0.1"
#define KEY_FILE_MAX (64u << 10)

/* ---- base64 (standard alphabet, padded), as protobuf's JSON writes bytes ---- */

static char *b64_encode(const unsigned char *data, size_t len)
{
	char *out = wp_xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Decodes s; NULL when it is no base64. */
static unsigned char *b64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *out;
	int got;

	if (n % 4 || n > (WP_SIGSTORE_BUNDLE_MAX * 2))
		return NULL;
	out = wp_xmalloc(n / 4 * 3 + 1);
	if ((got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n)) < 0) {
		free(out);
		return NULL;
	}
	pad = n >= 1 && s[n - 1] == '=' ? (n >= 2 && s[n - 2] == '=' ? 2 : 1) : 0;
	*len = (size_t)got - pad;
	return out;
}

/* ---- keys ---- */

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char *p = u;
	size_t n = p ? strlen(p) : 0;

	(void)rwflag;
	if (!p || n > (size_t)size)
		return -1;
	memcpy(buf, p, n);
	return (int)n;
}

/* The key in path: a private key (with passphrase when encrypted), else a public one. */
static EVP_PKEY *load_key(const char *path, bool want_private, const char *passphrase, wp_error *err)
{
	wp_buf pem;
	BIO *bio;
	EVP_PKEY *k = NULL;

	wp_buf_init(&pem, KEY_FILE_MAX);
	if (wp_fs_read_file(path, KEY_FILE_MAX, &pem, err) < 0)
		return NULL;
	bio = BIO_new_mem_buf(pem.data ? pem.data : "", (int)pem.len);
	if (bio) {
		k = want_private ? PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)passphrase) : NULL;
		if (!k && !want_private) {
			k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
			if (!k) { /* a private key file stands for its public half */
				(void)BIO_reset(bio);
				k = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, (void *)passphrase);
			}
		}
		BIO_free(bio);
	}
	if (!k) {
		bool sigstore = pem.data && strstr(pem.data, "SIGSTORE PRIVATE KEY");

		wp_error_set(err, WP_EUSAGE, "'%s' holds no %s key wasmpack can read%s", path, want_private ? "private" : "public",
			     sigstore ? ": cosign's encrypted key format (scrypt and NaCl secretbox) is not one; "
					"export the key as PEM (openssl ec) or make one with openssl ecparam"
				      : want_private && pem.data && strstr(pem.data, "ENCRYPTED") && !passphrase
					      ? " (it is encrypted: set WASMPACK_KEY_PASSWORD)"
					      : " (want PEM, ECDSA P-256)");
	} else if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC || EVP_PKEY_get_bits(k) != 256) {
		wp_error_set(err, WP_EUSAGE, "'%s': only ECDSA P-256 keys are supported (as cosign makes them)", path);
		EVP_PKEY_free(k);
		k = NULL;
	}
	wp_buf_release(&pem);
	return k;
}

static void hint_of(EVP_PKEY *k, char hint[64])
{
	unsigned char *der = NULL, md[32];
	int n = i2d_PUBKEY(k, &der);
	char *b;

	hint[0] = '\0';
	if (n <= 0)
		return;
	EVP_Digest(der, (size_t)n, md, NULL, EVP_sha256(), NULL);
	OPENSSL_free(der);
	b = b64_encode(md, sizeof(md));
	wp_str_copy(hint, b, 64);
	free(b);
}

int wp_sigstore_key_hint(const char *path, char hint[64], wp_error *err)
{
	EVP_PKEY *k = load_key(path, false, getenv("WASMPACK_KEY_PASSWORD"), err);

	if (!k)
		return err->code;
	hint_of(k, hint);
	EVP_PKEY_free(k);
	return 0;
}

/* DSSE's pre-authentication encoding of a payload. */
static void pae(wp_buf *out, const char *type, const char *payload, size_t len)
{
	(void)!wp_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, len);
	(void)!wp_buf_append(out, payload, len);
}

/* ---- sign ---- */

int wp_sigstore_sign(const char *key_path, const char *passphrase, const char *name, const char *digest,
		     wp_buf *bundle, wp_error *err)
{
	EVP_PKEY *k;
	EVP_MD_CTX *md = NULL;
	wp_buf msg;
	json_t *st, *b;
	char *payload = NULL, *p64 = NULL, *s64 = NULL, *text = NULL, hint[64];
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int rc = 0;

	if ((rc = wp_digest_check(digest, err)) < 0)
		return rc;
	if (!(k = load_key(key_path, true, passphrase, err)))
		return err->code;
	hint_of(k, hint);
	st = json_pack("{s:s,s:[{s:s,s:{s:s}}],s:s,s:{}}", "_type", STATEMENT_V1, "subject", "name", name, "digest", "sha256",
		       wp_digest_hex(digest), "predicateType", WP_COSIGN_SIGN_PREDICATE, "predicate");
	payload = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(st);
	wp_buf_init(&msg, 1 << 20);
	pae(&msg, PAYLOAD_TYPE, payload, strlen(payload));
	if (!(md = EVP_MD_CTX_new()) || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)msg.data, msg.len) != 1 ||
	    !(sig = wp_xmalloc(siglen)) ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg.data, msg.len) != 1) {
		rc = wp_error_set(err, WP_EIO, "signing with '%s' failed", key_path);
		goto done;
	}
	p64 = b64_encode((const unsigned char *)payload, strlen(payload));
	s64 = b64_encode(sig, siglen);
	b = json_pack("{s:s,s:{s:{s:s},s:{}},s:{s:s,s:s,s:[{s:s,s:s}]}}", "mediaType", WP_MT_SIGSTORE_BUNDLE,
		      "verificationMaterial", "publicKey", "hint", hint, "timestampVerificationData", "dsseEnvelope",
		      "payload", p64, "payloadType", PAYLOAD_TYPE, "signatures", "sig", s64, "keyid", hint);
	text = json_dumps(b, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(b);
	wp_buf_reset(bundle);
	if (!text || wp_buf_append(bundle, text, strlen(text)) < 0)
		rc = wp_error_set(err, WP_ETOOBIG, "the bundle is too large");
done:
	free(text);
	free(p64);
	free(s64);
	free(sig);
	free(payload);
	wp_buf_release(&msg);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return rc;
}

/* ---- verify ---- */

static bool verify_sig(EVP_PKEY *k, const unsigned char *sig, size_t siglen, const void *msg, size_t len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
		  EVP_DigestVerify(md, sig, siglen, msg, len) == 1;

	EVP_MD_CTX_free(md);
	return ok;
}

/* A signature over a prehashed sha256 (a message-signature bundle's digest). */
static bool verify_prehashed(EVP_PKEY *k, const unsigned char *sig, size_t siglen, const unsigned char md32[32])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	bool ok = c && EVP_PKEY_verify_init(c) == 1 && EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
		  EVP_PKEY_verify(c, sig, siglen, md32, 32) == 1;

	EVP_PKEY_CTX_free(c);
	return ok;
}

static int malformed(wp_error *err, const char *why)
{
	return wp_error_set(err, WP_EDIGEST, "the signature bundle is malformed: %s", why);
}

bool wp_sigstore_predicate_accepted(const wp_strv *predicate_types, const char *type)
{
	if (!type)
		return false;
	if (!predicate_types || !predicate_types->len)
		return !strcmp(type, WP_COSIGN_SIGN_PREDICATE);
	for (size_t i = 0; i < predicate_types->len; i++)
		if (!strcmp(predicate_types->items[i], type))
			return true;
	return false;
}

static int verify_dsse(EVP_PKEY *k, json_t *env, const char *digest, const wp_strv *ptypes, wp_sigstore_verified *out,
		       wp_error *err)
{
	const char *ptype = wp_json_str(env, "payloadType"), *p64 = wp_json_str(env, "payload");
	_cleanup_free_ unsigned char *payload = NULL;
	size_t plen = 0, i;
	json_t *s, *st = NULL, *subj;
	bool good = false, about = false;
	wp_buf msg;
	wp_error jerr;
	int rc = 0;

	if (!ptype || !p64 || !(payload = b64_decode(p64, &plen)))
		return malformed(err, "its DSSE envelope has no payload");
	if (strcmp(ptype, PAYLOAD_TYPE))
		return wp_error_set(err, WP_EDIGEST, "the signature's payload is %s, not an in-toto statement", ptype);
	wp_buf_init(&msg, plen + 1024);
	pae(&msg, ptype, (const char *)payload, plen);
	json_array_foreach(json_object_get(env, "signatures"), i, s) {
		_cleanup_free_ unsigned char *sig = NULL;
		size_t slen = 0;

		if (wp_json_str(s, "sig") && (sig = b64_decode(wp_json_str(s, "sig"), &slen)) &&
		    verify_sig(k, sig, slen, msg.data, msg.len))
			good = true;
	}
	wp_buf_release(&msg);
	if (!good)
		return wp_error_set(err, WP_EDIGEST, "the signature does not verify with this key (another key signed it, "
				    "or the bundle was altered)");
	if (wp_json_parse((const char *)payload, plen, WP_SIGSTORE_BUNDLE_MAX, &st, &jerr) < 0)
		return malformed(err, "its statement is no JSON");
	if (!wp_json_str(st, "_type") ||
	    (strcmp(wp_json_str(st, "_type"), STATEMENT_V1) && strcmp(wp_json_str(st, "_type"), STATEMENT_V01))) {
		json_decref(st);
		return malformed(err, "its payload is no in-toto statement");
	}
	json_array_foreach(json_object_get(st, "subject"), i, subj) {
		const char *h = wp_json_str(json_object_get(subj, "digest"), "sha256");

		about = about || (h && !strcmp(h, wp_digest_hex(digest)));
	}
	if (!about) {
		const char *h = wp_json_str(json_object_get(json_array_get(json_object_get(st, "subject"), 0), "digest"), "sha256");

		rc = wp_error_set(err, WP_EDIGEST, "the signature is for sha256:%s, not this image (%s): the image changed "
				  "since it was signed", h ? h : "?", digest);
	} else if (!wp_sigstore_predicate_accepted(ptypes, wp_json_str(st, "predicateType"))) {
		const char *pt = wp_json_str(st, "predicateType");

		rc = wp_error_set(err, WP_EDIGEST, "the bundle is an attestation of type '%.200s', not a signature this "
				  "accepts (accepted: %s%s)", pt ? pt : "(none)",
				  ptypes && ptypes->len ? ptypes->items[0] : WP_COSIGN_SIGN_PREDICATE,
				  ptypes && ptypes->len > 1 ? ", ..." : "");
	} else {
		wp_str_copy(out->predicate_type, wp_json_str(st, "predicateType"), sizeof(out->predicate_type));
		wp_str_copy(out->content, "dsse-envelope", sizeof(out->content));
	}
	json_decref(st);
	return rc;
}

static int verify_message(EVP_PKEY *k, json_t *ms, const char *digest, wp_sigstore_verified *out, wp_error *err)
{
	json_t *md = json_object_get(ms, "messageDigest");
	const char *alg = wp_json_str(md, "algorithm"), *d64 = wp_json_str(md, "digest"), *s64 = wp_json_str(ms, "signature");
	_cleanup_free_ unsigned char *d = NULL, *sig = NULL;
	unsigned char want[32];
	size_t dl = 0, sl = 0;
	const char *hex = wp_digest_hex(digest);

	if (!alg || strcmp(alg, "SHA2_256") || !d64 || !s64 || !(d = b64_decode(d64, &dl)) || dl != 32 ||
	    !(sig = b64_decode(s64, &sl)))
		return malformed(err, "its message signature lacks a SHA2_256 digest or a signature");
	for (int i = 0; i < 32; i++)
		sscanf(hex + 2 * i, "%2hhx", &want[i]);
	if (!verify_prehashed(k, sig, sl, d))
		return wp_error_set(err, WP_EDIGEST, "the signature does not verify with this key");
	if (memcmp(d, want, 32))
		return wp_error_set(err, WP_EDIGEST, "the signature is of another manifest than this image's (%s)", digest);
	wp_str_copy(out->content, "message-signature", sizeof(out->content));
	return 0;
}

int wp_sigstore_verify(const char *bundle, size_t len, const char *pub_path, const char *digest,
		       const wp_strv *predicate_types, wp_sigstore_verified *out, wp_error *err)
{
	json_t *b = NULL, *env, *ms;
	EVP_PKEY *k;
	const char *mt;
	wp_error jerr;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = wp_digest_check(digest, err)) < 0)
		return rc;
	if (!(k = load_key(pub_path, false, getenv("WASMPACK_KEY_PASSWORD"), err)))
		return err->code;
	hint_of(k, out->hint);
	if (wp_json_parse(bundle, len, WP_SIGSTORE_BUNDLE_MAX, &b, &jerr) < 0) {
		rc = malformed(err, "no JSON");
	} else if (!(mt = wp_json_str(b, "mediaType")) || strncmp(mt, "application/vnd.dev.sigstore.bundle", 35)) {
		rc = malformed(err, "no Sigstore bundle media type");
	} else if ((env = json_object_get(b, "dsseEnvelope"))) {
		rc = verify_dsse(k, env, digest, predicate_types, out, err);
	} else if ((ms = json_object_get(b, "messageSignature"))) {
		/* a signature over the digest itself: what cosign's sign predicate says, so it
		 * counts where that predicate does, and not for a rule wanting, say, provenance */
		if (!wp_sigstore_predicate_accepted(predicate_types, WP_COSIGN_SIGN_PREDICATE))
			rc = wp_error_set(err, WP_EDIGEST, "the bundle is a plain message signature, not an attestation of the "
					  "accepted types (%s%s)", predicate_types->items[0], predicate_types->len > 1 ? ", ..." : "");
		else
			rc = verify_message(k, ms, digest, out, err);
	} else {
		rc = malformed(err, "neither a DSSE envelope nor a message signature");
	}
	json_decref(b);
	EVP_PKEY_free(k);
	return rc;
}
