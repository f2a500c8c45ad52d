#!/usr/bin/env bash
# `build --layout image`: the manifest, config and layers a user would check, and real
# tools (oci-image-tool, skopeo, umoci) accepting the result.
. "$(dirname "$0")/lib.bash"

app=$TMP/app
mkdir -p "$app/static/css" "$app/data"
printf 'Hello from a static file.\n' > "$app/static/greeting.txt"
printf 'body{}\n' > "$app/static/css/site.css"
head -c 100000 /dev/urandom > "$app/data/blob.bin"
cd "$app"

out=$("$WP" build --wasm "$HELLO" --file static --file data/blob.bin:/assets/blob.bin \
	--env GREETING=hi --env EMPTY= --arg one --arg 'two words' -t hello:v1 -t localhost:5000/x/hello:v1 \
	--annotation org.opencontainers.image.version=1.2.3 --format json)
ok $? "build succeeds"
digest=$(jq -r .digest <<<"$out")
like "$digest" '^sha256:[0-9a-f]{64}$' "JSON output carries the manifest digest"
is "$(jq -r '.tags|join(",")' <<<"$out")" "docker.io/library/hello:v1,localhost:5000/x/hello:v1" "tags are normalised references"
is "$(jq -r '[.layers[].mediaType]|unique|join(",")' <<<"$out")" "application/vnd.oci.image.layer.v1.tar+gzip" "layers are tar+gzip"
is "$(jq -r '.layers|length' <<<"$out")" "2" "a wasm layer and a static files layer (no app config for a flag-built app)"

manifest=$("$WP" inspect --raw manifest hello:v1)
is "sha256:$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)" "$digest" "inspect --raw manifest gives the exact bytes of the digest"
is "$(jq -r .mediaType <<<"$manifest")" "application/vnd.oci.image.manifest.v1+json" "manifest media type"
is "$(jq -r .config.mediaType <<<"$manifest")" "application/vnd.oci.image.config.v1+json" "config media type"
is "$(jq -r '.annotations["org.opencontainers.image.version"]' <<<"$manifest")" "1.2.3" "--annotation lands on the manifest"

config=$("$WP" inspect --raw config hello:v1)
is "$(jq -r '.os + "/" + .architecture' <<<"$config")" "wasip1/wasm" "default platform wasip1/wasm"
is "$(jq -c .config.Entrypoint <<<"$config")" '["/hello.wasm"]' "entrypoint is the wasm file"
is "$(jq -c .config.Env <<<"$config")" '["GREETING=hi","EMPTY="]' "env in order"
is "$(jq -c .config.Cmd <<<"$config")" '["one","two words"]' "args become Cmd"
is "$(jq -r 'has("created")' <<<"$config")" "false" "no created time outside git and without SOURCE_DATE_EPOCH"

# diff_ids are the sha256 of each uncompressed layer; gzip headers carry no time or name.
i=0
for l in $(jq -r '.layers[].digest' <<<"$manifest"); do
	want=$(jq -r ".rootfs.diff_ids[$i]" <<<"$config")
	got="sha256:$(gzip -dc "$(blob "$l")" | sha256sum | cut -d' ' -f1)"
	is "$got" "$want" "diff_id $i matches the uncompressed layer"
	is "$(head -c 10 "$(blob "$l")" | od -An -tx1 | tr -d ' \n')" "1f8b08000000000000ff" "layer $i gzip header: no name, mtime 0"
	is "sha256:$(sha256sum "$(blob "$l")" | cut -d' ' -f1)" "$l" "layer $i blob matches its digest"
	i=$((i + 1))
done
listing=$(gzip -dc "$(blob "$(jq -r '.layers[1].digest' <<<"$manifest")")" | tar tvf - --numeric-owner)
is "$(awk '{print $2, $4, $5}' <<<"$listing" | sort -u)" "0/0 1970-01-01 00:00" "tar entries: owner 0/0, mtime 0"
is "$(awk '{print $1}' <<<"$listing" | sort -u | tr '\n' ' ')" "-rw-r--r-- drwxr-xr-x " "tar entries: fixed modes"
is "$(gzip -dc "$(blob "$(jq -r '.layers[1].digest' <<<"$manifest")")" | tar tf -)" \
	"assets/
assets/blob.bin
static/
static/css/
static/css/site.css
static/greeting.txt" "static layer entries sorted, with parent folders"

