#!/usr/bin/env bash
# Builds a wasi:http component of C with the canonical ABI written by hand (as
# testdata/http/http-hello.c): clang makes the core module with no libc, then the world
# of testdata/http/world.wit (WASI's packages from the installed jco, Spin's from
# testdata/http/fermyon) is embedded and the component made (scripts/http-component.mjs).
# usage: scripts/http-component.sh SOURCE.c OUT.wasm [plain|sqlite|unknown]
#   plain: the world without Spin's interfaces (http-plain, built with -DWASI_ONLY);
#   sqlite, unknown: http-hello with Spin's sqlite, or an interface no host provides
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
src=$1 out=$2 world=http-hello cflags=
case ${3:-} in
plain) world=http-plain cflags=-DWASI_ONLY ;;
sqlite) world=http-sqlite cflags=-DWITH_SQLITE ;;
unknown) world=http-unknown cflags=-DWITH_UNKNOWN ;;
esac
jco=$(command -v jco || true)
[ -n "$jco" ] || jco=$ROOT/.deps/jco/node_modules/.bin/jco
[ -e "$jco" ] || { echo "http-component: jco is not installed (make deps)" >&2; exit 1; }
pkg=$(dirname "$(dirname "$(readlink -f "$jco")")")            # .../@bytecodealliance/jco
transpile=$(cd "$pkg/.." && pwd)/jco-transpile
[ -d "$transpile" ] || transpile=$pkg/node_modules/@bytecodealliance/jco-transpile
wasi=$(ls -d "$pkg"/lib/wit/builtin/0.2.* | sort -V | tail -1)
version=${wasi##*/}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/wit/deps/fermyon-spin"
sed "s/@0\.2\.12/@$version/g" "$ROOT/testdata/http/world.wit" > "$tmp/wit/world.wit"
for p in "$wasi"/*/; do
	mkdir -p "$tmp/wit/deps/$(basename "$p")"
	cp "$p/package.wit" "$tmp/wit/deps/$(basename "$p")/"
done
cp "$ROOT/testdata/http/fermyon/spin.wit" "$tmp/wit/deps/fermyon-spin/"
sed "s/@0\.2\.12/@$version/g" "$src" > "$tmp/app.c"
clang --target=wasm32 -nostdlib -O2 -Wall -Werror $cflags -Wl,--no-entry -Wl,--strip-all -o "$tmp/core.wasm" "$tmp/app.c"
node "$ROOT/scripts/http-component.mjs" "$transpile" "$tmp/core.wasm" "$tmp/wit" "wasmpack:http-hello/$world" "$tmp/out.wasm"
mv "$tmp/out.wasm" "$out"
