#!/usr/bin/env bash
# Kubernetes' path (issue 15): containerd's real CRI plugin (Debian's 1.6), driven as the
# kubelet drives it (tests/helpers/cri: RuntimeService and ImageService over gRPC), with
# the runtime handler `wasmpack` (io.containerd.wasmpack.v1). containerd, the registries
# and every pod live in a network namespace of the test's own, so CNI's bridge and the
# pods' traffic never reach the host's network.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null || ! command -v node >/dev/null || ! command -v openssl >/dev/null ||
	! command -v docker-registry >/dev/null || ! command -v ip >/dev/null || ! [ -x /usr/lib/cni/bridge ]; then
	skip "needs root, containerd, node, docker-registry, ip and containernetworking-plugins (scripts/deps.sh installs them)"
	done_testing
	exit
fi
CRI=$BUILD/tests/helpers/cri
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
NETNS=wpcri-$$
ip netns add "$NETNS" && ip netns exec "$NETNS" ip link set lo up || { ok 1 "a network namespace for the test"; done_testing; exit 1; }
on_exit "ip netns del $NETNS 2>/dev/null"
# nsenter, not `ip netns exec`: that one also remounts /sys, hiding the cgroup mounts
inns() { nsenter --net="/run/netns/$NETNS" "$@"; }
SOCKS=$(mktemp -d /tmp/wpc.XXXXXX)
on_exit "rm -rf '$SOCKS'"
C=$TMP/ctd
S=$C/c.sock
LOGS=$TMP/logs
mkdir -p "$C" "$LOGS" "$TMP/cni" "$TMP/certs.d"

# ---- registries (plain, and one with htpasswd), inside the namespace ----
reg() { # reg NAME PORT [AUTH-YAML]
	mkdir -p "$TMP/$1/data"
	printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:%s\n%s\n' \
		"$TMP/$1/data" "$2" "${3:-}" > "$TMP/$1/config.yml"
	# nsenter itself in the background (not the inns function: its subshell's pid would
	# be the one killed, and the registry would outlive the test)
	nsenter --net="/run/netns/$NETNS" docker-registry serve "$TMP/$1/config.yml" > "$TMP/$1/log" 2>&1 &
	on_exit "kill $! 2>/dev/null"
	mkdir -p "$TMP/certs.d/127.0.0.1:$2"
	printf 'server = "http://127.0.0.1:%s"\n[host."http://127.0.0.1:%s"]\n  capabilities = ["pull", "resolve"]\n' "$2" "$2" \
		> "$TMP/certs.d/127.0.0.1:$2/hosts.toml"
	for _ in $(seq 1 50); do inns curl -s "http://127.0.0.1:$2/v2/" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
RP=$(free_port); AP=$(free_port)
R=127.0.0.1:$RP; A=127.0.0.1:$AP
htpasswd -Bbn kube s3cret > "$TMP/htpasswd"
reg plain "$RP" && reg auth "$AP" "auth:
  htpasswd:
    realm: cri-test
    path: $TMP/htpasswd"
ok $? "two registries start in the test's network namespace"

# ---- containerd with the CRI plugin and the wasmpack runtime handler ----
cat > "$TMP/cni/10-wpcri.conflist" <<JSON
{"cniVersion": "0.4.0", "name": "wpcri", "plugins": [
  {"type": "bridge", "bridge": "wpcri0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.250.$((RP % 200)).0/24"}]], "dataDir": "$TMP/ipam"}}]}
