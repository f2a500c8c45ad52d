# Shared helpers for the integration tests: TAP output, a temp folder removed on exit,
# and the binaries under test ($WASMPACK_BUILD, default ./build).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${WASMPACK_BUILD:-$ROOT/build}
WP=$BUILD/wasmpack
HELLO=$BUILD/testdata/hello.wasm
EXITC=$BUILD/testdata/exitcode.wasm
TMP=$(mktemp -d /tmp/wasmpack-test.XXXXXX)
export WASMPACK_STORE=$TMP/store
unset SOURCE_DATE_EPOCH
_n=0
_failed=0
_cleanup_hooks=()
_cleanup() {
	local h
	for h in "${_cleanup_hooks[@]}"; do eval "$h" || true; done
	rm -rf "$TMP"
}
trap _cleanup EXIT
on_exit() { _cleanup_hooks+=("$1"); }

ok() { # ok COND-EXIT-STATUS DESCRIPTION
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
}
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	local out
	if out=$("$@" 2>&1); then ok 0 "$d"; else ok 1 "$d"; printf '%s\n' "$out" | sed 's/^/#   /' | head -20; fi
}
is() { # is GOT WANT DESCRIPTION
	if [ "$1" == "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; fi
}
like() { # like GOT PATTERN DESCRIPTION
	if printf '%s' "$1" | grep -qE -- "$2"; then ok 0 "$3"; else ok 1 "$3"; echo "#   got: '$1'"; echo "#   want match: '$2'"; fi
}
skip() { _n=$((_n + 1)); echo "ok $_n # SKIP $1"; }
done_testing() { echo "1..$_n"; [ $_failed -eq 0 ]; }

# The blob files of a store, each with its checksum, and index.json: what must not change
# when a command fails.
store_state() {
	(cd "$1" && { sha256sum index.json; find blobs -type f | sort | xargs -r sha256sum; })
}
# Every blob's content matches its name.
store_verified() {
	local f bad=0
	for f in "$1"/blobs/sha256/*; do
		[ -e "$f" ] || continue
		[ "$(sha256sum "$f" | cut -d' ' -f1)" == "$(basename "$f")" ] || { echo "bad blob $f"; bad=1; }
	done
	return $bad
}
blob() { echo "$WASMPACK_STORE/blobs/sha256/${1#sha256:}"; }
