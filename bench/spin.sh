#!/usr/bin/env bash
# `wasmpack build --layout spin` side by side with the hashing floor of the same bytes
# (`openssl dgst -sha256` over every file), in one run, on a Spin app of 3 components
# (8 MiB wasm each) and FILES static files of 100 B to 1 MiB (log-uniform sizes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
WP=${WASMPACK_BUILD:-$ROOT/build}/wasmpack
FILES=${FILES:-1500}
RUNS=${RUNS:-5}
W=$(mktemp -d /tmp/wasmpack-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
mkdir -p app/static
for c in a b c; do
	{ printf '\0asm\1\0\0\0'; head -c $((8 * 1048576 - 8)) /dev/urandom; } > "app/$c.wasm"
done
perl -e 'srand(7); for my $i (1..'"$FILES"') { printf "%d\n", int(100 * 10000 ** rand()) }' | {
	i=0
	while read -r size; do i=$((i + 1)); head -c "$size" /dev/urandom > "app/static/f$i.bin"; done
}
cat > app/spin.toml <<'TOML'
spin_manifest_version = 2
[application]
name = "bench"
[[trigger.http]]
route = "/a/..."
component = "a"
[[trigger.http]]
route = "/b/..."
component = "b"
[[trigger.http]]
route = "/c/..."
component = "c"
[component.a]
source = "a.wasm"
files = [{ source = "static", destination = "/" }]
[component.b]
source = "b.wasm"
[component.c]
source = "c.wasm"
TOML
total=$(du -sb app | cut -f1)
cat app/*.wasm app/static/* > /dev/null

. "$ROOT/bench/timing.sh"
times=$(time_interleaved \
	floor : 'find app -type f -print0 | xargs -0 openssl dgst -sha256' \
	first 'rm -rf st' 'WASMPACK_STORE=st "$WP" build app')
floor=$(pick floor <<<"$times"); first=$(pick first <<<"$times")
rebuild=$(time_runs : 'WASMPACK_STORE=st "$WP" build app')
# What was built is the app: unpacked, each component's files are the input's.
WASMPACK_STORE=st "$WP" unpack "$(WASMPACK_STORE=st "$WP" build app)" -o unpacked >/dev/null
diff -r app/static unpacked/files/a >/dev/null || { echo "bench: the built image does not hold component a's files" >&2; exit 1; }
for c in a b c; do cmp -s "app/$c.wasm" "$(jq -r --arg c "$c" '.components[] | select(.id == $c) | .source.source' unpacked/spin.lock | sed 's|^file://||')" ||
	{ echo "bench: component $c's wasm is not the input's" >&2; exit 1; }; done
rm -rf unpacked
rm -rf st
rss=$(WASMPACK_STORE=st /usr/bin/time -f %M "$WP" build app 2>&1 >/dev/null | tail -1)
layers=$(WASMPACK_STORE=st "$WP" build app --format json | jq '.layers | length')

cat <<TABLE
app: 3 components of 8 MiB, $FILES files; $((total / 1048576)) MiB; $layers layers; $(nproc) cores; interleaved, median of $RUNS runs
checked: the image unpacks to the app's wasm files and static files, byte for byte
| what                                     | seconds | ratio       |
|------------------------------------------|---------|-------------|
| openssl dgst -sha256 over every file     | $floor | 1.00        |
| wasmpack build --layout spin             | $first | $(echo "scale=2; $first / $floor" | bc) x floor |
| wasmpack build --layout spin, unchanged  | $rebuild | $(echo "scale=2; $rebuild / $first" | bc) x first build |
peak RSS of the first build: $((rss / 1024)) MiB
TABLE