JSON
cat > "$C/config.toml" <<TOML
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$S"
[ttrpc]
  address = "$S.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.gc.v1.scheduler"]
  startup_delay = "1h"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$R/pause:3.6"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "wasmpack"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmpack]
      runtime_type = "io.containerd.wasmpack.v1"
      container_annotations = ["dev.wasmpack.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmpack.options]
        ConfigPath = "$TMP/policy.toml"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$TMP/cni"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$TMP/certs.d"
TOML
# An engine that ignores SIGTERM, for the grace period (chosen per container by annotation).
mkdir -p "$TMP/fakebin"
printf '#!/bin/sh\n[ "$1" = compile ] && exit 1\ntrap "" TERM\necho "stubborn engine: ignoring SIGTERM"\nwhile :; do sleep 1; done\n' > "$TMP/fakebin/wasmtime"
chmod 755 "$TMP/fakebin/wasmtime"
JCO_BIN=$ROOT/.deps/jco/node_modules/.bin
export PATH=$BUILD:$PATH:$JCO_BIN:$TMP/fakebin WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_CACHE=$TMP/cache WASMPACK_ENGINE=node
# The node's signature policy (issue 17): images of $R/signed must be signed by this key;
# the runtime's options in containerd's config name the file (ConfigPath).
mkdir -p "$TMP/keys"
openssl ecparam -name prime256v1 -genkey -noout -out "$TMP/keys/node.pem" 2>/dev/null &&
	openssl ec -in "$TMP/keys/node.pem" -pubout -out "$TMP/keys/node.pub" 2>/dev/null
printf '[[rule]]\nmatch = "%s/signed"\nkeys = ["keys/node.pub"]\n' "$R" > "$TMP/policy.toml"
nsenter --net="/run/netns/$NETNS" containerd --config "$C/config.toml" > "$C/log" 2>&1 &
CPID=$!
on_exit "kill $CPID 2>/dev/null; wait $CPID 2>/dev/null; pkill -f 'containerd-shim-wasmpack-v1 -namespace k8s.io -address $S' 2>/dev/null;
	grep -F ' $TMP/' /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l 2>/dev/null;
	grep -F '/run/netns/cni-' /proc/self/mountinfo >/dev/null 2>&1 || true"
for _ in $(seq 1 100); do "$CRI" "$S" version >/dev/null 2>&1 && break; sleep 0.1; done
out=$("$CRI" "$S" version)
like "$out" '"2":"containerd","3":"1\.6' "containerd's CRI answers (RuntimeService.Version)"

# ---- images ----
export WASMPACK_STORE=$TMP/store
"$WP" build --wasm "$BUILD/testdata/sleeper.wasm" -t "$R/pause:3.6" >/dev/null
mkdir -p app/static && echo "Hello from the image" > app/static/greeting.txt
(cd app && "$WP" build --wasm "$HELLO" --file static --env GREETING=hi -t "$R/demo/hello:v1" >/dev/null)
for a in exitcode sleeper hog prober; do "$WP" build --wasm "$BUILD/testdata/$a.wasm" -t "$R/demo/$a:v1" >/dev/null; done
# a wasm component (WASI 0.2) of the sample app, made with jco (issue 16)
if [ -x "$JCO_BIN/jco" ]; then
	jco new "$HELLO" --wasi-command -o app/comp.wasm >/dev/null 2>&1
	(cd app && "$WP" build --wasm comp.wasm --file static -t "$R/demo/comp:v1" >/dev/null)
else
	"$WP" tag "$R/demo/hello:v1" "$R/demo/comp:v1" >/dev/null
fi
"$WP" tag "$R/demo/hello:v1" "$A/private/hello:v1" >/dev/null
# a Spin HTTP app in the image layout (/spin.toml in the rootfs), served by wasmpack's own
# Spin trigger (issue 23)
if [ -f "$BUILD/testdata/http-hello.wasm" ]; then
	mkdir -p spinapp && cp "$BUILD/testdata/http-hello.wasm" spinapp/web.wasm
	printf 'spin_manifest_version = 2\n[application]\nname = "web"\n[variables]\nwho = { required = true }\n[[trigger.http]]\nroute = "/..."\ncomponent = "web"\n[component.web]\nsource = "web.wasm"\nenvironment = { GREETING = "from a pod" }\n[component.web.variables]\nwho = "{{ who }}"\n' > spinapp/spin.toml
	"$WP" build spinapp --layout image -t "$R/demo/spin:v1" >/dev/null
else
	"$WP" tag "$R/demo/hello:v1" "$R/demo/spin:v1" >/dev/null
fi
"$WP" build --layout wasm --wasm "$HELLO" -t "$R/demo/artifact:v1" >/dev/null
# a long-running app with modules to exec beside it, as probes
"$WP" build --wasm "$BUILD/testdata/sleeper.wasm" --wasm "$BUILD/testdata/exitcode.wasm" --wasm "$BUILD/testdata/prober.wasm" \
	-t "$R/demo/probed:v1" >/dev/null
inns "$WP" push -q "$R/pause:3.6" "$R/demo/hello:v1" "$R/demo/exitcode:v1" "$R/demo/sleeper:v1" "$R/demo/hog:v1" \
	"$R/demo/prober:v1" "$R/demo/artifact:v1" "$R/demo/probed:v1" "$R/demo/comp:v1" "$R/demo/spin:v1" >/dev/null
ok $? "the apps are in the registry"
printf 's3cret\n' | DOCKER_CONFIG=$TMP/dc inns "$WP" login "$A" -u kube --password-stdin >/dev/null &&
	DOCKER_CONFIG=$TMP/dc inns "$WP" push -q "$A/private/hello:v1" >/dev/null
ok $? "and one in the registry with htpasswd"

is "$("$CRI" "$S" pull "$R/demo/hello:v1" | cut -c1-7)" "sha256:" "PullImage of an image-layout app"
for a in exitcode sleeper hog prober probed comp spin; do "$CRI" "$S" pull "$R/demo/$a:v1" >/dev/null; done
"$CRI" "$S" pull "$A/private/hello:v1" >/dev/null 2>&1
is "$?" "1" "PullImage from the htpasswd registry without AuthConfig is refused"
is "$("$CRI" "$S" pull "$A/private/hello:v1" kube s3cret | cut -c1-7)" "sha256:" "with the credentials in AuthConfig, as the kubelet sends them"
err=$("$CRI" "$S" pull "$R/demo/artifact:v1" 2>&1)
like "$err" "mismatched image rootfs and manifest layers" \
	"containerd 1.6.20's CRI refuses a wasm artifact (fixed in 1.6.25/1.7.7: this notices a newer containerd)"

# ---- pods ----
pod() { # pod NAME [node|pod] [ATTEMPT] -> the sandbox id; pod-NAME.json kept for create
	mkdir -p "$LOGS/$1"
	printf '{"name":"%s","uid":"uid-%s","namespace":"default","attempt":%s,"log_directory":"%s/%s","hostname":"%s","network":"%s","cgroup_parent":"/wpcri-%s/pod%s"}' \
		"$1" "$1" "${3:-0}" "$LOGS" "$1" "$1" "${2:-node}" "$$" "$1" > "pod-$1.json"
	"$CRI" "$S" runp "pod-$1.json"
}
ctr() { # ctr POD_ID POD_NAME CONTAINER-JSON -> the container id
	printf '%s' "$3" > "ctr-$$.json"
	"$CRI" "$S" create "$1" "ctr-$$.json" "pod-$2.json"
}
on_exit "rmdir /sys/fs/cgroup/*/wpcri-$$/* /sys/fs/cgroup/*/wpcri-$$ /sys/fs/cgroup/wpcri-$$/* /sys/fs/cgroup/wpcri-$$ 2>/dev/null"
status() { "$CRI" "$S" status "$1"; }                       # ContainerStatusResponse as JSON by field number
st() { status "$1" | jq -r ".\"1\".\"$2\" // empty"; }     # st ID FIELD: 3 state, 7 exit code, 10 reason
wait_exited() { for _ in $(seq 1 100); do [ "$(st "$1" 3)" = 2 ] && return 0; sleep 0.1; done; return 1; }
shims() { pgrep -fc "containerd-shim-wasmpack-v1 -namespace k8s.io -address $S"; }

# 1. a pod on the node's network: create, start, logs, status, stop, remove
P1=$(pod p1)
like "$P1" '^[0-9a-f]{64}$' "RunPodSandbox (host network)"
C1=$(ctr "$P1" p1 "{\"name\":\"hello\",\"image\":\"$R/demo/hello:v1\",\"args\":[\"world\"],\"envs\":{\"EXTRA\":\"1\"},\"working_dir\":\"/srv\",\"log_path\":\"hello/0.log\"}")
like "$C1" '^[0-9a-f]{64}$' "CreateContainer"
"$CRI" "$S" start "$C1" >/dev/null
ok $? "StartContainer"
wait_exited "$C1"; ok $? "the app runs to its end"
log=$(cat "$LOGS/p1/hello/0.log")
like "$log" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z stdout F arg\[0\]=/hello.wasm' "its output is in the CRI log file, in the CRI log format"
like "$log" 'stdout F arg\[1\]=world' "with the container's args"
like "$log" 'stdout F env EXTRA=1' "and its env"
like "$log" 'stdout F env GREETING=hi' "and the image's env"
like "$log" 'stdout F env PWD=/srv' "and its working folder (as PWD: WASI has none of its own)"
like "$log" 'stdout F Hello from the image' "and the image's files"
is "$(st "$C1" 10):$(st "$C1" 7)" "Completed:" "ContainerStatus: reason Completed, exit code 0"
[ "$(st "$C1" 5)" -gt "$(st "$C1" 4)" ] && [ "$(st "$C1" 6)" -ge "$(st "$C1" 5)" ]
ok $? "created, started and finished times in order"
C2=$(ctr "$P1" p1 "{\"name\":\"fail\",\"image\":\"$R/demo/exitcode:v1\",\"args\":[\"3\"],\"log_path\":\"fail.log\"}")
"$CRI" "$S" start "$C2" >/dev/null; wait_exited "$C2"
is "$(st "$C2" 10):$(st "$C2" 7)" "Error:3" "an app exiting 3: reason Error, exit code 3"
C3=$(ctr "$P1" p1 "{\"name\":\"hog\",\"image\":\"$R/demo/hog:v1\",\"args\":[\"300\"],\"log_path\":\"hog.log\",\"memory_limit\":67108864}")
"$CRI" "$S" start "$C3" >/dev/null; wait_exited "$C3"
is "$(st "$C3" 10)" "OOMKilled" "an app past its memory limit: OOMKilled"
C4=$(ctr "$P1" p1 "{\"name\":\"sleep\",\"image\":\"$R/demo/sleeper:v1\",\"args\":[\"600\"],\"log_path\":\"sleep.log\"}")
"$CRI" "$S" start "$C4" >/dev/null
is "$(st "$C4" 3)" "1" "a long-running app is RUNNING"
is "$(shims)" "1" "a pod of four containers is one shim"
stats=$("$CRI" "$S" stats "$C4")
[ "$(jq -r '."1"."3"."2"."1" // 0' <<<"$stats")" -gt 1000000 ]
ok $? "ContainerStats: memory working set from the container's cgroup ($(jq -r '."1"."3"."2"."1"' <<<"$stats") bytes)"
[ "$(jq -r '."1"."2"."2"."1" // 0' <<<"$stats")" -gt 0 ]
ok $? "and CPU time ($(jq -r '."1"."2"."2"."1"' <<<"$stats") ns)"
is "$("$CRI" "$S" liststats | jq -r '[(."1" | if type == "array" then .[] else . end) | ."1"."1"] | map(select(. == "'"$C4"'")) | length')" "1" \
	"ListContainerStats (kubectl top) includes it"
pstats=$("$CRI" "$S" podstats "$P1")
[ "$(jq -r '."1"."2"."2"."2"."1" // 0' <<<"$pstats")" -gt 0 ]
ok $? "PodSandboxStats: the pod's memory"
start=$(date +%s%N)
"$CRI" "$S" stop "$C4" 10 >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
is "$(st "$C4" 3):$(st "$C4" 7)" "2:143" "StopContainer: SIGTERM ends the app (exit 143)"
[ "$ms" -lt 5000 ]; ok $? "without waiting out the grace period (${ms} ms)"
C5=$(ctr "$P1" p1 "{\"name\":\"stubborn\",\"image\":\"$R/demo/sleeper:v1\",\"log_path\":\"stubborn.log\",\"annotations\":{\"dev.wasmpack.engine\":\"wasmtime\"}}")
"$CRI" "$S" start "$C5" >/dev/null
sleep 0.5
start=$(date +%s%N)
"$CRI" "$S" stop "$C5" 2 >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
is "$(st "$C5" 3):$(st "$C5" 7)" "2:137" "an engine ignoring SIGTERM gets SIGKILL (exit 137)"
[ "$ms" -ge 1900 ] && [ "$ms" -lt 8000 ]; ok $? "once the 2 s grace period is over (${ms} ms)"
like "$(cat "$LOGS/p1/stubborn.log")" "ignoring SIGTERM" "(it did ignore it)"
for c in "$C1" "$C2" "$C3" "$C4" "$C5"; do "$CRI" "$S" rm "$c" >/dev/null || echo "# rm $c failed"; done
"$CRI" "$S" status "$C1" >/dev/null 2>&1
is "$?" "3" "RemoveContainer: the container is gone"
"$CRI" "$S" stopp "$P1" >/dev/null && "$CRI" "$S" rmp "$P1" >/dev/null
ok $? "StopPodSandbox, RemovePodSandbox"
for _ in $(seq 1 50); do [ "$(shims)" = 0 ] && break; sleep 0.1; done
is "$(shims)" "0" "no shim left"
is "$(grep -c " $C/state/io.containerd.runtime.v2.task/k8s.io/$P1" /proc/self/mountinfo)" "0" "no mount left"
is "$(ls "$SOCKS" | wc -l)" "0" "no socket left"
left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d -path "*/wpcri-$$/podp1/*" 2>/dev/null)
is "$(printf '%s' "$left" | grep -c .)" "0" "no cgroup of a container or the sandbox left (the pod's own is the kubelet's)"
[ -n "$left" ] && printf '%s\n' "$left" | head -5 | sed 's/^/#   /'

