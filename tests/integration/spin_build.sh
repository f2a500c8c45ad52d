#!/usr/bin/env bash
# build --layout spin: Spin's OCI layout exactly (media types, layer order, inlining at 128
# bytes, deduplication, the archive fallback past 499 layers, the locked app and its label),
# reproducible, and intact through a registry round trip.
. "$(dirname "$0")/lib.bash"
cd "$TMP"

# Two components sharing one wasm file; files small (inlined) and large, shared and not.
app=$TMP/app
mkdir -p "$app/static/sub" "$app/other"
cp "$HELLO" "$app/hello.wasm"
printf 'tiny\n' > "$app/static/tiny.txt"
head -c 200000 /dev/urandom > "$app/static/big.bin"
head -c 129 /dev/urandom > "$app/static/sub/129.bin"
head -c 128 /dev/urandom > "$app/static/sub/128.bin"
cp "$app/static/big.bin" "$app/other/same-as-big.bin"
cat > "$app/spin.toml" <<'TOML'
spin_manifest_version = 2

[application]
name = "golden"
version = "1.2.3"
description = "two components"
authors = ["A <a@example.com>", "B"]

[[trigger.http]]
route = "/a/..."
component = "a"

[[trigger.http]]
route = "/b"
component = "b"

[component.a]
source = "hello.wasm"
files = [{ source = "static", destination = "/" }]
environment = { GREETING = "hi" }

[component.b]
source = "hello.wasm"
files = ["other/*.bin"]
TOML

out=$("$WP" build "$app" -t golden:v1 --format json)
ok $? "build of a spin.toml folder"
is "$(jq -r .layout <<<"$out")" "spin" "defaults to --layout spin"
m=$("$WP" inspect --raw manifest golden:v1)
is "$(jq -r '[.layers[].mediaType] | join(" ")' <<<"$m")" \
	"application/vnd.wasm.content.layer.v1+wasm application/vnd.wasm.content.layer.v1+data application/vnd.wasm.content.layer.v1+data application/vnd.fermyon.spin.application.v1+config" \
	"layers: the shared wasm once, the two files over 128 bytes (the shared one once), the locked app last"
is "$(jq -r .config.mediaType <<<"$m")" "application/vnd.oci.image.config.v1+json" "config media type"
cfg=$("$WP" inspect --raw config golden:v1)
is "$(jq -r '.architecture + "/" + .os' <<<"$cfg")" "wasm/wasip1" "config platform"
is "$(jq -c .rootfs.diff_ids <<<"$cfg")" "[]" "no diff_ids"
lockd=$(jq -r '.layers[-1].digest' <<<"$m")
is "$(jq -r '.config.Labels["com.fermyon.spin.lockedAppDigest"]' <<<"$cfg")" "$lockd" "the label names the locked app layer"
L=$(cat "$(blob "$lockd")")
is "$(jq -r '.metadata.origin' <<<"$L")" "null" "no origin in the pushed locked app"
is "$(jq -r '[.components[].source.digest] | unique | length' <<<"$L")" "1" "both components name the one wasm layer"
is "$(jq -r '.components[0].source.digest' <<<"$L")" "sha256:$(sha256sum "$HELLO" | cut -d' ' -f1)" "by its digest"
is "$(jq -r '.components[0].files | map(.path) | join(" ")' <<<"$L")" "big.bin sub/128.bin sub/129.bin tiny.txt" "files sorted, at their mount paths"
is "$(jq -r '.components[0].files[] | select(.path=="tiny.txt") | .inline' <<<"$L" | base64 -d)" "tiny" "a small file is inlined"
is "$(jq -r '.components[0].files[] | select(.path=="sub/128.bin") | has("inline")' <<<"$L")" "true" "128 bytes: inlined"
is "$(jq -r '.components[0].files[] | select(.path=="sub/129.bin") | has("inline")' <<<"$L")" "false" "129 bytes: a layer"
is "$(jq -r '.components[1].files | map(.path) | join(" ")' <<<"$L")" "other/same-as-big.bin" "a pattern keeps the app-relative path"
missing=$(jq -r '[.components[] | (.source, .files[]?) | select(has("inline") | not) | .digest] | unique | .[]' <<<"$L" |
	while read -r dg; do jq -e --arg d "$dg" '[.layers[].digest] | index($d)' <<<"$m" >/dev/null || echo "$dg"; done)
