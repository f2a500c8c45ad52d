# Sourced by every bench: the binaries and the sample apps it runs, built first when a
# fresh clone lacks them (make all wasm-apps into $WASMPACK_BUILD, default build/).
_b=${WASMPACK_BUILD:-$ROOT/build}
if [ ! -x "$_b/wasmpack" ] || [ ! -x "$_b/wasmpack-core" ] || [ ! -f "$_b/testdata/hello.wasm" ] ||
	[ ! -f "$_b/testdata/sleeper.wasm" ] || [ ! -f "$_b/testdata/http-hello.wasm" ]; then
	echo "# building wasmpack and its sample apps into $_b first" >&2
	make -C "$ROOT" O="$_b" all wasm-apps >&2 || { echo "bench: the build failed" >&2; exit 1; }
fi
unset _b
