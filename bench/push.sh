#!/usr/bin/env bash
# `wasmpack push` side by side with `skopeo copy --preserve-digests oci:DIR docker://` and
# the registry's own ingest floor, in one run, on an image of BLOBS layers totalling
# TOTAL_MIB to a local Distribution registry; contenders interleaved, medians of RUNS.
# Like for like: every contender uploads the same blobs as they are (skopeo would gzip the
# uncompressed layers without --preserve-digests), and every pushed manifest is checked
# to be byte-identical to the source's, every blob of every run present in the registry.
# The floor is `curl -f` doing just the uploads (POST, then PUT of the whole blob), CONC
# at once as wasmpack does (its default 4).
. "$(dirname "$0")/lib.sh"
CONC=${CONC:-4}
start_registry
make_layout "$W/store" "$REG/bench/img:v1"
cat "$W"/store/blobs/sha256/* > /dev/null
src_manifest=$(jq -r '.manifests[0].digest' "$W/store/index.json")

forget_skopeo() { rm -f /var/lib/containers/cache/blob-info-cache-v1.* "$HOME"/.local/share/containers/cache/blob-info-cache-v1.* 2>/dev/null || true; }
curl_one() { # REPO FILE
	local d loc
	d=$(basename "$2")
	loc=$(curl -sf -D - -o /dev/null -X POST "http://$REG/v2/$1/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
	[ -n "$loc" ] || { echo "curl floor: no upload location" >&2; return 1; }
	case "$loc" in /*) loc="http://$REG$loc" ;; esac
	case "$loc" in *\?*) loc="$loc&" ;; *) loc="$loc?" ;; esac
	curl -sf -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$2" "${loc}digest=sha256:$d"
}
export -f curl_one
export REG
curl_floor() { ls "$W"/store/blobs/sha256/* | xargs -P "$CONC" -n1 bash -c 'curl_one "$0" "$1"' "$1"; }

# Each run pushes to a repository of its own, so nothing is skipped or mounted; wasmpack
# and skopeo forget where blobs went before each.
times=$(time_interleaved \
	wasmpack 'rm -f "$W/store/.wasmpack/origins.json"; "$WP" --store "$W/store" tag $REG/bench/img:v1 $REG/wp$i/img:v1 >/dev/null' \
		'"$WP" --store "$W/store" push $REG/wp$i/img:v1 --plain-http --concurrency $CONC' \
	skopeo forget_skopeo 'skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$W/store:$REG/bench/img:v1" docker://$REG/sk$i/img:v1' \
	curl : 'curl_floor curl$i/img')
wp_push=$(pick wasmpack <<<"$times"); sk_push=$(pick skopeo <<<"$times"); floor=$(pick curl <<<"$times")

# What each pushed: the same manifest, byte for byte, and every blob.
check_repo() { # WHO REPO: the manifest is the source's and every blob is there
	local got
	got=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/$2/manifests/v1") ||
		bench_fail "checking $1's push: the registry has no manifest at $2:v1 (curl exit $?)"
	got=$(printf '%s' "$got" | sha256sum | cut -d' ' -f1)
	[ "sha256:$got" = "$src_manifest" ] || bench_fail "checking $1's push: $2 holds manifest sha256:$got, not $src_manifest"
	check_blobs "$1" "$2"
}
check_blobs() { # WHO REPO: every blob of the source is in it (HEAD); manifests go their own way
	local f
	for f in "$W"/store/blobs/sha256/*; do
		[ "sha256:$(basename "$f")" = "$src_manifest" ] && continue
		curl -sf -I -o /dev/null "http://$REG/v2/$2/blobs/sha256:$(basename "$f")" ||
			bench_fail "checking $1's push: blob $(basename "$f") is missing from $2"
	done
}
for i in $(seq 1 "$RUNS"); do
	check_repo wasmpack "wp$i/img"; check_repo skopeo "sk$i/img"; check_blobs "the curl floor" "curl$i/img"
done

repush=$(time_runs : '"$WP" --store "$W/store" push $REG/wp1/img:v1 --plain-http')
repush_json=$("$WP" --store "$W/store" push $REG/wp1/img:v1 --plain-http --format json)
rm -f "$W/store/.wasmpack/origins.json"
"$WP" --store "$W/store" tag $REG/bench/img:v1 $REG/rss/img:v1 >/dev/null
rss=$(/usr/bin/time -f %M "$WP" --store "$W/store" push $REG/rss/img:v1 --plain-http 2>&1 >/dev/null | tail -1)

cat <<TABLE
image: $BLOBS blobs, $TOTAL_MIB MiB; registry: Distribution $(docker-registry --version 2>/dev/null | awk '{print $3}') on 127.0.0.1; $(nproc) cores; interleaved, median of $RUNS runs
checked: wasmpack's and skopeo's pushed manifests are byte-identical to the source's ($src_manifest); every blob of every run is in the registry
| what                                                   | seconds | ratio              |
|--------------------------------------------------------|---------|--------------------|
| curl -f POST + PUT of each blob, $CONC at once (floor)      | $floor | 1.00               |
| skopeo copy --preserve-digests oci:DIR docker://       | $sk_push | $(ratio "$sk_push" "$floor") x floor |
| wasmpack push --concurrency $CONC                           | $wp_push | $(ratio "$wp_push" "$floor") x floor, $(ratio "$wp_push" "$sk_push") x skopeo |
| wasmpack push, unchanged image again                   | $repush | blob bytes sent: $(jq '[.blobs[] | select(.outcome=="uploaded")] | length' <<<"$repush_json") uploads, $(jq .transfer.bytesSent <<<"$repush_json") bytes (the manifest) |
peak RSS of wasmpack push: $((rss / 1024)) MiB
TABLE
