#!/usr/bin/env bash
# The stat cache makes rebuilds read nothing, yet never serves stale content; builds that
# run at the same time do not corrupt the store.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
mkdir -p static
for i in $(seq 1 50); do head -c 3000 /dev/urandom > "static/f$i.bin"; done
cp "$HELLO" app.wasm
sleep 0.1

first=$("$WP" build --wasm app.wasm --file static --format json)
is "$(jq -r .cachedLayers <<<"$first")" "0" "first build: nothing cached"
second=$("$WP" build --wasm app.wasm --file static --format json)
is "$(jq -r .cachedLayers <<<"$second")" "2" "rebuild: both layers from the cache"
is "$(jq -r .digest <<<"$second")" "$(jq -r .digest <<<"$first")" "rebuild: same digest"

# Same size, same mtime, new content: ctime and inode catch it.
m=$(stat -c %y static/f7.bin)
head -c 3000 /dev/urandom > static/f7.bin
touch -d "$m" static/f7.bin
third=$("$WP" build --wasm app.wasm --file static --format json)
[ "$(jq -r .digest <<<"$third")" != "$(jq -r .digest <<<"$first")" ]; ok $? "a changed file with its old size and mtime is rebuilt"
is "$(jq -r .cachedLayers <<<"$third")" "1" "only the changed layer is rebuilt"
layer=$(jq -r '.layers[1].digest' <<<"$third")
check "the rebuilt layer holds the new content" sh -c "gzip -dc '$(blob "$layer")' | tar -xOf - static/f7.bin | cmp - static/f7.bin"

# A file changed right after it was hashed (same second) is not trusted.
printf 'aaaa' > racy.txt
"$WP" build --wasm app.wasm --file racy.txt >/dev/null
printf 'bbbb' > racy.txt
out=$("$WP" build --wasm app.wasm --file racy.txt --format json)
check "a racily-clean file is hashed again" sh -c "gzip -dc '$(blob "$(jq -r '.layers[1].digest' <<<"$out")")' | tar -xOf - racy.txt | grep -q bbbb"

# The wasm layout's cache: a removed blob is written again.
w=$("$WP" build --layout wasm --wasm app.wasm --format json)
"$WP" gc >/dev/null
rm -f "$(blob "$(jq -r '.layers[0].digest' <<<"$w")")"
w2=$("$WP" build --layout wasm --wasm app.wasm -t w:1 --format json)
check "a cached digest whose blob is gone is stored again" test -f "$(blob "$(jq -r '.layers[0].digest' <<<"$w2")")"

# Eight builds at once, each with its own tag.
pids=()
for i in $(seq 1 8); do
	mkdir -p "c$i" && printf "$i\n" > "c$i/n.txt"
	"$WP" build --wasm app.wasm --file "c$i/n.txt:n.txt" -t "conc:$i" >/dev/null 2>"c$i.err" &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "$fails" "0" "eight concurrent builds succeed"
check "index.json is valid JSON" jq -e . "$WASMPACK_STORE/index.json"
is "$("$WP" images --format json | jq '[.[] | select(.name | startswith("docker.io/library/conc:"))] | length')" "8" "all eight tags are there"
check "every blob matches its digest" store_verified "$WASMPACK_STORE"

done_testing
