#!/usr/bin/env bash
# The node's signature policy (issue 17): per registry or repository prefix, which keys
# must have signed an image before it runs. `wasmpack run` and `unpack` honour it
# (--policy, $WASMPACK_POLICY, /etc/wasmpack/policy.toml), and the containerd shim checks
# it at Create (containerd's environment names the file). Signatures come from the image's
# registry (`wasmpack sign`); a registry that cannot be asked fails closed.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if ! command -v docker-registry >/dev/null || ! command -v openssl >/dev/null; then
	skip "needs docker-registry and openssl (scripts/deps.sh installs them)"
	done_testing
	exit
fi
export WASMPACK_CACHE=$TMP/cache
unset WASMPACK_POLICY
port=$(free_port)
start_registry plain "$port" || { ok 1 "a registry starts"; done_testing; exit 1; }
R=127.0.0.1:$port
mkdir -p keys app/static && printf 'Hello, signed\n' > app/static/greeting.txt
openssl ecparam -name prime256v1 -genkey -noout -out keys/team.pem 2>/dev/null &&
	openssl ec -in keys/team.pem -pubout -out keys/team.pub 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out keys/other.pem 2>/dev/null &&
	openssl ec -in keys/other.pem -pubout -out keys/other.pub 2>/dev/null
push() { "$WP" build --wasm "$HELLO" --file app/static:static "${@:2}" -t "$R/$1" --push --plain-http >/dev/null; }
push signed/app:v1
push signed/unsigned:v1 --env X=1
push signed/sandbox/tool:v1 --env X=2
push open/app:v1 --env X=3
push signed/byother:v1 --env X=4
"$WP" sign "$R/signed/app:v1" --plain-http --key keys/team.pem >/dev/null
"$WP" sign "$R/signed/byother:v1" --plain-http --key keys/other.pem >/dev/null
cat > policy.toml <<TOML
# every image of $R/signed must be signed by the team's key, but its sandbox
[[rule]]
match = "$R/signed"
keys = ["keys/team.pub"]

[[rule]]
match = "$R/signed/sandbox"
keys = []
TOML

out=$("$WP" run --policy policy.toml "$R/signed/app:v1" -- one 2>&1); rc=$?
is "$rc" "0" "a signed image under the policy runs"
like "$out" "arg\[1\]=one" "(it ran)"
check "its verdict is remembered in the node cache" test -n "$(ls "$WASMPACK_CACHE/verified" 2>/dev/null)"
err=$("$WP" run --policy policy.toml "$R/signed/unsigned:v1" 2>&1); rc=$?
is "$rc" "5" "an unsigned image a rule covers: refused (exit 5)"
like "$err" "signature policy policy.toml \(rule '$R/signed', line 2\) refuses it: .*is not signed" \
	"saying which rule and why"
unlike_() { ! grep -q "$2" <<<"$1"; ok $? "$3"; }
unlike_ "$err" "Hello, signed" "and the app did not run"
err=$("$WP" run --policy policy.toml "$R/signed/byother:v1" 2>&1); rc=$?
is "$rc" "5" "an image signed by another key: refused"
like "$err" "none of its 1 signature\(s\) verifies with .*team\.pub" "naming the key it wanted"
out=$("$WP" run --policy policy.toml "$R/signed/sandbox/tool:v1" -- s 2>&1); rc=$?
is "$rc:$(grep -c 'arg\[1\]=s' <<<"$out")" "0:1" "a longer match with keys = [] needs no signature"
out=$("$WP" run --policy policy.toml "$R/open/app:v1" -- o 2>&1); rc=$?
is "$rc:$(grep -c 'arg\[1\]=o' <<<"$out")" "0:1" "an image no rule matches runs as before"
rm -rf u1
err=$("$WP" unpack --policy policy.toml "$R/signed/unsigned:v1" -o u1 2>&1); rc=$?
is "$rc" "5" "unpack honours the policy too"
check "and writes nothing" test ! -e u1
check "unpack of the signed image" "$WP" unpack --policy policy.toml "$R/signed/app:v1" -o u2

