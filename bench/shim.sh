#!/usr/bin/env bash
# The shim under a real containerd, side by side in one run with `wasmpack run` of the
# same image and engine (the engine floor), warm node cache (as root):
# - time from `ctr run` to the app's first output line, against `wasmpack run`;
# - the shim's memory per idle container (RSS and PSS of the shim process);
# - the `start` action until its socket answers;
# - through containerd's CRI as the kubelet drives it (tests/helpers/cri): RunPodSandbox,
#   CreateContainer and StartContainer until the app's first line is in the CRI log file.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
B=${WASMPACK_BUILD:-$ROOT/build}
WP=$B/wasmpack
RUNS=${RUNS:-15}
IDLE=${IDLE:-10}
ENGINE=${ENGINE:-node}
[ "$(id -u)" -eq 0 ] || { echo "bench/shim.sh runs containerd: run it as root" >&2; exit 1; }
for tool in containerd ctr "$ENGINE" bc; do
	command -v "$tool" >/dev/null || { echo "bench needs $tool (scripts/deps.sh installs it)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/wasmpack-bench.XXXXXX)
SOCKS=$(mktemp -d /tmp/wps.XXXXXX)
C=$W/ctd
CTD_PID=
NS=bench
cleanup() {
	ctr -a "$C/c.sock" -n $NS task ls -q 2>/dev/null | xargs -r -n1 ctr -a "$C/c.sock" -n $NS task kill -s SIGKILL 2>/dev/null || true
	sleep 0.3
	ctr -a "$C/c.sock" -n $NS task ls -q 2>/dev/null | xargs -r -n1 ctr -a "$C/c.sock" -n $NS task rm 2>/dev/null || true
	ctr -a "$C/c.sock" -n $NS c ls -q 2>/dev/null | xargs -r -n1 ctr -a "$C/c.sock" -n $NS c rm 2>/dev/null || true
	[ -n "$CTD_PID" ] && kill "$CTD_PID" 2>/dev/null && wait "$CTD_PID" 2>/dev/null
	grep -F " $C/" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$W" "$SOCKS"
	rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null || true
}
trap cleanup EXIT
export PATH=$B:$PATH WASMPACK_CACHE=$W/cache WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_ENGINE=$ENGINE WASMPACK_STORE=$W/store
mkdir -p "$C"
cat > "$C/config.toml" <<TOML
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/sleeper:v1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "wasmpack"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmpack]
      runtime_type = "io.containerd.wasmpack.v1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    conf_dir = "$W/cni"
[grpc]
  address = "$C/c.sock"
[ttrpc]
  address = "$C/c.sock.ttrpc"
[metrics]
  address = ""
TOML
# the shim's own marks (shim/trace.h), for the breakdown of a ctr run
export WASMPACK_SHIM_TRACE=$W/trace
containerd --config "$C/config.toml" > "$C/log" 2>&1 &
CTD_PID=$!
for _ in $(seq 1 100); do ctr -a "$C/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_() { ctr -a "$C/c.sock" -n $NS "$@"; }

cd "$W"
mkdir -p static && echo "Hello, bench" > static/greeting.txt
"$WP" build --wasm "$B/testdata/hello.wasm" --file static:static --arg bench -t hello:v1 >/dev/null
"$WP" build --wasm "$B/testdata/sleeper.wasm" -t sleeper:v1 >/dev/null
"$WP" save hello:v1 -o hello.tar >/dev/null && "$WP" save sleeper:v1 -o sleeper.tar >/dev/null
ctr_ images import --platform wasip1/wasm hello.tar >/dev/null
ctr_ images import --platform wasip1/wasm sleeper.tar >/dev/null
# the CRI's images: its namespace (k8s.io), the sleeper standing in for the pause image
ctr -a "$C/c.sock" -n k8s.io images import --platform wasip1/wasm hello.tar >/dev/null
ctr -a "$C/c.sock" -n k8s.io images import --platform wasip1/wasm sleeper.tar >/dev/null
"$WP" run --engine "$ENGINE" hello:v1 >/dev/null   # the node cache is warm from here on

