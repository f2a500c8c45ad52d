#!/usr/bin/env bash
# unpack and run read an image in place from a real containerd's content store (what the
# shim will do on a node): containerd on a socket in the temp folder, images imported with
# ctr, then `containerd:ROOT@DIGEST`; the content store is left exactly as it was.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
	skip "needs root and containerd (scripts/deps.sh installs it; CI runs as root)"
	done_testing
	exit
fi
C=$TMP/ctd
start_containerd "$C"
check "containerd answers on its socket" ctr -a "$C/c.sock" version
ctr_() { ctr -a "$C/c.sock" -n wasmpack-test "$@"; }

mkdir -p app/static && printf 'Hello from containerd\n' > app/static/greeting.txt && head -c 5000 /dev/urandom > app/static/r.bin
"$WP" build --wasm "$HELLO" --file app/static:static -t img:v1 >/dev/null
"$WP" save img:v1 -o img.tar >/dev/null
ctr_ images import --all-platforms --no-unpack img.tar >/dev/null
ok $? "ctr imports the image wasmpack saved"
digest=$(ctr_ images ls | awk '/img:v1/ {print $3}')
is "$digest" "$("$WP" inspect img:v1 --format json | jq -r .digest)" "containerd holds it under wasmpack's digest"

mkdir -p spin && cp "$HELLO" spin/app.wasm && cp -r app/static spin/static
printf 'spin_manifest_version = 2\n[application]\nname = "s"\n[[trigger.http]]\nroute = "/..."\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\nfiles = [{ source = "static", destination = "/" }]\n' > spin/spin.toml
"$WP" --store "$TMP/s2" build spin -t sp:v1 >/dev/null
"$WP" --store "$TMP/s2" save sp:v1 -o sp.tar >/dev/null
ctr_ images import --all-platforms --no-unpack sp.tar >/dev/null
spd=$(ctr_ images ls | awk '/sp:v1/ {print $3}')
# What containerd holds before anything of ours reads it: unpack and run must leave
# every file of it as it was.
before=$(cd "$C/root/io.containerd.content.v1.content" && find . -type f | sort | xargs sha256sum)
export WASMPACK_STORE=$TMP/empty-store WASMPACK_CACHE=$TMP/cache
"$WP" unpack "containerd:$C/root@$digest" -o u --format json > u.json
ok $? "unpack containerd:ROOT@DIGEST"
is "$(jq -r .layout u.json)" "image" "the image layout is detected"
check "the rootfs is byte-identical to the input" diff -r app/static u/rootfs/static
check "and the wasm" cmp "$HELLO" u/rootfs/hello.wasm
"$WP" unpack "containerd:$C/root/io.containerd.content.v1.content@$digest" -o u2 >/dev/null
ok $? "the content folder itself is accepted too"
out=$("$WP" run --engine node "containerd:$C/root@$digest" -- from-ctd 2>&1); rc=$?
is "$rc" "0" "run straight from containerd's content store"
like "$out" "arg\[1\]=from-ctd" "the app gets its arguments"
like "$out" "Hello from containerd" "and reads its static file"
is "$(find "$TMP/empty-store/blobs" -type f 2>/dev/null | wc -l)" "0" "no blob was copied into wasmpack's store"

"$WP" unpack "containerd:$C/root@$spd" -o usp >/dev/null
ok $? "a Spin image from containerd unpacks"
check "with the component's files" diff -r app/static usp/files/c

err=$("$WP" unpack "containerd:$C/root@sha256:$(printf '0%.0s' $(seq 64))" -o bad 2>&1); rc=$?
is "$rc" "3" "a digest containerd does not hold: exit 3"
like "$err" "not in the store" "saying so"
err=$("$WP" unpack "containerd:$C/root" -o bad 2>&1); rc=$?
is "$rc" "2" "no @DIGEST: a usage error"
like "$err" "containerd:DIR@sha256:DIGEST" "showing the form"
err=$("$WP" unpack "containerd:$TMP/nothing@$digest" -o bad 2>&1); rc=$?
is "$rc" "3" "a folder that is no content store: exit 3"
check "no output folder left by the failures" test ! -e bad
is "$(cd "$C/root/io.containerd.content.v1.content" && find . -type f | sort | xargs sha256sum)" "$before" \
	"containerd's content store is unchanged by every unpack and run above"
ctr_ images rm img:v1 sp:v1 >/dev/null 2>&1

done_testing
