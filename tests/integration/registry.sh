#!/usr/bin/env bash
# push and pull against a real Distribution registry over plain HTTP on 127.0.0.1:
# round trips, skipped and mounted blobs, chunked uploads, and skopeo reading and writing
# the same registry.
. "$(dirname "$0")/lib.bash"
command -v docker-registry >/dev/null || { skip "docker-registry is not installed"; done_testing; exit; }
port=$(free_port)
start_registry plain "$port" || { ok 1 "registry starts"; done_testing; exit 1; }
R=127.0.0.1:$port
log=$TMP/plain/log
uploads() { grep -cE '"(PATCH|PUT) /v2/[^ ]*/blobs/uploads' "$log"; }
cd "$TMP"
mkdir -p app/static && printf 'hello\n' > app/static/index.html

d=$(cd app && "$WP" build --wasm "$HELLO" --file static -t $R/demo/hello:v1)
out=$("$WP" push $R/demo/hello:v1 --plain-http --format json --digestfile "$TMP/digest")
ok $? "push over plain HTTP"
is "$(jq -r .digest <<<"$out")" "$d" "push reports the manifest digest"
is "$(cat "$TMP/digest")" "$d" "--digestfile holds it"
is "$(jq -r '[.blobs[].outcome]|unique|join(",")' <<<"$out")" "uploaded" "every blob uploaded the first time"
is "$(curl -s http://$R/v2/demo/hello/manifests/v1 -H 'Accept: application/vnd.oci.image.manifest.v1+json' | sha256sum | cut -d' ' -f1)" \
	"${d#sha256:}" "the registry serves the exact manifest bytes"

before=$(uploads)
out=$("$WP" push $R/demo/hello:v1 --plain-http --format json)
is "$(jq -r '[.blobs[].outcome]|unique|join(",")' <<<"$out")" "skipped" "a second push skips every blob"
is "$(uploads)" "$before" "and sends no blob bytes (no PATCH or PUT of an upload at the registry)"

# Progress: one line per blob and a total on a terminal (stderr), nothing otherwise.
tty_out=$(script -qfec "'$WP' push $R/demo/hello:v1 --plain-http" /dev/null 2>&1)
like "$tty_out" "sha256:[0-9a-f]{12}  skipped" "on a terminal, a line per blob"
like "$tty_out" "pushed 3 blobs" "and a total"
quiet=$(script -qfec "'$WP' push -q $R/demo/hello:v1 --plain-http" /dev/null 2>&1 | tr -d '\r')
is "$quiet" "$d" "-q: only the digest"
is "$("$WP" push $R/demo/hello:v1 --plain-http 2>&1)" "$d" "not a terminal: only the digest"

# Pull into an empty store: same digests, verified blobs.
out=$(WASMPACK_STORE=$TMP/s2 "$WP" pull $R/demo/hello:v1 --plain-http --format json)
ok $? "pull into an empty store"
is "$(jq -r .digest <<<"$out")" "$d" "the pulled manifest has the pushed digest"
is "$(WASMPACK_STORE=$TMP/s2 "$WP" inspect $R/demo/hello:v1 | jq -r .digest)" "$d" "and is tagged in the store"
check "every pulled blob matches its digest" store_verified "$TMP/s2"
is "$(WASMPACK_STORE=$TMP/s2 "$WP" pull $R/demo/hello:v1 --plain-http --format json | jq -r '[.blobs[].outcome]|unique|join(",")')" \
	"present" "pulling again downloads nothing"
is "$(WASMPACK_STORE=$TMP/s3 "$WP" pull "$R/demo/hello@$d" --plain-http)" "$d" "pull by digest"

# A blob the registry already holds in another repository is mounted, not uploaded.
"$WP" tag $R/demo/hello:v1 $R/other/hello:v1 >/dev/null
out=$("$WP" push $R/other/hello:v1 --plain-http --format json)
is "$(jq -r '[.blobs[].outcome]|unique|join(",")' <<<"$out")" "mounted" "pushing to another repository mounts the blobs"
check "the mounted image pulls" env WASMPACK_STORE=$TMP/s4 "$WP" pull $R/other/hello:v1 --plain-http

