#!/usr/bin/env bash
# unpack: every layout back to the input files, byte for byte; and a corpus of malicious
# images, each refused with a clear error, nothing written outside, nothing left behind.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
mkdir -p app/static/sub && printf 'Hello\n' > app/static/greeting.txt && head -c 300 /dev/urandom > app/static/sub/r.bin

"$WP" build --wasm "$HELLO" --file app/static:static -t img:v1 >/dev/null
out=$("$WP" unpack img:v1 -o "$TMP/u-img" --format json)
is "$(jq -r .layout <<<"$out")" "image" "image layout detected"
is "$(jq -c .entrypoint <<<"$out")" '["/hello.wasm"]' "the entrypoint is reported"
check "image: the rootfs holds exactly the input" diff -r "$TMP/app/static" "$TMP/u-img/rootfs/static"
check "image: the wasm is byte-identical" cmp "$HELLO" "$TMP/u-img/rootfs/hello.wasm"
"$WP" build --layout wasm --wasm "$HELLO" -t w:v1 >/dev/null
is "$("$WP" unpack w:v1 -o "$TMP/u-w" --format json | jq -r .module)" "hello.wasm" "wasm layout: the module by its title"
check "wasm: byte-identical" cmp "$HELLO" "$TMP/u-w/hello.wasm"
mkdir -p spin && cp "$HELLO" spin/app.wasm && cp -r app/static spin/static
printf 'spin_manifest_version = 2\n[application]\nname = "s"\n[[trigger.http]]\nroute = "/..."\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\nfiles = [{ source = "static", destination = "/" }]\n' > spin/spin.toml
"$WP" build spin -t sp:v1 >/dev/null
"$WP" unpack sp:v1 -o "$TMP/u-sp" >/dev/null
ok $? "spin layout unpacks"
check "spin: the component's files, byte for byte (inlined and layered)" diff -r "$TMP/app/static" "$TMP/u-sp/files/c"
src=$(jq -r '.components[0].source.source' "$TMP/u-sp/spin.lock")
check "spin: the locked app names the wasm by an absolute file:// path" cmp "${src#file://}" "$HELLO"
is "$(jq -r '.components[0].files[0].source' "$TMP/u-sp/spin.lock")" "file://$TMP/u-sp/files/c" "and mounts the files folder at /"
SPIN_OCI_ARCHIVE_LAYERS=1 "$WP" build spin -t sp:arch >/dev/null
is "$("$WP" inspect --raw manifest sp:arch | jq -r '[.layers[].mediaType] | map(select(endswith("tar+gzip"))) | length')" "1" \
	"SPIN_OCI_ARCHIVE_LAYERS: the files travel in one archive layer"
"$WP" unpack sp:arch -o "$TMP/u-arch" >/dev/null
ok $? "a Spin image with an archive layer unpacks"
check "archive layer: the component's files, byte for byte" diff -r "$TMP/app/static" "$TMP/u-arch/files/c"
check "archive layer: no staging folder left in the app" test ! -e "$TMP/u-arch/.archives"
"$WP" unpack img:v1 -o "$TMP/u-img" >/dev/null 2>&1
is "$?" "1" "an existing target folder is refused"

