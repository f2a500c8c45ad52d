#!/usr/bin/env bash
# An unprivileged user on the node against root's runs (issue 22, 7 and "a user-owned
# --store under root"): the node cache's lock files and their folder are root's alone
# (0600/0700, and tightened where an earlier version left them open), a lock someone holds
# is waited for at most WASMPACK_LOCK_TIMEOUT, then the run exits 1 naming the lock file;
# root refuses a store or cache another user owns or may write to (WASMPACK_SAFE_DIRS
# allows one); the shim's ttrpc socket is 0600 whatever the umask.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null || ! command -v flock >/dev/null; then
	skip "needs root, setpriv and flock (util-linux)"
	done_testing
	exit
fi
export WASMPACK_CACHE=$TMP/cache WASMPACK_ENGINE=node
chmod 755 "$TMP"
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
"$WP" build --wasm "$HELLO" -t app:v1 >/dev/null
out=$("$WP" run app:v1 -- first 2>&1)
like "$out" "arg\[1\]=first" "root runs the app"
hex=$("$WP" images --format json | jq -r '.[] | select(.name | endswith("app:v1")) | .digest' | cut -d: -f2)
is "$(stat -c %a "$WASMPACK_CACHE/.users")" "700" "the cache's .users folder is root's alone (0700)"
is "$(stat -c %a "$WASMPACK_CACHE/.users/$hex.lock")" "600" "its lock files are 0600"
is "$(stat -c %a "$WASMPACK_CACHE/.users/$hex")" "600" "and its users files"
is "$(stat -c %a "$WASMPACK_STORE/.wasmpack/lock")" "600" "the store's lock file is 0600"

# as an earlier version left them: open to every user; the next run tightens them
chmod 755 "$WASMPACK_CACHE/.users" && chmod 644 "$WASMPACK_CACHE/.users/$hex.lock" "$WASMPACK_CACHE/.users/$hex" \
	"$WASMPACK_STORE/.wasmpack/lock" && chmod 755 "$WASMPACK_STORE/.wasmpack"
for front in front core; do
	[ $front = core ] && export WASMPACK_NO_FRONT=1
	chmod 755 "$WASMPACK_CACHE/.users" && chmod 644 "$WASMPACK_CACHE/.users/$hex.lock"
	"$WP" run app:v1 >/dev/null 2>&1
	is "$(stat -c %a "$WASMPACK_CACHE/.users"):$(stat -c %a "$WASMPACK_CACHE/.users/$hex.lock")" "700:600" \
		"a run through the $front tightens folders and lock files an earlier version made 0755/0644"
	unset WASMPACK_NO_FRONT
