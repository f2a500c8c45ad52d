#!/usr/bin/env bash
# Wasm components against the same app as a WASI preview1 module, in one run:
#   - `wasmpack run` of the sample app as a module on the node engine (node:wasi), and as
#     a component (made with `jco new --wasi-command`) on jco: the component's cold start
#     (no transpiled form in the node cache: jco transpile included) and its warm start;
#   - the same under containerd through the shim (`ctr run --rm`, as root), where the
#     shim's node cache is the one that keeps the transpiled form;
#   - the peak RSS of a warm run of each.
# Figures are medians of RUNS runs (rounds interleaved); the ratios are what to read.
# Usage: bench/components.sh   (RUNS=7)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
B=${WASMPACK_BUILD:-$ROOT/build}
WP=$B/wasmpack
RUNS=${RUNS:-7}
JCO_BIN=$ROOT/.deps/jco/node_modules/.bin
for tool in node bc /usr/bin/time; do
	command -v "$tool" >/dev/null || bench_fail "bench needs $tool (scripts/deps.sh installs it)"
done
bench_npm jco
W=$(mktemp -d /tmp/wasmpack-bench.XXXXXX)
SOCKS=$(mktemp -d /tmp/wpb.XXXXXX)
C=$W/ctd
CTD_PID=
NS=bench-comp
cleanup() {
	[ -n "$CTD_PID" ] && kill "$CTD_PID" 2>/dev/null && wait "$CTD_PID" 2>/dev/null
	grep -F " $C/" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$W" "$SOCKS"
	rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null || true
}
trap cleanup EXIT
# jco and node are the only engines here: no other engine takes the component.
export PATH=$JCO_BIN:$B:/usr/sbin:/usr/bin:/sbin:/bin WASMPACK_STORE=$W/store WASMPACK_CACHE=$W/cache
export WASMPACK_SHIM_SOCKET_DIR=$SOCKS
unset WASMPACK_ENGINE
cd "$W"
mkdir -p app/static && echo "Hello, bench" > app/static/greeting.txt
cp "$B/testdata/hello.wasm" app/module.wasm
jco new app/module.wasm --wasi-command -o app/component.wasm >/dev/null
(cd app && "$WP" build --wasm module.wasm --file static -t mod:v1 >/dev/null &&
	"$WP" build --wasm component.wasm --file static -t comp:v1 >/dev/null)
"$WP" run mod:v1 >/dev/null && "$WP" run comp:v1 >/dev/null   # unpacked and transpiled once
JCO=$(ls -d "$WASMPACK_CACHE"/compiled/jco-*)

. "$ROOT/bench/timing.sh"
# Each run checks its output: a fast wrong result is no figure.
runs_ok() { "$@" 2>&1 | grep -q "Hello, bench"; }
times=$(time_interleaved \
	module '' 'runs_ok "$WP" run mod:v1' \
	warm '' 'runs_ok "$WP" run comp:v1' \
	cold 'rm -rf "$JCO"' 'runs_ok "$WP" run comp:v1')
t_mod=$(pick module <<<"$times"); t_warm=$(pick warm <<<"$times"); t_cold=$(pick cold <<<"$times")
rss_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
r_mod=$(rss_kib "$WP" run mod:v1)
r_comp=$(rss_kib "$WP" run comp:v1)
echo "the sample app (hello.wasm, $(stat -c %s app/module.wasm) bytes; as a component $(stat -c %s app/component.wasm) bytes), median of $RUNS runs"
printf '%-44s %7s s\n' "wasmpack run, module on node (node:wasi)" "$t_mod"
printf '%-44s %7s s   %5s x the module\n' "wasmpack run, component on jco, warm" "$t_warm" "$(ratio "$t_warm" "$t_mod")"
printf '%-44s %7s s   %5s x the module, %5s x warm\n' "wasmpack run, component on jco, cold" "$t_cold" \
	"$(ratio "$t_cold" "$t_mod")" "$(ratio "$t_cold" "$t_warm")"
printf 'peak RSS of a warm run: module %s MiB, component %s MiB\n' "$((r_mod / 1024))" "$((r_comp / 1024))"
# Where a warm component start goes (the runner's own marks, WASMPACK_JCO_TIMES=1): the
# median of each part over RUNS runs.
for _ in $(seq 1 "$RUNS"); do
	WASMPACK_JCO_TIMES=1 "$WP" run comp:v1 2>&1 >/dev/null | grep '^wasmpack: jco start:' || true
done > split
part() { sed -n "s/.*$1 \([0-9.]*\) ms.*/\1/p" split | median; }
if [ "$(wc -l < split)" != "$RUNS" ]; then
	echo "(no split: this build's jco runner does not mark a start's steps, WASMPACK_JCO_TIMES)"
else
	printf 'warm component start, median ms: node start %s, JS load %s, wasm compile + instantiate %s (compile %s), app and exit %s\n' \
		"$(part 'node start')" "$(part 'JS load ([a-z ,]*)')" "$(part 'instantiate')" "$(part '(wasm compile')" \
		"$(part 'app')"
	grep -q 'JS load (code cache)' split || echo "(V8 did not take the code cache: $(head -1 split))"
	grep -q 'I/O thread asked for' split && echo "(preview2-shim's I/O thread was started: $(head -1 split))"
fi

if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
	echo "(the shim's figures need root, containerd and ctr)"
	exit 0
fi
mkdir -p "$C"
cat > "$C/config.toml" <<TOML
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$C/c.sock"
[ttrpc]
  address = "$C/c.sock.ttrpc"
[metrics]
  address = ""
TOML
WASMPACK_CACHE=$W/shimcache containerd --config "$C/config.toml" > "$C/log" 2>&1 &
CTD_PID=$!
for _ in $(seq 1 100); do ctr -a "$C/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_() { ctr -a "$C/c.sock" -n $NS "$@"; }
"$WP" save mod:v1 -o mod.tar >/dev/null && "$WP" save comp:v1 -o comp.tar >/dev/null
ctr_ images import --platform wasip1/wasm mod.tar >/dev/null
ctr_ images import --platform wasip2/wasm comp.tar >/dev/null
n=0
ctr_run() { # ctr_run PLATFORM IMAGE
	n=$((n + 1))
	ctr_ run --rm --snapshotter native --platform "$1" --runtime io.containerd.wasmpack.v1 "docker.io/library/$2" "b$n"
}
runs_ok ctr_run wasip1/wasm mod:v1 && runs_ok ctr_run wasip2/wasm comp:v1
SJCO=$(ls -d "$W"/shimcache/compiled/jco-*)
times=$(time_interleaved \
	module '' 'runs_ok ctr_run wasip1/wasm mod:v1' \
	warm '' 'runs_ok ctr_run wasip2/wasm comp:v1' \
	cold 'rm -rf "$SJCO"' 'runs_ok ctr_run wasip2/wasm comp:v1')
s_mod=$(pick module <<<"$times"); s_warm=$(pick warm <<<"$times"); s_cold=$(pick cold <<<"$times")
printf '%-44s %7s s\n' "ctr run through the shim, module on node" "$s_mod"
printf '%-44s %7s s   %5s x the module\n' "ctr run through the shim, component, warm" "$s_warm" "$(ratio "$s_warm" "$s_mod")"
printf '%-44s %7s s   %5s x the module, %5s x warm\n' "ctr run through the shim, component, cold" "$s_cold" \
	"$(ratio "$s_cold" "$s_mod")" "$(ratio "$s_cold" "$s_warm")"
