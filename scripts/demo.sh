#!/usr/bin/env bash
# The demo: build the sample app (testdata/hello) in both layouts into a fresh store, show
# what was made, have real tools accept it, and unpack it back to the input files.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${WASMPACK_BUILD:-$ROOT/build}
WP=$BUILD/wasmpack
DEMO=$(mktemp -d /tmp/wasmpack-demo.XXXXXX)
REG_PID=
trap '[ -n "$REG_PID" ] && kill $REG_PID 2>/dev/null; rm -rf "$DEMO"' EXIT
export WASMPACK_STORE=$DEMO/store
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cd "$ROOT/testdata/hello"
step "build the sample app as a classic scratch image (--layout image)"
echo "\$ wasmpack build --wasm hello.wasm --file static --env GREETING=hi --arg world -t hello:v1"
"$WP" build --wasm "$BUILD/testdata/hello.wasm" --file static --env GREETING=hi --arg world -t hello:v1

step "build it as a CNCF wasm artifact (--layout wasm)"
"$WP" build --layout wasm --wasm "$BUILD/testdata/hello.wasm" -t hello:wasm

step "rebuild: unchanged input comes from the stat cache, same digest"
"$WP" build --wasm "$BUILD/testdata/hello.wasm" --file static --env GREETING=hi --arg world -t hello:v1 --format json |
	jq -c '{digest, cachedLayers}'

step "the store"
"$WP" images
"$WP" inspect --raw config hello:v1 | jq .

step "other tools accept it"
oci-image-tool validate --type image --ref name=docker.io/library/hello:v1 "$WASMPACK_STORE"
skopeo inspect --raw "oci:$WASMPACK_STORE:docker.io/library/hello:wasm" | jq -c "{config: .config.mediaType, layer: .layers[0].mediaType}"
"$WP" save hello:v1 -o "$DEMO/hello.tar"
skopeo copy -q "oci-archive:$DEMO/hello.tar" "oci:$DEMO/copy:v1"
umoci raw unpack --rootless --image "$DEMO/copy:v1" "$DEMO/rootfs" >/dev/null 2>&1
echo "unpacked with umoci:"; (cd "$DEMO/rootfs" && find . -type f | sort)
diff -r "$ROOT/testdata/hello/static" "$DEMO/rootfs/static" && cmp "$BUILD/testdata/hello.wasm" "$DEMO/rootfs/hello.wasm" &&
	echo "identical to the input files"

step "unpack it as a node would"
"$WP" unpack hello:v1 -o "$DEMO/unpacked" --format json | jq -c .
step "push to a local registry (Debian's Distribution, on 127.0.0.1) and pull into an empty store"
port=$((20000 + RANDOM % 12000))
mkdir -p "$DEMO/registry"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
	"$DEMO/registry/data" "$port" > "$DEMO/registry/config.yml"
docker-registry serve "$DEMO/registry/config.yml" > "$DEMO/registry/log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
"$WP" tag hello:v1 "127.0.0.1:$port/demo/hello:v1"
echo "\$ wasmpack push 127.0.0.1:$port/demo/hello:v1 --plain-http"
pushed=$("$WP" push "127.0.0.1:$port/demo/hello:v1" --plain-http --format json)
jq -c '{digest, blobs: [.blobs[] | .outcome]}' <<<"$pushed"
echo "\$ wasmpack pull 127.0.0.1:$port/demo/hello:v1 --plain-http   # into an empty store"
pulled=$(WASMPACK_STORE=$DEMO/store2 "$WP" pull "127.0.0.1:$port/demo/hello:v1" --plain-http --format json)
jq -c '{digest, blobs: [.blobs[] | .outcome]}' <<<"$pulled"
[ "$(jq -r .digest <<<"$pushed")" = "$(jq -r .digest <<<"$pulled")" ] && echo "same digest both ways"

step "run the pulled app (node's WASI; wasmtime, wasmedge or wasmer when installed)"
echo "\$ wasmpack run 127.0.0.1:$port/demo/hello:v1 --engine node --env GREETING=hi -- world"
WASMPACK_STORE=$DEMO/store2 WASMPACK_CACHE=$DEMO/cache "$WP" run "127.0.0.1:$port/demo/hello:v1" --engine node --env GREETING=hi -- world

