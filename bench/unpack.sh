#!/usr/bin/env bash
# The node side, side by side with its peers in one run, on one generated app of about
# 100 MiB (a WASM_MIB wasm file plus FILES files of FILE_KIB each) in the image layout:
#   - cold `wasmpack unpack` against `umoci raw unpack` of the same image and against
#     `cp -r` of the same files (the floor: the bytes have to land somewhere);
#   - the warm start of `wasmpack run` (a cache hit) with a no-op engine (/bin/true named
#     wasmtime), less the cost of starting /bin/true itself, for a 1 MiB and the big app.
# Figures are medians of RUNS runs with warm page caches; ratios are what to read.
# Usage: bench/unpack.sh   (WASM_MIB=64 FILES=2000 FILE_KIB=18 RUNS=5 WARM_RUNS=200)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
WP=${WASMPACK_BUILD:-$ROOT/build}/wasmpack
WASM_MIB=${WASM_MIB:-64}
FILES=${FILES:-2000}
FILE_KIB=${FILE_KIB:-18}
RUNS=${RUNS:-5}
WARM_RUNS=${WARM_RUNS:-200}
for tool in umoci /usr/bin/time bc; do
	command -v "$tool" >/dev/null || { echo "bench needs $tool (scripts/deps.sh installs it)" >&2; exit 1; }
done
# BENCH_TMP=/dev/shm takes the disk (and ext4's inode allocator after mass deletes) out.
W=$(mktemp -d "${BENCH_TMP:-/tmp}/wasmpack-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
export WASMPACK_STORE=$W/store WASMPACK_CACHE=$W/cache

mkdir -p big/static small/static bin
{ printf '\0asm\1\0\0\0'; head -c $((WASM_MIB * 1048576 - 8)) /dev/urandom; } > big/app.wasm
for i in $(seq 1 "$FILES"); do head -c $((FILE_KIB * 1024)) /dev/urandom > "big/static/f$i.bin"; done
cp "${WASMPACK_BUILD:-$ROOT/build}/testdata/hello.wasm" small/app.wasm
head -c 1048576 /dev/urandom > small/static/data.bin
total=$(du -sb big | cut -f1)
"$WP" build --wasm big/app.wasm --file big/static:static -t big:v1 >/dev/null
"$WP" build --wasm small/app.wasm --file small/static:static -t small:v1 >/dev/null
ln -s /bin/true bin/wasmtime

. "$ROOT/bench/timing.sh"
per_run_ms() { # per_run_ms CMD...: milliseconds per run over WARM_RUNS runs
	local s e
	# A run that fails is no figure: say so and stop.
	"$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; exit 1; }
	s=$(date +%s%N)
	for _ in $(seq 1 "$WARM_RUNS"); do "$@" >/dev/null 2>&1 || { echo "bench: '$*' failed" >&2; exit 1; }; done
	e=$(date +%s%N)
	echo "scale=2; ($e - $s) / 1000000 / $WARM_RUNS" | bc
}
rss_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

echo "app: $((total / 1048576)) MiB ($WASM_MIB MiB wasm + $FILES files of $FILE_KIB KiB), interleaved, median of $RUNS runs"
times=$(time_interleaved \
	wasmpack 'rm -rf out' '"$WP" unpack big:v1 -o out' \
	umoci 'rm -rf rootfs' 'umoci raw unpack --rootless --image "$WASMPACK_STORE:docker.io/library/big:v1" rootfs' \
	cp 'rm -rf copy' 'cp -r big copy')
t_wp=$(pick wasmpack <<<"$times"); t_umoci=$(pick umoci <<<"$times"); t_cp=$(pick cp <<<"$times")
# The same thing made by each: the app's files, byte for byte.
mkdir -p want && cp big/app.wasm want/ && cp -r big/static want/static
diff -r want out/rootfs >/dev/null || { echo "bench: wasmpack's unpack is not the app's files" >&2; exit 1; }
diff -r want rootfs >/dev/null || { echo "bench: umoci's unpack is not the app's files" >&2; exit 1; }
diff -r big copy >/dev/null || { echo "bench: cp -r did not copy" >&2; exit 1; }
echo "checked: wasmpack's and umoci's trees are the app's files byte for byte (diff -r), as cp's"
rm -rf out
rss=$(rss_kib "$WP" unpack big:v1 -o out)
printf '%-34s %8s s  %5s x floor  %5s x umoci\n' "wasmpack unpack (cold)" "$t_wp" "$(echo "scale=2; $t_wp / $t_cp" | bc)" "$(echo "scale=2; $t_wp / $t_umoci" | bc)"
printf '%-34s %8s s  %5s x floor\n' "umoci raw unpack" "$t_umoci" "$(echo "scale=2; $t_umoci / $t_cp" | bc)"
printf '%-34s %8s s\n' "cp -r (floor)" "$t_cp"
echo "wasmpack unpack peak RSS: $((rss / 1024)) MiB"

PATH=$W/bin:$PATH "$WP" run --engine wasmtime big:v1 >/dev/null
PATH=$W/bin:$PATH "$WP" run --engine wasmtime small:v1 >/dev/null
base=$(per_run_ms /bin/true)
start=$(per_run_ms "$WP" version)
big=$(PATH=$W/bin:$PATH per_run_ms "$WP" run --engine wasmtime big:v1)
small=$(PATH=$W/bin:$PATH per_run_ms "$WP" run --engine wasmtime small:v1)
echo "warm run (cache hit, no-op engine), per run over $WARM_RUNS runs, less /bin/true's $base ms:"
printf '  %-12s %6s ms\n' "1 MiB app" "$(echo "scale=2; $small - $base" | bc)" \
	"$((total / 1048576)) MiB app" "$(echo "scale=2; $big - $base" | bc)"
echo "  (for scale: 'wasmpack version', which the front hands to wasmpack-core: $(echo "scale=2; $start - $base" | bc) ms)"
