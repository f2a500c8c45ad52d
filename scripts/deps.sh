#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the demo need, if missing.
set -euo pipefail

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
[ ${#missing[@]} -eq 0 ] && exit 0
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