# ---- malicious images: a layout made by hand around one layer ----
image_from() { # image_from LAYER-FILE MEDIA-TYPE NAME [SIZE-OVERRIDE]
	local layer=$1 mt=$2 name=$3 d=$TMP/evil-$3 ld cfg cd mf md size
	mkdir -p "$d/blobs/sha256"
	ld=$(sha256sum "$layer" | cut -d' ' -f1); cp "$layer" "$d/blobs/sha256/$ld"
	size=${4:-$(stat -c %s "$layer")}
	cfg='{"architecture":"wasm","os":"wasip1","rootfs":{"type":"layers","diff_ids":[]}}'
	cd=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1); printf '%s' "$cfg" > "$d/blobs/sha256/$cd"
	mf="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd\",\"size\":${#cfg}},\"layers\":[{\"mediaType\":\"$mt\",\"digest\":\"sha256:$ld\",\"size\":$size}]}"
	md=$(printf '%s' "$mf" | sha256sum | cut -d' ' -f1); printf '%s' "$mf" > "$d/blobs/sha256/$md"
	printf '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"x"}}]}' "$md" "${#mf}" > "$d/index.json"
	echo "oci:$d:x"
}
refused() { # refused WANT-EXIT PATTERN DESCRIPTION SOURCE
	local want=$1 pat=$2 desc=$3 src=$4 err rc
	err=$("$WP" unpack "$src" -o "$TMP/out-$RANDOM" 2>&1); rc=$?
	is "$rc" "$want" "$desc: exit $want"
	like "$err" "$pat" "$desc: the error says why"
	is "$(ls -d "$TMP"/out-* 2>/dev/null | wc -l)" "0" "$desc: nothing left behind"
	check "$desc: nothing written outside" test ! -e "$TMP/ESCAPED"
}
T=application/vnd.oci.image.layer.v1.tar
# Each case a real entry of its kind, made by hand (tar tools normalise names and link
# targets: GNU tar strips "../" from a hard link's target), and each refused for the
# reason that case is about.
MKTAR="/usr/bin/python3 $ROOT/tests/helpers/mktar.py"
mkdir -p mal && cd mal
$MKTAR ../trav.tar "f:../../ESCAPED=x"
refused 1 "entry '../../ESCAPED' escapes the root" "a ../ path" "$(image_from ../trav.tar $T trav)"
$MKTAR ../inner.tar "d:a" "f:a/../../ESCAPED=x"
refused 1 "entry 'a/../../ESCAPED' escapes the root" "a ../ path after a folder" "$(image_from ../inner.tar $T inner)"
$MKTAR ../abs.tar "f:$TMP/ESCAPED=x"
refused 1 "entry '$TMP/ESCAPED' escapes the root" "an absolute path" "$(image_from ../abs.tar $T abs)"
$MKTAR ../symabs.tar "s:lnk>/etc/passwd"
refused 1 "symbolic link 'lnk' -> '/etc/passwd' leads outside the root: it is absolute" "a symlink to an absolute path" "$(image_from ../symabs.tar $T symabs)"
$MKTAR ../symrel.tar "s:lnk>../../ESCAPED"
refused 1 "symbolic link 'lnk' -> '../../ESCAPED' leads outside the root: it climbs above the root" "a symlink climbing out" "$(image_from ../symrel.tar $T symrel)"
$MKTAR ../hard.tar "f:a=x" "h:hl>../x"
refused 1 "hard link 'hl' points outside the root" "a hard link out of the root" "$(image_from ../hard.tar $T hard)"
$MKTAR ../hardabs.tar "f:a=x" "h:hl>/etc/passwd"
refused 1 "hard link 'hl' points outside the root" "a hard link to an absolute path" "$(image_from ../hardabs.tar $T hardabs)"
$MKTAR ../hardnone.tar "h:hl>nothere"
refused 1 "hard link 'hl' to 'nothere', which is not in the root" "a hard link to nothing" "$(image_from ../hardnone.tar $T hardnone)"
$MKTAR ../fifo.tar "p:ff"
refused 1 "'ff' is a device, fifo or socket" "a fifo" "$(image_from ../fifo.tar $T fifo)"
$MKTAR ../dev.tar "c:dev"
refused 1 "'dev' is a device, fifo or socket" "a character device" "$(image_from ../dev.tar $T dev)"
$MKTAR ../blk.tar "b:blk"
refused 1 "'blk' is a device, fifo or socket" "a block device" "$(image_from ../blk.tar $T blk)"
$MKTAR ../suid.tar "u:suid=x"
refused 1 "'suid' is setuid or setgid: refused" "a setuid file" "$(image_from ../suid.tar $T suid)"
$MKTAR ../sgid.tar "g:sgid=x"
refused 1 "'sgid' is setuid or setgid: refused" "a setgid file" "$(image_from ../sgid.tar $T sgid)"
$MKTAR ../ok.tar "f:a=x"
refused 5 "descriptor says" "a descriptor with the wrong size" "$(image_from ../ok.tar $T size 99999)"
# The entry cap (1,000,000 by default; lowered here so the test stays small).
entries=(); for i in $(seq 1 30); do entries+=("f:e$i=x"); done
$MKTAR ../many.tar "${entries[@]}"
export WASMPACK_UNPACK_MAX_ENTRIES=20
refused 1 "the image has more than 20 entries" "a layer past the entry cap" "$(image_from ../many.tar $T many)"
unset WASMPACK_UNPACK_MAX_ENTRIES
cd ..
head -c 50000000 /dev/zero > zeros && tar -czf bomb.tar.gz zeros && rm zeros
export WASMPACK_UNPACK_MAX_BYTES=10000000
refused 1 "more than 10000000 bytes" "a gzip bomb past the size cap" "$(image_from bomb.tar.gz $T+gzip bomb)"
unset WASMPACK_UNPACK_MAX_BYTES
# A blob damaged in the store.
"$WP" build --wasm "$EXITC" -t dmg:v1 >/dev/null
l=$("$WP" inspect --raw manifest dmg:v1 | jq -r '.layers[0].digest')
chmod u+w "$(blob "$l")"; printf '\x00' | dd of="$(blob "$l")" bs=1 seek=30 conv=notrunc 2>/dev/null
refused 5 "does not match its digest" "a damaged blob in the store" "dmg:v1"

