#!/usr/bin/env bash
# OCI 1.1 referrers (issue 17, first part): `attach` pushes an artifact manifest whose
# subject is an image, `discover` lists what refers to an image as a tree. Against
# Debian's Distribution 2.8, which has no referrers API, through the fallback tag schema
# (an index tagged sha256-<hex>); and against a registry with the API (the tests' own
# proxy in front of another Distribution): both give the same discover output.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if ! command -v docker-registry >/dev/null; then
	skip "docker-registry is not installed (scripts/deps.sh installs it)"
	done_testing
	exit
fi
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
port=$(free_port)
start_registry plain "$port" || { ok 1 "a registry starts"; done_testing; exit 1; }
R=127.0.0.1:$port
"$WP" build --wasm "$HELLO" -t "$R/demo/app:v1" --push --plain-http >/dev/null
app=$("$WP" inspect "$R/demo/app:v1" --format json | jq -r .digest)
hex=${app#sha256:}
echo '{"spdxVersion":"SPDX-2.3","name":"app"}' > sbom.spdx.json
echo 'reviewed' > review.txt

sbom=$("$WP" attach "$R/demo/app:v1" --plain-http --artifact-type application/spdx+json sbom.spdx.json \
	--annotation org.opencontainers.image.created=2026-01-01T00:00:00Z); rc=$?
is "$rc" "0" "attach an SBOM to an image in Distribution 2.8 (no referrers API)"
like "$sbom" '^sha256:[0-9a-f]{64}$' "it prints the artifact's digest"
out=$("$WP" attach "$R/demo/app:v1" --plain-http --artifact-type application/vnd.example.review \
	--annotation reviewed-by=alice "review.txt:text/plain" --format json)
is "$(jq -r '.referrersApi, .subject, .artifactType' <<<"$out" | tr '\n' ' ')" "false $app application/vnd.example.review " \
	"--format json: the fallback tag was used, the subject and the type"
review=$(jq -r .digest <<<"$out")

# what the registry holds: the artifact manifest by digest, and the fallback tag's index
m=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/demo/app/manifests/$sbom")
is "$(jq -r '.artifactType, .config.mediaType, .config.digest, .config.size, .subject.digest' <<<"$m" | tr '\n' ' ')" \
	"application/spdx+json application/vnd.oci.empty.v1+json sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a 2 $app " \
	"the artifact manifest: artifactType, the empty config, the subject"
is "$(jq -r '.layers[0].annotations["org.opencontainers.image.title"], .layers[0].size' <<<"$m" | tr '\n' ' ')" \
	"sbom.spdx.json $(stat -c %s sbom.spdx.json) " "a layer per file, titled by its name"
is "$(curl -sf "http://$R/v2/demo/app/blobs/$(jq -r .layers[0].digest <<<"$m")")" "$(cat sbom.spdx.json)" "holding the file's bytes"
is "$(jq -r '.layers[0].mediaType' <<<"$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/demo/app/manifests/$review")")" \
	"text/plain" "FILE:MEDIATYPE sets the layer's media type"
ix=$(curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/demo/app/manifests/sha256-$hex")
is "$(jq -r '.mediaType, (.manifests | length)' <<<"$ix" | tr '\n' ' ')" "application/vnd.oci.image.index.v1+json 2 " \
	"the fallback tag sha256-<hex> is an index of both"
is "$(jq -r '[.manifests[] | .artifactType] | sort | join(",")' <<<"$ix")" "application/spdx+json,application/vnd.example.review" \
	"with their artifact types"
like "$("$WP" tags "$R/demo/app" --plain-http | tr '\n' ' ')" "sha256-$hex" "(tags lists it)"
again=$("$WP" attach "$R/demo/app:v1" --plain-http --artifact-type application/spdx+json sbom.spdx.json \
	--annotation org.opencontainers.image.created=2026-01-01T00:00:00Z)
is "$again" "$sbom" "attaching the same again gives the same digest"
is "$(curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$R/v2/demo/app/manifests/sha256-$hex" | jq '.manifests | length')" \
	"2" "and no second entry in the tag's index"

# discover
out=$("$WP" discover "$R/demo/app:v1" --plain-http); rc=$?
is "$rc" "0" "discover exits 0"
is "$(head -1 <<<"$out")" "$R/demo/app@$app" "naming the image by digest"
like "$out" "├── application/spdx\+json  $sbom  \([0-9]+ bytes\)" "the SBOM, with its digest and size"
like "$out" "└── application/vnd\.example\.review  $review" "the review, last"
like "$out" "reviewed-by=alice" "with the annotations"
json=$("$WP" discover "$R/demo/app:v1" --plain-http --format json)
is "$(jq -r '.subject.digest, (.referrers | length), .referrers[0].digest, .referrers[1].annotations["reviewed-by"]' <<<"$json" | tr '\n' ' ')" \
	"$app 2 $sbom alice " "--format json: the subject and its referrers"
is "$("$WP" discover "$R/demo/app:v1" --plain-http --artifact-type application/vnd.example.review --format json | jq -r '[.referrers[].digest] | join(" ")')" \
	"$review" "--artifact-type keeps that type only"
sig=$("$WP" attach "$R/demo/app@$sbom" --plain-http --artifact-type application/vnd.example.signature)
json=$("$WP" discover "$R/demo/app:v1" --plain-http --format json)
is "$(jq -r '.referrers[0].referrers[0].digest' <<<"$json")" "$sig" "a referrer of a referrer (a signature of the SBOM) shows under it"
is "$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/demo/app/manifests/$sig" | jq -r '.layers[0].mediaType')" \
	"application/vnd.oci.empty.v1+json" "an artifact with no files has the one empty layer"
