#!/usr/bin/env bash
# run: an image's app through a real wasm engine (node's WASI here: the one Debian ships),
# for each layout; the app's exit status passes through; the node cache is made once per
# manifest, also when two runs race for it.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if ! command -v node >/dev/null; then
	skip "node is not installed (scripts/deps.sh installs it)"
	done_testing
	exit
fi
export WASMPACK_CACHE=$TMP/cache
mkdir -p app/static && printf 'Hello from the image\n' > app/static/greeting.txt

"$WP" build --wasm "$HELLO" --file app/static:static --env GREETING=hi -t img:v1 >/dev/null
out=$("$WP" run --engine node img:v1 --env EXTRA=1 -- world 2>&1); rc=$?
is "$rc" "0" "image layout: the app runs and exits 0"
like "$out" "arg\[0\]=/hello.wasm" "argv[0] is the image's entrypoint"
like "$out" "arg\[1\]=world" "the arguments after -- reach the app"
like "$out" "env GREETING=hi" "the image's environment reaches the app"
like "$out" "env EXTRA=1" "--env adds to it"
like "$out" "Hello from the image" "the app reads its static file from the image's rootfs"
is "$(ls "$TMP/cache" | grep -c '^[0-9a-f]\{64\}$')" "1" "one cache entry, named by the manifest digest"
digest=$("$WP" inspect img:v1 --format json | jq -r .digest)
check "the entry is the image's manifest digest" test -d "$TMP/cache/${digest#sha256:}"
ino1=$(stat -c %i "$TMP/cache/${digest#sha256:}")
"$WP" run --engine node img:v1 >/dev/null 2>&1
is "$(stat -c %i "$TMP/cache/${digest#sha256:}")" "$ino1" "a second run reuses the unpacked entry"

# Other sources (docs/node.md): an OCI archive, imported into the store first; and a
# registry reference not in the store, pulled through it first.
"$WP" save img:v1 -o img.tar >/dev/null
out=$(WASMPACK_STORE=$TMP/s-arch "$WP" run --engine node oci-archive:img.tar:docker.io/library/img:v1 -- from-archive 2>&1); rc=$?
is "$rc:$(grep -c 'arg\[1\]=from-archive' <<<"$out")" "0:1" "run oci-archive:FILE:NAME runs the archived app"
is "$(WASMPACK_STORE=$TMP/s-arch "$WP" inspect "$digest" --format json | jq -r .digest)" "$digest" "its blobs are now in the store (untagged), the same digest"
check "unpack oci-archive:FILE" env WASMPACK_STORE=$TMP/s-arch2 "$WP" unpack oci-archive:img.tar -o "$TMP/u-arch"
check "gives the app's files" cmp "$TMP/u-arch/rootfs/static/greeting.txt" app/static/greeting.txt
if command -v docker-registry >/dev/null; then
	rport=$(free_port)
	start_registry runreg "$rport" || ok 1 "registry starts"
	"$WP" tag img:v1 "127.0.0.1:$rport/demo/img:v1" >/dev/null
	"$WP" push --plain-http "127.0.0.1:$rport/demo/img:v1" >/dev/null
	out=$(WASMPACK_STORE=$TMP/s-reg "$WP" run --plain-http --engine node "127.0.0.1:$rport/demo/img:v1" -- from-registry 2>&1); rc=$?
	is "$rc:$(grep -c 'arg\[1\]=from-registry' <<<"$out")" "0:1" "run of a registry reference not in the store pulls and runs it"
	is "$(WASMPACK_STORE=$TMP/s-reg "$WP" images --format json | jq -r '.[0].name + " " + .[0].digest')" \
		"127.0.0.1:$rport/demo/img:v1 $digest" "the pulled image is in the store under its name and digest"
	check "unpack of a registry reference not in the store" env WASMPACK_STORE=$TMP/s-reg2 "$WP" unpack --plain-http "127.0.0.1:$rport/demo/img:v1" -o "$TMP/u-reg"
	check "gives the app's files" cmp "$TMP/u-reg/rootfs/static/greeting.txt" app/static/greeting.txt
else
	skip "docker-registry is not installed"
fi

"$WP" build --wasm "$EXITC" -t exit:v1 >/dev/null
"$WP" run --engine node exit:v1 -- 7 >/dev/null 2>&1
is "$?" "7" "the app's exit status is run's exit status"
"$WP" run --engine node exit:v1 -- 0 >/dev/null 2>&1
is "$?" "0" "and 0 stays 0"

"$WP" build --layout wasm --wasm "$HELLO" -t w:v1 >/dev/null
out=$("$WP" run --engine node w:v1 --dir "$TMP/app/static:/static" -- a b 2>&1); rc=$?
is "$rc" "0" "wasm layout: runs, with a host folder mapped in by --dir"
like "$out" "arg\[0\]=/hello.wasm" "argv[0] is the module's absolute path in the app's root, as in the image layout (issue 25)"
like "$out" "arg\[2\]=b" "the arguments reach the module"
like "$out" "Hello from the image" "the --dir folder is visible at its guest path"
out=$("$WP" run --engine node w:v1 2>&1); rc=$?
is "$rc" "1" "without the folder the app fails as it would anywhere"
like "$out" "cannot open /static/greeting.txt" "and says what it missed"

"$WP" build --layout spin --wasm "$HELLO" --file app/static:static --env GREETING=spin -t sp:cmd >/dev/null
out=$("$WP" run --engine node sp:cmd -- x 2>&1); rc=$?
is "$rc" "0" "spin layout, command trigger: runs"
like "$out" "env GREETING=spin" "with the component's environment"
like "$out" "arg\[1\]=x" "and the arguments"
like "$out" "Hello from the image" "and the component's files at their destination"

mkdir -p spin && cp "$HELLO" spin/app.wasm
printf 'spin_manifest_version = 2\n[application]\nname = "s"\n[[trigger.http]]\nroute = "/..."\ncomponent = "c"\n[component.c]\nsource = "app.wasm"\n' > spin/spin.toml
"$WP" build spin -t sp:http >/dev/null
err=$(PATH=/usr/bin:/bin "$WP" run sp:http 2>&1); rc=$?
is "$rc" "3" "a Spin HTTP app without spin installed: exit 3 (not found)"
like "$err" "install spin" "and the error says what to install"
err=$("$WP" run --engine node sp:http 2>&1); rc=$?
is "$rc" "2" "the node engine for an HTTP app: a usage error"
like "$err" "only spin, or wasmpack.s own Spin trigger" "that says which engine can run it"

err=$(PATH=/usr/bin:/bin "$WP" run --engine wasmtime img:v1 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "an engine that is not installed: non-zero exit"
like "$err" "not on PATH" "naming the problem"
err=$("$WP" run --engine node "oci:$TMP/nosuch:x" 2>&1); rc=$?
is "$rc" "3" "a source that does not exist: exit 3"
like "$err" "nosuch.*not an OCI image layout" "naming it"
err=$("$WP" run --engine node w:v1 --dir nocolon 2>&1); rc=$?
is "$rc" "2" "--dir without HOST:GUEST: a usage error"

# Engine choice: --engine, then the image's dev.wasmpack.engine annotation (a known engine
# only), then the first found on PATH; a fake wasmtime first on PATH shows which ran.
mkdir -p fakebin && printf '#!/bin/sh\necho "fake wasmtime $*"\n' > fakebin/wasmtime && chmod +x fakebin/wasmtime
"$WP" build --wasm "$HELLO" --file app/static:static --annotation dev.wasmpack.engine=node -t pref:v1 >/dev/null
out=$(PATH=$TMP/fakebin:$PATH "$WP" run pref:v1 -- p 2>&1)
like "$out" "arg\[1\]=p" "the image's preferred engine (node) runs it, not the first on PATH"
out=$(PATH=$TMP/fakebin:$PATH "$WP" run --engine wasmtime pref:v1 2>&1)
like "$out" "^fake wasmtime run " "--engine wins over the annotation"
"$WP" build --wasm "$HELLO" --annotation dev.wasmpack.engine=/bin/sh -t evil-engine:v1 >/dev/null
out=$(PATH=$TMP/fakebin:$PATH "$WP" run evil-engine:v1 2>&1)
like "$out" "^fake wasmtime run " "an annotation naming no known engine is ignored (first on PATH runs)"

# The cache entry is read-only to the app (as root: a private read-only bind mount), so no
# run changes what the next one starts from; --dir folders stay writable.
if [ "$(id -u)" -eq 0 ]; then
	"$WP" build --wasm "$WRITER" -t writer:v1 >/dev/null
	out=$("$WP" run --engine node writer:v1 -- /evil.txt 2>&1)
	like "$out" "write /evil.txt: refused" "an app cannot write into its cached image"
	wd=$("$WP" inspect writer:v1 --format json | jq -r .digest)
	check "and nothing appeared there" test ! -e "$TMP/cache/${wd#sha256:}/rootfs/evil.txt"
	mkdir -p rw
	out=$("$WP" run --engine node writer:v1 --dir "$TMP/rw:/rw" -- /rw/ok.txt 2>&1)
	like "$out" "write /rw/ok.txt: ok" "a --dir folder stays writable"
	check "and the file is on the host" test -f rw/ok.txt
else
	skip "not root: no read-only view of the cache"; skip "not root"; skip "not root"; skip "not root"
fi

# A warm run is served by the front binary alone: copied away from wasmpack-core, it still
# runs a cached image, and hands anything else to the core it cannot find.
mkdir -p frontonly && cp "$WP" frontonly/wasmpack
out=$(frontonly/wasmpack run --engine node img:v1 -- warm 2>&1); rc=$?
is "$rc" "0" "a cache hit runs without wasmpack-core"
like "$out" "arg\[1\]=warm" "with its arguments"
out=$(frontonly/wasmpack images 2>&1); rc=$?
is "$rc" "1" "every other command goes to the core"
like "$out" "cannot start .*wasmpack-core" "(which is missing here, and it says so)"

# Each engine's command line (fakes that print their arguments): env, preopens and args
# in the form that engine's CLI takes.
mkdir -p fake2
for e in wasmtime wasmedge wasmer; do printf '#!/bin/sh\necho "%s $*"\n' "$e" > "fake2/$e"; chmod +x "fake2/$e"; done
entry=$TMP/cache/${digest#sha256:}
out=$(PATH=$TMP/fake2:$PATH "$WP" run --engine wasmtime img:v1 --env X=1 -- -a b 2>&1)
like "$out" "^wasmtime run .*--env X=1 .*--dir $entry/rootfs::/ $entry/rootfs/hello.wasm -a b\$" "wasmtime: run, --env K=V, --dir HOST::GUEST, module, args"
out=$(PATH=$TMP/fake2:$PATH "$WP" run --engine wasmedge img:v1 --env X=1 -- -a b 2>&1)
like "$out" "^wasmedge .*--env X=1 .*--dir /:$entry/rootfs $entry/rootfs/hello.wasm -a b\$" "wasmedge: --env K=V, --dir GUEST:HOST, module, args"
out=$(PATH=$TMP/fake2:$PATH "$WP" run --engine wasmer img:v1 --env X=1 -- -a b 2>&1)
like "$out" "^wasmer run .*--env X=1 .*--mapdir /:$entry/rootfs $entry/rootfs/hello.wasm -- -a b\$" "wasmer: run, --env K=V, --mapdir GUEST:HOST, module, --, args"

# The node launcher is written once; one that differs (an older version) is replaced.
printf 'garbage(' > "$TMP/cache/wasmpack-node-wasi.js"
out=$("$WP" run --engine node img:v1 -- relaunch 2>&1)
like "$out" "arg\[1\]=relaunch" "a stale node launcher is replaced before the run"
check "and holds the launcher again" grep -q "node:wasi" "$TMP/cache/wasmpack-node-wasi.js"

# gc: the entries of images no longer in the store go, the others stay.
exitd=$("$WP" inspect exit:v1 --format json | jq -r .digest)
check "exit:v1 was unpacked into the cache" test -d "$TMP/cache/${exitd#sha256:}"
mkdir "$TMP/cache/${exitd#sha256:}.tmp-old" && touch -d '1 hour ago' "$TMP/cache/${exitd#sha256:}.tmp-old"
"$WP" rmi exit:v1 >/dev/null
is "$("$WP" gc --format json | jq -r .cacheEntriesRemoved)" "2" "gc removes the entry of a removed image and a stale temp folder"
check "exit:v1's entry is gone" test ! -e "$TMP/cache/${exitd#sha256:}"
check "img:v1's entry stays" test -d "$TMP/cache/${digest#sha256:}"
out=$("$WP" run --engine node img:v1 -- again 2>&1)
like "$out" "arg\[1\]=again" "and still runs"

# Two runs race for the same fresh cache entry: both run, one entry, no temp folders left.
export WASMPACK_CACHE=$TMP/cache2
"$WP" run --engine node img:v1 -- one > r1.out 2>&1 & p1=$!
"$WP" run --engine node img:v1 -- two > r2.out 2>&1 & p2=$!
wait $p1; r1=$?; wait $p2; r2=$?
is "$r1/$r2" "0/0" "two concurrent runs both succeed"
like "$(cat r1.out)" "arg\[1\]=one" "the first ran its app"
like "$(cat r2.out)" "arg\[1\]=two" "the second ran its app"
is "$(ls -A "$TMP/cache2" | grep -v '^wasmpack-node-wasi.js$\|^\.users$' | wc -l)" "1" "one cache entry and nothing else left behind (but the users' bookkeeping)"

# The app's environment (a pod's Secrets often are) stays off the engine's command line,
# which every user of the machine can read in /proc, and out of -v's log.
SLEEPER=$BUILD/testdata/sleeper.wasm
"$WP" build --wasm "$SLEEPER" -t sleepy:v1 >/dev/null
"$WP" run --engine node sleepy:v1 --env DB_PASSWORD=hunter2-s3cret -- 30 > sleepy.out 2>&1 &
sp=$!
for _ in $(seq 1 100); do grep -q "sleeper started" sleepy.out 2>/dev/null && break; sleep 0.05; done
cmdlines=$(for p in $(pgrep -f "sleeper.wasm"); do tr '\0' ' ' < "/proc/$p/cmdline"; echo; done)
like "$cmdlines" "wasmpack-node-wasi.js" "(the node engine runs the app)"
is "$(grep -c 'hunter2' <<<"$cmdlines")" "0" "the app's env values are on no command line"
kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
out=$("$WP" run --engine node img:v1 --env DB_PASSWORD=hunter2-s3cret -- x 2>&1)
like "$out" "env DB_PASSWORD=hunter2-s3cret" "yet the app sees them"
out=$(PATH=$TMP/fakebin:$PATH "$WP" run --verbose --engine wasmtime img:v1 --env DB_PASSWORD=hunter2-s3cret 2>&1 | grep 'debug: engine')
like "$out" "--env DB_PASSWORD=\.\.\." "-v names the env a command-line engine gets"
is "$(grep -c hunter2 <<<"$out")" "0" "without its values"

# The engines' runners are files of their own (node/runners), checked as JavaScript and
# embedded byte for byte.
if command -v node >/dev/null; then
	for r in "$ROOT"/node/runners/*; do
		check "node --check $(basename "$r"): valid JavaScript" node --check "$r"
	done
	check "the node launcher written into the node cache is node/runners/node-wasi.cjs" \
		cmp "$ROOT/node/runners/node-wasi.cjs" "$(ls "$WASMPACK_CACHE"/wasmpack-node-wasi.js "$TMP"/cache*/wasmpack-node-wasi.js 2>/dev/null | head -1)"
fi

# What the engine can reach under `wasmpack run` (issue 22, 1 and the depth items): a
# network namespace of its own with only a loopback (--network host keeps the host's), a
# PID namespace of its own under wasmpack's init (PID 1, which passes SIGTERM on and the
# exit status through), a seccomp filter, no capabilities.
if [ -r /proc/self/ns/net ] && command -v node >/dev/null; then
	for mode in none host; do
		netopt=(); [ $mode = host ] && netopt=(--network host)
		"$WP" run --engine node "${netopt[@]}" sleepy:v1 -- 30 > "ns-$mode.out" 2>&1 &
		sp=$!
		for _ in $(seq 1 100); do grep -q "sleeper started" "ns-$mode.out" 2>/dev/null && break; sleep 0.05; done
		ep=$(pgrep -n -f "wasmpack-node-wasi.js.*sleeper.wasm")
		if [ $mode = none ]; then
			[ -n "$ep" ] && [ "$(readlink "/proc/$ep/ns/net")" != "$(readlink /proc/self/ns/net)" ]; ok $? \
				"the engine has a network namespace of its own"
			like "$(ls "/proc/$ep/root/sys/class/net" 2>/dev/null; nsenter -t "$ep" -n ip -o link 2>/dev/null | cut -d: -f2 | tr -d ' ')" \
				"^lo$" "holding only a loopback"
			is "$(nsenter -t "$ep" -n ip -o link show lo 2>/dev/null | grep -c 'UP')" "1" "which is up"
			[ "$(readlink "/proc/$ep/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; ok $? "and a PID namespace of its own"
			like "$(grep NSpid "/proc/$ep/status")" "NSpid:\s+$ep\s+2$" "where it is PID 2, under wasmpack's init"
			init=$(ps -o ppid= -p "$ep" | tr -d ' ')
			like "$(grep NSpid "/proc/$init/status")" "NSpid:\s+$init\s+1$" "and the init is PID 1"
			like "$(grep '^Seccomp:' "/proc/$ep/status")" "Seccomp:\s+2" "the engine runs under a seccomp filter"
			like "$(grep '^CapEff:' "/proc/$ep/status")" "CapEff:\s+0+$" "with no capabilities"
			like "$(grep '^NoNewPrivs:' "/proc/$ep/status")" "NoNewPrivs:\s+1" "and no_new_privs"
			is "$(ls -A "/proc/$ep/root/etc/ssl" 2>&1 | tr '\n' ' ')" "$(ls -d /etc/ssl/certs /etc/ssl/openssl.cnf 2>/dev/null | xargs -rn1 basename | tr '\n' ' ')" \
				"of /etc/ssl it sees the CA certificates only, no private folder"
			start=$(date +%s%N)
			kill -TERM "$sp"
			wait "$sp"; rc=$?
			took=$(( ($(date +%s%N) - start) / 1000000 ))
			is "$rc" "143" "SIGTERM to the run reaches the engine through the init: the run ends by SIGTERM (143)"
			[ "$took" -lt 5000 ]; ok $? "promptly (${took} ms)"
			check "the engine is gone" sh -c "! kill -0 $ep 2>/dev/null"
		else
			[ -n "$ep" ] && [ "$(readlink "/proc/$ep/ns/net")" = "$(readlink /proc/self/ns/net)" ]; ok $? \
				"--network host: the engine shares the host's network"
			kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
		fi
	done
	err=$("$WP" run --network bridge sleepy:v1 2>&1); rc=$?
	is "$rc" "2" "--network takes none or host"
	"$WP" build --wasm "$EXITC" -t ec:v1 >/dev/null
	"$WP" run --engine node ec:v1 -- 7 >/dev/null 2>&1
	is "$?" "7" "the engine's exit status passes through the init"
	WASMPACK_NO_FRONT=1 "$WP" run --engine node ec:v1 -- 9 >/dev/null 2>&1
	is "$?" "9" "through the core too"
else
	skip "needs node and /proc/self/ns for the namespace checks"
fi

# An app whose memory grows past 100 MiB: node 20 crashed at exit now and then (about one
# run in three) until its GC ran on one thread; eight runs in a row must all exit 0.
if command -v node >/dev/null; then
	"$WP" build --wasm "$HOG" -t hog:v1 >/dev/null
	fails=0
	for _ in 1 2 3 4 5 6 7 8; do
		out=$("$WP" run --engine node hog:v1 -- 150 2>&1) || fails=$((fails + 1))
	done
	is "$fails" "0" "an app that grows its memory to 150 MiB exits 0 under node, 8 runs of 8"
	like "$out" "hog: done" "having allocated it all"
else
	skip "node is not installed"
fi

done_testing