# A large layer goes up in chunks (8 MiB here, 64 MiB by default) and comes back whole.
head -c 40000000 /dev/urandom > app/big.bin
big=$(cd app && "$WP" build --wasm "$HELLO" --file big.bin -t $R/demo/big:v1)
size=$("$WP" inspect --raw manifest $R/demo/big:v1 | jq '[.layers[].size] | max')
before=$(grep -c '"PATCH /v2/demo/big/blobs/uploads' "$log")
out=$(WASMPACK_UPLOAD_CHUNK_MIB=8 "$WP" push $R/demo/big:v1 --plain-http --format json --concurrency 2)
ok $? "push of a 40 MB layer"
patches=$(( $(grep -c '"PATCH /v2/demo/big/blobs/uploads' "$log") - before ))
is "$patches" "$(( (size + 8388607) / 8388608 ))" "the large layer went up in $patches PATCH requests of 8 MiB (one per chunk)"
out=$(WASMPACK_STORE=$TMP/s5 "$WP" pull $R/demo/big:v1 --plain-http --format json)
is "$(jq -r .digest <<<"$out")" "$big" "the large image comes back with the same digest"
check "and its blobs match their digests" store_verified "$TMP/s5"

# Interop: what wasmpack pushed, skopeo reads; what skopeo pushes, wasmpack pulls.
check "skopeo copy docker://... oci:DIR" skopeo copy -q --src-tls-verify=false "docker://$R/demo/hello:v1" "oci:$TMP/sk:v1"
is "$(skopeo inspect --tls-verify=false "docker://$R/demo/hello:v1" | jq -r .Digest)" "$d" "skopeo inspect sees the same digest"
umoci init --layout "$TMP/u" >/dev/null && umoci new --image "$TMP/u:t" >/dev/null &&
	umoci insert --rootless --image "$TMP/u:t" app/static/index.html /index.html >/dev/null
check "skopeo pushes an image made with umoci" skopeo copy -q --dest-tls-verify=false "oci:$TMP/u:t" "docker://$R/umoci/img:t"
want=$(skopeo inspect --raw --tls-verify=false "docker://$R/umoci/img:t" | sha256sum | cut -d' ' -f1)
out=$(WASMPACK_STORE=$TMP/s6 "$WP" pull $R/umoci/img:t --plain-http --platform linux/amd64 --format json)
ok $? "wasmpack pulls it"
is "$(jq -r .digest <<<"$out")" "sha256:$want" "with the digest skopeo sees"
check "and inspects it" env WASMPACK_STORE=$TMP/s6 "$WP" inspect $R/umoci/img:t

# build --push, and copy between registries, layout folders and archives.
out=$(cd app && "$WP" build --wasm "$HELLO" --file static -t $R/demo/bp:v1 --push --plain-http --format json)
is "$(jq -r .pushed <<<"$out")" "true" "build --push"
is "$(WASMPACK_STORE=$TMP/s8 "$WP" pull $R/demo/bp:v1 --plain-http)" "$(jq -r .digest <<<"$out")" "what build --push pushed pulls back"
tags_before=$("$WP" images --format json | jq -c '[.[].name]')
is "$("$WP" copy $R/demo/hello:v1 $R/copied/hello:v2 --plain-http)" "$d" "copy registry to registry"
is "$(curl -s http://$R/v2/copied/hello/manifests/v2 -H 'Accept: application/vnd.oci.image.manifest.v1+json' | sha256sum | cut -d' ' -f1)" \
	"${d#sha256:}" "the copy has the same manifest bytes"
