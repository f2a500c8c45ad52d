#!/usr/bin/env bash
# `wasmpack pull` side by side with `skopeo copy docker:// oci:DIR`, in one run, on an
# image of BLOBS layers totalling TOTAL_MIB from a local Distribution registry.
. "$(dirname "$0")/lib.sh"
start_registry
make_layout "$W/src" "$REG/bench/img:v1"
skopeo copy -q --dest-tls-verify=false "oci:$W/src:$REG/bench/img:v1" "docker://$REG/bench/img:v1"
sync

wp_pull=$(time_runs 'rm -rf "$W/dst"; sync' '"$WP" --store "$W/dst" pull $REG/bench/img:v1 --plain-http --platform wasip1/wasm')
sk_pull=$(time_runs 'rm -rf "$W/sk"; rm -f /var/lib/containers/cache/blob-info-cache-v1.* 2>/dev/null; sync' 'skopeo copy -q --src-tls-verify=false docker://$REG/bench/img:v1 "oci:$W/sk:v1"')
rm -rf "$W/dst"
rss=$(/usr/bin/time -f %M "$WP" --store "$W/dst" pull $REG/bench/img:v1 --plain-http 2>&1 >/dev/null | tail -1)
same=$([ "$("$WP" --store "$W/dst" inspect $REG/bench/img:v1 | jq -r .digest)" = "sha256:$(skopeo inspect --raw --tls-verify=false docker://$REG/bench/img:v1 | sha256sum | cut -d' ' -f1)" ] && echo yes || echo NO)

cat <<TABLE
image: $BLOBS blobs, $TOTAL_MIB MiB; registry: Distribution on 127.0.0.1; $(nproc) cores; median of $RUNS runs
| what                                  | seconds | ratio           |
|---------------------------------------|---------|-----------------|
| skopeo copy docker:// oci:DIR         | $sk_pull | 1.00            |
| wasmpack pull                         | $wp_pull | $(ratio "$wp_pull" "$sk_pull") x skopeo |
peak RSS of wasmpack pull: $((rss / 1024)) MiB; pulled digest matches the registry's: $same
TABLE
