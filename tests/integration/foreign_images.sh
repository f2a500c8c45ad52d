#!/usr/bin/env bash
# unpack and run on images wasmpack did not make: a scratch image built with umoci, a CNCF
# wasm artifact and a Spin 1.x image (the locked app as the config blob) assembled here by
# hand, and Spin's shim layout (a rootfs with /spin.toml).
. "$(dirname "$0")/lib.bash"
cd "$TMP"
export WASMPACK_CACHE=$TMP/cache
have_node=0; command -v node >/dev/null && have_node=1
mkdir -p app/static && printf 'Hello from elsewhere\n' > app/static/greeting.txt

# ---- umoci: init, new, unpack, add the files, repack, set the entrypoint ----
umoci init --layout um >/dev/null 2>&1
umoci new --image um:v1 >/dev/null 2>&1
umoci unpack --image um:v1 bundle >/dev/null 2>&1
cp "$HELLO" bundle/rootfs/hello.wasm && cp -r app/static bundle/rootfs/static
umoci repack --image um:v1 bundle >/dev/null 2>&1
umoci config --image um:v1 --config.entrypoint /hello.wasm --os wasip1 --architecture wasm >/dev/null 2>&1
ok $? "umoci built a scratch image with a wasm entrypoint"
out=$("$WP" unpack oci:um:v1 -o u-um --format json); rc=$?
is "$rc" "0" "umoci's image unpacks"
is "$(jq -c .entrypoint <<<"$out")" '["/hello.wasm"]' "its entrypoint is found"
check "the files are byte-identical" diff -r app/static u-um/rootfs/static
check "the wasm too" cmp "$HELLO" u-um/rootfs/hello.wasm
if [ $have_node = 1 ]; then
	out=$("$WP" run --engine node oci:um:v1 -- um 2>&1); rc=$?
	is "$rc" "0" "umoci's image runs"
	like "$out" "arg\[1\]=um" "with its arguments"
	like "$out" "Hello from elsewhere" "reading its static file"
else
	skip "node missing"; skip "node missing"; skip "node missing"
fi

# ---- a CNCF wasm artifact by hand: config application/vnd.wasm.config.v0+json, one
# application/wasm layer without a title ----
blobput() { local d; d=$(sha256sum "$1" | cut -d' ' -f1); mkdir -p "$2/blobs/sha256"; cp "$1" "$2/blobs/sha256/$d"; echo "$d"; }
layout_index() { # layout_index DIR MANIFEST-FILE TAG
	local md; md=$(blobput "$2" "$1")
	printf '{"imageLayoutVersion":"1.0.0"}' > "$1/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$md" "$(stat -c %s "$2")" "$3" > "$1/index.json"
}
wd=$(blobput "$EXITC" cncf)
printf '{"created":"2024-01-01T00:00:00Z","architecture":"wasm","os":"wasip1","layerDigests":["sha256:%s"],"component":{"exports":[],"imports":[],"target":null}}' "$wd" > cncf-config.json
cd_=$(blobput cncf-config.json cncf)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/wasm","config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/wasm","digest":"sha256:%s","size":%d}]}' \
	"$cd_" "$(stat -c %s cncf-config.json)" "$wd" "$(stat -c %s "$EXITC")" > cncf-manifest.json
layout_index cncf cncf-manifest.json v1
out=$("$WP" unpack oci:cncf:v1 -o u-cncf --format json); rc=$?
is "$rc" "0" "a hand-made CNCF artifact unpacks"
is "$(jq -r .layout <<<"$out")/$(jq -r .module <<<"$out")" "wasm/module.wasm" "as the wasm layout, the untitled module named module.wasm"
check "the module is byte-identical" cmp "$EXITC" u-cncf/module.wasm
check "its config is kept" cmp cncf-config.json u-cncf/config.json
if [ $have_node = 1 ]; then
	"$WP" run --engine node oci:cncf:v1 -- 42 >/dev/null 2>&1
	is "$?" "42" "the CNCF artifact runs, its exit status passed through"
else
	skip "node missing"