# Other tools accept it.
check "oci-image-tool validates the store" oci-image-tool validate --type image --ref name=docker.io/library/hello:v1 "$WASMPACK_STORE"
"$WP" build --wasm "$HELLO" --file static --file data/blob.bin:/assets/blob.bin --env GREETING=hi --env EMPTY= \
	--arg one --arg 'two words' --annotation org.opencontainers.image.version=1.2.3 -o "oci:$TMP/layout:v1" >/dev/null
ok $? "build -o oci:DIR:NAME"
check "oci-image-tool validates the exported layout" oci-image-tool validate --type image --ref name=v1 "$TMP/layout"
"$WP" build --wasm "$HELLO" --file static --file data/blob.bin:/assets/blob.bin --env GREETING=hi --env EMPTY= \
	--arg one --arg 'two words' --annotation org.opencontainers.image.version=1.2.3 -o "oci-archive:$TMP/app.tar" >/dev/null
ok $? "build -o oci-archive:FILE"
is "$(skopeo inspect "oci-archive:$TMP/app.tar" 2>&1 | jq -r .Digest)" "$digest" "skopeo reads the archive build wrote"
out=$("$WP" build --wasm "$HELLO" -o "docker:$TMP/x" 2>&1); rc=$?
is "$rc" "2" "an unknown --output kind is a usage error"
like "$out" "want oci:DIR or oci-archive:FILE" "and says what is wanted"
verbose=$("$WP" build -v --wasm "$HELLO" --file static --file data/blob.bin:/assets/blob.bin --env GREETING=hi --env EMPTY= \
	--arg one --arg 'two words' --annotation org.opencontainers.image.version=1.2.3 2>&1 >/dev/null)
like "$verbose" "layer 2: 6 entries unchanged, reusing sha256:" "-v tells which layers came from the stat cache"
sk=$(skopeo inspect "oci:$TMP/layout:v1" 2>&1)
is "$(jq -r .Digest <<<"$sk")" "$digest" "skopeo inspect oci:DIR:TAG reads the same digest"
is "$(jq -r .Os <<<"$sk")" "wasip1" "skopeo reads the platform"
sk2=$(skopeo inspect "oci:$WASMPACK_STORE:docker.io/library/hello:v1" 2>&1)
is "$(jq -r .Digest <<<"$sk2")" "$digest" "skopeo reads the store itself"

umoci raw unpack --rootless --image "$TMP/layout:v1" "$TMP/rootfs" >/dev/null 2>&1
ok $? "umoci raw unpack"
mkdir -p "$TMP/want/assets"
cp "$HELLO" "$TMP/want/hello.wasm"
cp -r static "$TMP/want/static"
cp data/blob.bin "$TMP/want/assets/blob.bin"
check "umoci unpack yields exactly the input files, byte for byte" diff -r "$TMP/want" "$TMP/rootfs"
is "$(stat -c %a "$TMP/rootfs/hello.wasm") $(stat -c %a "$TMP/rootfs/static/greeting.txt")" "755 644" "fixed modes: wasm 0755, files 0644"
# umoci's full unpack also writes a runtime config, which it only does for os linux.
"$WP" build --wasm "$HELLO" --file static --file data/blob.bin:/assets/blob.bin --platform linux/wasm -o "oci:$TMP/linux:v1" >/dev/null
umoci unpack --rootless --image "$TMP/linux:v1" "$TMP/bundle" >/dev/null 2>&1
ok $? "umoci unpack of a linux/wasm build"
check "umoci unpack yields exactly the input files too" diff -r "$TMP/want" "$TMP/bundle/rootfs"
is "$(jq -c .process.args "$TMP/bundle/config.json")" '["/hello.wasm"]' "umoci's runtime config runs the wasm entrypoint"

# --platform and zero static files.
out=$("$WP" build --wasm "$EXITC" --platform wasi/wasm --format json)
cfg=$(cat "$(blob "$(jq -r .config.digest <<<"$out")")")
is "$(jq -r '.os + "/" + .architecture' <<<"$cfg")" "wasi/wasm" "--platform sets os/arch"
is "$(jq -r '.layers|length' <<<"$out")" "1" "no static files, one layer"
"$WP" build --wasm "$EXITC" --platform wasm >/dev/null 2>&1
is "$?" "2" "a malformed --platform is a usage error (exit 2)"

done_testing
