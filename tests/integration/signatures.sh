#!/usr/bin/env bash
# Signatures (issue 17): `wasmpack sign` attaches a Sigstore bundle (v0.3, a DSSE-wrapped
# in-toto statement about the manifest digest, as cosign 3 writes) as the image's referrer;
# `wasmpack verify` checks it (exit 0, or exit 5 saying why). Held to Sigstore's own code:
# sigstore-js verifies the bundles wasmpack writes, and wasmpack verifies a bundle that
# sigstore-js's signer wrote with the same key. Offline, public-key mode, no Rekor.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
SIG=$ROOT/.deps/sigstore/node_modules/@sigstore/verify
if ! command -v docker-registry >/dev/null || ! command -v openssl >/dev/null || ! command -v node >/dev/null ||
	! [ -d "$SIG" ]; then
	skip "needs docker-registry, openssl, node and sigstore-js (scripts/deps.sh installs them into .deps/sigstore)"
	done_testing
	exit
fi
REF="node $ROOT/tests/helpers/sigstore.mjs"
port=$(free_port)
start_registry plain "$port" || { ok 1 "a registry starts"; done_testing; exit 1; }
R=127.0.0.1:$port
openssl ecparam -name prime256v1 -genkey -noout -out key.pem 2>/dev/null && openssl ec -in key.pem -pubout -out key.pub 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out other.pem 2>/dev/null && openssl ec -in other.pem -pubout -out other.pub 2>/dev/null
"$WP" build --wasm "$HELLO" -t "$R/demo/app:v1" --push --plain-http >/dev/null
app=$("$WP" inspect "$R/demo/app:v1" --format json | jq -r .digest)
manifest() { curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/$1/manifests/$2"; }
blob() { curl -sf "http://$R/v2/$1/blobs/$2"; }

# sign
out=$("$WP" sign "$R/demo/app:v1" --plain-http --key key.pem --format json); rc=$?
is "$rc" "0" "sign exits 0"
is "$(jq -r .subject <<<"$out")" "$app" "signing the image's manifest digest"
sigm=$(manifest demo/app "$(jq -r .signature <<<"$out")")
is "$(jq -r '.artifactType, .layers[0].mediaType, .subject.digest, .annotations["dev.sigstore.bundle.content"], .annotations["dev.sigstore.bundle.predicateType"]' <<<"$sigm" | tr '\n' ' ')" \
	"application/vnd.dev.sigstore.bundle.v0.3+json application/vnd.dev.sigstore.bundle.v0.3+json $app dsse-envelope https://sigstore.dev/cosign/sign/v1 " \
	"the signature is a referrer in cosign's bundle layout, with its annotations"
blob demo/app "$(jq -r .layers[0].digest <<<"$sigm")" > bundle.json
is "$(jq -r '.mediaType, .dsseEnvelope.payloadType' bundle.json | tr '\n' ' ')" "application/vnd.dev.sigstore.bundle.v0.3+json application/vnd.in-toto+json " \
	"the bundle holds a DSSE envelope of an in-toto statement"
is "$(jq -r .dsseEnvelope.payload bundle.json | base64 -d | jq -r '.predicateType, .subject[0].digest.sha256' | tr '\n' ' ')" \
	"https://sigstore.dev/cosign/sign/v1 ${app#sha256:} " "about this image, as cosign's image signatures are"
out=$($REF verify key.pub "$app" < bundle.json 2>&1); rc=$?
is "$rc" "0" "Sigstore's own verifier (sigstore-js) accepts the bundle wasmpack wrote"
like "$out" "verified" "(it says so)"
$REF verify other.pub "$app" < bundle.json >/dev/null 2>&1
is "$?" "1" "and refuses it with another key (so it does check)"

# verify
out=$("$WP" verify "$R/demo/app:v1" --plain-http --key key.pub); rc=$?
is "$rc" "0" "verify with the signer's key: exit 0"
like "$out" "verified: $R/demo/app@$app, signed by the key" "saying what was verified and by which key"
is "$("$WP" verify "$R/demo/app:v1" --plain-http --key key.pub --format json | jq -r '.digest, .predicateType' | tr '\n' ' ')" \
	"$app https://sigstore.dev/cosign/sign/v1 " "--format json"
check "a private key file stands for its public half" "$WP" verify "$R/demo/app:v1" --plain-http --key key.pem
err=$("$WP" verify "$R/demo/app:v1" --plain-http --key other.pub 2>&1); rc=$?
is "$rc" "5" "another key: exit 5"
like "$err" "does not verify with this key" "saying so"
"$WP" build --wasm "$EXITC" -t "$R/demo/unsigned:v1" --push --plain-http >/dev/null
err=$("$WP" verify "$R/demo/unsigned:v1" --plain-http --key key.pub 2>&1); rc=$?
is "$rc" "5" "an unsigned image: exit 5"
like "$err" "is not signed: no Sigstore bundle refers to it" "saying no signature was found"
# the tag moved to other content after signing: the signature stays with the old digest
"$WP" build --wasm "$EXITC" --env CHANGED=1 -t "$R/demo/app:v1" --push --plain-http >/dev/null
err=$("$WP" verify "$R/demo/app:v1" --plain-http --key key.pub 2>&1); rc=$?
is "$rc" "5" "a tag moved to other content since signing: exit 5"
like "$err" "not signed" "(the new manifest has no signature)"
check "the signed digest itself still verifies" "$WP" verify "$R/demo/app@$app" --plain-http --key key.pub
# a signature of one image attached to another: the statement names the other digest
moved=$("$WP" inspect "$R/demo/app:v1" --format json | jq -r .digest)
printf '%s' "$(cat bundle.json)" > stolen.json
"$WP" attach "$R/demo/app:v1" --plain-http --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json \
	"stolen.json:application/vnd.dev.sigstore.bundle.v0.3+json" >/dev/null
err=$("$WP" verify "$R/demo/app:v1" --plain-http --key key.pub 2>&1); rc=$?
is "$rc" "5" "another image's signature attached to this one: exit 5"
like "$err" "the signature is for $app, not this image \($moved\)" "naming both digests"
# a tampered bundle: one byte of the statement changed
jq -c '.dsseEnvelope.payload |= (@base64d | sub("sign/v1"; "sign/v2") | @base64)' bundle.json > tampered.json
"$WP" build --wasm "$WRITER" -t "$R/demo/tamper:v1" --push --plain-http >/dev/null
tdig=$("$WP" inspect "$R/demo/tamper:v1" --format json | jq -r .digest)
"$WP" attach "$R/demo/tamper:v1" --plain-http --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json \
	"tampered.json:application/vnd.dev.sigstore.bundle.v0.3+json" >/dev/null
is "$("$WP" verify "$R/demo/tamper:v1" --plain-http --key key.pub >/dev/null 2>&1; echo $?)" "5" "an altered bundle: exit 5"
echo 'not json' > junk.json
"$WP" attach "$R/demo/unsigned:v1" --plain-http --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json \
	"junk.json:application/vnd.dev.sigstore.bundle.v0.3+json" >/dev/null
err=$("$WP" verify "$R/demo/unsigned:v1" --plain-http --key key.pub 2>&1); rc=$?
is "$rc" "5" "a malformed bundle: exit 5"
like "$err" "malformed" "saying so"

# the other way: Sigstore's signer (sigstore-js) signs, wasmpack verifies
"$WP" build --wasm "$HOG" -t "$R/demo/theirs:v1" --push --plain-http >/dev/null
theirs=$("$WP" inspect "$R/demo/theirs:v1" --format json | jq -r .digest)
$REF sign key.pem "$theirs" "$R/demo/theirs" > theirs.json
check "sigstore-js signs the image's digest" test -s theirs.json
"$WP" attach "$R/demo/theirs:v1" --plain-http --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json \
	"theirs.json:application/vnd.dev.sigstore.bundle.v0.3+json" >/dev/null
out=$("$WP" verify "$R/demo/theirs:v1" --plain-http --key key.pub); rc=$?
is "$rc" "0" "wasmpack verifies the bundle Sigstore's signer wrote"
is "$("$WP" verify "$R/demo/theirs:v1" --plain-http --key other.pub >/dev/null 2>&1; echo $?)" "5" "and not with another key"

# an attestation is not a signature (issue 22, 2): an SBOM, a provenance or a statement whose
# predicate says "rejected", signed with the same key, verifies as a bundle but does not count
for kind in "https://spdx.dev/Document {}" "https://slsa.dev/provenance/v1 {}" \
	'https://example.com/review/v1 {"verdict":"rejected"}'; do
	set -- $kind
	img=att-$(printf '%s' "$1" | tr -c 'a-z0-9' '-' | cut -c1-40)
	"$WP" build --wasm "$HOG" --env "ATT=$1" -t "$R/demo/$img:v1" --push --plain-http >/dev/null
	adig=$("$WP" inspect "$R/demo/$img:v1" --format json | jq -r .digest)
	$REF sign key.pem "$adig" "$R/demo/$img" "$1" "$2" > att.json
	"$WP" attach "$R/demo/$img:v1" --plain-http --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json \
		"att.json:application/vnd.dev.sigstore.bundle.v0.3+json" >/dev/null
	err=$("$WP" verify "$R/demo/$img:v1" --plain-http --key key.pub 2>&1); rc=$?
	is "$rc" "5" "a $1 attestation signed with the key is no signature: exit 5"
	like "$err" "attestation of type '$1', not a signature" "saying what it is"
	out=$("$WP" verify "$R/demo/$img:v1" --plain-http --key key.pub --predicate-type "$1" --format json); rc=$?
	is "$rc:$(jq -r .predicateType <<<"$out")" "0:$1" "verify --predicate-type $1 accepts it"
done
out=$("$WP" verify "$R/demo/theirs:v1" --plain-http --key key.pub --predicate-type https://spdx.dev/Document \
	--predicate-type https://sigstore.dev/cosign/sign/v1 2>&1); rc=$?
is "$rc" "0" "--predicate-type repeats: either of two types counts"

# keys
err=$("$WP" sign "$R/demo/app:v1" --plain-http 2>&1); rc=$?
is "$rc" "2" "sign without --key: a usage error"
openssl genrsa -out rsa.pem 2048 2>/dev/null
err=$("$WP" sign "$R/demo/app:v1" --plain-http --key rsa.pem 2>&1); rc=$?
is "$rc" "2" "an RSA key: refused"
like "$err" "only ECDSA P-256" "saying which keys are supported"
printf -- '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n' > cosign.key
err=$("$WP" sign "$R/demo/app:v1" --plain-http --key cosign.key 2>&1); rc=$?
is "$rc" "2" "cosign's encrypted key format: refused"
like "$err" "cosign's encrypted key format" "saying what to do instead"
openssl pkcs8 -topk8 -in key.pem -out enc.pem -passout pass:s3cret 2>/dev/null
err=$("$WP" sign "$R/demo/unsigned:v1" --plain-http --key enc.pem 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "an encrypted PEM key without its passphrase: refused"
like "$err" "WASMPACK_KEY_PASSWORD" "naming the variable for it"
WASMPACK_KEY_PASSWORD=s3cret "$WP" sign "$R/demo/unsigned:v1" --plain-http --key enc.pem >/dev/null
is "$?" "0" "with WASMPACK_KEY_PASSWORD it signs"
check "and that signature verifies" "$WP" verify "$R/demo/unsigned:v1" --plain-http --key key.pub
done_testing
