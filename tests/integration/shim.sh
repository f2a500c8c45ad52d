#!/usr/bin/env bash
# containerd-shim-wasmpack-v1 under a real containerd (Debian's 1.6): containerd starts the
# shim from PATH for runtime io.containerd.wasmpack.v1; images come from the test registry
# (image layout, unpacked by containerd into a native snapshot) or from containerd's
# content store through its gRPC API (the artifact layouts, which 1.6 cannot unpack:
# the test makes the container record itself, then ctr starts the task).
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null || ! command -v ctr >/dev/null ||
	! command -v node >/dev/null || ! command -v docker-registry >/dev/null; then
	skip "needs root, containerd, ctr, node and docker-registry (scripts/deps.sh installs them; CI runs as root)"
	done_testing
	exit
fi
SHIM=$BUILD/containerd-shim-wasmpack-v1
H=$BUILD/tests/helpers
SLEEPER=$BUILD/testdata/sleeper.wasm
NS=wasmpack-shim-$$
# The shim's sockets: a short folder of the test's own (socket paths are capped at 108 bytes).
SOCKS=$(mktemp -d /tmp/wps.XXXXXX)
on_exit "rm -rf '$SOCKS'"
# A stand-in wasmtime first on the PATH the shims inherit, for the engine order below;
# the node's default engine is node.
mkdir -p "$TMP/fakebin" && printf '#!/bin/sh\necho "fake wasmtime ran: $*"\n' > "$TMP/fakebin/wasmtime" && chmod 755 "$TMP/fakebin/wasmtime"
export PATH=$TMP/fakebin:$BUILD:$PATH WASMPACK_CACHE=$TMP/cache WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_ENGINE=node
C=$TMP/ctd
start_containerd "$C"
check "containerd answers on its socket" ctr -a "$C/c.sock" version
ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
# ctr puts each container in the cgroup /NS/ID; the namespace's level goes with the test.
on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
run_() { ctr_ run --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 "$@"; }
# Shim processes of this test's namespace, once those that are exiting have had 2 s.
shims() {
	for _ in $(seq 1 20); do pgrep -f "containerd-shim-wasmpack-v1 -namespace $NS " >/dev/null || break; sleep 0.1; done
	pgrep -f "containerd-shim-wasmpack-v1 -namespace $NS " | wc -l
}
bundle() { echo "$C/state/io.containerd.runtime.v2.task/$NS/$1"; }
# Polls (every 0.1 s, 5 s at most) instead of sleeping and hoping.
wait_for() { for _ in $(seq 1 50); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
task_is() { ctr_ task ls 2>/dev/null | grep -qE "^$1 +[0-9]+ +$2"; }   # task_is ID STATUS
event_for() { grep "/tasks/$1" events.log | grep -q "\"$2\""; }       # event_for TOPIC ID
# SIGKILL a task, wait for it to stop, remove it.
kill_rm() { ctr_ task kill -s SIGKILL "$1" >/dev/null 2>&1; wait_for task_is "$1" STOPPED; ctr_ task rm "$1" >/dev/null 2>&1; }
# A container record for an image ctr cannot unpack, with a runtime spec of our own.
create_() { # create_ ID IMAGE ARGS-JSON [ENV-JSON [EXTRA-JSON-MEMBERS]]
	printf '{"ociVersion":"1.0.2","process":{"args":%s,"env":%s,"cwd":"/"},"root":{"path":"rootfs"}%s}' \
		"$3" "${4:-[]}" "${5:+,$5}" > "spec-$1.json"
	"$H/ctd_container" "$C/c.sock" "$NS" create "$1" "$2" io.containerd.wasmpack.v1 "spec-$1.json"
}

out=$("$SHIM" --version); rc=$?
like "$out" "containerd-shim-wasmpack-v1" "the shim says its version"
err=$("$SHIM" 2>&1); rc=$?
is "$rc" "2" "the shim without flags: usage error"
like "$err" "start\|delete" "naming its actions"

ctr_ events > events.log 2>&1 &
EV=$!
on_exit "kill $EV 2>/dev/null"

PORT=$(free_port)
start_registry reg "$PORT"
R=127.0.0.1:$PORT
mkdir -p app/static && printf 'Hello through containerd\n' > app/static/greeting.txt
"$WP" build --wasm "$HELLO" --file app/static:static --env GREETING=hi --arg one --arg two -t "$R/hello:v1" --push --plain-http >/dev/null
ok $? "an image-layout app (args baked in) is pushed to the test registry"
ctr_ images pull --plain-http --platform wasip1/wasm "$R/hello:v1" >/dev/null 2>&1
ok $? "ctr pulls it (and containerd unpacks it for wasip1/wasm)"

# 1. ctr run: output, args and env from the image, exit status
out=$(run_ --rm "$R/hello:v1" h1 2>&1); rc=$?
is "$rc" "0" "ctr run through the shim exits 0"
like "$out" "arg\[0\]=/hello.wasm" "the app's argv[0] is the wasm's path in the rootfs"
like "$out" "arg\[1\]=one" "the image's Cmd reaches the app"
like "$out" "arg\[2\]=two" "all of it"
like "$out" "env GREETING=hi" "the image's Env reaches the app"
like "$out" "Hello through containerd" "the app reads its static file from the rootfs"
is "$(shims)" "0" "no shim is left after ctr run --rm"
"$WP" build --wasm "$EXITC" --arg 42 -t "$R/exit:v1" --push --plain-http >/dev/null
ctr_ images pull --plain-http --platform wasip1/wasm "$R/exit:v1" >/dev/null 2>&1
run_ --rm "$R/exit:v1" e1 >/dev/null 2>&1; rc=$?
is "$rc" "42" "ctr's exit status is the app's"
wait_for event_for delete e1
for topic in create start exit delete; do
	like "$(grep "/tasks/$topic" events.log | grep '"h1"' || true)" "h1" "containerd got the /tasks/$topic event for h1"
done
like "$(grep "/tasks/exit" events.log | grep '"e1"' || true)" '"exit_status":42' "the exit event carries the status"

# The rootfs is the container's own snapshot: the app may write in it (as under runc).
"$WP" build --wasm "$WRITER" --arg /made-by-app.txt -t "$R/writer:v1" --push --plain-http >/dev/null
ctr_ images pull --plain-http --platform wasip1/wasm "$R/writer:v1" >/dev/null 2>&1
out=$(run_ --rm "$R/writer:v1" w1 2>&1)
like "$out" "write /made-by-app.txt: ok" "an image-layout app writes into its own rootfs"

# An image whose entrypoint is a symlink out of the rootfs (made with umoci): refused.
if command -v umoci >/dev/null; then
	umoci init --layout evil >/dev/null 2>&1 && umoci new --image evil:v1 >/dev/null 2>&1 &&
		umoci unpack --rootless --image evil:v1 evb >/dev/null 2>&1
	ln -s /etc/hostname evb/rootfs/evil.wasm
	umoci repack --image evil:v1 evb >/dev/null 2>&1
	umoci config --image evil:v1 --os wasip1 --architecture wasm --config.entrypoint /evil.wasm >/dev/null 2>&1
	"$WP" copy oci:evil:v1 "$R/evil:v1" --plain-http >/dev/null
	ctr_ images pull --plain-http --platform wasip1/wasm "$R/evil:v1" >/dev/null 2>&1
	err=$(run_ --rm "$R/evil:v1" ev1 2>&1); rc=$?
	is "$([ "$rc" -ne 0 ] && echo refused)" "refused" "an entrypoint that is a symlink out of the rootfs is refused"
	like "$err" "not a file inside the rootfs" "saying why"
else
	skip "umoci is not installed"
fi

# A command the image's rootfs lacks (issue 22, 5): Create fails as runc's exec would,
# naming it; the image is not unpacked into the node cache instead (which a tenant could
# use to fill the node's disk), nor is its default wasm run with the pod's arguments.
before=$(ls "$WASMPACK_CACHE" 2>/dev/null | grep -c '^[0-9a-f]\{64\}$')
for cmd in /nope.wasm /hello.wasmx nope/../../x.wasm; do
	err=$(run_ --rm "$R/hello:v1" miss1 "$cmd" arg 2>&1); rc=$?
	[ "$rc" -ne 0 ]; ok $? "a command '$cmd' not in the image: the task is not created"
	like "$err" "the command '$(sed 's/[.]/\\./g' <<<"$cmd")' is not in the container's rootfs" "saying so"
	! grep -q "arg\[0\]" <<<"$err"; ok $? "and the image's own wasm did not run"
	ctr_ containers rm miss1 >/dev/null 2>&1
done
is "$(ls "$WASMPACK_CACHE" 2>/dev/null | grep -c '^[0-9a-f]\{64\}$')" "$before" "nothing was unpacked into the node cache"

# 2. a long-running app
"$WP" build --wasm "$SLEEPER" -t "$R/sleeper:v1" --push --plain-http >/dev/null
ctr_ images pull --plain-http --platform wasip1/wasm "$R/sleeper:v1" >/dev/null 2>&1
run_ -d "$R/sleeper:v1" s1 >/dev/null 2>&1
ok $? "ctr run -d starts a long-running app"
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^s1 .*RUNNING" && break; sleep 0.1; done
like "$(ctr_ task ls)" "s1 +[0-9]+ +RUNNING" "ctr task ls shows it RUNNING"
pid=$(ctr_ task ls | awk '$1 == "s1" {print $2}')
is "$(ctr_ task ps s1 | awk 'NR > 1 {print $1}')" "${pid:-no pid}" "ctr task ps lists the engine's pid (Pids)"
check "the pid is a live process" kill -0 "$pid"
addr=$(cat "$(bundle s1)/address")
like "$addr" "^unix://$SOCKS/[0-9a-f]{64}$" "the bundle's address file names the shim's socket"
check "the shim answers State on its socket" "$H/ttrpc_client" "$addr" call containerd.task.v2.Task State s1
s=$(date +%s%N)
out=$(TTRPC_TIMEOUT_MS=300 "$H/ttrpc_client" "$addr" call containerd.task.v2.Task Wait s1)
e=$(date +%s%N)
like "$out" "status 4" "Wait honours the request's timeout: DeadlineExceeded while the task runs"
like "$(( (e - s) / 1000000 ))" "^([3-9][0-9]{2}|1[0-9]{3})$" "after about the 300 ms asked for"
out=$("$H/ttrpc_client" "$addr" call containerd.task.v2.Task Stats s1)
like "$out" "^ok [1-9][0-9]* bytes" "Stats answers on the shim's socket"
out=$(ctr_ task metrics s1 2>&1)
like "$out" "memory\.(usage_in_bytes|usage) +[1-9][0-9]+" "and its metrics are the task's: memory in use"
like "$out" "pids\.current +[1-9]" "and its process count"
out=$("$H/ttrpc_client" "$addr" call containerd.task.v2.Task Exec s1)
like "$out" "status 3: Exec needs an id and an exec id" "Exec without an exec id: InvalidArgument (cri.sh runs real execs)"
out=$("$H/ttrpc_client" "$addr" call containerd.task.v2.Task Checkpoint s1)
like "$out" "status 12" "Checkpoint answers Unimplemented"
out=$("$H/ttrpc_client" "$addr" call containerd.task.v2.Nope Hello s1)
like "$out" "status 12" "an unknown service answers Unimplemented"
out=$("$H/ttrpc_client" "$addr" call containerd.task.v2.Task State nosuch)
like "$out" "status 5" "State of an unknown task: NotFound"
# malformed input never takes the shim down
"$H/ttrpc_client" "$addr" garbage 100000 >/dev/null 2>&1
"$H/ttrpc_client" "$addr" truncated >/dev/null 2>&1
is "$("$H/ttrpc_client" "$addr" oversized)" "closed" "a frame claiming 64 MiB: the connection is closed"
like "$("$H/ttrpc_client" "$addr" badproto)" "status 3" "a request that is not protobuf: InvalidArgument"
is "$("$H/ttrpc_client" "$addr" flood 400)" "answered 400" "400 requests at once on one connection are all answered"
check "after all that the shim still answers" "$H/ttrpc_client" "$addr" call containerd.task.v2.Task State s1
like "$(ctr_ task ls)" "s1 +$pid +RUNNING" "and the task still runs"
ctr_ task kill s1
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^s1 .*STOPPED" && break; sleep 0.1; done
like "$(ctr_ task ls)" "s1 +[0-9]+ +STOPPED" "ctr task kill stops it: STOPPED"
out=$(ctr_ task rm s1 2>&1); rc=$?
is "$rc" "0" "ctr task rm succeeds"
like "$out" "exit code 143" "the exit status is SIGTERM's (128+15)"
check "ctr c rm succeeds" ctr_ c rm s1
is "$(shims)" "0" "no shim process is left"
is "$(ls "$SOCKS" | wc -l)" "0" "and no socket"
check "nor the engine" test ! -e "/proc/$pid"

# A shim told to stop while a call is still running (a Wait with no end in sight) answers
# it and only then frees its state: it used to free it after 2 s with the call's thread
# still at work (a use after free), and the caller got a closed connection.
run_ -d "$R/sleeper:v1" s2 >/dev/null 2>&1
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^s2 .*RUNNING" && break; sleep 0.1; done
addr=$(cat "$(bundle s2)/address")
spid=$(pgrep -f "containerd-shim-wasmpack-v1 -namespace $NS " | head -1)
epid=$(ctr_ task ls | awk '$1 == "s2" {print $2}')
threads=$(ls "/proc/$spid/task" | wc -l)
TTRPC_TIMEOUT_MS=30000 "$H/ttrpc_client" "$addr" call containerd.task.v2.Task Wait s2 > wait.out 2>&1 &
wpid=$!
# the call is in flight once the shim has a thread for the connection and one for it
more_threads() { [ "$(ls "/proc/$spid/task" | wc -l)" -ge $((threads + 2)) ]; }
wait_for more_threads; ok $? "the Wait call is in flight in the shim"
s=$(date +%s%N)
kill -TERM "$spid"
wait "$wpid"
e=$(date +%s%N)
like "$(cat wait.out)" "status 14" "a Wait running when the shim stops gets an answer: Unavailable"
like "$(( (e - s) / 1000000 ))" "^[0-9]{1,3}$" "at once (under a second)"
for _ in $(seq 1 30); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
check "the shim process is gone" sh -c "! kill -0 $spid 2>/dev/null"
engine_gone() { ! kill -0 "${epid:-0}" 2>/dev/null; }
wait_for engine_gone   # killed as the shim went; init reaps it
check "and its engine" engine_gone
ctr_ task rm -f s2 >/dev/null 2>&1; ctr_ c rm s2 >/dev/null 2>&1

# cgroups: ctr's default cgroupsPath is /NS/ID; the limits hold for the engine process
probe=/sys/fs/cgroup/memory
[ -e /sys/fs/cgroup/cgroup.controllers ] && probe=/sys/fs/cgroup
if ! mkdir "$probe/wasmpack-probe-$$" 2>/dev/null; then
	skip "cgroups are not writable here ($probe)"
else
rmdir "$probe/wasmpack-probe-$$"
run_ -d --memory-limit 268435456 --cpus 0.5 "$R/sleeper:v1" cg1 >/dev/null 2>&1
ok $? "a container with a memory limit and a CPU quota starts"
pid=$(ctr_ task ls | awk '$1 == "cg1" {print $2}')
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
	CG=/sys/fs/cgroup/$NS/cg1
	is "$(cat "$CG/memory.max" 2>&1)" "268435456" "cgroup v2: memory.max is the limit"
	is "$(cat "$CG/cpu.max" 2>&1)" "50000 100000" "cpu.max is the quota"
	like "$(cat "$CG/cgroup.procs" 2>&1)" "(^|[^0-9])$pid([^0-9]|$)" "the engine is in the container's cgroup"
else
	is "$(cat "/sys/fs/cgroup/memory/$NS/cg1/memory.limit_in_bytes" 2>&1)" "268435456" "cgroup v1: memory.limit_in_bytes is the limit"
	is "$(cat "/sys/fs/cgroup/cpu/$NS/cg1/cpu.cfs_quota_us" 2>&1)" "50000" "cpu.cfs_quota_us is the quota"
	like "$(cat "/sys/fs/cgroup/memory/$NS/cg1/cgroup.procs" 2>&1)" "(^|[^0-9])$pid([^0-9]|$)" "the engine is in the container's memory cgroup"
	CG=/sys/fs/cgroup/memory/$NS/cg1
fi
out=$(ctr_ task metrics cg1 2>&1)
like "$out" "memory\.(usage_in_bytes|usage) +[1-9][0-9]+" "ctr task metrics shows the app's memory use (Stats)"
like "$out" "memory\.(limit_in_bytes|usage_limit) +268435456" "and its limit"
like "$out" "pids\.current +[1-9]" "and its process count"
kill_rm cg1; ctr_ c rm cg1
# An app that outgrows its memory limit: killed by the kernel, and containerd hears of it.
"$WP" build --wasm "$BUILD/testdata/hog.wasm" -t "$R/hog:v1" --push --plain-http >/dev/null
ctr_ images pull --plain-http --platform wasip1/wasm "$R/hog:v1" >/dev/null 2>&1
out=$(run_ --rm --memory-limit 134217728 "$R/hog:v1" oom1 2>&1); rc=$?
is "$rc" "137" "an app past its memory limit is killed (exit status 137)"
unlike_done=$(printf '%s' "$out" | grep -c "hog: done")
is "$unlike_done" "0" "before it could allocate everything"
wait_for event_for oom oom1
like "$(grep '/tasks/oom' events.log | grep '"oom1"' || true)" "oom1" "containerd got the /tasks/oom event (CRI's OOMKilled)"
CG=${CG%/cg1}/oom1
wait_for test ! -e "$CG"
check "oom1's cgroup is removed with the task" test ! -e "$CG"
rmdir "/sys/fs/cgroup/$NS" /sys/fs/cgroup/*/"$NS" 2>/dev/null
fi

# kill -s 9 --all reaches the whole group
run_ -d "$R/sleeper:v1" s2 >/dev/null 2>&1
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^s2 .*RUNNING" && break; sleep 0.1; done
ctr_ task kill --all -s SIGKILL s2
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^s2 .*STOPPED" && break; sleep 0.1; done
like "$(ctr_ task rm s2 2>&1)" "exit code 137" "kill --all -s SIGKILL: exit status 137"
ctr_ c rm s2

# A shim that dies: containerd cleans up through `delete`, which kills the engine.
run_ -d "$R/sleeper:v1" s3 >/dev/null 2>&1
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^s3 .*RUNNING" && break; sleep 0.1; done
pid=$(ctr_ task ls | awk '$1 == "s3" {print $2}')
pkill -9 -f "containerd-shim-wasmpack-v1 -namespace $NS .*-id s3 "
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "after the shim is killed, containerd's cleanup (the delete action) ends the engine" test ! -e "/proc/$pid"
st=$(ctr_ task ls | awk '$1 == "s3" {print $3}')
is "$([ "$st" != RUNNING ] && echo gone)" "gone" "the task is no longer running ('${st:-no task}')"
ctr_ task rm s3 >/dev/null 2>&1
ctr_ c rm s3
cgs3=/sys/fs/cgroup/memory/$NS/s3
[ -e /sys/fs/cgroup/cgroup.controllers ] && cgs3=/sys/fs/cgroup/$NS/s3
check "and removes its cgroup" test ! -e "$cgs3"
resp=$(cd "$TMP" && mkdir -p fake-bundle && cd fake-bundle && "$SHIM" -namespace x -address /nope -id y -bundle "$PWD" delete | od -An -tx1 | tr -d ' \n')
like "$resp" "^10" "delete prints a DeleteResponse (field 1 or 2 first)"
like "$resp" "1089011a" "with exit_status 137 and an exited_at timestamp"

# 3. twenty containers at once from one image
pids=()
for i in $(seq 1 20); do (run_ --rm "$R/hello:v1" "m$i" > "m$i.out" 2>&1; echo $? > "m$i.rc") & pids+=($!); done
wait "${pids[@]}"
fails=0
for i in $(seq 1 20); do [ "$(cat "m$i.rc")" = 0 ] && grep -q "Hello through containerd" "m$i.out" || fails=$((fails + 1)); done
is "$fails" "0" "20 containers started at once all run and exit 0"
is "$(shims)" "0" "and their shims are gone"

# 4. the artifact layouts, read through containerd's API
"$WP" build --layout wasm --wasm "$HELLO" -t art:v1 >/dev/null && "$WP" save art:v1 -o art.tar >/dev/null
ctr_ images import --all-platforms --no-unpack art.tar >/dev/null
ok $? "a CNCF wasm artifact is imported into containerd's content store"
create_ a1 docker.io/library/art:v1 '["app","from-spec"]' '["FROM_SPEC=yes","HELLO_FILE=/nope"]'
ok $? "a container record names it (runtime io.containerd.wasmpack.v1)"
out=$(ctr_ task start a1 2>&1); rc=$?
like "$out" "arg\[1\]=from-spec" "ctr task start: the shim found the app through containerd's API and ran it"
like "$out" "env FROM_SPEC=yes" "with the container's env"
is "$rc" "1" "and its exit status (the app could not open /nope)"
ctr_ task rm a1 >/dev/null 2>&1
"$H/ctd_container" "$C/c.sock" "$NS" delete a1
entries=$(ls "$WASMPACK_CACHE" | grep -c '^[0-9a-f]\{64\}$')
is "$entries" "1" "the node cache holds the app once"
is "$(ls "$WASMPACK_CACHE" | grep -c '^\.tmp')" "0" "no temp store is left"
# Which containerd holds each app the shim unpacked, so gc can ask it (issue 22, 5): the
# entry stays while containerd holds the image (or cannot be asked), and goes once it does not.
art_hex=$(ls "$WASMPACK_CACHE" | grep '^[0-9a-f]\{64\}$' | head -1)
users=$WASMPACK_CACHE/.users/$art_hex
like "$(cat "$users" 2>/dev/null)" "^containerd:$C/c.sock:$NS$" "the cache entry's user names containerd's address and namespace"
"$WP" gc >/dev/null 2>&1
check "gc keeps it while containerd holds the image" test -d "$WASMPACK_CACHE/$art_hex"
cp "$users" users.saved && printf 'containerd:%s:%s\n' "$TMP/gone.sock" "$NS" > "$users"
ctr_ images rm --sync docker.io/library/art:v1 >/dev/null 2>&1
"$WP" gc >/dev/null 2>&1
check "and when the containerd it names cannot be asked" test -d "$WASMPACK_CACHE/$art_hex"
cp users.saved "$users"
"$WP" gc >/dev/null 2>&1
check "gc removes it once containerd no longer holds the image" test ! -e "$WASMPACK_CACHE/$art_hex"
ctr_ images import --all-platforms --no-unpack art.tar >/dev/null

# An image-layout image with no snapshot (containerd 2.1+ pulls wasm images through its
# transfer service and leaves them unpacked): the rootfs mounts are missing, so the shim
# reads the layers from the content store, as for the artifacts.
"$WP" build --wasm "$HELLO" -t imgl:v1 >/dev/null && "$WP" save imgl:v1 -o imgl.tar >/dev/null
ctr_ images import --all-platforms --no-unpack imgl.tar >/dev/null
create_ u1 docker.io/library/imgl:v1 '["/hello.wasm","unpacked-by-the-shim"]'
out=$(ctr_ task start u1 2>&1); rc=$?
like "$out" "arg\[1\]=unpacked-by-the-shim" "an image-layout app with no snapshot runs from the content store"
ctr_ task rm u1 >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete u1

# The engine is chosen by the spec's dev.wasmpack.engine annotation, then the node's
# WASMPACK_ENGINE (node here), then the image's annotation, then the first on PATH.
create_ eng1 docker.io/library/art:v1 '["app","x"]' '[]' '"annotations":{"dev.wasmpack.engine":"wasmtime"}'
out=$(ctr_ task start eng1 2>&1)
like "$out" "fake wasmtime ran: run " "the spec's annotation wins over WASMPACK_ENGINE"
ctr_ task rm eng1 >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete eng1
"$WP" build --layout wasm --wasm "$HELLO" --annotation dev.wasmpack.engine=wasmtime -t artw:v1 >/dev/null &&
	"$WP" save artw:v1 -o artw.tar >/dev/null && ctr_ images import --all-platforms --no-unpack artw.tar >/dev/null
create_ eng2 docker.io/library/artw:v1 '["app","from-node"]'
out=$(ctr_ task start eng2 2>&1)
like "$out" "arg\[1\]=from-node" "WASMPACK_ENGINE wins over the image's annotation (node ran it)"
ctr_ task rm eng2 >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete eng2
# The same chooser serves `wasmpack run`: without WASMPACK_ENGINE, the image's annotation
# wins over the first engine on PATH, and without one the first on PATH runs.
"$WP" build --layout wasm --wasm "$HELLO" --annotation dev.wasmpack.engine=node -t artn:v1 >/dev/null
out=$(env -u WASMPACK_ENGINE "$WP" run artn:v1 -- by-annotation 2>&1)
like "$out" "arg\[1\]=by-annotation" "the image's annotation wins over the first engine on PATH"
out=$(env -u WASMPACK_ENGINE "$WP" run art:v1 -- first 2>&1)
like "$out" "fake wasmtime ran: run " "with no preference, the first engine on PATH (wasmtime) runs"

mkdir -p sp/static && printf 'Spin file via the shim\n' > sp/static/greeting.txt
"$WP" build --layout spin --wasm "$HELLO" --file sp/static:static -t spincmd:v1 >/dev/null && "$WP" save spincmd:v1 -o spincmd.tar >/dev/null
ctr_ images import --all-platforms --no-unpack spincmd.tar >/dev/null
for i in $(seq 1 20); do create_ "p$i" docker.io/library/spincmd:v1 '["app","n'$i'"]' >/dev/null; done
pids=()
for i in $(seq 1 20); do (ctr_ task start "p$i" > "p$i.out" 2>&1; echo $? > "p$i.rc") & pids+=($!); done
wait "${pids[@]}"
fails=0
for i in $(seq 1 20); do
	[ "$(cat "p$i.rc")" = 0 ] && grep -q "arg\[1\]=n$i" "p$i.out" && grep -q "Spin file via the shim" "p$i.out" && continue
	fails=$((fails + 1))
	[ $fails = 1 ] && sed 's/^/#   /' "p$i.out" | head -5
done
is "$fails" "0" "20 containers of a Spin command app started at once all run, each with its args and the app's files"
spd=$(ctr_ images ls | awk '/spincmd:v1/ {print $3}')
is "$(ls "$WASMPACK_CACHE" | grep -c "^${spd#sha256:}\$")" "1" "the node cache holds that app once too"
is "$(ls "$WASMPACK_CACHE" | grep -c '^\.tmp')" "0" "and no half-made entry"
for i in $(seq 1 20); do ctr_ task rm "p$i" >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete "p$i"; done

# 5. pods: the network namespace CRI names is joined; the sandbox (pause) container runs
# nothing of an image but waits for its end.
"$WP" build --layout wasm --wasm "$SLEEPER" -t sleepart:v1 >/dev/null && "$WP" save sleepart:v1 -o sleepart.tar >/dev/null
ctr_ images import --all-platforms --no-unpack sleepart.tar >/dev/null
NETNS=wpns$$
ip netns add "$NETNS" && on_exit "ip netns delete $NETNS"
create_ k1 docker.io/library/sleepart:v1 '["app"]' '[]' \
	'"linux":{"namespaces":[{"type":"network","path":"/var/run/netns/'"$NETNS"'"},{"type":"uts"}]}'
ctr_ task start -d k1 >/dev/null 2>&1
ok $? "a container that names a network namespace by path starts"
pid=$(ctr_ task ls | awk '$1 == "k1" {print $2}')
is "$(readlink "/proc/$pid/ns/net")" "$(stat -L -c 'net:[%i]' "/var/run/netns/$NETNS")" "its engine runs in that network namespace"
isnt=$([ "$(readlink "/proc/$pid/ns/uts")" != "$(readlink /proc/self/ns/uts)" ] && echo yes || echo no)
is "$isnt" "yes" "and in a uts namespace of its own (no path given)"
kill_rm k1; "$H/ctd_container" "$C/c.sock" "$NS" delete k1
# process.user: the engine runs as the container's user (the cache must be reachable for it)
chmod 755 "$TMP"
printf '{"ociVersion":"1.0.2","process":{"args":["app"],"cwd":"/","user":{"uid":65534,"gid":65534,"additionalGids":[65533]}},"root":{"path":"rootfs"}}' > spec-u1.json
"$H/ctd_container" "$C/c.sock" "$NS" create u1 docker.io/library/sleepart:v1 io.containerd.wasmpack.v1 spec-u1.json
ctr_ task start -d u1 >/dev/null 2>&1
ok $? "a container with process.user starts"
pid=$(ctr_ task ls | awk '$1 == "u1" {print $2}')
like "$(grep '^Uid:' "/proc/$pid/status" 2>&1)" "^Uid:\s+65534\s+65534" "its engine runs as that user"
like "$(grep '^Groups:' "/proc/$pid/status" 2>&1)" "^Groups:\s+65533\s*$" "with its additional groups only"
kill_rm u1; "$H/ctd_container" "$C/c.sock" "$NS" delete u1
# CPU shares, the pids limit and an ipc namespace of its own, as a spec (Kubernetes') asks.
if mkdir "/sys/fs/cgroup/wasmpack-probe-$$" 2>/dev/null || mkdir "/sys/fs/cgroup/memory/wasmpack-probe-$$" 2>/dev/null; then
	rmdir "/sys/fs/cgroup/wasmpack-probe-$$" "/sys/fs/cgroup/memory/wasmpack-probe-$$" 2>/dev/null
	printf '{"ociVersion":"1.0.2","process":{"args":["app"],"cwd":"/"},"root":{"path":"rootfs"},"linux":{"cgroupsPath":"/%s/r1","resources":{"cpu":{"shares":512},"pids":{"limit":50}},"namespaces":[{"type":"ipc"},{"type":"mount"}]}}' "$NS" > spec-r1.json
	"$H/ctd_container" "$C/c.sock" "$NS" create r1 docker.io/library/sleepart:v1 io.containerd.wasmpack.v1 spec-r1.json
	ctr_ task start -d r1 >/dev/null 2>&1
	ok $? "a container with CPU shares, a pids limit and an ipc namespace starts"
	pid=$(ctr_ task ls | awk '$1 == "r1" {print $2}')
	if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
		is "$(cat "/sys/fs/cgroup/$NS/r1/cpu.weight" 2>&1)" "20" "cgroup v2: 512 CPU shares are cpu.weight 20 (runc's conversion)"
		is "$(cat "/sys/fs/cgroup/$NS/r1/pids.max" 2>&1)" "50" "and the pids limit is pids.max"
	else
		is "$(cat "/sys/fs/cgroup/cpu/$NS/r1/cpu.shares" 2>&1)" "512" "cgroup v1: cpu.shares is the spec's"
		is "$(cat "/sys/fs/cgroup/pids/$NS/r1/pids.max" 2>&1)" "50" "and pids.max its pids limit"
	fi
	isnt=$([ -n "$pid" ] && [ "$(readlink "/proc/$pid/ns/ipc")" != "$(readlink /proc/self/ns/ipc)" ] && echo yes || echo no)
	is "$isnt" "yes" "the engine runs in an ipc namespace of its own"
	kill_rm r1; "$H/ctd_container" "$C/c.sock" "$NS" delete r1
else
	skip "cgroups are not writable here"
fi
create_ k2 docker.io/library/hello:nosuch '["/pause"]' '[]' '"annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"k2"}'
ctr_ task start -d k2 >/dev/null 2>&1
ok $? "a pod's sandbox container starts without an app"
wait_for task_is k2 RUNNING
sleep 1   # what is asserted is that it goes on running: a second later it still does
like "$(ctr_ task ls)" "k2 +[0-9]+ +RUNNING" "and keeps running"
create_ k3 docker.io/library/sleepart:v1 '["app"]' '[]' '"annotations":{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"k2"}'
ctr_ task start -d k3 >/dev/null 2>&1
ok $? "an app container of the same pod starts"
is "$(cat "$(bundle k3)/address")" "$(cat "$(bundle k2)/address")" "and is served by the pod's shim (one socket)"
is "$(shims)" "1" "one shim process for the pod's two containers"
kill_rm k3; "$H/ctd_container" "$C/c.sock" "$NS" delete k3
is "$(shims)" "1" "deleting one container leaves the shim serving the other"
like "$(ctr_ task ls)" "k2 +[0-9]+ +RUNNING" "which still runs"
ctr_ task kill k2; for _ in $(seq 1 30); do ctr_ task ls | grep -q "^k2 .*STOPPED" && break; sleep 0.1; done
like "$(ctr_ task rm k2 2>&1)" "exit code 143" "until it is killed"
"$H/ctd_container" "$C/c.sock" "$NS" delete k2
is "$(shims)" "0" "the pod's shim exits after its last container is deleted"

printf 'spin_manifest_version = 2\n[application]\nname = "web"\n[[trigger.http]]\nroute = "/..."\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\n' > sp/spin.toml
cp "$HELLO" sp/app.wasm
"$WP" build sp -t spinhttp:v1 >/dev/null && "$WP" save spinhttp:v1 -o spinhttp.tar >/dev/null
ctr_ images import --all-platforms --no-unpack spinhttp.tar >/dev/null
create_ w1 docker.io/library/spinhttp:v1 '[]'
err=$(ctr_ task start w1 2>&1); rc=$?
isnt_zero=$([ "$rc" -ne 0 ] && echo yes || echo no)
is "$isnt_zero" "yes" "a Spin HTTP app without spin installed does not start"
like "$err" "install spin" "and the error says what to install"
"$H/ctd_container" "$C/c.sock" "$NS" delete w1
create_ n1 docker.io/library/nosuch:v1 '["x"]'
err=$(ctr_ task start n1 2>&1)
like "$err" "nosuch:v1.*not found" "a container whose image containerd does not hold: a clear not-found error"
"$H/ctd_container" "$C/c.sock" "$NS" delete n1
# containerd restarts (an upgrade): the shim keeps the app running and containerd finds
# it again through the bundle's address file.
run_ -d "$R/sleeper:v1" rs1 >/dev/null 2>&1
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^rs1 .*RUNNING" && break; sleep 0.1; done
pid=$(ctr_ task ls | awk '$1 == "rs1" {print $2}')
pkill -f "containerd --config $C/config.toml"
for _ in $(seq 1 50); do pgrep -f "containerd --config $C/config.toml" >/dev/null || break; sleep 0.1; done
containerd --config "$C/config.toml" >> "$C/log" 2>&1 &
CTD2=$!
on_exit "kill $CTD2 2>/dev/null; wait $CTD2 2>/dev/null"
for _ in $(seq 1 100); do ctr -a "$C/c.sock" version >/dev/null 2>&1 && break; sleep 0.1; done
like "$(ctr_ task ls)" "rs1 +${pid:-none} +RUNNING" "after containerd restarts, the task still runs and containerd sees it"
ctr_ task kill rs1
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "^rs1 .*STOPPED" && break; sleep 0.1; done
like "$(ctr_ task rm rs1 2>&1)" "exit code 143" "and can still stop and remove it"
ctr_ c rm rs1

is "$(shims)" "0" "no shim is left at the end"
# The shims' own logs reach containerd's (through each bundle's log FIFO).
like "$(grep -c 'wasmpack shim [0-9]* serving' "$C/log")" "^[1-9]" "the shims' logs reach containerd's log"
is "$(grep -cE 'Sanitizer|runtime error:' "$C/log")" "0" "and hold no sanitizer report (make check runs the shim under ASan+UBSan)"
ctr_ images rm "$R/hello:v1" "$R/exit:v1" "$R/sleeper:v1" docker.io/library/art:v1 docker.io/library/sleepart:v1 docker.io/library/spincmd:v1 docker.io/library/spinhttp:v1 >/dev/null 2>&1

done_testing