is "$("$WP" copy $R/demo/hello:v1 "oci:$TMP/cp:v1" --plain-http)" "$d" "copy registry to an OCI layout folder"
is "$(skopeo inspect "oci:$TMP/cp:v1" | jq -r .Digest)" "$d" "skopeo reads the folder"
is "$("$WP" copy "oci:$TMP/sk:v1" $R/fromdir/hello:v1 --plain-http)" "$d" "copy skopeo's layout folder to a registry"
skopeo copy -q "oci:$TMP/sk:v1" "oci-archive:$TMP/sk.tar:named" 2>/dev/null
is "$("$WP" copy "oci-archive:$TMP/sk.tar:named" $R/fromtar/hello:v1 --plain-http)" "$d" "copy an OCI archive to a registry"
is "$("$WP" images --format json | jq -c '[.[].name]')" "$tags_before" "copy adds no tag to the store"
"$WP" copy "oci:$TMP/cp:nope" $R/x/y:z --plain-http >/dev/null 2>&1
is "$?" "3" "copy from a layout without that name: exit 3"

# An index: --platform picks the manifest; wasip1/wasm also matches Docker's wasi/wasm.
mkdir -p "$TMP/ix"
dw=$(WASMPACK_STORE=$TMP/ix/store "$WP" build --wasm "$HELLO" --format json)
dl=$(WASMPACK_STORE=$TMP/ix/store "$WP" build --force --wasm "$EXITC" --platform linux/amd64 --format json)
make_index() { # make_index OS/ARCH-of-the-wasm-image: an index of both images in $TMP/ix/store
	local idx
	idx=$(jq -nc --arg w "$(jq -r .digest <<<"$dw")" --argjson ws "$(jq .size <<<"$dw")" \
		--arg l "$(jq -r .digest <<<"$dl")" --argjson ls "$(jq .size <<<"$dl")" --arg os "${1%/*}" \
		'{schemaVersion:2,mediaType:"application/vnd.oci.image.index.v1+json",manifests:[
		  {mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$l,size:$ls,platform:{architecture:"amd64",os:"linux"}},
		  {mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$w,size:$ws,platform:{architecture:"wasm",os:$os}}]}')
	printf '%s' "$idx" > "$TMP/ix/idx.json"
	local h; h=$(sha256sum "$TMP/ix/idx.json" | cut -d' ' -f1)
	cp "$TMP/ix/idx.json" "$TMP/ix/store/blobs/sha256/$h"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}' \
		"$h" "$(stat -c %s "$TMP/ix/idx.json")" > "$TMP/ix/store/index.json"
	echo "sha256:$h"
}
ixd=$(make_index wasip1/wasm)
check "skopeo pushes the index" skopeo copy -q --all --dest-tls-verify=false "oci:$TMP/ix/store:multi" "docker://$R/demo/multi:v1"
out=$(WASMPACK_STORE=$TMP/s9 "$WP" pull $R/demo/multi:v1 --plain-http --format json)
is "$(jq -r .digest <<<"$out")" "$(jq -r .digest <<<"$dw")" "pull of an index picks wasip1/wasm by default"
is "$(jq -r .index <<<"$out")" "$ixd" "and names the index it came from"
out=$(WASMPACK_STORE=$TMP/s9 "$WP" pull $R/demo/multi:v1 --plain-http --platform linux/amd64 --format json)
is "$(jq -r .digest <<<"$out")" "$(jq -r .digest <<<"$dl")" "--platform linux/amd64 picks the other"
out=$("$WP" inspect --remote --plain-http $R/demo/multi:v1)
is "$(jq -c '[.platforms[].platform]' <<<"$out")" '["linux/amd64","wasip1/wasm"]' "inspect --remote of an index lists its platforms"
is "$(jq -r .digest <<<"$out")" "$ixd" "and its digest"
# an index of linux/amd64 and a component (wasip2/wasm): the pull's pick is the store's and
# the node's (wasip1/wasm, else wasip2/wasm), so a pull and an unpack from the registry find it
ixd=$(make_index wasip2/wasm)
skopeo copy -q --all --dest-tls-verify=false "oci:$TMP/ix/store:multi" "docker://$R/demo/multi:p2" 2>/dev/null
is "$(WASMPACK_STORE=$TMP/s11 "$WP" pull $R/demo/multi:p2 --plain-http)" "$(jq -r .digest <<<"$dw")" \
	"pull of an index of linux/amd64 and wasip2/wasm picks the wasip2 one"
