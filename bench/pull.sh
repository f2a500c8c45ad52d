#!/usr/bin/env bash
# `wasmpack pull` side by side with `skopeo copy docker:// oci:DIR`, in one run, on an
# image of BLOBS layers totalling TOTAL_MIB from a local Distribution registry;
# interleaved, medians of RUNS. Checked after every run: both hold the registry's
# manifest and every blob of it, each matching its digest.
. "$(dirname "$0")/lib.sh"
CONC=${CONC:-4}
start_registry
make_layout "$W/src" "$REG/bench/img:v1"
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$W/src:$REG/bench/img:v1" "docker://$REG/bench/img:v1"
want=$(jq -r '.manifests[0].digest' "$W/src/index.json")
want_blobs=$(ls "$W/src/blobs/sha256" | sort)

# The blobs of a layout, each checked against its name, and the manifest it names.
same_as_source() { # WHO DIR
	local f
	[ "$(ls "$2/blobs/sha256" 2>/dev/null | sort)" = "$want_blobs" ] || bench_fail "checking $1's pull: $2 does not hold the source's blobs"
	for f in "$2"/blobs/sha256/*; do
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bench_fail "checking $1's pull: $f does not match its digest"
	done
	[ "$(jq -r '.manifests[0].digest' "$2/index.json")" = "$want" ] || bench_fail "checking $1's pull: $2 names another manifest"
}
forget_skopeo() { rm -f /var/lib/containers/cache/blob-info-cache-v1.* "$HOME"/.local/share/containers/cache/blob-info-cache-v1.* 2>/dev/null || true; }
# The floors, with nothing of a client's own, CONC at once (wasmpack's default):
#   - the registry's read rate: every blob GET by `curl -f` into /dev/null;
#   - a pull's floor: the manifest, then every blob GET by `curl -f` into a file and
#     hashed as soon as it is written (a pull must keep and hash each blob), by OpenSSL's
#     sha256 (`openssl dgst`: SHA-NI where the CPU has it; coreutils' sha256sum is 3 to 4
#     times slower, no floor).
curl_get() { # DIGEST DIR ("-": into /dev/null, unhashed)
	if [ "$2" = - ]; then
		curl -sf -o /dev/null "http://$REG/v2/bench/img/blobs/sha256:$1" || { echo "curl floor: GET of blob $1 failed" >&2; return 1; }
		return 0
	fi
	curl -sf -o "$2/$1" "http://$REG/v2/bench/img/blobs/sha256:$1" || { echo "curl floor: GET of blob $1 failed" >&2; return 1; }
	openssl dgst -sha256 -r "$2/$1" > "$2/$1.sum"
}
export -f curl_get
export REG
blob_list() { printf '%s\n' $want_blobs | grep -vx "${want#sha256:}"; }
curl_floor() { # DIR, or - for the read rate alone
	[ "$1" = - ] || { mkdir -p "$1" &&
		curl -sf -o "$1/${want#sha256:}" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
			"http://$REG/v2/bench/img/manifests/v1" && openssl dgst -sha256 -r "$1/${want#sha256:}" > "$1/${want#sha256:}.sum"; } &&
		blob_list | xargs -P "$CONC" -n1 bash -c 'curl_get "$1" "$0"' "$1"
}
floor_ok() { # DIR: every blob got, and each hashes to its name
	local f n=0
	[ -d "$1" ] || return 0
	for f in "$1"/*.sum; do
		read -r sum name < "$f"
		name=${name#\*}
		[ "$sum" = "$(basename "$name")" ] || bench_fail "checking the curl floor: $name does not hash to its name"
		n=$((n + 1))
	done
	[ "$n" = "$(wc -w <<<"$want_blobs")" ] || bench_fail "checking the curl floor: it got $n of the $(wc -w <<<"$want_blobs") blobs"
}
# Each setup first checks what the previous run of that contender left (untimed).
times=$(time_interleaved \
	wasmpack '{ [ ! -d "$W/dst" ] || same_as_source wasmpack "$W/dst"; } && rm -rf "$W/dst"' \
		'"$WP" --store "$W/dst" pull $REG/bench/img:v1 --plain-http --platform wasip1/wasm --concurrency $CONC' \
	skopeo '{ [ ! -d "$W/sk" ] || same_as_source skopeo "$W/sk"; } && rm -rf "$W/sk" && forget_skopeo' \
		'skopeo copy -q --preserve-digests --src-tls-verify=false docker://$REG/bench/img:v1 "oci:$W/sk:v1"' \
	curl 'floor_ok "$W/fl" && rm -rf "$W/fl"' 'curl_floor "$W/fl"' \
	read : 'curl_floor -')
same_as_source wasmpack "$W/dst"
same_as_source skopeo "$W/sk"
floor_ok "$W/fl"
wp_pull=$(pick wasmpack <<<"$times"); sk_pull=$(pick skopeo <<<"$times"); floor=$(pick curl <<<"$times")
read_rate=$(pick read <<<"$times")
rm -rf "$W/dst"
rss=$(/usr/bin/time -f %M "$WP" --store "$W/dst" pull $REG/bench/img:v1 --plain-http 2>&1 >/dev/null | tail -1)

cat <<TABLE
image: $BLOBS blobs, $TOTAL_MIB MiB; registry: Distribution on 127.0.0.1; $(nproc) cores; interleaved, median of $RUNS runs
checked after every run: wasmpack and skopeo hold the registry's manifest ($want) and all $(wc -l <<<"$want_blobs") blobs, each matching its digest; the floor's blobs hash to their names (checked between runs, untimed)
| what                                                  | seconds | ratio                              |
|-------------------------------------------------------|---------|------------------------------------|
| curl -f GET of each blob to /dev/null, $CONC at once (registry read) | $read_rate | $(ratio "$read_rate" "$sk_pull") x skopeo |
| curl -f GET of each blob to a file + openssl dgst -sha256 of it, $CONC at once (floor) | $floor | $(ratio "$floor" "$sk_pull") x skopeo |
| skopeo copy docker:// oci:DIR                         | $sk_pull | 1.00                               |
| wasmpack pull --concurrency $CONC                          | $wp_pull | $(ratio "$wp_pull" "$sk_pull") x skopeo, $(ratio "$wp_pull" "$floor") x floor |
peak RSS of wasmpack pull: $((rss / 1024)) MiB
TABLE