is "$missing" "" "every digest the locked app names without inlining is a layer"
is "$(jq -r '.annotations["org.opencontainers.image.title"] + "|" + .annotations["org.opencontainers.image.version"] + "|" + .annotations["org.opencontainers.image.authors"]' <<<"$m")" \
	"golden|1.2.3|A <a@example.com>, B" "inferred annotations"
is "$(jq -r '.annotations | has("org.opencontainers.image.created")' <<<"$m")" "false" "no created outside git without SOURCE_DATE_EPOCH"
cp -r "$app" "$TMP/app2" && touch "$TMP/app2/static/big.bin"
is "$(WASMPACK_STORE=$TMP/other "$WP" build "$TMP/app2")" "$(jq -r .digest <<<"$out")" "reproducible: another folder and store, same digest"

# Round trip through a registry: every file comes back byte for byte.
if command -v docker-registry >/dev/null; then
	port=$(free_port)
	start_registry spin "$port"
	R=127.0.0.1:$port
	"$WP" tag golden:v1 $R/spin/golden:v1 >/dev/null
	check "push" "$WP" push $R/spin/golden:v1 --plain-http
	# inspect reads a registry through the same image-graph reader as the store: the
	# app's view too, and nothing written
	is "$(WASMPACK_STORE=$TMP/none "$WP" inspect --remote --plain-http $R/spin/golden:v1 |
		jq -c '[.remote, .app.name, (.app.triggers | map(.route)), (.app.components | map(.files))]')" \
		'[true,"golden",["/a/...","/b"],[4,1]]' "inspect --remote shows a Spin app's components, routes and files as the store's inspect does"
	[ ! -e "$TMP/none" ]; ok $? "and makes no store"
	WASMPACK_STORE=$TMP/pulled "$WP" pull $R/spin/golden:v1 --plain-http >/dev/null
	ok $? "pull into an empty store"
	L2=$(WASMPACK_STORE=$TMP/pulled "$WP" inspect --raw manifest $R/spin/golden:v1 | jq -r '.layers[-1].digest' |
		xargs -I{} sh -c 'cat "$0/blobs/sha256/$(echo {} | cut -d: -f2)"' "$TMP/pulled")
	bad=0
	while IFS=$'\t' read -r path dg inl; do
		src="$app/static/$path"
		if [ -n "$inl" ]; then got=$(printf '%s' "$inl" | base64 -d | sha256sum | cut -d' ' -f1)
		else got=$(sha256sum "$TMP/pulled/blobs/sha256/${dg#sha256:}" | cut -d' ' -f1); fi
		[ "$got" = "$(sha256sum "$src" | cut -d' ' -f1)" ] || { echo "# $path differs"; bad=1; }
	done < <(jq -r '.components[0].files[] | [.path, .digest, (.inline // "")] | @tsv' <<<"$L2")
	is "$bad" "0" "every file of the pulled app matches its source"
	check "the pulled wasm matches" cmp "$TMP/pulled/blobs/sha256/$(jq -r '.components[0].source.digest' <<<"$L2" | cut -d: -f2)" "$HELLO"
	# A source named by URL is fetched into the store and checked against its digest.
	hd=sha256:$(sha256sum "$HELLO" | cut -d' ' -f1)
	url=$TMP/url && mkdir -p "$url"
	printf 'spin_manifest_version = 2\n[application]\nname = "u"\n[[trigger.http]]\nroute = "/"\ncomponent = "c"\n[component.c]\nsource = { url = "http://%s/v2/spin/golden/blobs/%s", digest = "%s" }\n' "$R" "$hd" "$hd" > "$url/spin.toml"
	out=$(WASMPACK_STORE=$TMP/fetch "$WP" build "$url" --format json); rc=$?
	is "$rc" "0" "a source named by URL is fetched"
	is "$(jq -r '.layers[0].digest' <<<"$out")" "$hd" "and becomes the wasm layer"
	wrong=sha256:$(printf x | sha256sum | cut -d' ' -f1)
	sed -i "s|digest = \"$hd\"|digest = \"$wrong\"|" "$url/spin.toml"
	err=$(WASMPACK_STORE=$TMP/fetch2 "$WP" build "$url" 2>&1); rc=$?
	is "$rc" "5" "a fetched source with another digest: exit 5"
	check "and nothing is stored under either digest" test ! -e "$TMP/fetch2/blobs/sha256/${wrong#sha256:}" -a ! -e "$TMP/fetch2/blobs/sha256/${hd#sha256:}"
	out=$(WASMPACK_STORE=$TMP/fetch3 "$WP" build "$url" --layout image --format json)
	is "$(jq -r '.layers | length' <<<"$out")" "1" "--layout image: a URL source stays in /spin.toml for Spin to fetch"
