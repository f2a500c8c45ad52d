# Sourced by every bench, first: what a bench runs, built or installed when a fresh clone
# lacks it, and a failure that names itself.
#   - the binaries, the sample apps and the test helpers some benches drive
#     (tests/helpers: ttrpc_client, cri): make all wasm-apps helpers into
#     $WASMPACK_BUILD (default build/), with jco installed first (the sample HTTP
#     component is made with it);
#   - bench_npm NAME: an npm package the bench runs (.deps/NAME, pinned by scripts/NAME),
#     installed by scripts/deps.sh npm NAME when missing.
# Any command that fails and stops the bench (set -e) is named with its line, so a bench
# never ends without saying what failed; bench_fail says what a check found.
set -E
trap 'bench_trace $? "$BASH_COMMAND" "${BASH_SOURCE[0]}" "$LINENO"' ERR
bench_trace() { # RC COMMAND FILE LINE: once, for the command that stops the bench
	[ -n "${_bench_traced:-}" ] && return 0
	case $- in *e*) ;; *) return 0 ;; esac
	_bench_traced=1
	echo "bench: $(basename "$3") line $4: '$2' failed (exit $1)" >&2
}
bench_fail() { # MESSAGE: a check failed: say so and stop
	_bench_traced=1
	echo "bench: $*" >&2
	exit 1
}
bench_npm() { # NAME: .deps/NAME installed at its pinned lock (scripts/deps.sh npm NAME)
	if [ ! -d "$ROOT/.deps/$1/node_modules" ] || ! cmp -s "$ROOT/scripts/$1/package-lock.json" "$ROOT/.deps/$1/package-lock.json"; then
		echo "# installing $1 (pinned by scripts/$1) into .deps/$1 first" >&2
	fi
	"$ROOT/scripts/deps.sh" npm "$1" >&2 ||
		bench_fail "$1 is not installed and could not be (scripts/deps.sh npm $1 needs npm and its registry)"
}
_b=${WASMPACK_BUILD:-$ROOT/build}
for _f in wasmpack wasmpack-core containerd-shim-wasmpack-v1 testdata/hello.wasm testdata/sleeper.wasm \
	testdata/http-hello.wasm tests/helpers/ttrpc_client tests/helpers/cri; do
	[ -e "$_b/$_f" ] && continue
	echo "# building wasmpack, its sample apps and test helpers into $_b first ($_f is missing)" >&2
	bench_npm jco   # the sample HTTP component is made with it
	make -C "$ROOT" O="$_b" all wasm-apps helpers >&2 || bench_fail "the build failed (make all wasm-apps helpers)"
	break
done
unset _b _f