out=$(WASMPACK_STORE=$TMP/s12 "$WP" unpack --plain-http $R/demo/multi:p2 -o "$TMP/u-p2" --format json 2>&1); rc=$?
is "$rc" "0" "and unpack from the registry finds it too"
err=$(WASMPACK_STORE=$TMP/s13 "$WP" pull $R/demo/multi:p2 --plain-http --platform wasip1/wasm 2>&1); rc=$?
is "$rc" "3" "--platform wasip1/wasm of that index: not found"
like "$err" "no manifest for platform wasip1/wasm" "naming the platform"
ixd=$(make_index wasi/wasm)
skopeo copy -q --all --dest-tls-verify=false "oci:$TMP/ix/store:multi" "docker://$R/demo/multi:docker" 2>/dev/null
is "$(WASMPACK_STORE=$TMP/s10 "$WP" pull $R/demo/multi:docker --plain-http)" "$(jq -r .digest <<<"$dw")" "wasip1/wasm matches wasi/wasm"
"$WP" pull $R/demo/multi:v1 --plain-http --platform wasip2/wasm >/dev/null 2>&1
is "$?" "3" "no manifest for the platform: exit 3"

# Errors by code.
"$WP" push $R/demo/none:v1 --plain-http >/dev/null 2>&1
is "$?" "3" "push of an image not in the store: exit 3"
err=$(WASMPACK_STORE=$TMP/s7 "$WP" pull $R/demo/hello:nope --plain-http 2>&1); rc=$?
is "$rc" "3" "pull of a missing tag: exit 3"
like "$err" "MANIFEST_UNKNOWN" "the registry's error code is shown"
is "$(find "$TMP/s7/blobs" -type f 2>/dev/null | wc -l)" "0" "and nothing lands in the store"
err=$("$WP" push $R/demo/hello:v1 2>&1); rc=$?
is "$rc" "0" "HTTPS to a plain-HTTP registry on 127.0.0.1 falls back to HTTP, as docker does for it"
err=$(printf '[registry."%s"]\nplain_http = false\n' "$R" > "$TMP/nofb.toml"; WASMPACK_CONFIG=$TMP/nofb.toml "$WP" push $R/demo/hello:v1 2>&1)
like "$err" "SSL|TLS|wrong version" "and with plain_http = false it fails with the TLS error (everyday.sh checks the advice)"
mkdir -p "$TMP/cfg/wasmpack" && printf '[registry."%s"]\nplain_http = true\n' "$R" > "$TMP/cfg/wasmpack/config.toml"
check "a per-registry setting in config.toml turns on plain HTTP" env XDG_CONFIG_HOME=$TMP/cfg "$WP" push $R/demo/hello:v1

