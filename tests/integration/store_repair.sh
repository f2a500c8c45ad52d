#!/usr/bin/env bash
# A store damaged on disk (a crash without fsync leaves empty or short blob files; a bad
# disk flips bytes) is repaired: gc --verify reports every bad blob, removes it and the
# tags that can no longer resolve, and goes on; writing a blob whose file does not verify
# replaces it. Plain gc refuses to guess and names the repair.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
mkdir -p static && printf 'hi\n' > static/index.html && head -c 300000 /dev/urandom > static/big.bin

d1=$("$WP" build --wasm "$HELLO" --file static -t app:v1)
d2=$("$WP" build --layout wasm --wasm "$EXITC" -t other:v1)
d3=$("$WP" build --wasm "$WRITER" -t third:v1)
manifest() { "$WP" inspect --raw manifest "$1"; }
cfg1=$(jq -r .config.digest <<<"$(manifest app:v1)")
lay1=$(jq -r '.layers[0].digest' <<<"$(manifest app:v1)")
lay3=$(jq -r '.layers[0].digest' <<<"$(manifest third:v1)")

# 1. Rewriting repairs: a manifest emptied, a config with a flipped byte (same size),
#    a layer cut short. Building the same inputs again puts each back.
: > "$(blob "$d1")"
printf 'X' | dd of="$(blob "$cfg1")" bs=1 seek=3 conv=notrunc 2>/dev/null
truncate -s 100 "$(blob "$lay1")"
out=$("$WP" build --wasm "$HELLO" --file static -t app:v1 2>"$TMP/err"); rc=$?
is "$rc:$out" "0:$d1" "the same build again succeeds with the same digest"
like "$(cat "$TMP/err")" "blob $d1 in the store was damaged: replaced" "and says it replaced the damaged manifest"
check "every blob of the store verifies after the rebuild" store_verified "$WASMPACK_STORE"
check "the image is whole again (save reads every blob)" "$WP" save app:v1 -o "$TMP/app.tar"
check "no repair file is left in the blobs folder" sh -c "! ls -A '$WASMPACK_STORE/blobs/sha256' | grep -q '^\.'"

# 2. Plain gc does not guess what a damaged manifest referred to.
: > "$(blob "$d1")"
before=$(store_state "$WASMPACK_STORE")
err=$("$WP" gc 2>&1); rc=$?
is "$rc" "5" "gc with a damaged manifest: exit 5"
like "$err" "manifest $d1 in the store is damaged.*gc --verify" "and names the damaged manifest and the repair"
is "$(store_state "$WASMPACK_STORE")" "$before" "and changes nothing"

# 3. gc --verify: every bad blob found, the tags that cannot resolve dropped, the rest kept.
printf 'junk' > "$(blob "$d2")"                       # other:v1's manifest, wrong size
printf 'Y' | dd of="$(blob "$lay3")" bs=1 seek=10 conv=notrunc 2>/dev/null   # third:v1's wasm layer
out=$("$WP" gc --verify --format json 2>"$TMP/err"); rc=$?
is "$rc" "0" "gc --verify goes on past every damaged blob: exit 0"
is "$(jq -r .blobsDamaged <<<"$out")" "3" "it counts the three damaged blobs"
is "$(jq -r .tagsRemoved <<<"$out")" "2" "and the two tags whose manifest is gone"
like "$(cat "$TMP/err")" "tag docker.io/library/app:v1 removed" "it names the removed app:v1 tag"
like "$(cat "$TMP/err")" "tag docker.io/library/other:v1 removed" "and other:v1"
like "$(cat "$TMP/err")" "blob $lay3 does not match its digest" "and the damaged layer"
is "$("$WP" images --format json | jq -r '[.[].name]|join(",")')" "docker.io/library/third:v1" "third:v1 stays tagged"
check "every blob left verifies" store_verified "$WASMPACK_STORE"
check "app:v1's blobs, no longer reachable, are gone" test ! -e "$(blob "$lay1")"
"$WP" inspect app:v1 >/dev/null 2>&1
is "$?" "3" "app:v1 is no longer an image (exit 3)"
"$WP" save third:v1 -o "$TMP/t.tar" >/dev/null 2>&1
is "$?" "3" "third:v1 reports its missing layer (exit 3)"
is "$("$WP" build --wasm "$WRITER" -t third:v1)" "$d3" "building third:v1 again restores it"
check "and it is whole" "$WP" save third:v1 -o "$TMP/t.tar"
out=$("$WP" gc --verify --format json 2>/dev/null)
is "$(jq -r '.blobsDamaged,.tagsRemoved' <<<"$out" | tr '\n' ,)" "0,0," "a second gc --verify finds the store clean"

# 4. A tag whose manifest blob is missing altogether.
"$WP" build --wasm "$HELLO" -t gone:v1 >/dev/null
rm -f "$(blob "$("$WP" inspect gone:v1 | jq -r .digest)")"
out=$("$WP" gc --verify --format json 2>"$TMP/err")
is "$(jq -r .tagsRemoved <<<"$out")" "1" "gc --verify drops a tag whose manifest is missing"
like "$(cat "$TMP/err")" "tag docker.io/library/gone:v1 removed" "and names it"
is "$("$WP" images --format json | jq -r '[.[].name]|join(",")')" "docker.io/library/third:v1" "the other tag stays"

# 5. Loading an archive over a blob cut short puts the whole blob back.
lay3=$(jq -r '.layers[0].digest' <<<"$(manifest third:v1)")
truncate -s 7 "$(blob "$lay3")"
check "load of an archive holding a blob cut short in the store" "$WP" load -i "$TMP/t.tar"
check "puts the whole blob back" store_verified "$WASMPACK_STORE"

done_testing