else
	skip "docker-registry not installed"; skip "-"; skip "-"; skip "-"; skip "-"; skip "-"; skip "-"; skip "-"; skip "-"
fi

# Past 499 layers (or with SPIN_OCI_ARCHIVE_LAYERS), files go into one archive per component.
# files_app DIR: one component (the hello wasm) with DIR/files mounted at /data.
files_app() {
	mkdir -p "$1/files"
	cp "$HELLO" "$1/app.wasm"
	printf 'spin_manifest_version = 2\n[application]\nname = "%s"\n[[trigger.http]]\nroute = "/..."\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\nfiles = [{ source = "files", destination = "/data" }]\n' \
		"$(basename "$1")" > "$1/spin.toml"
}
media_types() { jq -r '[.layers[].mediaType] | join(" ")' <<<"$1"; }
# locked_app STORE MANIFEST_JSON: the locked app, the manifest's last layer
locked_app() { cat "$1/blobs/sha256/$(jq -r '.layers[-1].digest' <<<"$2" | cut -d: -f2)"; }
WASM_MT=application/vnd.wasm.content.layer.v1+wasm
ARCHIVE_MT=application/vnd.wasm.content.bundle.v1.tar+gzip
LOCKED_MT=application/vnd.fermyon.spin.application.v1+config

many=$TMP/many
files_app "$many"
for i in $(seq 1 520); do head -c 200 /dev/urandom > "$many/files/f$i"; done
m=$("$WP" build "$many" --format json)
is "$(media_types "$m")" "$WASM_MT $ARCHIVE_MT $LOCKED_MT" "520 files: one archive layer instead of 520 data layers"
arch=$(jq -r '.layers[1].digest' <<<"$m")
is "$(gzip -dc "$(blob "$arch")" | tar tf - | grep -c '^data/f')" "520" "the archive holds every file at its mount path"
is "$(locked_app "$WASMPACK_STORE" "$m" | jq '.components[0].files | length')" "520" "the locked app still lists every file with its digest"
# Files of over 499 distinct sizes cannot fit in layers whatever their contents: they go
# straight into the archive, hashed as they are tarred. Every digest must still be right.
sized=$TMP/sized
files_app "$sized"
for i in $(seq 1 510); do head -c $((128 + i)) /dev/urandom > "$sized/files/f$i"; done
# and some text, which is deflated (on the worker threads) rather than stored
for i in $(seq 1 40); do seq 1 $((4000 + 97 * i)) | sed "s/^/line $i: /" > "$sized/files/t$i.txt"; done
m=$(WASMPACK_STORE=$TMP/sized-store "$WP" build "$sized" --format json)
is "$(media_types "$m")" "$WASM_MT $ARCHIVE_MT $LOCKED_MT" "510 files of distinct sizes: one archive layer"
want=$(cd "$sized/files" && for f in *; do printf 'data/%s sha256:%s\n' "$f" "$(sha256sum < "$f" | cut -d' ' -f1)"; done | sort)
is "$(locked_app "$TMP/sized-store" "$m" | jq -r '.components[0].files[] | "\(.path) \(.digest)"' | sort)" "$want" \
	"the locked app's digests, taken while tarring, are each file's sha256"