"$WP" build --wasm "$EXITC" -t "$R/demo/lonely:v1" --push --plain-http >/dev/null
like "$("$WP" discover "$R/demo/lonely:v1" --plain-http)" "nothing refers to it" "an image nothing refers to says so"

# pull --referrers keeps them in the store with the image: discover works offline there
export WASMPACK_STORE=$TMP/pulled
"$WP" pull --plain-http --referrers "$R/demo/app:v1" >/dev/null; rc=$?
is "$rc" "0" "pull --referrers"
off=$("$WP" discover "$R/demo/app:v1" --plain-http --format json | jq -c .referrers)
err=$("$WP" discover app 2>&1); rc=$?
is "$rc" "3" "discover of a short name the store does not hold: not found"
like "$err" "no image 'app' in the store" "saying so (no registry is asked)"
is "$("$WP" discover "$app" --format json | jq -c .referrers)" "$off" "discover of the pulled image by its id, offline, gives the registry's tree"
is "$("$WP" images --format json | jq length)" "1" "images lists the image, not its referrers"
blobs=$(ls "$WASMPACK_STORE/blobs/sha256" | wc -l)
"$WP" gc >/dev/null
is "$(ls "$WASMPACK_STORE/blobs/sha256" | wc -l)" "$blobs" "gc keeps the referrers while their image is kept"
"$WP" rmi "$R/demo/app:v1" >/dev/null && "$WP" gc >/dev/null
is "$(ls "$WASMPACK_STORE/blobs/sha256" | wc -l)" "0" "and removes them with it"
unset WASMPACK_STORE

# copy --referrers carries them to another registry (the fallback tag written there)
port3=$(free_port)
start_registry mirror "$port3" || ok 1 "a third registry starts"
M=127.0.0.1:$port3
"$WP" copy --plain-http --referrers "$R/demo/app:v1" "$M/mirror/app:v1" >/dev/null; rc=$?
is "$rc" "0" "copy --referrers between registries"
is "$("$WP" discover "$M/mirror/app:v1" --plain-http --format json | jq -c .referrers)" "$(jq -c .referrers <<<"$json")" \
	"the mirror's tree is the source's, signature of the SBOM included"
err=$("$WP" copy --referrers "$R/demo/app:v1" oci:"$TMP/lay" 2>&1); rc=$?
is "$rc" "2" "copy --referrers to an OCI layout: a usage error"

# mistakes
err=$("$WP" attach "$R/demo/app:v1" --plain-http sbom.spdx.json 2>&1); rc=$?
is "$rc" "2" "attach without --artifact-type: a usage error"
like "$err" "needs --artifact-type" "saying what is missing"
err=$("$WP" attach app:v1 --artifact-type a/b 2>&1); rc=$?
is "$rc" "2" "attach to a name without its registry: a usage error"
err=$("$WP" attach "$R/demo/nothing:v1" --plain-http --artifact-type a/b 2>&1); rc=$?
is "$rc" "3" "attach to an image the registry does not have: not found"
err=$("$WP" attach "$R/demo/app:v1" --plain-http --artifact-type a/b missing.json 2>&1); rc=$?
is "$rc" "3" "attach of a file that does not exist: not found"
like "$err" "missing.json" "naming it"
err=$("$WP" attach "$R/demo/app:v1" --plain-http --artifact-type a/b --annotation novalue 2>&1); rc=$?
is "$rc" "2" "an annotation without = : a usage error"

# a registry with the referrers API: the same answers, no fallback tag
port2=$(free_port)
start_registry api-upstream "$port2" || ok 1 "a second registry starts"
pport=$(free_port)
$PY "$ROOT/tests/helpers/referrers_proxy.py" "$pport" "$port2" > proxy.log 2>&1 &
on_exit "kill $! 2>/dev/null"
wait_http "http://127.0.0.1:$pport/v2/" || echo "# the referrers proxy did not start"
P=127.0.0.1:$pport
"$WP" copy "$R/demo/app:v1" "$P/demo/app:v1" --plain-http >/dev/null
out=$("$WP" attach "$P/demo/app:v1" --plain-http --artifact-type application/spdx+json sbom.spdx.json \
	--annotation org.opencontainers.image.created=2026-01-01T00:00:00Z --format json)
is "$(jq -r '.referrersApi, .digest' <<<"$out" | tr '\n' ' ')" "true $sbom " "on a registry with the referrers API: used, the same artifact"
"$WP" attach "$P/demo/app:v1" --plain-http --artifact-type application/vnd.example.review \
	--annotation reviewed-by=alice "review.txt:text/plain" >/dev/null
"$WP" attach "$P/demo/app@$sbom" --plain-http --artifact-type application/vnd.example.signature >/dev/null
unlike_tag=$("$WP" tags "$P/demo/app" --plain-http | grep -c "^sha256-")
is "$unlike_tag" "0" "no fallback tag is written there"
is "$("$WP" discover "$P/demo/app:v1" --plain-http --format json | jq -c .referrers)" "$(jq -c .referrers <<<"$json")" \
	"discover gives the same tree through the API as through the fallback tag"
is "$("$WP" discover "$P/demo/app:v1" --plain-http --artifact-type application/spdx+json --format json | jq -r '[.referrers[].digest] | join(" ")')" \
	"$sbom" "and the same filter"
done_testing
