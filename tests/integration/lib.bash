# Shared helpers for the integration tests: TAP output, a temp folder removed on exit,
# and the binaries under test ($WASMPACK_BUILD, default ./build).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${WASMPACK_BUILD:-$ROOT/build}
WP=$BUILD/wasmpack
HELLO=$BUILD/testdata/hello.wasm
EXITC=$BUILD/testdata/exitcode.wasm
WRITER=$BUILD/testdata/writer.wasm
HOG=$BUILD/testdata/hog.wasm
TMP=$(mktemp -d /tmp/wasmpack-test.XXXXXX)
export WASMPACK_STORE=$TMP/store
# Temp folders the tools under test keep (wasmpack lock's assets) go with $TMP.
export TMPDIR=$TMP
unset SOURCE_DATE_EPOCH
_n=0
_failed=0
_cleanup_hooks=()
# Under `make check` every sanitizer report of every process a test starts (the shim under
# containerd included) goes to a log here; one report fails the test, wherever it came
# from and whatever its exit status was.
# The folder is 1777 so that processes a test runs as another user (nobody) can write
# their reports too, and a report exits 86, a status no command of ours uses, so it can
# never pass for an expected failure (SAN_EXIT; `is` and `check` name it).
SAN_EXIT=86
if [ -n "${WASMPACK_SAN_LOGS:-}" ]; then
	mkdir -p "$TMP/.san" && chmod 1777 "$TMP/.san"
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TMP/.san/asan:exitcode=$SAN_EXIT"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$TMP/.san/ubsan:halt_on_error=1:exitcode=$SAN_EXIT"
	export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=$SAN_EXIT"