# $WASMPACK_POLICY; and a warm run (an image already unpacked) is checked all the same
"$WP" run "$R/signed/unsigned:v1" >/dev/null 2>&1
is "$?" "0" "without a policy the unsigned image runs (now in the node cache)"
WASMPACK_POLICY=$TMP/policy.toml "$WP" run "$R/signed/unsigned:v1" >/dev/null 2>&1
is "$?" "5" "with WASMPACK_POLICY the warm run is refused too"
id=$("$WP" images --format json | jq -r --arg n "$R/signed/unsigned:v1" '.[] | select(.name == $n) | .digest')
WASMPACK_POLICY=$TMP/policy.toml "$WP" run "${id#sha256:}" >/dev/null 2>&1
is "$?" "5" "run by its id, the store's name for it is what the policy judges"

# one content under two names: judged under both (a name no rule covers is no way round)
"$WP" tag "$R/signed/unsigned:v1" "$R/open/alias:v1" >/dev/null
err=$("$WP" run --policy policy.toml "$R/open/alias:v1" 2>&1); rc=$?
is "$rc" "5" "unsigned content run by a name no rule covers, while a covered name holds it too: refused"
like "$err" "signed/unsigned@.*is not signed" "naming the covered name"

# a signed index covers its manifests (sign signs what the tag names: here an index)
"$WP" build --wasm "$HELLO" --file app/static:static --env MULTI=1 -t m-wasm:v1 >/dev/null
"$WP" build --force --wasm "$HELLO" --platform linux/amd64 -t m-linux:v1 >/dev/null
"$WP" index create "$R/signed/multi:v1" m-wasm:v1 m-linux:v1 >/dev/null && "$WP" push --plain-http "$R/signed/multi:v1" >/dev/null
"$WP" sign "$R/signed/multi:v1" --plain-http --key keys/team.pem >/dev/null
out=$(WASMPACK_STORE=$TMP/s-multi "$WP" run --policy policy.toml "$R/signed/multi:v1" -- from-index 2>&1); rc=$?
is "$rc:$(grep -c 'arg\[1\]=from-index' <<<"$out")" "0:1" "a manifest of a signed index runs (the index its tag names is signed)"
"$WP" build --wasm "$HELLO" --file app/static:static --env MULTI=2 -t m-wasm:v2 >/dev/null
"$WP" index create "$R/signed/multi2:v1" m-wasm:v2 m-linux:v1 >/dev/null && "$WP" push --plain-http "$R/signed/multi2:v1" >/dev/null
err=$(WASMPACK_STORE=$TMP/s-multi2 "$WP" run --policy policy.toml "$R/signed/multi2:v1" 2>&1); rc=$?
is "$rc" "5" "an unsigned index's manifest is refused"

# a tag moved to other content after signing
push signed/app:v1 --env MOVED=1
err=$("$WP" run --policy policy.toml "$R/signed/app:v1" 2>&1); rc=$?
is "$rc" "5" "a tag moved to unsigned content after signing: refused"

# a registry that cannot be asked: closed, not open
dead=$(free_port)
"$WP" tag "$R/open/app:v1" "127.0.0.1:$dead/signed/app:v1" >/dev/null
printf '[[rule]]\nmatch = "127.0.0.1:%s"\nkeys = ["keys/team.pub"]\n' "$dead" > dead.toml
err=$("$WP" run --policy dead.toml "127.0.0.1:$dead/signed/app:v1" 2>&1); rc=$?
is "$rc" "5" "a registry that cannot be reached: refused (fail closed)"
like "$err" "cannot check .*signature, so it does not run \(fail closed\)" "and it says so"