fi
# One application/wasm layer under a config of another type (the empty one): the wasm
# layout by the one rule, which images and unpack both follow (they disagreed before)
printf '{}' > empty.json
ed=$(blobput empty.json wkg)
wd=$(blobput "$EXITC" wkg)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/wasm","digest":"sha256:%s","size":%d}]}' \
	"$ed" "$wd" "$(stat -c %s "$EXITC")" > wkg-manifest.json
layout_index wkg wkg-manifest.json v1
is "$(WASMPACK_STORE=$PWD/wkg "$WP" images --format json | jq -r '.[] | select(.name == "v1") | .layout')" "wasm" \
	"images calls a single application/wasm layer the wasm layout"
is "$("$WP" unpack oci:wkg:v1 -o u-wkg --format json | jq -r .layout)" "wasm" "and so does unpack"
# Two layers in a wasm artifact: refused, nothing left.
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/wasm","digest":"sha256:%s","size":%d},{"mediaType":"application/wasm","digest":"sha256:%s","size":%d}]}' \
	"$cd_" "$(stat -c %s cncf-config.json)" "$wd" "$(stat -c %s "$EXITC")" "$wd" "$(stat -c %s "$EXITC")" > two.json
cp -r cncf cncf2 && layout_index cncf2 two.json v1
err=$("$WP" unpack oci:cncf2:v1 -o u-two 2>&1); rc=$?
is "$rc" "1" "a wasm artifact with two layers is refused"
like "$err" "want one" "saying why"
check "and nothing is left" test ! -e u-two

# ---- Spin 1.x: the locked app is the config blob; a command trigger; one data layer ----
wd=$(blobput "$HELLO" spin1)
fd=$(blobput app/static/greeting.txt spin1)
cat > spin1-lock.json <<EOF
{"spin_lock_version":0,"metadata":{"name":"old","trigger":{"type":"command"}},
 "triggers":[{"id":"t1","trigger_type":"command","trigger_config":{"component":"c"}}],
 "components":[{"id":"c","source":{"content_type":"application/wasm","digest":"sha256:$wd"},
   "env":{"GREETING":"spin1"},"files":[{"digest":"sha256:$fd","path":"static/greeting.txt"}]}]}
EOF
ld=$(blobput spin1-lock.json spin1)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.fermyon.spin.application.v1+config","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.wasm.content.layer.v1+wasm","digest":"sha256:%s","size":%d},{"mediaType":"application/vnd.wasm.content.layer.v1+data","digest":"sha256:%s","size":%d}]}' \
	"$ld" "$(stat -c %s spin1-lock.json)" "$wd" "$(stat -c %s "$HELLO")" "$fd" "$(stat -c %s app/static/greeting.txt)" > spin1-manifest.json
layout_index spin1 spin1-manifest.json v1
"$WP" unpack oci:spin1:v1 -o u-spin1 >/dev/null
ok $? "a Spin 1.x image (locked app as config) unpacks"
check "its file is in the component's folder" cmp app/static/greeting.txt u-spin1/files/c/static/greeting.txt
if [ $have_node = 1 ]; then
	out=$("$WP" run --engine node oci:spin1:v1 -- old 2>&1); rc=$?
	is "$rc" "0" "the Spin 1.x command app runs"
	like "$out" "env GREETING=spin1" "with the component's environment"
	like "$out" "Hello from elsewhere" "and its file"
else
	skip "node missing"; skip "node missing"; skip "node missing"
fi

# ---- Spin's shim layout: --layout image of a Spin app puts /spin.toml in the rootfs ----
mkdir -p sp && cp "$HELLO" sp/app.wasm
printf 'spin_manifest_version = 2\n[application]\nname = "s"\n[[trigger.http]]\nroute = "/..."\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\n' > sp/spin.toml
"$WP" build sp --layout image -t spimg:v1 >/dev/null
is "$("$WP" unpack spimg:v1 -o u-spimg --format json | jq -r .spinApp)" "true" "a rootfs with /spin.toml is reported as a Spin app"
err=$(PATH=/usr/bin:/bin "$WP" run spimg:v1 2>&1); rc=$?
is "$rc" "3" "running it without spin: exit 3"
like "$err" "install spin" "naming what to install"

done_testing
