#!/usr/bin/env bash
# wasmpack's Spin HTTP trigger (the engine spin-jco) side by side with `jco serve
# --isolate-requests instance` (a fresh instance per request too) on the same C wasi:http
# component, and a plain Node.js HTTP hello as the floor, in one run:
#   - requests/s, p50 and p99 latency at 1 and 8 concurrent connections (wrk);
#   - the time from `wasmpack run` to the first answered request, with the transpiled
#     component in the node cache (warm) and without (cold: jco transpile included);
#   - the trigger's RSS idle with 2 workers, and what each further worker adds.
# Goals (issue 23, 2 cores): the C component >= 1,000 requests/s at 8 concurrent; first
# answer <= 0.5 s warm; idle RSS with 2 workers <= 150 MiB, each extra worker <= 30 MiB.
# Usage: bench/spin_http.sh   (DURATION=5 seconds per wrk run, RUNS=5 starts)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
B=${WASMPACK_BUILD:-$ROOT/build}
WP=$B/wasmpack
DURATION=${DURATION:-5}
RUNS=${RUNS:-5}
JCO_BIN=$ROOT/.deps/jco/node_modules/.bin
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ]; then
	echo "# installing wrk (Debian's) for the load" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || true
fi
for tool in node wrk curl; do
	command -v "$tool" >/dev/null || bench_fail "bench needs $tool (scripts/deps.sh; apt-get install wrk)"
done
bench_npm jco
W=$(mktemp -d /tmp/wasmpack-bench.XXXXXX)
cleanup() {
	pkill -f "$W/" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
export PATH=$JCO_BIN:$B:/usr/sbin:/usr/bin:/sbin:/bin WASMPACK_STORE=$W/store WASMPACK_CACHE=$W/cache
unset WASMPACK_ENGINE
cd "$W"
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
# ms since the epoch
now() { echo $(($(date +%s%N) / 1000000)); }
wait_up() { # URL: waits for an answer, at most 60 s
	for _ in $(seq 1 6000); do curl -s -o /dev/null "$1" && return 0; sleep 0.01; done
	echo "bench: $1 never answered" >&2
	return 1
}
# wrk's figures: "REQ/S P50 P99"
load() { # URL CONNECTIONS; a run with errors or non-2xx answers stops the bench
	local threads=$(( $2 > 1 ? 2 : 1 )) out
	out=$(wrk -t"$threads" -c"$2" -d"${DURATION}s" --latency "$1" 2>&1)
	if grep -qE "Non-2xx|Socket errors" <<<"$out"; then
		echo "bench: $1 answered with errors under load:" >&2
		echo "$out" >&2
		exit 1
	fi
	awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
		END { printf "%d %s %s\n", rps, p50, p99 }' <<<"$out"
}
rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
trigger_pid() { pgrep -f "$W/cache/wasmpack-spin-http.mjs" | head -1; }

mkdir -p app
cp "$B/testdata/http-hello.wasm" app/web.wasm
printf 'spin_manifest_version = 2\n[application]\nname = "bench"\n[[trigger.http]]\nroute = "/..."\ncomponent = "web"\n[component.web]\nsource = "web.wasm"\n' \
	> app/spin.toml
"$WP" build app -t bench:v1 >/dev/null
# the JS component (Spin's JS SDK, j2w), when make wasm-apps could build it
JS=
if [ -f "$B/testdata/spin-js.wasm" ]; then
	JS=yes
	mkdir -p jsapp && cp "$B/testdata/spin-js.wasm" jsapp/app.wasm
	printf 'spin_manifest_version = 2\n[application]\nname = "bench-js"\n[[trigger.http]]\nroute = "/..."\ncomponent = "js"\n[component.js]\nsource = "app.wasm"\n' \
		> jsapp/spin.toml
	"$WP" build jsapp -t benchjs:v1 >/dev/null
fi
"$ROOT/scripts/http-component.sh" "$ROOT/testdata/http/http-hello.c" plain.wasm plain

# ---- time to the first answer: cold (no transpiled form) and warm ----
first_answer() { # CACHE -> ms from start to the first answered request
	local port t0 t1 pid
	port=$(free_port)
	t0=$(now)
	WASMPACK_CACHE=$1 "$WP" run -q bench:v1 --listen "127.0.0.1:$port" --workers 2 & pid=$!
	wait_up "http://127.0.0.1:$port/hello"
	t1=$(now)
	kill "$pid"; wait "$pid" 2>/dev/null || true
	echo $((t1 - t0))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
cold=$(for i in $(seq 1 "$RUNS"); do first_answer "$W/cold-$i"; done | median)
first_answer "$W/cache" >/dev/null
warm=$(for i in $(seq 1 "$RUNS"); do first_answer "$W/cache"; done | median)

# ---- RSS: idle with 2 and 3 workers ----
idle_rss() { # WORKERS
	local port pid rss
	port=$(free_port)
	"$WP" run -q bench:v1 --listen "127.0.0.1:$port" --workers "$1" & pid=$!
	wait_up "http://127.0.0.1:$port/hello"
	sleep 1
	rss=$(rss_mib "$(trigger_pid)")
	kill "$pid"; wait "$pid" 2>/dev/null || true
	echo "$rss"
}
rss2=$(idle_rss 2)
rss3=$(idle_rss 3)

# ---- throughput and latency: each server alone on the machine, warmed up first ----
start_server() { # NAME PORT
	case $1 in
	wasmpack) "$WP" run -q bench:v1 --listen "127.0.0.1:$2" --workers 2 ;;
	jco) exec jco serve --port "$2" --host 127.0.0.1 --isolate-requests instance plain.wasm > jco-serve.log 2>&1 ;;
	wasmpack-js) "$WP" run -q benchjs:v1 --listen "127.0.0.1:$2" --workers 2 ;;
	jco-js) exec jco serve --port "$2" --host 127.0.0.1 --isolate-requests instance jsapp/app.wasm > jco-serve-js.log 2>&1 ;;
	node) exec node -e "require('http').createServer((q, s) => { s.setHeader('content-type', 'text/plain');
		s.end('hello from node\\n'); }).listen($2, '127.0.0.1')" ;;
	esac
}
declare -A R
names="wasmpack jco node"
[ -n "$JS" ] && names="$names wasmpack-js jco-js"
for name in $names; do
	p=$(free_port)
	start_server "$name" "$p" & pid=$!
	wait_up "http://127.0.0.1:$p/hello"
	body=$(curl -sS "http://127.0.0.1:$p/hello")
	case $body in "hello from a C component"* | "hello from node"* | "hello from a JS component"*) ;;
	*) echo "bench: $name answered '$body' to /hello" >&2; exit 1 ;;
	esac
	wrk -t2 -c8 -d1s "http://127.0.0.1:$p/hello" >/dev/null 2>&1 || true
	for c in 1 8; do R[$name.$c]=$(load "http://127.0.0.1:$p/hello" "$c"); done
	[ "$name" = wasmpack ] && rss_loaded=$(rss_mib "$(trigger_pid)")
	kill "$pid"; wait "$pid" 2>/dev/null || true