m2=$(WASMPACK_STORE=$TMP/sized-store "$WP" build "$sized" --format json)
is "$(jq -r .digest <<<"$m2")" "$(jq -r .digest <<<"$m")" "rebuilt unchanged: the same manifest digest"
for t in 1 4; do
	m3=$(WASMPACK_THREADS=$t WASMPACK_STORE=$TMP/sized-$t "$WP" build "$sized" --format json)
	is "$(jq -r .digest <<<"$m3")" "$(jq -r .digest <<<"$m")" "built afresh with $t thread(s): the same manifest digest"
done
# 600 copies of one file: over 499 files, but one distinct layer once hashed, so no archive
# (Spin counts layers after deduplication). Their size and ends cannot tell them apart, so
# they are hashed first.
same=$TMP/same
files_app "$same"
head -c 300 /dev/urandom > "$same/one"
for i in $(seq 1 600); do cp "$same/one" "$same/files/f$i"; done
m=$(WASMPACK_STORE=$TMP/same-store "$WP" build "$same" --format json)
is "$(media_types "$m")" "$WASM_MT application/vnd.wasm.content.layer.v1+data $LOCKED_MT" "600 identical files: one data layer, no archive"
is "$(locked_app "$TMP/same-store" "$m" | jq -r '[.components[0].files[].digest] | unique | join(" ")')" \
	"sha256:$(sha256sum < "$same/one" | cut -d' ' -f1)" "and the locked app lists all 600 under that one digest"
m=$(SPIN_OCI_ARCHIVE_LAYERS=1 "$WP" build "$app" --format json)
is "$(media_types "$m")" "$WASM_MT $ARCHIVE_MT $ARCHIVE_MT $LOCKED_MT" "SPIN_OCI_ARCHIVE_LAYERS: an archive per component with files"

# --layout image: a rootfs with /spin.toml and every file where the manifest names it.
"$WP" build "$app" --layout image -o "oci:$TMP/img:v1" --format json > "$TMP/img.json"
ok $? "build --layout image of a Spin app"
is "$(jq -r '[.layers[].mediaType] | unique | join(" ")' "$TMP/img.json")" "application/vnd.oci.image.layer.v1.tar+gzip" "classic tar+gzip layers"
is "$(jq -r '.layers | length' "$TMP/img.json")" "3" "the wasm, the files, the app config"
umoci raw unpack --rootless --image "$TMP/img:v1" "$TMP/rootfs" >/dev/null 2>&1
is "$(cd "$TMP/rootfs" && find . -type f | sort | tr '\n' ' ')" \
	"./hello.wasm ./other/same-as-big.bin ./spin.toml ./static/big.bin ./static/sub/128.bin ./static/sub/129.bin ./static/tiny.txt " \
	"the rootfs holds the app as its manifest names it"
check "/spin.toml is the app's manifest" cmp "$TMP/rootfs/spin.toml" "$app/spin.toml"
check "and the files are byte-identical" diff -r "$app/static" "$TMP/rootfs/static"

# --layout wasm: one component without files becomes the CNCF artifact; others are refused.
one=$TMP/one && mkdir -p "$one" && cp "$HELLO" "$one/app.wasm"
printf 'spin_manifest_version = 2
[application]
name = "one"
[[trigger.command]]
component = "c"
[component.c]
source = "app.wasm"
' > "$one/spin.toml"
w=$("$WP" build "$one" --layout wasm --format json)
is "$(jq -r '.config.mediaType + " " + .layers[0].mediaType' <<<"$w")" "application/vnd.wasm.config.v0+json application/wasm" "one component: the wasm artifact"
err=$("$WP" build "$app" --layout wasm 2>&1); rc=$?
is "$rc" "2" "two components: --layout wasm is refused"
like "$err" "one component" "and says why"