# a policy that cannot be read refuses everything
printf '[[rule]]\nmatch = "%s/signed"\nkey = ["keys/team.pub"]\n' "$R" > typo.toml
err=$("$WP" run --policy typo.toml "$R/open/app:v1" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "a policy with a typo refuses every image"
like "$err" "unknown setting 'key'.*refusing to run images until it is fixed" "naming the typo"
printf '[[rule]]\nmatch = "%s/signed"\nkeys = ["keys/missing.pub"]\n' "$R" > nokey.toml
err=$("$WP" run --policy nokey.toml "$R/open/app:v1" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "a policy naming a key file that is missing refuses too"
like "$err" "missing.pub" "naming the file"

# An attestation signed with the team's key is not a signature (issue 22, 2): only the
# predicate types a rule accepts count, and a verdict remembered before (keyed without
# them, as earlier versions wrote it) is not honoured.
if command -v node >/dev/null && [ -d "$ROOT/.deps/sigstore/node_modules" ]; then
	push signed/sbom:v1 --env SBOM=1
	sdig=$("$WP" inspect "$R/signed/sbom:v1" --format json | jq -r .digest)
	node "$ROOT/tests/helpers/sigstore.mjs" sign keys/team.pem "$sdig" "$R/signed/sbom" https://spdx.dev/Document \
		'{"spdxVersion":"SPDX-2.3"}' > sbom.json
	"$WP" attach "$R/signed/sbom:v1" --plain-http --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json \
		"sbom.json:application/vnd.dev.sigstore.bundle.v0.3+json" >/dev/null
	# the verdict file an earlier wasmpack wrote after accepting the SBOM: sha256 of the
	# digest and the rule's keys
	old=$( { printf '%s\n' "$sdig"; cat keys/team.pub; printf '\n--\n'; } | sha256sum | cut -c1-64)
	mkdir -p "$WASMPACK_CACHE/verified" && printf '%s' "$sdig" > "$WASMPACK_CACHE/verified/$old"
	err=$("$WP" run --policy policy.toml "$R/signed/sbom:v1" 2>&1); rc=$?
	is "$rc" "5" "an image with only an SBOM signed by the team's key: refused, a verdict remembered before notwithstanding"
	like "$err" "attestation of type 'https://spdx.dev/Document', not a signature" "saying what the bundle is"
	printf '[[rule]]\nmatch = "%s/signed"\nkeys = ["keys/team.pub"]\npredicate_types = ["https://spdx.dev/Document"]\n' "$R" > sbom.toml
	out=$("$WP" run --policy sbom.toml "$R/signed/sbom:v1" -- sbom-ok 2>&1); rc=$?
	is "$rc:$(grep -c 'arg\[1\]=sbom-ok' <<<"$out")" "0:1" "a rule whose predicate_types names the SBOM's type accepts it"
	err=$("$WP" run --policy policy.toml "$R/signed/sbom:v1" 2>&1); rc=$?
	is "$rc" "5" "and that verdict does not carry over to a rule with the default types"
	printf '[[rule]]\nmatch = "%s/signed"\nkeys = ["keys/team.pub"]\npredicate_types = "x"\n' "$R" > badpt.toml
	err=$("$WP" run --policy badpt.toml "$R/open/app:v1" 2>&1); rc=$?
	[ "$rc" -ne 0 ]; ok $? "predicate_types that is not a list: the policy refuses everything"
else
	skip "needs node and sigstore-js (scripts/deps.sh) for the attestation checks"
fi

# Another spelling of the registry is the same registry (issue 22, 6): one function puts
# the image's name and every rule's match in one form before they meet.
lport=localhost:${R#127.0.0.1:}
"$WP" tag "$R/signed/unsigned:v1" "LOCALHOST:${R#127.0.0.1:}/signed/unsigned:v1" >/dev/null
"$WP" tag "$R/signed/unsigned:v1" "$lport/signed/unsigned:v1" >/dev/null
printf '[[rule]]\nmatch = "%s/signed"\nkeys = ["keys/team.pub"]\n' "$lport" > lower.toml
printf '[[rule]]\nmatch = "LocalHost.:%s/Signed"\nkeys = ["keys/team.pub"]\n' "${R#127.0.0.1:}" > upper.toml
for spelling in "lower.toml LOCALHOST:${R#127.0.0.1:}/signed/unsigned:v1" "upper.toml $lport/signed/unsigned:v1" \
	"upper.toml LOCALHOST:${R#127.0.0.1:}/signed/unsigned:v1"; do
	set -- $spelling
	err=$(WASMPACK_NO_FRONT= "$WP" run --policy "$1" "$2" 2>&1); rc=$?
	is "$rc" "5" "rule spelled as in $1, image named $2: the unsigned image is refused"
	like "$err" "refuses it" "(by the policy: ${err:0:120})"
done
"$WP" tag "$R/signed/unsigned:v1" "localhost/team/app:v1" >/dev/null
"$WP" tag "$R/signed/unsigned:v1" "hubapp:v1" >/dev/null
printf '[[rule]]\nmatch = "LOCALHOST.:443/team"\nkeys = ["keys/team.pub"]\n[[rule]]\nmatch = "index.docker.io/hubapp"\nkeys = ["keys/team.pub"]\n' > hosts.toml
# (a port with leading zeros is held to the same by test_policy.c: the reference parser
# takes five digits at most, and the tests' ports have five)
"$WP" tag "$R/signed/unsigned:v1" "[::ffff:127.0.0.1]:${R#127.0.0.1:}/signed/unsigned:v1" >/dev/null
err=$("$WP" run --policy policy.toml "[::ffff:127.0.0.1]:${R#127.0.0.1:}/signed/unsigned:v1" 2>&1); rc=$?
is "$rc" "5" "the registry's address IPv4-mapped ([::ffff:127.0.0.1]) under the rule for $R/signed: refused"
for img in localhost/team/app:v1 hubapp:v1 docker.io/library/hubapp:v1; do
	err=$("$WP" run --policy hosts.toml "$img" 2>&1); rc=$?
	is "$rc" "5" "$img under a rule written with :443, a trailing dot or Docker Hub's alias: refused"
	like "$err" "signature policy" "(by the policy)"
done

# /etc/wasmpack/policy.toml (issue 22, 8): only a name that is not there means no policy; a
# link to nothing (the file's, or its folder's), a folder, a FIFO or a file the user may
# not read refuses every image. Tried in a mount namespace of its own over a copy of /etc,
# so the machine's /etc is not touched.
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
	chmod 755 "$TMP" && mkdir -p nobody && chown 65534:65534 nobody
	for kind in absent missing dangling dangling-folder folder fifo unreadable; do
		rm -rf etc && cp -a /etc etc && rm -rf etc/wasmpack
		case $kind in
		missing) mkdir etc/wasmpack ;;
		dangling) mkdir etc/wasmpack && ln -s /nonexistent/policy.toml etc/wasmpack/policy.toml ;;
		dangling-folder) ln -s /nonexistent/wasmpack etc/wasmpack ;;
		folder) mkdir -p etc/wasmpack/policy.toml ;;
		fifo) mkdir etc/wasmpack && mkfifo etc/wasmpack/policy.toml ;;
		unreadable) mkdir etc/wasmpack && cp policy.toml etc/wasmpack/policy.toml && chmod 000 etc/wasmpack ;;
		esac
		as="" store=$TMP/store
		[ $kind = unreadable ] && as="setpriv --reuid=65534 --regid=65534 --clear-groups" store=$TMP/nobody/store
		err=$(unshare -m sh -c 'mount --bind "$1" /etc && shift && exec "$@"' sh "$TMP/etc" \
			timeout 20 $as env HOME="$TMP/nobody" WASMPACK_STORE="$store" WASMPACK_CACHE="$TMP/nobody/cache-$kind" \
			"$WP" run --plain-http "$R/open/app:v1" 2>&1); rc=$?
		if [ $kind = absent ] || [ $kind = missing ]; then
			is "$rc" "0" "/etc/wasmpack/policy.toml not there ($kind): no policy, the image runs"
		else
			is "$rc" "1" "/etc/wasmpack/policy.toml a $kind one: every image is refused (exit 1, not a hang)"
			like "$err" "signature policy.*(cannot be read|not a regular file|Permission denied).*refusing to run images" \
				"saying why (${err:0:160})"
		fi
	done
	rm -rf etc
	chmod 700 "$TMP"
