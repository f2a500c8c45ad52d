#!/usr/bin/env bash
# `wasmpack pull` side by side with `skopeo copy docker:// oci:DIR`, in one run, on an
# image of BLOBS layers totalling TOTAL_MIB from a local Distribution registry;
# interleaved, medians of RUNS. Checked after every run: both hold the registry's
# manifest and every blob of it, each matching its digest.
. "$(dirname "$0")/lib.sh"
start_registry
make_layout "$W/src" "$REG/bench/img:v1"
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$W/src:$REG/bench/img:v1" "docker://$REG/bench/img:v1"
want=$(jq -r '.manifests[0].digest' "$W/src/index.json")
want_blobs=$(ls "$W/src/blobs/sha256" | sort)

# The blobs of a layout, each checked against its name, and the manifest it names.
same_as_source() { # DIR
	local f
	[ "$(ls "$1/blobs/sha256" | sort)" = "$want_blobs" ] || { echo "bench: $1 does not hold the source's blobs" >&2; return 1; }
	for f in "$1"/blobs/sha256/*; do
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "bench: $f does not match its digest" >&2; return 1; }
	done
	[ "$(jq -r '.manifests[0].digest' "$1/index.json")" = "$want" ] || { echo "bench: $1 names another manifest" >&2; return 1; }
}
forget_skopeo() { rm -f /var/lib/containers/cache/blob-info-cache-v1.* "$HOME"/.local/share/containers/cache/blob-info-cache-v1.* 2>/dev/null || true; }
# Each setup first checks what the previous run of that contender left (untimed).
times=$(time_interleaved \
	wasmpack '{ [ ! -d "$W/dst" ] || same_as_source "$W/dst"; } && rm -rf "$W/dst"' \
		'"$WP" --store "$W/dst" pull $REG/bench/img:v1 --plain-http --platform wasip1/wasm' \
	skopeo '{ [ ! -d "$W/sk" ] || same_as_source "$W/sk"; } && rm -rf "$W/sk" && forget_skopeo' \
		'skopeo copy -q --preserve-digests --src-tls-verify=false docker://$REG/bench/img:v1 "oci:$W/sk:v1"')
same_as_source "$W/dst"
same_as_source "$W/sk"
wp_pull=$(pick wasmpack <<<"$times"); sk_pull=$(pick skopeo <<<"$times")
rm -rf "$W/dst"
rss=$(/usr/bin/time -f %M "$WP" --store "$W/dst" pull $REG/bench/img:v1 --plain-http 2>&1 >/dev/null | tail -1)

cat <<TABLE
image: $BLOBS blobs, $TOTAL_MIB MiB; registry: Distribution on 127.0.0.1; $(nproc) cores; interleaved, median of $RUNS runs
checked after every run: both hold the registry's manifest ($want) and all $(wc -l <<<"$want_blobs") blobs, each matching its digest (checked between runs, untimed)
| what                                  | seconds | ratio           |
|---------------------------------------|---------|-----------------|
| skopeo copy docker:// oci:DIR         | $sk_pull | 1.00            |
| wasmpack pull                         | $wp_pull | $(ratio "$wp_pull" "$sk_pull") x skopeo |
peak RSS of wasmpack pull: $((rss / 1024)) MiB
TABLE
