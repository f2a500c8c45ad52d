#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the demo need, if missing;
# then jco (the engine for wasm components on Node.js) from the npm registry, at the
# version scripts/jco pins, into .deps/jco of the checkout.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# jco: npm ci of the pinned lock; a machine without the npm registry goes on without it
# (the component tests then skip, and fail under CI).
jco() {
	local dir=$ROOT/.deps/jco
	command -v npm >/dev/null || { echo "npm is missing: jco (components) not installed" >&2; return 0; }
	if [ -x "$dir/node_modules/.bin/jco" ] && cmp -s "$ROOT/scripts/jco/package-lock.json" "$dir/package-lock.json"; then
		return 0
	fi
	echo "installing jco (npm ci of scripts/jco) into .deps/jco" >&2
	mkdir -p "$dir"
	cp "$ROOT/scripts/jco/package.json" "$ROOT/scripts/jco/package-lock.json" "$dir/"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
		echo "npm ci of jco failed: wasm components will not run here" >&2
}

pkgs=(
	build-essential pkg-config
	libarchive-dev libcurl4-openssl-dev libssl-dev libjansson-dev libgit2-dev zlib1g-dev
	clang lld wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev
	skopeo umoci oci-image-tool docker-registry apache2-utils openssl curl
	perl jq util-linux time bc nodejs containerd python3 iproute2 containernetworking-plugins
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	jco
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages: ${missing[*]}" >&2
	echo "run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages such as docker-registry would start a daemon listening on every interface;
# the tests start their own on 127.0.0.1, so no service starts during the install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && own_policy=1
fi
trap '[ $own_policy = 1 ] && rm -f "$policy"' EXIT
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
jco