done

printf '\n%-52s %10s %9s %9s %10s %9s %9s\n' "server (/hello)" "req/s c=1" "p50" "p99" "req/s c=8" "p50" "p99"
for name in $names; do
	case $name in
	wasmpack) label="wasmpack run (spin-jco, 2 workers), C component" ;;
	jco) label="jco serve --isolate-requests instance, C component" ;;
	node) label="plain Node.js http hello (the floor)" ;;
	wasmpack-js) label="wasmpack run (spin-jco, 2 workers), JS-SDK component" ;;
	jco-js) label="jco serve --isolate-requests instance, JS-SDK comp." ;;
	esac
	read -r a b c <<<"${R[$name.1]}"
	read -r d e f <<<"${R[$name.8]}"
	printf '%-52s %10s %9s %9s %10s %9s %9s\n' "$label" "$a" "$b" "$c" "$d" "$e" "$f"
done
w8=$(cut -d' ' -f1 <<<"${R[wasmpack.8]}") j8=$(cut -d' ' -f1 <<<"${R[jco.8]}") n8=$(cut -d' ' -f1 <<<"${R[node.8]}")
echo
echo "ratio at 8 concurrent: wasmpack / jco serve = $(awk "BEGIN { printf \"%.2f\", $w8 / ($j8 > 0 ? $j8 : 1) }")x (C);" \
	"wasmpack / the Node.js floor = $(awk "BEGIN { printf \"%.3f\", $w8 / ($n8 > 0 ? $n8 : 1) }")"
if [ -n "$JS" ]; then
	wj=$(cut -d' ' -f1 <<<"${R[wasmpack-js.8]}") jj=$(cut -d' ' -f1 <<<"${R[jco-js.8]}")
	echo "ratio at 8 concurrent, JS-SDK component: wasmpack / jco serve = $(awk "BEGIN { printf \"%.2f\", $wj / ($jj > 0 ? $jj : 1) }")x"
fi
echo "first answered request: warm ${warm} ms, cold ${cold} ms (jco transpile included); medians of $RUNS"
echo "RSS: idle with 2 workers ${rss2} MiB, with 3 workers ${rss3} MiB (+$((rss3 - rss2)) MiB a worker); after the load ${rss_loaded} MiB"