# Component dependencies: a local file and another component, each a wasm layer.
dep=$TMP/dep && mkdir -p "$dep" && cp "$HELLO" "$dep/main.wasm" && cp "$EXITC" "$dep/lib.wasm"
cat > "$dep/spin.toml" <<'TOML'
spin_manifest_version = 2
[application]
name = "deps"
[[trigger.http]]
route = "/"
component = "main"
[component.main]
source = "main.wasm"
dependencies_inherit_configuration = true
[component.main.dependencies]
"wasmpack:lib/api" = { path = "lib.wasm", export = "wasmpack:lib/api@1.0.0" }
"wasmpack:other/api" = { component = "helper" }
[component.helper]
source = "lib.wasm"
TOML
lk=$("$WP" lock "$dep" --assets-dir "$TMP/dep-assets")
is "$(jq -c '.components[0].dependencies | to_entries | map([.key, .value.export, .value.inherit, (.value.source.source | sub(".*/"; ""))])' <<<"$lk")" \
	'[["wasmpack:lib/api","wasmpack:lib/api@1.0.0","All","lib.wasm"],["wasmpack:other/api",null,"All","lib.wasm"]]' \
	"lock: dependencies by path and by component, with export and inherit"
out=$("$WP" build "$dep" --format json)
Ld=$(cat "$(blob "$(jq -r '.layers[-1].digest' <<<"$out")")")
is "$(jq -r '[.components[0].dependencies[].source.digest] | unique | .[]' <<<"$Ld")" "sha256:$(sha256sum "$EXITC" | cut -d' ' -f1)" "build: the dependency's wasm is named by digest"
is "$(jq -r '[.layers[].mediaType] | join(" ")' <<<"$out")" \
	"application/vnd.wasm.content.layer.v1+wasm application/vnd.wasm.content.layer.v1+wasm application/vnd.fermyon.spin.application.v1+config" \
	"one wasm layer per distinct source (the dependency shared with the helper component)"
printf '[component.main.dependencies]\n"a:b/c" = "1.0.0"\n' > /dev/null
sed -i 's|"wasmpack:other/api" = { component = "helper" }|"wasmpack:other/api" = "1.0.0"|' "$dep/spin.toml"
err=$("$WP" lock "$dep" --assets-dir "$TMP/dep-assets" 2>&1); rc=$?
[ $rc -ne 0 ]; ok $? "a registry package dependency is refused"
like "$err" "package registries are not supported" "and says why"

# From flags: a one-component app with a command trigger.
out=$(cd "$app" && "$WP" build --layout spin --wasm "$HELLO" --file static --env A=1 --format json)
Lf=$(cat "$(blob "$(jq -r '.layers[-1].digest' <<<"$out")")")
is "$(jq -c '[.triggers[0].trigger_type, .triggers[0].trigger_config.component, .components[0].id, .components[0].env.A]' <<<"$Lf")" \
	'["command","hello","hello","1"]' "--layout spin from flags: a command-trigger app named after the wasm"
is "$(jq -r '.components[0].files | map(.path) | join(" ")' <<<"$Lf")" "static/big.bin static/sub/128.bin static/sub/129.bin static/tiny.txt" \
	"with the --file files at their destinations"
(cd "$app" && "$WP" build --layout spin --wasm "$HELLO" --arg x >/dev/null 2>&1)
is "$?" "2" "--arg has no place in Spin's command trigger"

# A Spin 1.x image (the locked app is the config) and inspect's view of the app.
s1=$TMP/spin1 && mkdir -p "$s1/blobs/sha256"
wd=$(sha256sum "$HELLO" | cut -d' ' -f1) && cp "$HELLO" "$s1/blobs/sha256/$wd"
printf '{"spin_lock_version":0,"metadata":{"name":"old"},"triggers":[{"id":"t","trigger_type":"http","trigger_config":{"component":"c","route":"/old"}}],"components":[{"id":"c","source":{"content_type":"application/wasm","digest":"sha256:%s"}}]}' "$wd" > "$s1/lock"
ld=$(sha256sum "$s1/lock" | cut -d' ' -f1) && mv "$s1/lock" "$s1/blobs/sha256/$ld"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.fermyon.spin.application.v1+config","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.wasm.content.layer.v1+wasm","digest":"sha256:%s","size":%s}]}' \
	"$ld" "$(stat -c %s "$s1/blobs/sha256/$ld")" "$wd" "$(stat -c %s "$HELLO")" > "$s1/m"