# Whiteouts: a second layer removes a file (.wh.NAME) and empties a folder (.wh..wh..opq).
mkdir -p wh1/a wh1/b wh2/a wh2/b && echo x > wh1/a/x && echo y > wh1/a/y && echo z > wh1/b/z
touch wh2/a/.wh.x wh2/b/.wh..wh..opq && echo new > wh2/b/new
(cd wh1 && tar -cf ../wh1.tar a b) && (cd wh2 && tar -cf ../wh2.tar a b)
src=$(image_from wh1.tar $T wh)
d=$TMP/evil-wh; l2=$(sha256sum wh2.tar | cut -d' ' -f1); cp wh2.tar "$d/blobs/sha256/$l2"
md=$(jq -r '.manifests[0].digest' "$d/index.json")
jq -c --arg d "sha256:$l2" --argjson s "$(stat -c %s wh2.tar)" '.layers += [{mediaType: .layers[0].mediaType, digest: $d, size: $s}]' \
	"$d/blobs/sha256/${md#sha256:}" > wh-manifest.json
nd=$(sha256sum wh-manifest.json | cut -d' ' -f1); cp wh-manifest.json "$d/blobs/sha256/$nd"
jq -c --arg d "sha256:$nd" --argjson s "$(stat -c %s wh-manifest.json)" '.manifests[0].digest = $d | .manifests[0].size = $s' \
	"$d/index.json" > wh-index.json && mv wh-index.json "$d/index.json"
"$WP" unpack "$src" -o u-wh >/dev/null
ok $? "a two-layer image with whiteouts unpacks"
is "$(cd u-wh/rootfs && find . -type f | sort | tr '\n' ' ')" "./a/y ./b/new " "whiteouts remove the file and empty the folder, markers not kept"

# A locked app whose file path climbs out of the component's folder.
mkdir -p evil-lock/blobs/sha256
wd=$(sha256sum "$HELLO" | cut -d' ' -f1); cp "$HELLO" "evil-lock/blobs/sha256/$wd"
printf 'x' > x.txt; fd=$(sha256sum x.txt | cut -d' ' -f1); cp x.txt "evil-lock/blobs/sha256/$fd"
printf '{"spin_lock_version":1,"metadata":{"name":"e"},"triggers":[],"components":[{"id":"c","source":{"content_type":"application/wasm","digest":"sha256:%s"},"files":[{"digest":"sha256:%s","path":"../../ESCAPED"}]}]}' "$wd" "$fd" > lock.json
ld=$(sha256sum lock.json | cut -d' ' -f1); cp lock.json "evil-lock/blobs/sha256/$ld"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.fermyon.spin.application.v1+config","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.wasm.content.layer.v1+wasm","digest":"sha256:%s","size":%d},{"mediaType":"application/vnd.wasm.content.layer.v1+data","digest":"sha256:%s","size":1}]}' \
	"$ld" "$(stat -c %s lock.json)" "$wd" "$(stat -c %s "$HELLO")" "$fd" > evil-mf.json
md=$(sha256sum evil-mf.json | cut -d' ' -f1); cp evil-mf.json "evil-lock/blobs/sha256/$md"
printf '{"imageLayoutVersion":"1.0.0"}' > evil-lock/oci-layout
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"x"}}]}' "$md" "$(stat -c %s evil-mf.json)" > evil-lock/index.json
refused 1 "escapes its folder" "a locked-app file path climbing out" "oci:$TMP/evil-lock:x"

# A manifest over the 4 MiB cap.
mkdir -p big-mf/blobs/sha256
{ printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":"'; head -c 4300000 /dev/zero | tr '\0' a; printf '"},"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":1},"layers":[]}' "$fd"; } > big-mf.json
bd=$(sha256sum big-mf.json | cut -d' ' -f1); cp big-mf.json "big-mf/blobs/sha256/$bd"
printf '{"imageLayoutVersion":"1.0.0"}' > big-mf/oci-layout
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"x"}}]}' "$bd" "$(stat -c %s big-mf.json)" > big-mf/index.json
err=$("$WP" unpack "oci:$TMP/big-mf:x" -o "$TMP/out-big" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "a manifest over 4 MiB is refused"
like "$err" "larger than 4194304 bytes" "saying it is too big"
check "and nothing is left" test ! -e "$TMP/out-big"

done_testing
