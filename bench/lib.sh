# Shared by bench/push.sh and bench/pull.sh: a Distribution registry on 127.0.0.1, an OCI
# layout of BLOBS random layers totalling TOTAL_MIB, timing helpers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
WP=${WASMPACK_BUILD:-$ROOT/build}/wasmpack
BLOBS=${BLOBS:-20}
TOTAL_MIB=${TOTAL_MIB:-512}
RUNS=${RUNS:-5}
for tool in docker-registry skopeo curl openssl /usr/bin/time jq; do
	command -v "$tool" >/dev/null || { echo "bench needs $tool (scripts/deps.sh installs it)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/wasmpack-bench.XXXXXX)
REG_PID=
cleanup() { [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
export BENCH_TMP=$W

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}

start_registry() {
	local port
	port=$(free_port)
	mkdir -p "$W/reg"
	cat > "$W/reg/config.yml" <<YAML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/reg/data
http:
  addr: 127.0.0.1:$port
YAML
	docker-registry serve "$W/reg/config.yml" > "$W/reg/log" 2>&1 &
	REG_PID=$!
	for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
	REG=127.0.0.1:$port
}

# An OCI layout (usable as a wasmpack store too) holding one image of BLOBS layers,
# tagged $1 (a full reference) in index.json.
make_layout() {
	local dir=$1 name=$2 per=$((TOTAL_MIB * 1048576 / BLOBS)) layers="" i d s cfg cfgd mf mfd
	mkdir -p "$dir/blobs/sha256"
	for i in $(seq 1 "$BLOBS"); do
		head -c "$per" /dev/urandom > "$dir/blob"
		d=$(sha256sum "$dir/blob" | cut -d' ' -f1)
		mv "$dir/blob" "$dir/blobs/sha256/$d"
		layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$per}"
	done
	cfg='{"architecture":"wasm","os":"wasip1","rootfs":{"type":"layers","diff_ids":[]}}'
	cfgd=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
	printf '%s' "$cfg" > "$dir/blobs/sha256/$cfgd"
	mf="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cfgd\",\"size\":${#cfg}},\"layers\":[$layers]}"
	mfd=$(printf '%s' "$mf" | sha256sum | cut -d' ' -f1)
	printf '%s' "$mf" > "$dir/blobs/sha256/$mfd"
	printf '{"imageLayoutVersion":"1.0.0"}' > "$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$mfd" "${#mf}" "$name" > "$dir/index.json"
}

. "$(dirname "${BASH_SOURCE[0]}")/timing.sh"