JCO_BIN=$ROOT/.deps/jco/node_modules/.bin
if [ -x "$JCO_BIN/jco" ]; then
	step "the same app as a WASI 0.2 component (jco new), built and run: jco runs it, transpiled once"
	echo "\$ jco new hello.wasm --wasi-command -o hello.component.wasm"
	"$JCO_BIN/jco" new "$BUILD/testdata/hello.wasm" --wasi-command -o "$DEMO/hello.component.wasm" >/dev/null
	echo "\$ wasmpack build --wasm hello.component.wasm --file static -t hello:component   # os wasip2"
	WASMPACK_STORE=$DEMO/store2 "$WP" build --wasm "$DEMO/hello.component.wasm" --file "$ROOT/testdata/hello/static:static" \
		-t hello:component >/dev/null
	WASMPACK_STORE=$DEMO/store2 "$WP" inspect hello:component --format json | jq -c '{os: .config.os, architecture: .config.architecture}'
	echo "\$ wasmpack run hello:component -- world   # node runs modules only: jco is chosen"
	WASMPACK_STORE=$DEMO/store2 WASMPACK_CACHE=$DEMO/cache PATH=$JCO_BIN:$PATH "$WP" run hello:component -- world
fi

step "a Spin app: wasmpack lock, then Spin's own OCI layout, pushed and inspected"
cd "$ROOT/testdata/spin-hello"
echo "\$ wasmpack lock   # spin.toml -> Spin's locked app"
"$WP" lock --assets-dir "$DEMO/assets" | jq -c '{name: .metadata.name, triggers: [.triggers[] | .trigger_config.route], components: [.components[].id]}'
echo "\$ wasmpack build -t 127.0.0.1:$port/demo/spin-hello:v1 --push --plain-http"
"$WP" build -t "127.0.0.1:$port/demo/spin-hello:v1" --push --plain-http --format json | jq -c '{digest, layers: [.layers[].mediaType]}'
echo "\$ wasmpack inspect 127.0.0.1:$port/demo/spin-hello:v1"
"$WP" inspect "127.0.0.1:$port/demo/spin-hello:v1" | jq -c .app

if [ -x "$JCO_BIN/jco" ]; then
	step "serve it: wasmpack's own Spin HTTP trigger (no spin binary), then curl it"
	sport=$((20000 + RANDOM % 12000))
	echo "\$ wasmpack run 127.0.0.1:$port/demo/spin-hello:v1 --plain-http --listen 127.0.0.1:$sport &"
	WASMPACK_CACHE=$DEMO/cache PATH=$JCO_BIN:$PATH "$WP" run "127.0.0.1:$port/demo/spin-hello:v1" --plain-http \
		--listen "127.0.0.1:$sport" &
	SPIN_PID=$!
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$sport/.well-known/spin/health" && break; sleep 0.1; done
	for path in /hello /var/message /file/index.html "/wagi/hello?from=demo"; do
		echo "\$ curl http://127.0.0.1:$sport$path"
		curl -sS "http://127.0.0.1:$sport$path" | head -5
		echo
	done
	kill -TERM $SPIN_PID && wait $SPIN_PID
	echo "(SIGTERM: it answered what was in flight and stopped, status $?)"
fi

if [ "$(id -u)" -eq 0 ] && command -v containerd >/dev/null && command -v ctr >/dev/null; then
	step "run it under a real containerd through containerd-shim-wasmpack-v1 (runtime io.containerd.wasmpack.v1)"
	C=$DEMO/ctd
	mkdir -p "$C" && SOCKS=$(mktemp -d /tmp/wps.XXXXXX)
	printf 'version = 2\nroot = "%s/root"\nstate = "%s/state"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "%s/c.sock"\n[ttrpc]\n  address = "%s/c.sock.ttrpc"\n' \
		"$C" "$C" "$C" "$C" > "$C/config.toml"
	PATH=$BUILD:$PATH WASMPACK_CACHE=$DEMO/cache WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_ENGINE=node \
		containerd --config "$C/config.toml" > "$C/log" 2>&1 &
	CTD_PID=$!
	trap '[ -n "$REG_PID" ] && kill $REG_PID 2>/dev/null; kill $CTD_PID 2>/dev/null; wait $CTD_PID 2>/dev/null || true
		{ grep -F " $C/" /proc/self/mountinfo | cut -d" " -f5 | sort -r | xargs -r -n1 umount -l 2>/dev/null; } || true
		rm -rf "$DEMO" "$SOCKS"; rmdir /sys/fs/cgroup/demo /sys/fs/cgroup/*/demo 2>/dev/null || true' EXIT
	for _ in $(seq 1 100); do ctr -a "$C/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
	echo "\$ ctr image pull --plain-http --platform wasip1/wasm 127.0.0.1:$port/demo/hello:v1"
	ctr -a "$C/c.sock" -n demo image pull --plain-http --platform wasip1/wasm "127.0.0.1:$port/demo/hello:v1" >/dev/null
	echo "\$ ctr run --rm --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 127.0.0.1:$port/demo/hello:v1 demo1"
	ctr -a "$C/c.sock" -n demo run --rm --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 \
		"127.0.0.1:$port/demo/hello:v1" demo1
	echo "(exit status $?: the app's)"
else
	step "(containerd and root are needed to run the sample through the shim; skipped)"
fi

step "done"
