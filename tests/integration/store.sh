#!/usr/bin/env bash
# The store's commands: images, inspect, tag, rmi, gc, save, load; OCI archives that
# skopeo reads; loads that check every blob.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
mkdir -p static && printf 'hi\n' > static/index.html

d1=$("$WP" build --wasm "$HELLO" --file static -t app:v1)
d2=$("$WP" build --layout wasm --wasm "$EXITC" -t other:v1)
imgs=$("$WP" images --format json)
is "$(jq -r '[.[].name]|join(",")' <<<"$imgs")" "docker.io/library/app:v1,docker.io/library/other:v1" "images lists both, by name"
is "$(jq -r '.[] | select(.name=="docker.io/library/other:v1") | .layout' <<<"$imgs")" "wasm" "images tells the layout"
like "$("$WP" images)" 'docker.io/library/app:v1 +sha256:[0-9a-f]{12} +image' "images prints a table"

out=$("$WP" tag app:v1 registry.example.com/team/app:prod --format json)
is "$(jq -r .name <<<"$out") $(jq -r .digest <<<"$out")" "registry.example.com/team/app:prod $d1" "tag --format json"
is "$(jq -r .digest <<<"$("$WP" inspect registry.example.com/team/app:prod)")" "$d1" "the new tag names the same image"
is "$(jq -r .digest <<<"$("$WP" inspect "${d1:7:16}")")" "$d1" "inspect by a digest prefix"
is "$(jq -r .digest <<<"$("$WP" inspect "$d1")")" "$d1" "inspect by digest"
is "$(jq -r .name <<<"$("$WP" inspect docker.io/library/app@$d1)")" "docker.io/library/app:v1" "inspect by name@digest"
"$WP" inspect nope:v1 >/dev/null 2>&1
is "$?" "3" "inspect of a missing image: exit 3"
"$WP" tag nope:v1 x:y >/dev/null 2>&1
is "$?" "3" "tag of a missing image: exit 3"
"$WP" tag app:v1 'Bad:Name' >/dev/null 2>&1
is "$?" "2" "tag to an invalid reference is a usage error (exit 2)"

# save / load: a round trip into an empty store keeps the digest; skopeo reads the archive.
check "save" "$WP" save app:v1 -o "$TMP/app.tar"
check "skopeo copies the archive into a layout" skopeo copy -q "oci-archive:$TMP/app.tar" "oci:$TMP/copy:v1"
is "$(skopeo inspect "oci:$TMP/copy:v1" | jq -r .Digest)" "$d1" "skopeo sees the same digest"
check "save is reproducible" sh -c "'$WP' save app:v1 -o '$TMP/app2.tar' && cmp '$TMP/app.tar' '$TMP/app2.tar'"
out=$(WASMPACK_STORE=$TMP/s2 "$WP" load -i "$TMP/app.tar")
is "$out" "loaded: docker.io/library/app:v1" "load applies the archive's tag"
is "$(WASMPACK_STORE=$TMP/s2 "$WP" inspect app:v1 | jq -r .digest)" "$d1" "loaded image has the same digest"
check "every loaded blob matches its digest" store_verified "$TMP/s2"
check "skopeo writes an archive that load reads" skopeo copy -q "oci:$TMP/copy:v1" "oci-archive:$TMP/sk.tar:example.com/sk:1"
is "$(WASMPACK_STORE=$TMP/s3 "$WP" load -i "$TMP/sk.tar")" "loaded: example.com/sk:1" "skopeo's archive loads"

# A damaged archive loads nothing: no bad blob, no tag.
mkdir -p "$TMP/x" && tar -xf "$TMP/app.tar" -C "$TMP/x"
layer=$(jq -r '.layers[0].digest' <<<"$("$WP" inspect --raw manifest app:v1)")
f="$TMP/x/blobs/sha256/${layer#sha256:}"
printf '\x00' | dd of="$f" bs=1 seek=20 conv=notrunc 2>/dev/null
tar -cf "$TMP/bad.tar" -C "$TMP/x" .
err=$(WASMPACK_STORE=$TMP/s4 "$WP" load -i "$TMP/bad.tar" 2>&1); rc=$?
is "$rc" "5" "a flipped byte fails the load with exit 5"
like "$err" "digest mismatch" "and says digest mismatch"
check "no blob under the damaged name" test ! -e "$TMP/s4/blobs/sha256/${layer#sha256:}"
is "$(WASMPACK_STORE=$TMP/s4 "$WP" images --format json | jq length)" "0" "and no tag"
"$WP" load -i "$TMP/none.tar" >/dev/null 2>&1
is "$?" "3" "load of a missing file: exit 3"
echo "not a tar" > "$TMP/junk.tar"
"$WP" load -i "$TMP/junk.tar" >/dev/null 2>&1
is "$?" "1" "load of a non-archive fails"