else
	skip "needs root and unshare for the default policy's checks"
fi

# ---- the shim, under containerd: the policy from containerd's environment ----
if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null || ! command -v ctr >/dev/null || ! command -v node >/dev/null; then
	skip "needs root, containerd, ctr and node for the shim's part"
	done_testing
	exit
fi
NS=wasmpack-pol-$$
SOCKS=$(mktemp -d /tmp/wpp.XXXXXX)
on_exit "rm -rf '$SOCKS'"
export PATH=$BUILD:$PATH WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_ENGINE=node
C=$TMP/ctd
WASMPACK_POLICY=$TMP/policy.toml WASMPACK_CACHE=$TMP/shimcache start_containerd "$C"
ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
push signed/app:v2
"$WP" sign "$R/signed/app:v2" --plain-http --key keys/team.pem >/dev/null
for i in signed/app:v2 signed/unsigned:v1; do ctr_ images pull --plain-http --platform wasip1/wasm "$R/$i" >/dev/null 2>&1; done
out=$(ctr_ run --rm --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 "$R/signed/app:v2" p1 /hello.wasm via-shim 2>&1); rc=$?
is "$rc" "0" "the shim runs a signed image under the node's policy"
like "$out" "arg\[1\]=via-shim" "(it ran)"
err=$(ctr_ run --rm --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 "$R/signed/unsigned:v1" p2 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "and refuses an unsigned one at Create"
like "$err" "signature policy .*policy.toml \(rule '$R/signed', line 2\) refuses it: .*is not signed" \
	"with the reason containerd (and kubectl describe) shows"
unlike_ "$err" "Hello, signed" "the app did not run"
ctr_ c rm p2 >/dev/null 2>&1
# an image whose covered name's registry cannot be asked: closed at Create too
printf '\n[[rule]]\nmatch = "127.0.0.1:%s"\nkeys = ["keys/team.pub"]\n' "$dead" >> policy.toml
ctr_ images tag "$R/open/app:v1" "127.0.0.1:$dead/gone/app:v1" >/dev/null 2>&1 ||
	{ ctr_ images pull --plain-http --platform wasip1/wasm "$R/open/app:v1" >/dev/null 2>&1 &&
	  ctr_ images tag "$R/open/app:v1" "127.0.0.1:$dead/gone/app:v1" >/dev/null 2>&1; }
err=$(ctr_ run --rm --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 "127.0.0.1:$dead/gone/app:v1" p3 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "the shim refuses an image whose registry it cannot ask"
like "$err" "fail closed" "saying it failed closed"
ctr_ c rm p3 >/dev/null 2>&1

# The digest that was verified is the digest that runs (issue 22, 4). A registry that
# stalls its referrers answer (the proxy holds it while a file "hold" exists) gives time
# to move the tag between the policy's check and the start.
H=$BUILD/tests/helpers
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
pport=$(free_port)
mkdir -p rproxy && cd rproxy
$PY "$ROOT/tests/helpers/referrers_proxy.py" "$pport" "${R#127.0.0.1:}" > ../proxy.log 2>&1 &
on_exit "kill $! 2>/dev/null"
cd "$TMP"
wait_http "http://127.0.0.1:$pport/v2/" || echo "# the referrers proxy did not start"
P=127.0.0.1:$pport
printf '\n[[rule]]\nmatch = "%s/race"\nkeys = ["keys/team.pub"]\n' "$P" >> policy.toml
# an artifact: __shim-verify judges the signed manifest while the stall lasts, the tag
# moves to unsigned content, and the fetch that follows refuses what it now finds
"$WP" build --layout wasm --wasm "$HELLO" -t "$P/race/art:v1" --push --plain-http >/dev/null
"$WP" sign "$P/race/art:v1" --plain-http --key keys/team.pem >/dev/null
"$WP" build --layout wasm --wasm "$EXITC" -t "$P/race/art:evil" --push --plain-http >/dev/null
for t in v1 evil; do "$WP" save "$P/race/art:$t" -o "art-$t.tar" >/dev/null && ctr_ images import --all-platforms --no-unpack "art-$t.tar" >/dev/null; done
printf '{"ociVersion":"1.0.2","process":{"args":["app","race"],"env":[],"cwd":"/"},"root":{"path":"rootfs"}}' > spec-race.json
"$H/ctd_container" "$C/c.sock" "$NS" create race1 "$P/race/art:v1" io.containerd.wasmpack.v1 spec-race.json
touch rproxy/hold
ctr_ task start race1 > race1.out 2>&1 &
starter=$!
for _ in $(seq 1 100); do [ -e rproxy/held ] && break; sleep 0.1; done
check "the registry is holding the referrers answer" test -e rproxy/held
ctr_ images tag --force "$P/race/art:evil" "$P/race/art:v1" >/dev/null 2>&1
rm -f rproxy/hold
wait "$starter"; rc=$?
[ "$rc" -ne 0 ]; ok $? "an artifact whose tag moved after its signature was checked: refused"
like "$(cat race1.out)" "changed while the container was being created" "saying the image changed ($(head -c 200 race1.out))"
unlike_ "$(cat race1.out)" "exiting with" "the unsigned app did not run"
ctr_ task rm race1 >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete race1 >/dev/null 2>&1
# the image layout: the container's snapshot was made from unsigned content, then the
# name moved to signed content before the start (ctr 1.6's `containers create` unpacks
# for the machine's platform only: these images say linux/amd64)
"$WP" build --force --wasm "$HELLO" --platform linux/amd64 --env RACE=signed -t "$P/race/img:v1" --push --plain-http >/dev/null
"$WP" sign "$P/race/img:v1" --plain-http --key keys/team.pem >/dev/null
"$WP" build --force --wasm "$EXITC" --platform linux/amd64 -t "$P/race/img:evil" --push --plain-http >/dev/null
for t in v1 evil; do ctr_ images pull --plain-http "$P/race/img:$t" >pull.out 2>&1 || tail -3 pull.out | sed "s/^/#   pull: /"; done
ctr_ images tag --force "$P/race/img:v1" "$P/race/img:signed" >/dev/null 2>&1
ctr_ images tag --force "$P/race/img:evil" "$P/race/img:v1" >/dev/null 2>&1
ctr_ containers create --snapshotter native --runtime io.containerd.wasmpack.v1 "$P/race/img:v1" race2 \
	/exitcode.wasm 3 >race2.create 2>&1 || sed "s/^/#   create: /" race2.create
ctr_ images tag --force "$P/race/img:signed" "$P/race/img:v1" >/dev/null 2>&1
out=$(ctr_ task start race2 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "an image whose container rootfs came from other content than the signed image the name now names: refused"
like "$out" "rootfs was prepared from other content" "saying so (${out:0:200})"
unlike_ "$out" "exiting with" "the unsigned app did not run"
ctr_ task rm race2 >/dev/null 2>&1; ctr_ containers rm race2 >/dev/null 2>&1
# and the same made from the signed content runs
ctr_ containers create --snapshotter native --runtime io.containerd.wasmpack.v1 "$P/race/img:v1" race3 \
	/hello.wasm race3 >/dev/null 2>&1
out=$(ctr_ task start race3 2>&1)
like "$out" "arg\[1\]=race3" "a container made from the signed image runs"
ctr_ task rm race3 >/dev/null 2>&1; ctr_ containers rm race3 >/dev/null 2>&1

ctr_ images rm "$R/signed/app:v2" "$R/signed/unsigned:v1" "$R/open/app:v1" "127.0.0.1:$dead/gone/app:v1" >/dev/null 2>&1
done_testing