# 2. volumes: a hostPath, a read-only one (as ConfigMaps and Secrets are), an emptyDir shared by two containers
mkdir -p vol/rw vol/ro vol/empty
echo "host-data" > vol/rw/in; echo "config-value" > vol/ro/cfg
P2=$(pod p2 pod)
like "$P2" '^[0-9a-f]{64}$' "RunPodSandbox on a CNI network (a bridge inside the test's namespace)"
ip=$("$CRI" "$S" pstatus "$P2" | jq -r '."1"."5"."1" // empty')
like "$ip" '^10\.250\.' "the pod got an address from CNI ($ip)"
mounts="[{\"container_path\":\"/data\",\"host_path\":\"$TMP/vol/rw\"},{\"container_path\":\"/config\",\"host_path\":\"$TMP/vol/ro\",\"readonly\":true},{\"container_path\":\"/shared\",\"host_path\":\"$TMP/vol/empty\"}]"
W=$(ctr "$P2" p2 "{\"name\":\"writer\",\"image\":\"$R/demo/prober:v1\",\"args\":[\"w:/shared/from-writer\"],\"mounts\":$mounts,\"log_path\":\"w.log\"}")
"$CRI" "$S" start "$W" >/dev/null; wait_exited "$W"
V=$(ctr "$P2" p2 "{\"name\":\"volumes\",\"image\":\"$R/demo/prober:v1\",\"args\":[\"r:/data/in\",\"w:/data/out\",\"r:/config/cfg\",\"w:/config/new\",\"r:/shared/from-writer\",\"r:/etc/passwd\",\"l:/\"],\"working_dir\":\"/data\",\"mounts\":$mounts,\"log_path\":\"v.log\"}")
"$CRI" "$S" start "$V" >/dev/null; wait_exited "$V"
log=$(cat "$LOGS/p2/v.log")
like "$log" "read /data/in: host-data" "a hostPath volume is at its container path"
like "$log" "write /data/out: ok" "and writable"
check "what the app wrote is on the host" grep -q pwned vol/rw/out
like "$log" "read /config/cfg: config-value" "a read-only volume is readable"
like "$log" "write /config/new: refused" "but not writable"
check "and nothing was written there" test ! -e vol/ro/new
like "$log" "read /shared/from-writer: pwned" "an emptyDir is shared by two containers of the pod"
like "$log" "read /etc/passwd: refused" "the host's files stay out of reach (the mounts are the only way in)"
T=$(ctr "$P2" p2 "{\"name\":\"tty\",\"image\":\"$R/demo/prober:v1\",\"args\":[\"e:said-on-stderr\"],\"tty\":true,\"log_path\":\"tty.log\"}")
"$CRI" "$S" start "$T" >/dev/null; wait_exited "$T"
like "$(cat "$LOGS/p2/tty.log")" "stdout [FP] said-on-stderr" "a tty: true container's stderr is in its log, on the one terminal stream"
"$CRI" "$S" rm "$T" >/dev/null
# a wasm component, run by jco (the pod's annotation picks it: the node's default, node,
# runs modules only, and the first engine on PATH that runs components here is the stub)
if [ -x "$JCO_BIN/jco" ]; then
	K=$(ctr "$P2" p2 "{\"name\":\"component\",\"image\":\"$R/demo/comp:v1\",\"args\":[\"from-cri\"],\"envs\":{\"GREETING\":\"cri\"},\"annotations\":{\"dev.wasmpack.engine\":\"jco\"},\"log_path\":\"comp.log\"}")
	"$CRI" "$S" start "$K" >/dev/null; wait_exited "$K"
	log=$(cat "$LOGS/p2/comp.log")
	like "$log" "stdout F arg\[1\]=from-cri" "a wasm component runs through the CRI (jco), with the container's args"
	like "$log" "stdout F env GREETING=cri" "its env"
	like "$log" "stdout F Hello from the image" "and the image's files"
	is "$(st "$K" 10):$(st "$K" 7)" "Completed:" "and completes"
	"$CRI" "$S" rm "$K" >/dev/null