# ---- indexes: made here, pushed and pulled whole or one platform at a time ----
export WASMPACK_STORE=$TMP/ixs
"$WP" build --wasm "$HELLO" -t app:wasm >/dev/null
"$WP" build --force --wasm "$EXITC" --platform linux/amd64 -t app:linux >/dev/null
ixd=$("$WP" index create app:multi app:wasm app:linux)
like "$ixd" '^sha256:[0-9a-f]{64}$' "index create makes an index of images in the store"
is "$("$WP" inspect app:multi | jq -c '[.platforms[].platform]')" '["wasip1/wasm","linux/amd64"]' "inspect of an index lists its platforms"
is "$("$WP" index create bad:v1 app:wasm app:wasm 2>&1 >/dev/null | grep -c 'one image per platform')" "1" "two images of one platform are refused"
like "$("$WP" run app:multi 2>&1)" "arg\[0\]=/hello.wasm" "run of an index runs its wasm image"
dw=$("$WP" inspect app:wasm | jq -r .digest); dl=$("$WP" inspect app:linux | jq -r .digest)
"$WP" tag app:multi $R/demo/ix:v1 >/dev/null
is "$("$WP" push $R/demo/ix:v1 --plain-http)" "$ixd" "push of an index pushes it whole"
is "$(skopeo inspect --raw --tls-verify=false docker://$R/demo/ix:v1 | sha256sum | cut -d' ' -f1)" "${ixd#sha256:}" \
	"the registry serves the index's exact bytes"
check "skopeo copies every platform of it (--all)" skopeo copy -q --all --src-tls-verify=false docker://$R/demo/ix:v1 oci:$TMP/skix:v1
is "$(jq -r '.manifests[0].digest' "$TMP/skix/index.json")" "$ixd" "skopeo's copy has the same index"
out=$(WASMPACK_STORE=$TMP/ixp "$WP" pull $R/demo/ix:v1 --plain-http --all-platforms --format json)
is "$(jq -r .digest <<<"$out")" "$ixd" "pull --all-platforms keeps the index whole"
is "$(WASMPACK_STORE=$TMP/ixp "$WP" inspect $R/demo/ix:v1 | jq -r .digest)" "$ixd" "and tags the index"
check "with both platforms' images in the store" test -f "$TMP/ixp/blobs/sha256/${dw#sha256:}" -a -f "$TMP/ixp/blobs/sha256/${dl#sha256:}"
check "every blob verified" store_verified "$TMP/ixp"
is "$(WASMPACK_STORE=$TMP/ixq "$WP" pull $R/demo/ix:v1 --plain-http --platform linux/amd64)" "$dl" "pull --platform takes one"
"$WP" tag app:multi $R/demo/one:v1 >/dev/null
is "$("$WP" push $R/demo/one:v1 --plain-http --platform wasip1/wasm)" "$dw" "push --platform of an index pushes that platform's image alone"
is "$(skopeo inspect --raw --tls-verify=false docker://$R/demo/one:v1 | sha256sum | cut -d' ' -f1)" "${dw#sha256:}" "(a manifest, not the index)"
is "$(WASMPACK_STORE=$TMP/ixp "$WP" copy --plain-http --all-platforms $R/demo/ix:v1 $R/demo/ixcopy:v1 | tail -1)" "$ixd" "copy --all-platforms copies it whole"

# An index whose manifest the store lacks, or which names something other than a manifest:
# refused before anything is put, with what to do.
cp -r "$TMP/ixp" "$TMP/ixgone"
rm "$TMP/ixgone/blobs/sha256/${dl#sha256:}"
WASMPACK_STORE=$TMP/ixgone "$WP" tag $R/demo/ix:v1 $R/demo/gone:v1 >/dev/null
out=$(WASMPACK_STORE=$TMP/ixgone "$WP" push $R/demo/gone:v1 --plain-http 2>&1); rc=$?
is "$rc" "3" "push of an index whose linux manifest the store lacks: not found"
like "$out" "names ${dl}, which the store does not hold \(pull it with --all-platforms" "saying which and what to do"
skopeo inspect --raw --tls-verify=false docker://$R/demo/gone:v1 >/dev/null 2>&1
[ $? -ne 0 ]; ok $? "and the registry has no such tag"
WASMPACK_STORE=$TMP/ixgone "$WP" tag $R/demo/ix:v1 $R/demo/gone1:v1 >/dev/null
is "$(WASMPACK_STORE=$TMP/ixgone "$WP" push $R/demo/gone1:v1 --plain-http --platform wasip1/wasm)" "$dw" \
	"while --platform pushes the platform it has"

done_testing