done
is "$(stat -c %a "$WASMPACK_STORE/.wasmpack/lock")" "600" "and the store's lock file"
err=$($NOBODY flock -x -w 1 "$WASMPACK_CACHE/.users/$hex.lock" true 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "nobody cannot take the cache entry's lock (${err:0:80})"
err=$($NOBODY flock -x -w 1 "$WASMPACK_STORE/.wasmpack/lock" true 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "nor the store's"

# a lock an earlier version left open, which nobody opened and locked before root's next
# run: the run replaces the file (nobody's lock is on the old one) and goes on
chmod 755 "$WASMPACK_STORE/.wasmpack" && chmod 644 "$WASMPACK_STORE/.wasmpack/lock" "$WASMPACK_STORE/.wasmpack/index.lock" \
	"$WASMPACK_CACHE/.users/$hex.lock" && chmod 755 "$WASMPACK_CACHE/.users"
for l in "$WASMPACK_STORE/.wasmpack/lock" "$WASMPACK_STORE/.wasmpack/index.lock" "$WASMPACK_CACHE/.users/$hex.lock"; do
	$NOBODY sh -c 'exec 9<"$1"; flock -x 9; exec sleep 60' sh "$l" &
	on_exit "kill $! 2>/dev/null"
done
sleep 0.5
for what in "run app:v1" "tag app:v1 app:v2" "images"; do
	start=$(date +%s)
	# shellcheck disable=SC2086
	out=$(WASMPACK_NO_FRONT=1 timeout 20 "$WP" $what 2>&1); rc=$?
	[ "$rc" -ne 124 ] && [ $(( $(date +%s) - start )) -lt 10 ]; ok $? "nobody holding locks an earlier version left open does not stall '$what' (exit $rc)"
done
is "$(stat -c %a "$WASMPACK_STORE/.wasmpack")" "700" "the store's .wasmpack/ is tightened to 0700"

# a lock held for ever (a hung process): the run waits WASMPACK_LOCK_TIMEOUT, then says whose
# (the holder is the process that execs sleep: killing it lets the lock go)
(exec 9>>"$WASMPACK_CACHE/.users/$hex.lock" && flock -x 9 && exec sleep 60) &
holder=$!
on_exit "kill $holder 2>/dev/null"
sleep 0.3
for front in front core; do
	[ $front = core ] && export WASMPACK_NO_FRONT=1
	start=$(date +%s)
	err=$(WASMPACK_LOCK_TIMEOUT=1 timeout 30 "$WP" run app:v1 2>&1); rc=$?
	took=$(( $(date +%s) - start ))
	is "$rc" "1" "a cache lock held by another process: the run ($front) exits 1 rather than hang"
	like "$err" "waited [0-9]+ s for the lock '.*/\.users/$hex\.lock'" "naming the lock file (${err:0:160})"
	[ "$took" -lt 10 ]; ok $? "within the timeout (took ${took}s)"
	unset WASMPACK_NO_FRONT
done
out=$(WASMPACK_LOCK_TIMEOUT=1 "$WP" gc 2>&1); rc=$?
is "$rc" "0" "gc goes on past an entry whose lock it cannot have"
check "and leaves that entry" test -d "$WASMPACK_CACHE/$hex"
kill $holder 2>/dev/null; wait $holder 2>/dev/null

# a store, or a cache, that another user owns or may write to: root refuses it
mkdir -p theirs && chown 65534:65534 theirs
$NOBODY env WASMPACK_STORE="$TMP/theirs/store" HOME="$TMP/theirs" "$WP" build --wasm "$HELLO" -t their:v1 >/dev/null 2>&1
check "nobody builds into a store of their own" test -f theirs/store/index.json
for front in front core; do
	[ $front = core ] && export WASMPACK_NO_FRONT=1
	err=$(WASMPACK_STORE=$TMP/theirs/store "$WP" run their:v1 2>&1); rc=$?
	is "$rc" "1" "root running from a store nobody owns ($front): refused"
	like "$err" "refusing the store '.*theirs/store': it belongs to uid 65534" "naming the store and its owner"
	unset WASMPACK_NO_FRONT
done
out=$(WASMPACK_SAFE_DIRS=$TMP/theirs/store WASMPACK_STORE=$TMP/theirs/store "$WP" run their:v1 -- allowed 2>&1); rc=$?
like "$out" "arg\[1\]=allowed" "WASMPACK_SAFE_DIRS allows it"
mkdir -p open-store && "$WP" --store open-store build --wasm "$HELLO" -t o:v1 >/dev/null && chmod 777 open-store
err=$("$WP" --store open-store run o:v1 2>&1); rc=$?
is "$rc" "1" "root running from a world-writable store: refused"
like "$err" "other users may write to it \(mode 0777\)" "saying so"
chmod 755 open-store && chmod 777 open-store/.wasmpack
err=$("$WP" --store open-store run o:v1 2>&1); rc=$?
is "$rc" "1" "a world-writable .wasmpack/ in root's store: refused"
chmod 755 open-store/.wasmpack
mkdir -p their-cache && chown 65534:65534 their-cache
err=$(WASMPACK_CACHE=$TMP/their-cache "$WP" run app:v1 2>&1); rc=$?
is "$rc" "1" "root with a node cache nobody owns: refused"
like "$err" "refusing the node cache '.*their-cache'" "naming the cache"
check "nothing was unpacked into it" test -z "$(ls -A their-cache)"
chown 0:0 their-cache && mkdir their-cache/.users && chown 65534 their-cache/.users
err=$(WASMPACK_CACHE=$TMP/their-cache "$WP" run app:v1 2>&1); rc=$?
is "$rc" "1" "root's cache with a .users/ nobody owns: refused"

# the shim's ttrpc socket: 0600 even under a umask that would open it
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
	NS=wasmpack-lu-$$
	SOCKS=$(mktemp -d /tmp/wplu.XXXXXX)
	on_exit "rm -rf '$SOCKS'"
	export PATH=$BUILD:$PATH WASMPACK_SHIM_SOCKET_DIR=$SOCKS
	C=$TMP/ctd
	old_umask=$(umask)
	umask 000
	WASMPACK_CACHE=$TMP/shimcache start_containerd "$C"
	umask "$old_umask"
	ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
	on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
	"$WP" build --wasm "$HELLO" --layout image -t localhost/lu/app:v1 -o "oci-archive:$TMP/app.tar" >/dev/null
	ctr_ images import --platform wasip1/wasm app.tar >/dev/null 2>&1
	ctr_ run -d --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 localhost/lu/app:v1 lu1 \
		/hello.wasm >/dev/null 2>&1
	sock=$(ls "$SOCKS" 2>/dev/null | head -1)
	is "$(stat -c %a "$SOCKS/$sock" 2>/dev/null)" "600" "the shim's socket is 0600 under containerd's umask 000"
	# the app ends at once: its task is removed once stopped, and with it the shim (which a
	# task left behind would keep running after the test's containerd is gone)
	for _ in $(seq 1 50); do ctr_ t ls 2>/dev/null | grep -q "^lu1 .*STOPPED" && break; sleep 0.1; done
	ctr_ t kill lu1 >/dev/null 2>&1; ctr_ t rm lu1 >/dev/null 2>&1; ctr_ c rm lu1 >/dev/null 2>&1
	for _ in $(seq 1 50); do pgrep -f "containerd-shim-wasmpack-v1 -namespace $NS " >/dev/null || break; sleep 0.1; done
	ok "$(pgrep -f "containerd-shim-wasmpack-v1 -namespace $NS " >/dev/null && echo 1 || echo 0)" "no shim is left"
else
	skip "needs containerd and ctr for the shim's socket"
fi
done_testing