md=$(sha256sum "$s1/m" | cut -d' ' -f1) && mv "$s1/m" "$s1/blobs/sha256/$md"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"spin1:v1"}}]}' \
	"$md" "$(stat -c %s "$s1/blobs/sha256/$md")" > "$s1/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$s1/oci-layout"
tar -C "$s1" -cf "$TMP/spin1.tar" .
check "a Spin 1.x image loads" "$WP" load -i "$TMP/spin1.tar"
is "$("$WP" inspect spin1:v1 | jq -c '[.app.name, .app.triggers[0].route, .app.components[0].id]')" '["old","/old","c"]' "inspect reads a Spin 1.x app"
is "$("$WP" inspect golden:v1 | jq -c '[.app.name, (.app.triggers | map(.route)), (.app.components | map(.files))]')" \
	'["golden",["/a/...","/b"],[4,1]]' "inspect shows a Spin app's components, routes and files"

# Bad input: clear errors, nothing tagged.
before=$(jq -c '[.manifests[].annotations["org.opencontainers.image.ref.name"]]' "$WASMPACK_STORE/index.json")
bad=$TMP/bad && mkdir -p "$bad" && printf 'not wasm' > "$bad/app.wasm"
printf 'spin_manifest_version = 2\n[application]\nname = "bad"\n[[trigger.http]]\nroute = "/"\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\n' > "$bad/spin.toml"
err=$("$WP" build "$bad" -t bad:v1 2>&1); rc=$?
is "$rc" "1" "a source that is not wasm is refused"
like "$err" "component .c.*not a wasm binary" "and the error names the component"
# the second component's source is not wasm: refused before the first one's files are archived
mkdir -p "$bad/files" && for i in $(seq 1 600); do head -c $((200 + i)) /dev/urandom > "$bad/files/f$i"; done
cp "$HELLO" "$bad/good.wasm"
printf 'spin_manifest_version = 2\n[application]\nname = "bad"\n[[trigger.http]]\nroute = "/a"\ncomponent = "a"\n[[trigger.http]]\nroute = "/"\ncomponent = "c"\n[component.a]\nsource = "good.wasm"\nfiles = [{ source = "files", destination = "/" }]\n[component.c]\nsource = "app.wasm"\n' > "$bad/spin.toml"
blobs_before=$(ls "$WASMPACK_STORE/blobs/sha256" | sort | md5sum)
err=$("$WP" build "$bad" -t bad:v1 2>&1); rc=$?
is "$rc" "1" "a second component whose source is not wasm is refused"
like "$err" "component .c.*not a wasm binary" "and named"
is "$(ls "$WASMPACK_STORE/blobs/sha256" | sort | md5sum)" "$blobs_before" "before any blob is stored (no archive of the first component's 600 files)"
printf 'spin_manifest_version = 2\n[application]\nname = "bad"\n[[trigger.http]]\nroute = "/"\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\n' > "$bad/spin.toml"
sed -i 's/app.wasm/gone.wasm/' "$bad/spin.toml"
err=$("$WP" build "$bad" -t bad:v1 2>&1); rc=$?
[ $rc -ne 0 ]; ok $? "a missing source is refused"
like "$err" "gone.wasm" "and named"
printf 'spin_manifest_version = 2\n[application\n' > "$bad/spin.toml"
err=$("$WP" build -f "$bad/spin.toml" -t bad:v1 2>&1)
like "$err" "line 2, column" "a TOML error names line and column"
is "$(jq -c '[.manifests[].annotations["org.opencontainers.image.ref.name"]]' "$WASMPACK_STORE/index.json")" "$before" "no tag from the failed builds"
"$WP" build "$app" --wasm "$HELLO" -f "$app/spin.toml" >/dev/null 2>&1
is "$?" "2" "flags and a spin.toml together: usage error"

done_testing