else
	skip "jco is not installed (scripts/deps.sh installs it into .deps/jco)"
fi
# a Spin HTTP app as SpinKube runs it: command "/", SPIN_HTTP_LISTEN_ADDR 0.0.0.0:80 (the
# default), a variable from the pod's env; it answers on the pod's IP, port 80
if [ -x "$JCO_BIN/jco" ] && [ -f "$BUILD/testdata/http-hello.wasm" ]; then
	SP=$(ctr "$P2" p2 "{\"name\":\"spin\",\"image\":\"$R/demo/spin:v1\",\"command\":[\"/\"],\"envs\":{\"SPIN_VARIABLE_WHO\":\"kubelet\"},\"log_path\":\"spin.log\"}")
	"$CRI" "$S" start "$SP" >/dev/null
	for _ in $(seq 1 150); do inns curl -s -o /dev/null "http://$ip/.well-known/spin/health" && break; sleep 0.1; done
	is "$(inns curl -sS "http://$ip/hello")" "hello from a C component, from a pod" \
		"a Spin app (image layout) answers on the pod's IP, port 80, through the CRI"
	is "$(inns curl -sS "http://$ip/var/who")" "kubelet" "with SPIN_VARIABLE_* from the pod's env"
	is "$(st "$SP" 3)" "1" "and keeps running (CONTAINER_RUNNING)"
	[ "$(st "$SP" 3)" = 1 ] || { status "$SP" | sed 's/^/#   /' | cut -c1-600; sed 's/^/#   /' "$LOGS/p2/spin.log" | tail -5; }
	"$CRI" "$S" stop "$SP" 10 >/dev/null
	is "$(st "$SP" 3):$(st "$SP" 7)" "2:" "StopContainer: SIGTERM, it drains and exits 0"
	"$CRI" "$S" rm "$SP" >/dev/null