. "$ROOT/bench/timing.sh"
ns() { date +%s%N; }
# Milliseconds from the command's start to its first output line, which must be the app's
# ("arg[0]=/hello.wasm"), and the command must succeed: a failed run is no figure.
first_line() { # CMD...: its first line must be $EXPECT (the sample app's by default)
	local s line t want=${EXPECT:-arg[0]=/hello.wasm}
	s=$(ns)
	[ -z "${MARK:-}" ] || echo "$MARK $s" >> "$W/starts"
	exec 3< <("$@" 2>&1; echo "exit $?")
	read -r line <&3
	t=$(echo "scale=2; ($(ns) - $s) / 1000000" | bc)
	[ -z "${MARK:-}" ] || echo "$MARK $t" >> "$W/firsts"
	local rest
	rest=$(cat <&3)
	exec 3<&-
	[ "$line" = "$want" ] || { echo "bench: '$*' printed '$line' first, not '$want'" >&2; return 1; }
	[ "$(tail -1 <<<"$rest")" = "exit 0" ] || { echo "bench: '$*' failed: $(tail -3 <<<"$rest")" >&2; return 1; }
	echo "$t"
}
# runc's whole path on the same containerd, the comparison a node operator makes: a
# static native hello (no engine to start) in an image of one layer, run by containerd's
# runc shim (io.containerd.runc.v2).
NATIVE=
if command -v runc >/dev/null && command -v containerd-shim-runc-v2 >/dev/null &&
	printf '#include <stdio.h>\nint main(void) { puts("hello from a static binary"); return 0; }\n' > native.c &&
	cc -static -O2 -o native native.c 2>/dev/null; then
	mkdir -p nat/rootfs nat/blobs/sha256 && cp native nat/rootfs/hello
	tar --sort=name --owner=0 --group=0 --mtime=@0 -C nat/rootfs -cf nat/layer.tar hello
	ld=$(sha256sum nat/layer.tar | cut -d' ' -f1) && mv nat/layer.tar "nat/blobs/sha256/$ld"
	arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
	cfg=$(printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/hello"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$arch" "$ld")
	cd_=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1) && printf '%s' "$cfg" > "nat/blobs/sha256/$cd_"
	mf=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
		"$cd_" "${#cfg}" "$ld" "$(stat -c %s "nat/blobs/sha256/$ld")")
	md=$(printf '%s' "$mf" | sha256sum | cut -d' ' -f1) && printf '%s' "$mf" > "nat/blobs/sha256/$md"
	printf '{"imageLayoutVersion":"1.0.0"}' > nat/oci-layout
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"io.containerd.image.name":"docker.io/library/native:v1","org.opencontainers.image.ref.name":"v1"}}]}' \
		"$md" "${#mf}" > nat/index.json
	tar -C nat -cf native.tar oci-layout index.json blobs
	ctr_ images import native.tar >/dev/null && NATIVE=1
fi
[ -n "$NATIVE" ] || echo "(runc's path not measured: runc, containerd-shim-runc-v2 or a static libc is missing)" >&2
runc_run() { EXPECT="hello from a static binary" first_line ctr_ run --rm --snapshotter native docker.io/library/native:v1 "n$1"; }
[ -z "$NATIVE" ] || runc_run 0 >/dev/null   # the runc shim and the snapshot warm

# Paired: each run times the floor, the shim (and runc's path) back to back, in an order
# rotated from run to run, so drifts of a busy machine touch all; the overhead is the
# median of the differences.
: > pairs
for i in $(seq 1 "$RUNS"); do
	n=0
	for k in $(seq 0 2); do
		case $(( (i + k) % 3 )) in
		0) f=$(first_line "$WP" run --engine "$ENGINE" hello:v1) ;;
		1) c=$(MARK=r$i first_line ctr_ run --rm --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 \
			docker.io/library/hello:v1 "r$i") ;;
		2) if [ -n "$NATIVE" ]; then n=$(runc_run "$i"); fi ;;
		esac
	done
	echo "$f $c $n" >> pairs
done
# Where a ctr run's time goes: the shim's marks (WASMPACK_SHIM_TRACE) against the moment
# ctr was started, median of each over the runs.
breakdown=$(/usr/bin/python3 - "$W" <<'PY'
import collections, statistics, sys
w = sys.argv[1]
starts = {l.split()[0]: int(l.split()[1]) / 1e6 for l in open(w + "/starts")}
firsts = {l.split()[0]: float(l.split()[1]) for l in open(w + "/firsts")}
steps, order = collections.defaultdict(list), []
for line in open(w + "/trace"):
    t, _pid, cid, step = line.rstrip("\n").split(" ", 3)
    if cid in starts:
        order += [step] if step not in order else []
        steps[step].append(float(t) * 1000 - starts[cid])
order.append("the app's first line reaches ctr's output")
steps[order[-1]] = list(firsts.values())
prev = 0.0
print("| step of `ctr run` (ms from its start)                      |   at ms | since the last |")
print("|------------------------------------------------------------|---------|----------------|")
print(f"| {'ctr started':<58} | {0:7.1f} |                |")
for step in order:
    m = statistics.median(steps[step])
    print(f"| {step:<58} | {m:7.1f} | {m - prev:+14.1f} |")
    prev = m
PY
) || breakdown="(no breakdown: this build's shim writes no marks, WASMPACK_SHIM_TRACE)"
floor=$(awk '{print $1}' pairs | median)
shim=$(awk '{print $2}' pairs | median)
over=$(awk '{print $2 - $1}' pairs | median)
native=$(awk '{print $3}' pairs | median)
# Idle containers: one shim process each; its memory once the app is running.
for i in $(seq 1 "$IDLE"); do
	ctr_ run -d --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 docker.io/library/sleeper:v1 "idle$i" >/dev/null
