#!/usr/bin/env bash
# Same inputs, same digests: other folders, other times, other mtimes and owners; created
# from SOURCE_DATE_EPOCH or the git commit; provenance annotations from git.
. "$(dirname "$0")/lib.bash"

make_app() {
	mkdir -p "$1/static/sub"
	cp "$HELLO" "$1/app.wasm"
	printf 'one\n' > "$1/static/a.txt"
	printf 'two\n' > "$1/static/sub/b.txt"
	printf 'long\n' > "$1/static/sub/$(printf 'n%.0s' $(seq 1 150)).txt"
}
make_app "$TMP/a"
sleep 1.1
make_app "$TMP/b"
touch -d '2001-02-03 04:05:06' "$TMP/b/app.wasm" "$TMP/b/static/a.txt"
# Other modes (the layer's are fixed: 0644 files, 0755 folders and wasm) and, as root,
# another owner (the layer's is 0:0).
chmod 600 "$TMP/b/static/a.txt"; chmod 755 "$TMP/b/static/sub/b.txt"; chmod 700 "$TMP/b/static/sub"
is "$(stat -c %a "$TMP/a/static/a.txt") $(stat -c %a "$TMP/b/static/a.txt")" "644 600" "the second app's files have other modes"
what="another folder, store, time, mtimes and modes"
if [ "$(id -u)" -eq 0 ]; then
	chown -R 65534:65534 "$TMP/b"
	is "$(stat -c %u:%g "$TMP/b/static/a.txt")" "65534:65534" "and, as root, another owner"
	what="$what and owner"
else
	skip "another owner needs root"
fi

for layout in image wasm; do
	if [ $layout = image ]; then extra=(--file static --env X=1); else extra=(); fi
	d1=$(cd "$TMP/a" && "$WP" build --layout $layout --wasm app.wasm "${extra[@]}")
	d2=$(cd "$TMP/b" && WASMPACK_STORE=$TMP/store2 "$WP" build --layout $layout --wasm app.wasm "${extra[@]}")
	like "$d1" '^sha256:' "$layout: first build"
	is "$d2" "$d1" "$layout: $what give the same digest"
	cp "$EXITC" "$TMP/b/app.wasm"
	d3=$(cd "$TMP/b" && WASMPACK_STORE=$TMP/store3 "$WP" build --layout $layout --wasm app.wasm "${extra[@]}")
	cp "$HELLO" "$TMP/b/app.wasm"
	[ -n "$d3" ] && [ "$d3" != "$d1" ]; ok $? "$layout: different input, different digest"
done

# A long path name needs a pax header: still reproducible (no pid or time in it).
listing=$(gzip -dc "$(blob "$(cd "$TMP/a" && "$WP" build --wasm app.wasm --file static --format json | jq -r '.layers[1].digest')")" | tar tf -)
like "$listing" "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn" "a 150-character name survives"

# SOURCE_DATE_EPOCH sets created.
out=$(cd "$TMP/a" && SOURCE_DATE_EPOCH=1700000000 "$WP" build --wasm app.wasm --format json)
cfg=$(cat "$(blob "$(jq -r .config.digest <<<"$out")")")
is "$(jq -r .created <<<"$cfg")" "2023-11-14T22:13:20Z" "SOURCE_DATE_EPOCH gives created"
man=$(cat "$(blob "$(jq -r .digest <<<"$out")")")
is "$(jq -r '.annotations["org.opencontainers.image.created"]' <<<"$man")" "2023-11-14T22:13:20Z" "and the created annotation"
out2=$(cd "$TMP/b" && SOURCE_DATE_EPOCH=1700000000 WASMPACK_STORE=$TMP/store2 "$WP" build --wasm app.wasm --format json)
is "$(jq -r .digest <<<"$out2")" "$(jq -r .digest <<<"$out")" "same SOURCE_DATE_EPOCH, same digest"
(cd "$TMP/a" && SOURCE_DATE_EPOCH=yesterday "$WP" build --wasm app.wasm >/dev/null 2>&1)
is "$?" "2" "a malformed SOURCE_DATE_EPOCH is refused"

# In a git repository: created from the HEAD commit, source and revision annotations.
g=$TMP/git
make_app "$g"
(
	cd "$g" && git init -q && git add -A &&
	GIT_AUTHOR_DATE='2024-01-02T03:04:05Z' GIT_COMMITTER_DATE='2024-01-02T03:04:05Z' \
		git -c user.name=t -c user.email=t@example.com commit -qm init &&
	git remote add origin https://user:s3cret@example.com/org/app.git
)
out=$(cd "$g" && "$WP" build --wasm app.wasm --file static --format json)
man=$(cat "$(blob "$(jq -r .digest <<<"$out")")")
cfg=$(cat "$(blob "$(jq -r .config.digest <<<"$out")")")
is "$(jq -r .created <<<"$cfg")" "2024-01-02T03:04:05Z" "created is the HEAD commit time"
is "$(jq -r '.annotations["org.opencontainers.image.revision"]' <<<"$man")" "$(git -C "$g" rev-parse HEAD)" "revision annotation"
is "$(jq -r '.annotations["org.opencontainers.image.source"]' <<<"$man")" "https://example.com/org/app.git" "source annotation, credentials stripped"
[[ "$man" != *s3cret* ]]; ok $? "no credential in the manifest"
is "$(jq -r '.annotations["dev.wasmpack.source.dirty"]' <<<"$man")" "null" "a clean tree is not marked dirty"
d_clean=$(jq -r .digest <<<"$out")
(cd "$g" && "$WP" build --wasm app.wasm --file static) >/dev/null
is "$(cd "$g" && "$WP" build --wasm app.wasm --file static)" "$d_clean" "rebuilding the same commit gives the same digest"
echo change >> "$g/static/a.txt"
out=$(cd "$g" && "$WP" build --wasm app.wasm --file static --format json)
man=$(cat "$(blob "$(jq -r .digest <<<"$out")")")
is "$(jq -r '.annotations["dev.wasmpack.source.dirty"]' <<<"$man")" "true" "a dirty tree is marked in its own annotation"
out=$(cd "$g" && "$WP" build --wasm app.wasm --annotation org.opencontainers.image.source=https://mine --format json)
man=$(cat "$(blob "$(jq -r .digest <<<"$out")")")
is "$(jq -r '.annotations["org.opencontainers.image.source"]' <<<"$man")" "https://mine" "an explicit --annotation wins"

done_testing