else
	skip "jco or the wasi:http test component is missing"
fi
"$CRI" "$S" stopp "$P2" >/dev/null && "$CRI" "$S" rmp "$P2" >/dev/null
ok $? "the CNI pod is removed"

# 4. exec (kubectl exec, exec probes): a wasm module of the container's root
P4=$(pod p4)
E=$(ctr "$P4" p4 "{\"name\":\"probed\",\"image\":\"$R/demo/probed:v1\",\"args\":[\"600\"],\"envs\":{\"EXIT_CODE\":\"4\"},\"mounts\":$mounts,\"log_path\":\"probed.log\"}")
"$CRI" "$S" start "$E" >/dev/null
out=$("$CRI" "$S" execsync "$E" 10 /exitcode.wasm 0)
is "$(jq -r '."1"' <<<"$out")" "exiting with 0" "ExecSync runs a module of the container's root, its stdout returned"
is "$(jq -r '."3" // 0' <<<"$out")" "0" "with its exit code (0)"
out=$("$CRI" "$S" execsync "$E" 10 /exitcode.wasm 7)
is "$(jq -r '."3" // 0' <<<"$out")" "7" "and a failing probe's (7)"
out=$("$CRI" "$S" execsync "$E" 10 /exitcode.wasm)
is "$(jq -r '."1"' <<<"$out")" "exiting with 4" "the container's env reaches the exec"
out=$("$CRI" "$S" execsync "$E" 10 /prober.wasm r:/data/in r:/config/cfg w:/config/x r:/etc/passwd)
like "$(jq -r '."1"' <<<"$out")" "read /data/in: host-data" "the exec sees the container's volumes"
like "$(jq -r '."1"' <<<"$out")" "write /config/x: refused" "read-only ones read-only"
like "$(jq -r '."1"' <<<"$out")" "read /etc/passwd: refused" "and inside the same confinement"
start=$(date +%s%N)
err=$("$CRI" "$S" execsync "$E" 1 /sleeper.wasm 60 2>&1); rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" -ne 0 ] && [ "$ms" -lt 6000 ]; ok $? "an exec past its timeout is stopped (${ms} ms)"
like "$err" "timeout|timed out|deadline" "and says so"
# an exec joins the container's PID namespace (the container's engine is PID 2 there,
# under wasmpack's init), as runc's exec does
"$CRI" "$S" execsync "$E" 30 /sleeper.wasm 25 >/dev/null 2>&1 &
xs=$!
for _ in $(seq 1 100); do xp=$(pgrep -n -f "wasmpack-node-wasi.js .*sleeper.wasm 25") && break; sleep 0.1; done
cp_=$(pgrep -n -f "wasmpack-node-wasi.js .*sleeper.wasm 600" || true)
[ -n "${xp:-}" ] && [ -n "$cp_" ] && [ "$(readlink "/proc/$xp/ns/pid")" = "$(readlink "/proc/$cp_/ns/pid")" ] &&
	[ "$(readlink "/proc/$xp/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; ok $? "an exec runs in the container's PID namespace"
kill "$xs" 2>/dev/null; [ -n "${xp:-}" ] && kill "$xp" 2>/dev/null; wait "$xs" 2>/dev/null
err=$("$CRI" "$S" execsync "$E" 10 sh -c 'cat /etc/shadow' 2>&1); rc=$?
is "$rc" "1" "exec of anything but a wasm module of the container is refused"
like "$err" "exec runs a wasm module of the container's root, named by its first argument" "saying what exec supports"
url=$("$CRI" "$S" exec "$E" /exitcode.wasm 0)
like "$url" '^http://127\.0\.0\.1:[0-9]+/exec/' "Exec (kubectl exec) hands out the streaming server's URL"
# the session itself, over WebSocket (v4.channel.k8s.io) as the API server's exec proxy may
# speak it to containerd's streaming server: stdout, stderr and stdin on their channels,
# the exit code in the status channel
WS=("$PY" "$ROOT/tests/helpers/ws_exec.py")
out=$(inns "${WS[@]}" "$url" 2>"$TMP/ws.err"); rc=$?
is "$out|$rc" "exiting with 0|0" "the kubectl exec session runs the module: its stdout, exit code 0"
out=$(inns "${WS[@]}" "$("$CRI" "$S" exec "$E" /exitcode.wasm 3)" 2>>"$TMP/ws.err"); rc=$?
is "$out|$rc" "exiting with 3|3" "a failing module's exit code comes through the session (3)"
out=$(inns "${WS[@]}" "$("$CRI" "$S" exec "$E" /prober.wasm r:/data/in e:to-stderr r:/etc/passwd)" 2>"$TMP/ws.err"); rc=$?
like "$out" "read /data/in: host-data" "the session's exec sees the container's volumes"
like "$out" "read /etc/passwd: refused" "inside the same confinement"
is "$(cat "$TMP/ws.err")|$rc" "to-stderr|0" "stderr comes on its own channel"
out=$(inns "${WS[@]}" "$("$CRI" "$S" exec -i "$E" /prober.wasm i)" $'typed by a user\n' 2>&1); rc=$?
is "$out|$rc" "stdin: typed by a user|0" "kubectl exec -i: stdin reaches the module"
out=$(inns "${WS[@]}" "$("$CRI" "$S" exec -it "$E" /prober.wasm i e:on-the-terminal)" $'at a terminal\n' 2>&1); rc=$?
is "$out|$rc" $'stdin: at a terminal\non-the-terminal|0' "kubectl exec -it: stdin in, stdout and stderr on the one terminal stream"
out=$(inns "${WS[@]}" "$("$CRI" "$S" exec "$E" sh -c id)" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "a session for anything but a wasm module fails"
like "$out" "exec runs a wasm module of the container's root" "saying what exec supports, as kubectl would show it"
is "$(st "$E" 3)" "1" "the container runs on through its execs"
"$CRI" "$S" stop "$E" 0 >/dev/null; "$CRI" "$S" rm "$E" >/dev/null
"$CRI" "$S" stopp "$P4" >/dev/null; "$CRI" "$S" rmp "$P4" >/dev/null

# the node's signature policy, from the runtime's ConfigPath option: a signed image runs, an
# unsigned one is refused when the kubelet starts it, with the policy's reason
"$WP" tag "$R/demo/hello:v1" "$R/signed/hello:v1" >/dev/null
"$WP" build --wasm "$BUILD/testdata/exitcode.wasm" --env POLICY=unsigned -t "$R/signed/unsigned:v1" >/dev/null
"$WP" tag "$R/signed/unsigned:v1" "$R/demo/alias:v1" >/dev/null
inns "$WP" push -q "$R/signed/hello:v1" "$R/signed/unsigned:v1" "$R/demo/alias:v1" >/dev/null
inns "$WP" sign -q "$R/signed/hello:v1" --key "$TMP/keys/node.pem" >/dev/null
ok $? "an image of the policy's repository is signed"
for i in signed/hello signed/unsigned demo/alias; do "$CRI" "$S" pull "$R/$i:v1" >/dev/null; done
PS=$(pod ps)
G=$(ctr "$PS" ps "{\"name\":\"signed\",\"image\":\"$R/signed/hello:v1\",\"args\":[\"signed-ok\"],\"log_path\":\"signed.log\"}")
"$CRI" "$S" start "$G" >/dev/null; wait_exited "$G"
like "$(cat "$LOGS/ps/signed.log")" "stdout F arg\[1\]=signed-ok" "under the node's policy, the signed image runs through the CRI"
U=$(ctr "$PS" ps "{\"name\":\"unsigned\",\"image\":\"$R/signed/unsigned:v1\",\"log_path\":\"unsigned.log\"}")
err=$("$CRI" "$S" start "$U" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "the unsigned one is refused at StartContainer"
like "$err" "signature policy .*policy.toml \(rule '$R/signed', line 1\) refuses it: .*is not signed" \
	"with the policy's reason in the CRI error (what kubectl describe shows)"
check "and it never ran" test ! -s "$LOGS/ps/unsigned.log"
# the same content under a name no rule covers: judged under every name containerd has for it
L=$(ctr "$PS" ps "{\"name\":\"alias\",\"image\":\"$R/demo/alias:v1\",\"log_path\":\"alias.log\"}")
err=$("$CRI" "$S" start "$L" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "the unsigned content asked for under another name is refused too"
like "$err" "refuses it: .*signed/unsigned@.*is not signed" "naming the covered name it also has"
"$CRI" "$S" rm "$G" >/dev/null; "$CRI" "$S" rm "$U" >/dev/null 2>&1; "$CRI" "$S" rm "$L" >/dev/null 2>&1
"$CRI" "$S" stopp "$PS" >/dev/null; "$CRI" "$S" rmp "$PS" >/dev/null

# 3. the kubelet's restart (attempt 1 in the same sandbox), and 20 pods at once
P3=$(pod p3)
R0=$(ctr "$P3" p3 "{\"name\":\"app\",\"attempt\":0,\"image\":\"$R/demo/exitcode:v1\",\"args\":[\"1\"],\"log_path\":\"app/0.log\"}")
"$CRI" "$S" start "$R0" >/dev/null; wait_exited "$R0"
R1=$(ctr "$P3" p3 "{\"name\":\"app\",\"attempt\":1,\"image\":\"$R/demo/exitcode:v1\",\"args\":[\"0\"],\"log_path\":\"app/1.log\"}")
"$CRI" "$S" start "$R1" >/dev/null; wait_exited "$R1"
is "$(st "$R1" 10)" "Completed" "a container created again in the same sandbox (attempt 1) runs"
like "$(cat "$LOGS/p3/app/1.log")" "exiting with 0" "with its own log"
"$CRI" "$S" stopp "$P3" >/dev/null; "$CRI" "$S" rmp "$P3" >/dev/null
ids=() starts=()
for i in $(seq 1 20); do ids+=("$(pod "m$i")"); done
for i in $(seq 1 20); do
	c=$(ctr "${ids[$((i - 1))]}" "m$i" "{\"name\":\"c\",\"image\":\"$R/demo/exitcode:v1\",\"args\":[\"0\"],\"log_path\":\"c.log\"}")
	"$CRI" "$S" start "$c" >/dev/null &
	starts+=($!)
done
wait "${starts[@]}"   # (not every job: containerd and the registries run in the background too)
ran=0
for i in $(seq 1 20); do for _ in $(seq 1 50); do grep -q "exiting with 0" "$LOGS/m$i/c.log" 2>/dev/null && break; sleep 0.1; done
	grep -q "exiting with 0" "$LOGS/m$i/c.log" 2>/dev/null && ran=$((ran + 1)); done
is "$ran" "20" "20 pods at once all run"
for id in "${ids[@]}"; do "$CRI" "$S" stopp "$id" >/dev/null; "$CRI" "$S" rmp "$id" >/dev/null; done
for _ in $(seq 1 50); do [ "$(shims)" = 0 ] && break; sleep 0.1; done
is "$(shims):$(ls "$SOCKS" | wc -l)" "0:0" "and are cleaned up: no shim, no socket"

done_testing
