#!/usr/bin/env bash
# Installs the Debian 12 packages that building, testing and the demo need, if missing;
# then the npm packages the tests run (jco, sigstore-js), at the versions scripts/<name>
# pins, into .deps/<name> of the checkout. `scripts/deps.sh npm NAME...` installs only
# those npm packages.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# npm packages the tests run, each pinned by a lock in scripts/<name> and installed with
# npm ci into .deps/<name>: jco (the engine for wasm components on Node.js), sigstore
# (Sigstore's own signer and verifier, the reference for signatures) and spin-js (Spin's JS
# SDK build tool, j2w, which builds the JS test app), wasi-as (AssemblyScript, which builds
# WASI's testsuite's AssemblyScript cases and a toolchain app) and componentize
# (componentize-js, which builds the JavaScript toolchain app, a wasi:cli component). A machine without
# the npm registry goes on without them (those tests then skip, and fail under CI).
npm_dep() {
	local name=$1 bin=$2 dir=$ROOT/.deps/$1
	# NPM_STRICT (scripts/deps.sh npm NAME): what is not installed stops it
	command -v npm >/dev/null || { echo "npm is missing: $name not installed" >&2; [ -z "${NPM_STRICT:-}" ]; return; }
	if [ -e "$dir/node_modules/$bin" ] && cmp -s "$ROOT/scripts/$name/package-lock.json" "$dir/package-lock.json"; then
		return 0
	fi
	echo "installing $name (npm ci of scripts/$name) into .deps/$name" >&2
	mkdir -p "$dir"
	cp "$ROOT/scripts/$name/package.json" "$ROOT/scripts/$name/package-lock.json" "$dir/"
	if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || [ ! -e "$dir/node_modules/$bin" ]; then
		echo "npm ci of $name failed: what needs it will not run here" >&2
		[ -z "${NPM_STRICT:-}" ] || exit 1
	fi
}
# NAME and the file under its node_modules that says it is installed
NPM_DEPS=(jco:.bin/jco sigstore:@sigstore/verify spin-js:.bin/j2w wasi-as:.bin/asc
	componentize:@bytecodealliance/componentize-js)
npm_deps() { # [NAME...]: those (all when none is named)
	local d
	for d in "${NPM_DEPS[@]}"; do
		if [ $# -eq 0 ] || [[ " $* " == *" ${d%%:*} "* ]]; then npm_dep "${d%%:*}" "${d#*:}"; fi
	done
}
# scripts/deps.sh npm NAME...: only those npm packages (what a bench needs), no apt
if [ "${1:-}" = npm ]; then
	shift
	for n in "$@"; do
		[[ " ${NPM_DEPS[*]} " == *" $n:"* ]] || { echo "no npm package '$n' is pinned in scripts/" >&2; exit 2; }
	done
	NPM_STRICT=1 npm_deps "$@"
	exit 0
fi

pkgs=(
	build-essential pkg-config
	libarchive-dev libcurl4-openssl-dev libssl-dev libjansson-dev libgit2-dev zlib1g-dev libseccomp-dev
	clang lld wasi-libc libclang-rt-14-dev-wasm32 libclang-rt-14-dev
	skopeo umoci oci-image-tool docker-registry apache2-utils openssl curl
	perl jq util-linux time bc nodejs containerd python3 iproute2 containernetworking-plugins wrk bash-completion
	rustc libstd-rust-dev-wasm32 lld-14 librust-libc-dev librust-once-cell-dev
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	npm_deps
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
npm_deps