# rmi and gc.
out=$("$WP" rmi registry.example.com/team/app:prod)
is "$out" "untagged: registry.example.com/team/app:prod" "rmi by name removes that tag"
check "the other tag stays" "$WP" inspect app:v1
before=$(find "$WASMPACK_STORE/blobs" -type f | wc -l)
out=$("$WP" gc --format json)
is "$(jq -r .blobsRemoved <<<"$out")" "0" "gc keeps what tags reach"
"$WP" rmi other:v1 >/dev/null
out=$("$WP" gc --format json)
is "$(jq -r .blobsRemoved <<<"$out")" "3" "gc removes the untagged image's manifest, config and layer"
check "the wasm blob of the removed image is gone" test ! -e "$(blob "sha256:$(sha256sum "$EXITC" | cut -d' ' -f1)")"
check "the remaining image is whole" "$WP" save app:v1 -o "$TMP/again.tar"
check "every blob still matches its digest" store_verified "$WASMPACK_STORE"
# A blob damaged on disk (say by a crash without fsync) is found and removed by gc --verify.
cfgd=$(jq -r .config.digest <<<"$("$WP" inspect --raw manifest app:v1)")
printf 'x' >> "$(blob "$cfgd")"
out=$("$WP" gc --verify --format json 2>/dev/null)
is "$(jq -r .blobsDamaged <<<"$out")" "1" "gc --verify finds the damaged blob"
check "and removes it" test ! -e "$(blob "$cfgd")"
"$WP" inspect --raw config app:v1 >/dev/null 2>&1
is "$?" "3" "the image then reports its config missing (exit 3)"
n=$("$WP" images --format json | jq length)
if [ "$n" -gt 1 ]; then
	out=$("$WP" rmi "$d1" 2>&1); rc=$?
	is "$rc" "1" "rmi by digest of an image tagged $n times: refused, as docker refuses it"
	like "$out" "is the id of an image tagged $n times \(.*app:v1.*\): remove the tags by name, or all of them with rmi -f" "listing the tags"
	is "$("$WP" images --format json | jq length)" "$n" "and every tag is still there"
fi
"$WP" rmi -f "$d1" >/dev/null
is "$("$WP" images --format json | jq length)" "0" "rmi -f by digest removes every tag of the image"
"$WP" rmi app:v1 >/dev/null 2>&1
is "$?" "3" "rmi of a missing tag: exit 3"
# gc takes the store's lock exclusively: it waits for a build that is writing blobs no tag
# reaches yet, and so never collects them under it.
base64 /dev/urandom | head -c 60000000 > "$TMP/slow.txt"
WASMPACK_THREADS=1 "$WP" build --wasm "$HELLO" --file "$TMP/slow.txt" --gzip-level 9 -t slow:v1 > "$TMP/slow.out" 2>&1 &
bpid=$!
writing=
for _ in $(seq 1 200); do
	for fd in /proc/$bpid/fd/*; do
		case $(readlink "$fd" 2>/dev/null) in "$WASMPACK_STORE/blobs/sha256/#"*) writing=yes ;; esac
	done
	[ -n "$writing" ] && break
	sleep 0.05
done
is "$writing" "yes" "a build is writing a blob"
gcout=$("$WP" -v gc 2>&1); gcrc=$?
# the build prints its digest before it lets the store go: gc, waiting on the lock, can
# only have returned after that (the process itself may take a moment more to exit)
grep -q '^sha256:' "$TMP/slow.out" && still=done || still=running
wait "$bpid"; brc=$?
is "$gcrc:$brc" "0:0" "gc run meanwhile and the build both succeed"
like "$gcout" "waiting for other wasmpack processes" "gc said it waited for the build"
is "$still" "done" "gc returned only after the build had finished with the store"
check "the built image is whole (none of its blobs was collected)" "$WP" save slow:v1 -o "$TMP/slow.tar"
"$WP" rmi slow:v1 >/dev/null; "$WP" gc >/dev/null

check "oci-layout is the OCI image layout version" test "$(cat "$WASMPACK_STORE/oci-layout")" = '{"imageLayoutVersion":"1.0.0"}'

done_testing