fi
_cleanup() {
	local h rc=$?
	for h in "${_cleanup_hooks[@]}"; do eval "$h" || true; done
	# LeakSanitizer's own note when a thread of the process it stops for the leak check
	# dies meanwhile (crash.sh kills processes with SIGKILL at random moments) is no report:
	# a log holding nothing else is dropped
	if [ -n "${WASMPACK_SAN_LOGS:-}" ]; then
		for f in "$TMP"/.san/*; do
			[ -f "$f" ] || continue
			grep -qv -e '^==[0-9]*==Unable to get registers from thread [0-9]*\.$' -e '^$' "$f" || rm -f "$f"
		done
	fi
	if [ -n "${WASMPACK_SAN_LOGS:-}" ] && [ -n "$(ls -A "$TMP/.san" 2>/dev/null)" ]; then
		echo "# sanitizer reports from processes of this test:"
		head -c 20000 "$TMP"/.san/* | sed 's/^/#   /'
		rc=1
	fi
	# A test that broke the machine it ran on fails, and the damage is said (and undone
	# as root, so the rest of the suite runs on a sound machine).
	if [ ! -c /dev/null ]; then
		echo "# /dev/null is no longer a character device after this test"
		[ "$(id -u)" = 0 ] && rm -f /dev/null && mknod -m 666 /dev/null c 1 3
		rc=1
	fi
	if [ -n "${WASMPACK_TEST_KEEP:-}" ]; then
		echo "# temp folder kept: $TMP"
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap _cleanup EXIT
on_exit() { _cleanup_hooks+=("$1"); }

ok() { # ok COND-EXIT-STATUS DESCRIPTION
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $_n - $2"; else echo "not ok $_n - $2"; _failed=$((_failed + 1)); fi
}
check() { # check DESCRIPTION COMMAND...
	local d=$1; shift
	local out rc
	out=$("$@" 2>&1); rc=$?
	if [ "$rc" -eq 0 ]; then ok 0 "$d"; else ok 1 "$d"; printf '%s\n' "$out" | sed 's/^/#   /' | head -20; fi
	[ "$rc" -ne "$SAN_EXIT" ] || echo "#   exit $SAN_EXIT: a sanitizer report"
}
is() { # is GOT WANT DESCRIPTION
	if [ "$1" == "$2" ]; then ok 0 "$3"; else ok 1 "$3"; echo "#   got:  '$1'"; echo "#   want: '$2'"; fi
	[ "$1" != "$SAN_EXIT" ] || [ "$2" == "$SAN_EXIT" ] || echo "#   exit $SAN_EXIT: a sanitizer report"
}
like() { # like GOT PATTERN DESCRIPTION
	if printf '%s' "$1" | grep -qE -- "$2"; then ok 0 "$3"; else ok 1 "$3"; echo "#   got: '$1'"; echo "#   want match: '$2'"; fi
}
# A block skipped for a missing capability or tool, by name; under CI (CI=true, as
# .ci/run sets it) a skip is a failure: CI never goes green by not testing.
skip() {
	_n=$((_n + 1))
	if [ "${CI:-}" = true ]; then
		echo "not ok $_n - skipped, which CI does not allow: $1"
		_failed=$((_failed + 1))
	else
		echo "ok $_n # SKIP $1"
	fi
}
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

# A TCP port on 127.0.0.1 that nothing listens on. Each test process draws from its own
# range (by PID), so tests that prove runs side by side do not pick the same port, and
# all below the ephemeral range (32768-), where outgoing connections could hold one.
# Ports handed out are remembered (in a file: callers run this in a subshell), since the
# server that will use one may not be listening yet when the next is asked for.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + ($$ % 60) * 200 + RANDOM % 200))
		grep -qx "$p" "$TMP/.ports" 2>/dev/null && continue
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
		echo "$p" >> "$TMP/.ports"
		echo "$p"
		return 0
	done
	return 1
}

# Waits until URL answers (any HTTP status), at most 15 s.
wait_http() {
	local i
	for i in $(seq 1 150); do
		curl -sk -o /dev/null "$@" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_registry NAME PORT [YAML for auth/tls...]: Debian's Distribution registry on
# 127.0.0.1:PORT with its storage and log in $TMP/NAME; stopped when the test exits.
start_registry() {
	local name=$1 port=$2 extra=${3:-} dir=$TMP/$1 scheme=http
	mkdir -p "$dir/data"
	cat > "$dir/config.yml" <<YAML
version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$extra
YAML
	docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
	local pid=$!
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	case "$extra" in *tls:*) scheme=https ;; esac
	wait_http "$scheme://127.0.0.1:$port/v2/" || { echo "# registry $name did not start:"; sed 's/^/#   /' "$dir/log" | tail -5; return 1; }
}

# start_containerd DIR: a real containerd (Debian's) as root with its root, state and
# sockets under DIR, the CRI plugin off, the garbage collector held back (ctr import does
# not label layers of media types containerd does not know, which a collection would
# remove under the test); stopped, with every mount under DIR, when the test exits.
# Environment given to it (the shim inherits it) comes from the caller's exports.
# A containerd of the test's own that starts this build's shim (runtime
# io.containerd.wasmpack.v1, engine node), in namespace NAME-PID: sets C, NS and ctr_ (ctr
# on that containerd and namespace); the shims' sockets and the namespace's cgroup go with
# the test.
start_shim_containerd() {
	SOCKS=$(mktemp -d /tmp/wps.XXXXXX)
	on_exit "rm -rf '$SOCKS'"
	export PATH=$BUILD:$PATH WASMPACK_CACHE=$TMP/cache WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_ENGINE=node
	NS=$1-$$
	C=$TMP/ctd
	start_containerd "$C"
	on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
	ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
}
start_containerd() {
	local c=$1
	mkdir -p "$c"
	cat > "$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[plugins."io.containerd.gc.v1.scheduler"]
  mutation_threshold = 1000000
  deletion_threshold = 0
  startup_delay = "1h"
[grpc]
  address = "$c/c.sock"
[ttrpc]
  address = "$c/c.sock.ttrpc"
[debug]
  address = ""
  level = "${CONTAINERD_LOG_LEVEL:-info}"
[metrics]
  address = ""
TOML
	containerd --config "$c/config.toml" > "$c/log" 2>&1 &
	local pid=$!
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null; grep -F ' $c/' /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l 2>/dev/null"
	for _ in $(seq 1 100); do ctr -a "$c/c.sock" version >/dev/null 2>&1 && return 0; sleep 0.1; done
	echo "# containerd did not start:"; sed 's/^/#   /' "$c/log" | tail -5
	return 1
}
