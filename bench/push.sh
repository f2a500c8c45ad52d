#!/usr/bin/env bash
# `wasmpack push` side by side with `skopeo copy oci:DIR docker://` and the registry's own
# ingest floor (one `curl -T` upload of each blob, in sequence), in one run, on an image
# of BLOBS layers totalling TOTAL_MIB to a local Distribution registry. Medians of RUNS.
. "$(dirname "$0")/lib.sh"
start_registry
make_layout "$W/store" "$REG/bench/img:v1"
cat "$W"/store/blobs/sha256/* > /dev/null

# Each run pushes to a repository of its own, so nothing is skipped; wasmpack forgets where
# blobs went (no mounts) before each.
wp_push=$(time_runs 'rm -f "$W/store/.wasmpack/origins.json"; "$WP" --store "$W/store" tag $REG/bench/img:v1 $REG/wp$i/img:v1 >/dev/null' \
	'"$WP" --store "$W/store" push $REG/wp$i/img:v1 --plain-http')
# skopeo remembers where blobs went too (its blob info cache): forget before each run.
forget_skopeo() { rm -f /var/lib/containers/cache/blob-info-cache-v1.* "$HOME"/.local/share/containers/cache/blob-info-cache-v1.* 2>/dev/null || true; }
sk_push=$(time_runs forget_skopeo 'skopeo copy -q --dest-tls-verify=false "oci:$W/store:$REG/bench/img:v1" docker://$REG/sk$i/img:v1')
curl_floor() {
	local repo=$1 f d loc
	for f in "$W"/store/blobs/sha256/*; do
		d=$(basename "$f")
		loc=$(curl -s -D - -o /dev/null -X POST "http://$REG/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
		case "$loc" in /*) loc="http://$REG$loc" ;; esac
		curl -s -o /dev/null -T "$f" "$loc&digest=sha256:$d"
	done
}
floor=$(time_runs : 'curl_floor curl$i/img')
repush=$(time_runs : '"$WP" --store "$W/store" push $REG/wp1/img:v1 --plain-http')
repush_json=$("$WP" --store "$W/store" push $REG/wp1/img:v1 --plain-http --format json)
rm -f "$W/store/.wasmpack/origins.json"
"$WP" --store "$W/store" tag $REG/bench/img:v1 $REG/rss/img:v1 >/dev/null
rss=$(/usr/bin/time -f %M "$WP" --store "$W/store" push $REG/rss/img:v1 --plain-http 2>&1 >/dev/null | tail -1)

cat <<TABLE
image: $BLOBS blobs, $TOTAL_MIB MiB; registry: Distribution $(docker-registry --version 2>/dev/null | awk '{print $3}') on 127.0.0.1; $(nproc) cores; median of $RUNS runs
| what                                         | seconds | ratio              |
|----------------------------------------------|---------|--------------------|
| curl -T, each blob in sequence (floor)       | $floor | 1.00               |
| skopeo copy oci:DIR docker://                | $sk_push | $(ratio "$sk_push" "$floor") x floor |
| wasmpack push                                | $wp_push | $(ratio "$wp_push" "$floor") x floor, $(ratio "$wp_push" "$sk_push") x skopeo |
| wasmpack push, unchanged image again         | $repush | blob bytes sent: $(jq '[.blobs[] | select(.outcome=="uploaded")] | length' <<<"$repush_json") uploads, $(jq .transfer.bytesSent <<<"$repush_json") bytes (the manifest) |
peak RSS of wasmpack push: $((rss / 1024)) MiB
TABLE
