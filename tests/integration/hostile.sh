#!/usr/bin/env bash
# Hostile images, three ways: `wasmpack unpack` refuses them for the reason each is about;
# `wasmpack run` and `ctr run` through the shim (where containerd, not wasmpack, unpacks
# the image layout) cannot reach the host through them, because the engine sees only its
# confined root. A canary file on the host must stay unread and a file must not appear
# where an app tried to write; while an app runs, its engine's mountinfo holds only the
# app's root, the device nodes and read-only engine paths.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
PROBER=$BUILD/testdata/prober.wasm
MKTAR="python3 $ROOT/tests/helpers/mktar.py"
if ! command -v node >/dev/null || ! command -v python3 >/dev/null; then
	skip "needs node and python3 (scripts/deps.sh installs them)"
	done_testing
	exit
fi
export WASMPACK_CACHE=$TMP/cache
mkdir -p canary && TOKEN="canary-$RANDOM$RANDOM" && echo "$TOKEN" > canary/secret.txt
CANARY=$TMP/canary/secret.txt
REL=${CANARY#/}       # the canary's path from the host's /
TREL=${TMP#/}         # the test folder's path from the host's /

# A chain that climbs out through links that each look inside as text (the review's
# escape): E2 -> E/.., ..., E12 -> E11/.., then leak -> E12/<canary>. E must reach the
# parent of the root by some trick of its own.
climb() { # climb E: the entries after E's
	local e=$1 prev=$1
	for i in $(seq 2 12); do echo "s:$e$i>$prev/.."; prev=$e$i; done
	echo "s:leak>$prev/$REL"
}
# Each case: a name, the reason unpack must give, and the layer's entries.
declare -A WHY ENTRIES PROBE_UP
case_() { WHY[$1]=$2; ENTRIES[$1]=$3; PROBE_UP[$1]=$4; }
case_ chain "x1' -> 'a/..' leads outside the root: it climbs above the root" \
	"s:a>. s:x1>a/.. $(climb x1)" x112
case_ absolute "leads outside the root: it is absolute" "s:leak>$CANARY s:hostdir>$TMP" hostdir
case_ proc "leads outside the root: it is absolute" "s:leak>/proc/self/root$CANARY s:p>/proc/self/root/$TREL" p
case_ hardlink-to-link "'up' -> '..' leads outside the root: it climbs above the root" \
	"d:d s:d/up>.. h:up>d/up $(climb up)" up12
case_ dir-then-link "x2' -> 'x/..' leads outside the root: it climbs above the root" \
	"d:d s:x>d/.. s:d>. $(climb x | sed 's/^/ /' | tr -d '\n')" x12
# the last case: d is a folder when x is checked, a link to "." once the layer is in

# prober.wasm as the image's entrypoint, the hostile layer over it.
$MKTAR base.tar "F:prober.wasm=$PROBER" "d:tmp"
image_of() { # image_of NAME LAYER.tar -> an OCI layout in $TMP/img-NAME, tag x
	local d=$TMP/img-$1 b l cfg cd mf md
	mkdir -p "$d/blobs/sha256"
	b=$(sha256sum base.tar | cut -d' ' -f1); cp base.tar "$d/blobs/sha256/$b"
	l=$(sha256sum "$2" | cut -d' ' -f1); cp "$2" "$d/blobs/sha256/$l"
	cfg="{\"architecture\":\"wasm\",\"os\":\"wasip1\",\"config\":{\"Entrypoint\":[\"/prober.wasm\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$b\",\"sha256:$l\"]}}"
	cd=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1); printf '%s' "$cfg" > "$d/blobs/sha256/$cd"
	mf="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd\",\"size\":${#cfg}},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$b\",\"size\":$(stat -c %s base.tar)},{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$l\",\"size\":$(stat -c %s "$2")}]}"
	md=$(printf '%s' "$mf" | sha256sum | cut -d' ' -f1); printf '%s' "$mf" > "$d/blobs/sha256/$md"
	printf '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"x"}}]}' "$md" "${#mf}" > "$d/index.json"
}
# What an app run through a case tries: read the canary through the chain, the link, and
# the climbing link directly; write beside the canary; list what the climb reaches.
probes() { # probes CASE
	echo "r:/leak" "r:/${PROBE_UP[$1]}/$REL" "w:/${PROBE_UP[$1]}/$TREL/pwned-$1" "l:/${PROBE_UP[$1]}" "r:/proc/self/root$CANARY"
}
unharmed() { # unharmed DESCRIPTION OUTPUT CASE
	unlike "$2" "$TOKEN" "$1: the canary stays unread"
	check "$1: nothing is written on the host" test ! -e "$TMP/pwned-$3"
	unlike "$2" "list /[^:]*:.* (boot|home|proc|root)( |$)" "$1: the host's root is not what the app lists"
}
unlike() { ! [[ $1 =~ $2 ]]; ok $? "$3"; }

for c in chain absolute proc hardlink-to-link dir-then-link; do
	# shellcheck disable=SC2086
	$MKTAR "$c.tar" ${ENTRIES[$c]}
	image_of "$c" "$c.tar"
	err=$("$WP" unpack "oci:$TMP/img-$c:x" -o "$TMP/out-$c" 2>&1); rc=$?
	is "$rc" "1" "unpack $c: refused"
	like "$err" "${WHY[$c]}" "unpack $c: the error names the link and why"
	check "unpack $c: nothing left behind" test ! -e "$TMP/out-$c"
	# shellcheck disable=SC2046
	out=$("$WP" run --engine node "oci:$TMP/img-$c:x" -- $(probes "$c") 2>&1); rc=$?
	is "$rc" "1" "run $c: refused before the engine starts"
	unharmed "run $c" "$out" "$c"
done

# A link judged fine when written, unsafe once a later entry changed what it passes
# through: the whole tree is judged again at the end.
$MKTAR late.tar "d:d" "s:x>d/.." "s:d>."
image_of late late.tar
err=$("$WP" unpack "oci:$TMP/img-late:x" -o "$TMP/out-late" 2>&1); rc=$?
is "$rc" "1" "a folder replaced by a link after a link through it was checked: refused"
like "$err" "the unpacked layers: symbolic link 'x' -> 'd/..' leads outside the root: it climbs above the root" \
	"once the layer is in, naming the link"
check "and nothing is left" test ! -e "$TMP/out-late"

# A link swapped inside one layer (issue 22): x -> a/b/c/../../.. while a/b/c is a folder
# (inside), then a/b/c becomes a link to ../.. (x now climbs three levels out), then a file
# is written through x. Two guards stop it (openat2's RESOLVE_BENEATH, and the path judged
# through the links on disk now); it is a confinement refusal (exit 1), not a digest one,
# and nothing appears anywhere above the root.
SWAP=pwned-swap-$RANDOM$RANDOM
for via in "x/$SWAP" "x/sub/$SWAP" "a/b/c/../../$SWAP"; do
	$MKTAR swap.tar "d:a" "d:a/b" "d:a/b/c" "s:x>a/b/c/../../.." "s:a/b/c>../.." "f:$via=pwned"
	image_of swap swap.tar
	mkdir -p "$TMP/out-swap/deep"
	err=$("$WP" unpack "oci:$TMP/img-swap:x" -o "$TMP/out-swap/deep/root" 2>&1); rc=$?
	is "$rc" "1" "a link made to climb by a later entry of its layer, then written through ($via): refused (exit 1)"
	like "$err" "escap|leads outside|outside the root" "saying it leaves the root (${err:0:150})"
	check "nothing is left" test ! -e "$TMP/out-swap/deep/root"
	out=$("$WP" run --engine node "oci:$TMP/img-swap:x" 2>&1); rc=$?
	is "$rc" "1" "run of it: refused"
	found=$(find "$TMP" /tmp -maxdepth 4 -name "$SWAP*" 2>/dev/null; ls -d "/$SWAP" 2>/dev/null)
	is "$found" "" "no file of the layer appears above the root"
done

# Whiteouts that name the folder itself or its parent are bad entries, not deletions.
for w in .wh.. .wh...; do
	$MKTAR "wh.tar" "f:$w"
	image_of "wh$w" wh.tar
	err=$("$WP" unpack "oci:$TMP/img-wh$w:x" -o "$TMP/out-wh" 2>&1); rc=$?
	is "$rc" "1" "a whiteout '$w': refused"
	like "$err" "bad whiteout entry '$w'" "as a bad entry"
	check "and nothing is left" test ! -e "$TMP/out-wh"
done

# Spin locked apps whose inline files are not base64 (one decoded to length -1 and read
# out of bounds): a clear error, nothing left.
spin_lock_image() { # spin_lock_image NAME FILES-JSON -> oci:$TMP/lock-NAME:x
	local d=$TMP/lock-$1 wd ld md
	mkdir -p "$d/blobs/sha256"
	wd=$(sha256sum "$HELLO" | cut -d' ' -f1); cp "$HELLO" "$d/blobs/sha256/$wd"
	printf '{"spin_lock_version":1,"metadata":{"name":"e"},"triggers":[{"id":"t","trigger_type":"command","trigger_config":{"component":"c"}}],"components":[{"id":"c","source":{"content_type":"application/wasm","digest":"sha256:%s"},"files":%s}]}' "$wd" "$2" > "lock-$1.json"
	ld=$(sha256sum "lock-$1.json" | cut -d' ' -f1); cp "lock-$1.json" "$d/blobs/sha256/$ld"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.fermyon.spin.application.v1+config","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.wasm.content.layer.v1+wasm","digest":"sha256:%s","size":%d}]}' \
		"$ld" "$(stat -c %s "lock-$1.json")" "$wd" "$(stat -c %s "$HELLO")" > "mf-$1.json"
	md=$(sha256sum "mf-$1.json" | cut -d' ' -f1); cp "mf-$1.json" "$d/blobs/sha256/$md"
	printf '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"x"}}]}' "$md" "$(stat -c %s "mf-$1.json")" > "$d/index.json"
}
i=0
for inl in "====" "a===" "ab" "!!!!" "aGk=aGk=" "aGk"; do
	i=$((i + 1))
	spin_lock_image "inl$i" "[{\"path\":\"x.txt\",\"inline\":\"$inl\"}]"
	err=$("$WP" unpack "oci:$TMP/lock-inl$i:x" -o "$TMP/out-inl" 2>&1); rc=$?
	is "$rc" "1" "inline content '$inl': refused"
	like "$err" "bad inline content for 'x.txt': not base64" "inline content '$inl': said so"
	check "inline content '$inl': nothing left" test ! -e "$TMP/out-inl"
done
spin_lock_image inl-ok '[{"path":"x.txt","inline":"aGk="},{"path":"e.txt","inline":""}]'
"$WP" unpack "oci:$TMP/lock-inl-ok:x" -o "$TMP/out-inl-ok" >/dev/null 2>&1
ok $? "good inline content unpacks"
is "$(cat "$TMP/out-inl-ok/files/c/x.txt")" "hi" "to its bytes"
check "an empty inline file is an empty file" test -f "$TMP/out-inl-ok/files/c/e.txt" -a ! -s "$TMP/out-inl-ok/files/c/e.txt"

# A link inside a Spin archive layer.
mkdir -p spin/static && cp "$HELLO" spin/app.wasm && echo hello > spin/static/a.txt
printf 'spin_manifest_version = 2\n[application]\nname = "s"\n[[trigger.cmd]]\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\nfiles = [{ source = "static", destination = "/" }]\n' > spin/spin.toml
SPIN_OCI_ARCHIVE_LAYERS=1 "$WP" build spin -o "oci:$TMP/sp-evil:x" >/dev/null
$MKTAR spin-evil.tar.gz "f:a.txt=hello" "s:a>." "s:x1>a/.." $(climb x1)
if [ -d sp-evil ]; then
	md=$(jq -r '.manifests[0].digest' sp-evil/index.json)
	nl=$(sha256sum spin-evil.tar.gz | cut -d' ' -f1); cp spin-evil.tar.gz "sp-evil/blobs/sha256/$nl"
	jq -c --arg d "sha256:$nl" --argjson s "$(stat -c %s spin-evil.tar.gz)" \
		'.layers |= map(if .mediaType == "application/vnd.wasm.content.bundle.v1.tar+gzip" then .digest = $d | .size = $s else . end)' \
		"sp-evil/blobs/sha256/${md#sha256:}" > spm.json
	nd=$(sha256sum spm.json | cut -d' ' -f1); cp spm.json "sp-evil/blobs/sha256/$nd"
	jq -c --arg d "sha256:$nd" --argjson s "$(stat -c %s spm.json)" '.manifests[0].digest = $d | .manifests[0].size = $s' \
		sp-evil/index.json > spi.json && mv spi.json sp-evil/index.json
	err=$("$WP" unpack "oci:$TMP/sp-evil:x" -o "$TMP/out-sp" 2>&1); rc=$?
	is "$rc" "1" "a link out of a Spin archive layer: refused"
	like "$err" "x1' -> 'a/..' leads outside the root" "naming the link"
	check "and nothing is left" test ! -e "$TMP/out-sp"
else
	ok 1 "copying a Spin image into an OCI layout"
fi

# ---- confinement of `wasmpack run` itself: links the unpacker never saw ----
# A host folder given with --dir, and a cache entry changed after it was unpacked (as an
# older wasmpack could have left it), both holding the climbing chain.
$MKTAR good.tar "f:ok.txt=fine"
image_of good good.tar
mkdir -p evil && (cd evil && ln -s . a && ln -s a/.. x1 && for i in $(seq 2 12); do ln -s "x$((i - 1))/.." "x$i"; done && ln -s "x12/$REL" leak)
confined_run() { # confined_run DESCRIPTION [RUNNER...]
	local desc=$1 out entry
	shift
	out=$("$@" "$WP" run --engine node "oci:$TMP/img-good:x" --dir "$TMP/evil:/evil" -- \
		r:/evil/leak "r:/evil/x12/$REL" "w:/evil/x12/$TREL/pwned-dir" l:/evil/x12 "r:/proc/self/root$CANARY" r:/ok.txt 2>&1)
	like "$out" "read /ok.txt: fine" "$desc: the app runs and reads its own file"
	like "$out" "read /evil/leak: refused" "$desc: the chain in a --dir folder does not reach the canary"
	unharmed "$desc, --dir" "$out" dir
	entry=$(ls -d "$WASMPACK_CACHE"/*/rootfs 2>/dev/null | head -1)
	if [ -n "$entry" ]; then
		(cd "$entry" && ln -sfn . a && ln -sfn a/.. x1 && for i in $(seq 2 12); do ln -sfn "x$((i - 1))/.." "x$i"; done &&
			ln -sfn "x12/$REL" leak) 2>/dev/null
		out=$("$@" "$WP" run --engine node "oci:$TMP/img-good:x" -- r:/leak "r:/x12/$REL" "w:/x12/$TREL/pwned-entry" l:/x12 2>&1)
		like "$out" "read /leak: refused" "$desc: a chain planted in the cache entry does not reach the canary"
		unharmed "$desc, cache entry" "$out" entry
	fi
}
confined_run "run as root"
if [ "$(id -u)" -eq 0 ] && unshare -U true 2>/dev/null; then
	# The same as an unprivileged user, confined through a user namespace of its own.
	rm -rf "$WASMPACK_CACHE"
	mkdir -p nobody && cp -r "$WASMPACK_STORE" nobody/store && chown -R 65534:65534 nobody evil
	chmod 755 "$TMP"
	WASMPACK_STORE=$TMP/nobody/store WASMPACK_CACHE=$TMP/nobody/cache confined_run "run as nobody" \
		setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=$TMP/nobody
	chown -R 0:0 evil
else
	skip "an unprivileged run needs root to switch to nobody and user namespaces"
fi

# Where the kernel gives an unprivileged user no user namespace, `wasmpack run` runs only
# trees whose every link stays inside them, and says once that the run is not confined.
# Such a kernel is made here for real: a user namespace (ids mapped one to one) whose
# user.max_user_namespaces is 0, and in it the run as nobody.
without_userns() { # CMD... : runs CMD as nobody where no user namespace can be made
	# The ids are mapped from outside once the namespace exists; the exec after that is
	# by uid 0 of the namespace, so it has the capabilities to set the limit.
	unshare -U sh -c 'i=0; while [ -z "$(cat /proc/self/uid_map)" ]; do i=$((i + 1)); [ $i -gt 250 ] && exit 98; sleep 0.02; done
		exec sh -c "echo 0 > /proc/sys/user/max_user_namespaces || exit 99
			exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \"\$@\"" sh "$@"' sh "$@" &
	local pid=$!
	for _ in $(seq 1 200); do
		[ "$(readlink "/proc/$pid/ns/user" 2>/dev/null)" != "$(readlink /proc/self/ns/user)" ] && break
		sleep 0.01
	done
	echo "0 0 65536" > "/proc/$pid/uid_map" && echo "0 0 65536" > "/proc/$pid/gid_map"
	wait "$pid"
}
if [ "$(id -u)" -eq 0 ] && unshare -U true 2>/dev/null; then
	rm -rf nobody && mkdir -p nobody && cp -r "$WASMPACK_STORE" nobody/store && chown -R 65534:65534 nobody
	export WASMPACK_STORE=$TMP/nobody/store WASMPACK_CACHE=$TMP/nobody/cache
	out=$(without_userns env HOME=$TMP/nobody "$WP" run --engine node "oci:$TMP/img-good:x" -- r:/ok.txt "r:/proc/self/root$CANARY" 2>&1); rc=$?
	is "$rc" "0" "no user namespace: a good image still runs"
	like "$out" "read /ok.txt: fine" "no user namespace: the app reads its own file"
	is "$(grep -c 'warning: the app runs unconfined' <<<"$out")" "1" "and it says once, on stderr, that the run is not confined"
	entry=$(ls -d "$WASMPACK_CACHE"/*/rootfs 2>/dev/null | head -1)
	if [ -n "$entry" ]; then
		(cd "$entry" && ln -sfn . a && ln -sfn a/.. x1 && for i in $(seq 2 12); do ln -sfn "x$((i - 1))/.." "x$i"; done &&
			ln -sfn "x12/$REL" leak) 2>/dev/null
		out=$(without_userns env HOME=$TMP/nobody "$WP" run --engine node "oci:$TMP/img-good:x" -- r:/leak "w:/x12/$TREL/pwned-unconfined" 2>&1); rc=$?
		is "$rc" "1" "no user namespace: a tree with a link out (planted in the cache entry) is refused"
		like "$out" "refusing to run unconfined: in '[^']*/rootfs': symbolic link 'x[0-9]+' -> '(a|x[0-9]+)/\.\.' leads outside the root" \
			"saying where, which link and why"
		unharmed "no user namespace" "$out" unconfined
		# A link that stays in the cache entry but leaves the app's root (its rootfs).
		(cd "$entry" && rm -f a x* leak && ln -s ../config.json cfg)
		out=$(without_userns env HOME=$TMP/nobody "$WP" run --engine node "oci:$TMP/img-good:x" -- r:/cfg 2>&1); rc=$?
		is "$rc" "1" "no user namespace: a link from the rootfs up into the cache entry is refused too"
		like "$out" "symbolic link 'cfg' -> '\.\./config\.json' leads outside the root" "naming it"
	else
		ok 1 "the run left a cache entry"
	fi
	export WASMPACK_STORE=$TMP/store WASMPACK_CACHE=$TMP/cache
else
	skip "a run without user namespaces needs root to make one whose limit is 0"
fi

# While an app runs: what the engine process sees.
mountinfo_only_app() { # mountinfo_only_app DESCRIPTION PID APP-ROOT [RW-ROOT]
	local desc=$1 mi bad
	mi=$(cat "/proc/$2/mountinfo" 2>/dev/null)
	[ -n "$mi" ]; ok $? "$desc: the engine's mountinfo is readable"
	# Every mount point, with whether it is read-only.
	bad=$(awk -v app="$3" -v rw="${4:-}" '{
		mp = $5; ro = ($6 ~ /(^|,)ro(,|$)/)
		if (mp == "/" && ro) next
		if (mp ~ /^\/dev\/(null|zero|full|random|urandom)$/) next
		if (mp == rw) next
		if (ro && (mp == app || mp ~ /^\/usr(\/|$)/ || mp ~ /^\/etc\// || mp ~ /wasmpack-node-wasi\.js$/)) next
		print mp (ro ? " ro" : " rw")
	}' <<<"$mi")
	is "$bad" "" "$desc: only the app, the device nodes and read-only engine paths are mounted"
	unlike "$mi" " /(root|home|proc|sys|run|var/lib/containerd|tmp) " "$desc: no /root, /home, /proc, /sys, /run, /tmp of the host"
	unlike "$mi" "shadow" "$desc: no /etc/shadow"
}
"$WP" run --engine node "oci:$TMP/img-good:x" -- s:5 >run-wait.log 2>&1 &
RUNPID=$!
for _ in $(seq 1 50); do grep -q "prober waiting" run-wait.log && break; sleep 0.1; done
epid=$(pgrep -n -f "prober.wasm s:5")
entry=$(ls -d "$WASMPACK_CACHE"/*/ | head -1)
mountinfo_only_app "wasmpack run" "$epid" "$(realpath "${entry%/}")"
kill "$RUNPID" "$epid" 2>/dev/null; wait "$RUNPID" 2>/dev/null

# ---- under containerd, through the shim: containerd unpacks the image layout ----
if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null || ! command -v skopeo >/dev/null ||
	! command -v docker-registry >/dev/null; then
	skip "the shim part needs root, containerd, skopeo and docker-registry"
	done_testing
	exit
fi
NS=wasmpack-hostile-$$
SOCKS=$(mktemp -d /tmp/wps.XXXXXX)
on_exit "rm -rf '$SOCKS'"
export PATH=$BUILD:$PATH WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_ENGINE=node
C=$TMP/ctd
start_containerd "$C"
on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
PORT=$(free_port)
start_registry reg "$PORT"
R=127.0.0.1:$PORT
for c in chain absolute proc hardlink-to-link dir-then-link; do
	skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$TMP/img-$c:x" "docker://$R/h-$c:v1" >/dev/null 2>&1
	if ! ctr_ images pull --plain-http --platform wasip1/wasm "$R/h-$c:v1" >pull-$c.log 2>&1; then
		# containerd may refuse the layer itself; then nothing runs, which is as good.
		ok 0 "ctr $c: containerd refused to unpack it"
		continue
	fi
	# shellcheck disable=SC2046
	out=$(ctr_ run --rm --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 \
		"$R/h-$c:v1" "h-$c" /prober.wasm $(probes "$c") 2>&1); rc=$?
	is "$rc" "0" "ctr $c: the app runs under the shim"
	like "$out" "read /leak: refused" "ctr $c: the link does not reach the canary"
	unharmed "ctr $c" "$out" "$c"
done
# The engine's view under the shim, and its rootfs, the only writable mount.
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:$TMP/img-good:x" "docker://$R/good:v1" >/dev/null 2>&1
ctr_ images pull --plain-http --platform wasip1/wasm "$R/good:v1" >/dev/null 2>&1
ctr_ run -d --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 "$R/good:v1" g1 /prober.wasm s:20 >/dev/null 2>&1
for _ in $(seq 1 50); do epid=$(pgrep -n -f "prober.wasm s:20") && break; sleep 0.1; done
rootfs=$(realpath "$C/state/io.containerd.runtime.v2.task/$NS/g1/rootfs")
sleep 0.3
mountinfo_only_app "the shim" "$epid" "" "$rootfs"
like "$(grep " $rootfs " "/proc/$epid/mountinfo")" " rw," "the shim: the container's rootfs is writable, as under runc"
like "$(grep '^Seccomp:' "/proc/$epid/status")" "Seccomp:\s+2" "the shim: the engine runs under wasmpack's seccomp filter"
like "$(grep '^CapEff:' "/proc/$epid/status")" "CapEff:\s+0+$" "the shim: with no capabilities"
[ "$(readlink "/proc/$epid/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; ok $? "the shim: the engine is in the container's own PID namespace"
like "$(grep NSpid "/proc/$epid/status")" "NSpid:\s+$epid\s+2$" "the shim: as PID 2 under wasmpack's init"
init=$(ps -o ppid= -p "$epid" | tr -d ' ')
like "$(tr '\0' ' ' < "/proc/$(ps -o ppid= -p "$init" | tr -d ' ')/cmdline")" "^wasmpack-init 1 " "the shim: the task's process supervises it as wasmpack-init"
ctr_ task kill -s SIGKILL g1 >/dev/null 2>&1
for _ in $(seq 1 50); do ctr_ task ls 2>/dev/null | grep -q "g1.*RUNNING" || break; sleep 0.1; done
ctr_ task rm g1 >/dev/null 2>&1; ctr_ container rm g1 >/dev/null 2>&1
check "the canary is still where it was, unchanged" grep -qx "$TOKEN" "$CANARY"
done_testing