done
# Every idle container's shim, once its app runs (10 s at most).
for _ in $(seq 1 100); do
	[ "$(ctr_ task ls 2>/dev/null | grep -cE '^idle[0-9]+ +[0-9]+ +RUNNING')" -ge "$IDLE" ] && break
	sleep 0.1
done
rss=0 pss=0 n=0
for pid in $(pgrep -f "containerd-shim-wasmpack-v1 -namespace $NS .*-id idle[0-9]+ start"); do
	rss=$((rss + $(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")))
	pss=$((pss + $(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")))
	n=$((n + 1))
done
# The start action, by hand in a bundle folder of our own, until the socket answers.
mkdir -p bundle && echo '{}' > bundle/config.json
start_ms=$(for i in $(seq 1 "$RUNS"); do
	s=$(ns)
	addr=$(cd bundle && containerd-shim-wasmpack-v1 -namespace $NS -address "$C/c.sock" -id "st$i" start)
	"$B/tests/helpers/ttrpc_client" "$addr" call containerd.task.v2.Task Connect "st$i" >/dev/null
	echo "scale=2; ($(ns) - $s) / 1000000" | bc
	"$B/tests/helpers/ttrpc_client" "$addr" call containerd.task.v2.Task Shutdown "st$i" >/dev/null
done | median)
[ "$n" -gt 0 ] || { echo "bench: no idle container's shim is running" >&2; exit 1; }
# Through the CRI: a pod (host network) and its container, until the app's first line is
# in the CRI log file; each pod is removed before the next.
CRI=$B/tests/helpers/cri
[ -x "$CRI" ] || make -C "$ROOT" O="$B" helpers >&2
mkdir -p "$W/cni" "$W/podlogs"
cri_ms=$(for i in $(seq 1 "$RUNS"); do
	printf '{"name":"b%s","uid":"u%s","namespace":"bench","log_directory":"%s/podlogs/b%s","network":"node"}' "$i" "$i" "$W" "$i" > pod.json
	printf '{"name":"hello","image":"docker.io/library/hello:v1","log_path":"hello.log"}' > ctr.json
	mkdir -p "$W/podlogs/b$i"
	s=$(ns)
	p=$("$CRI" "$C/c.sock" runp pod.json) && c=$("$CRI" "$C/c.sock" create "$p" ctr.json pod.json) &&
		"$CRI" "$C/c.sock" start "$c" >/dev/null || { echo "bench: the CRI run failed" >&2; exit 1; }
	until grep -q "stdout F arg\[0\]=/hello.wasm" "$W/podlogs/b$i/hello.log" 2>/dev/null; do
		[ $((($(ns) - s) / 1000000)) -lt 10000 ] || { echo "bench: no log line through the CRI" >&2; exit 1; }
		sleep 0.002
	done
	echo "scale=2; ($(ns) - $s) / 1000000" | bc
	"$CRI" "$C/c.sock" stopp "$p" >/dev/null; "$CRI" "$C/c.sock" rmp "$p" >/dev/null
done | median)
cat <<TABLE
containerd $(containerd --version | awk '{print $3}'), engine $ENGINE $("$ENGINE" --version 2>/dev/null | head -1), $(nproc) cores; median of $RUNS runs
| what                                                   | ms     |
|--------------------------------------------------------|--------|
| wasmpack run (engine floor), to the first output line   | $floor |
| ctr run --runtime io.containerd.wasmpack.v1, same       | $shim |
| the shim's overhead over the floor (median of pairs)   | $over |
| ctr run of a static native hello through runc (io.containerd.runc.v2) | ${NATIVE:+$native}${NATIVE:-not measured} |
| shim start action until its socket answers              | $start_ms |
| CRI: RunPodSandbox + Create + Start to the first log line | $cri_ms |
shim memory per idle container ($n containers): RSS $((rss / n)) KiB, PSS $((pss / n)) KiB

$breakdown
TABLE
