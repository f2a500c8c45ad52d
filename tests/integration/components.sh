#!/usr/bin/env bash
# Wasm components (issue 16): WASI 0.2 command components made from the sample apps with
# `jco new --wasi-command`, in each layout, run for real by jco on Node.js through
# `wasmpack run` and under containerd through the shim. The engine is chosen by what the
# image holds (a module or a component); the component is transpiled once per content and
# jco version into the node cache, confined, and found there by every later start.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
JCO_BIN=$ROOT/.deps/jco/node_modules/.bin
if ! command -v node >/dev/null || ! [ -x "$JCO_BIN/jco" ]; then
	skip "needs node and jco (scripts/deps.sh installs jco into .deps/jco)"
	done_testing
	exit
fi
# No other engine that runs components (a wasmtime of the host's) on the PATH, so the
# automatic choice is jco's.
export PATH=$JCO_BIN:$BUILD:/usr/sbin:/usr/bin:/sbin:/bin WASMPACK_CACHE=$TMP/cache
unset WASMPACK_ENGINE
JCO_VERSION=$(jq -r .version "$ROOT/.deps/jco/node_modules/@bytecodealliance/jco/package.json")
SHIM_VERSION=$(jq -r .version "$ROOT/.deps/jco/node_modules/@bytecodealliance/jco/node_modules/@bytecodealliance/preview2-shim/package.json")
# the node cache's folder of jco's transpiled forms: jco's and preview2-shim's versions,
# and the digest of wasmpack's transpile and I/O scripts (found after the first run)
JCO_PREFIX=jco-$JCO_VERSION-p2s-$SHIM_VERSION-
mkdir -p app/static && printf 'Hello from the image\n' > app/static/greeting.txt
for a in hello exitcode prober sleeper files; do
	jco new "$BUILD/testdata/$a.wasm" --wasi-command -o "$a.component.wasm" >/dev/null 2>&1
done
is "$(od -An -tx1 -j4 -N4 hello.component.wasm | tr -d ' ')" "0d000100" "jco new makes a component of the sample app (version 0d, layer 1)"

# ---- the image layout: os wasip2, run by jco ----
cp hello.component.wasm app/hello.wasm
(cd app && "$WP" build --wasm hello.wasm --file static --env GREETING=hi -t c-img:v1 >/dev/null)
is "$("$WP" inspect c-img:v1 --format json | jq -r '.config.os + "/" + .config.architecture')" "wasip2/wasm" \
	"--layout image of a component writes os wasip2"
(cd app && "$WP" build --wasm hello.wasm --platform wasip1/wasm -t c-img:p1 >/dev/null)
is "$("$WP" inspect c-img:p1 --format json | jq -r .config.os)" "wasip1" "and --platform still wins"
out=$("$WP" run --verbose c-img:p1 2>&1)
like "$out" "the image says wasip1/wasm, and its wasm is a wasm component \(wasip2\): going by the wasm" \
	"a config that disagrees with the wasm's header: the header decides, and -v says so"
like "$out" "engine jco " "(jco runs it)"
out=$("$WP" run --verbose c-img:v1 --env EXTRA=1 -- world 2>"$TMP/run.err"); rc=$?
is "$rc" "0" "wasmpack run of the component exits 0"
like "$out" "arg\[0\]=/hello.wasm" "argv[0] is the image's entrypoint"
like "$out" "arg\[1\]=world" "the arguments reach the component"
like "$out" "env GREETING=hi" "the image's environment"
like "$out" "env EXTRA=1" "and --env"
like "$out" "Hello from the image" "the component reads its static file at /"
like "$(cat "$TMP/run.err")" "the app's wasm is a wasm component \(wasip2\)" "-v: the app was told a component"
like "$(cat "$TMP/run.err")" "engine jco \(the first installed of wasmtime, jco\): " "and jco chosen for it (node runs modules only)"
sum=$(sha256sum app/hello.wasm | cut -d' ' -f1)
JCO_DIR=$(cd "$TMP/cache/compiled" && ls -d "$JCO_PREFIX"* 2>/dev/null | grep -v -- -sync- | head -1)
like "$JCO_DIR" "^$JCO_PREFIX[0-9a-f]{12}$" "the transpiled forms' folder is named by jco's and the shim's versions and wasmpack's scripts"
entry=$TMP/cache/compiled/$JCO_DIR/$sum
check "the transpiled component is in the node cache, named by the component's sha256 and jco's version" test -f "$entry/app.js"
like "$(cat "$entry/imports.json" 2>/dev/null)" '"wasi:cli/environment@0\.2' "with the component's imports beside it"
is "$(ls -A "$TMP/cache/compiled/$JCO_DIR")" "$sum" "and nothing else there (no temporary folder left)"
for f in bundle.cjs bundle.cache worker.cjs worker.cache; do
	check "the transpile made $f (the shim and the glue as one script, and V8's code cache of it)" test -s "$entry/$f"
done
is "$(grep -c -E '^(import|export) ' "$entry/bundle.cjs")" "0" "the bundle is one CommonJS function, no ES module left in it"
out=$(WASMPACK_JCO_TIMES=1 "$WP" run c-img:v1 2>&1); rc=$?
is "$rc" "0" "a run with the start's times asked for"
like "$out" "wasmpack: jco start: node start [0-9.]+ ms, JS load \(code cache\) [0-9.]+ ms, wasm compile \+ instantiate" \
	"V8 takes the code cache the transpile made (its flags came back to the runner's)"
like "$out" "Hello from the image" "and the component reads its file (through the shim's I/O thread started from worker.cjs)"
cp -a "$entry" "$TMP/entry.saved"
head -c 4096 /dev/urandom > "$entry/bundle.cache"
out=$(WASMPACK_JCO_TIMES=1 "$WP" run c-img:v1 -- x 2>&1); rc=$?
is "$rc" "0" "a code cache V8 does not take (garbage) is no failure"
like "$out" "JS load \(compiled, no usable code cache\)" "the bundle is compiled afresh"
like "$out" "arg\[1\]=x" "and the component runs"
rm -f "$entry/bundle.cjs" "$entry/worker.cjs"
out=$(WASMPACK_JCO_TIMES=1 "$WP" run c-img:v1 -- y 2>&1); rc=$?
is "$rc" "0" "a transpiled form without a bundle (a jco without rolldown) still runs"
like "$out" "JS load \(ES modules, no bundle\)" "from app.js and the shim's modules"
like "$out" "Hello from the image" "reading its file"
rm -rf "$entry" && mv "$TMP/entry.saved" "$entry"
ino=$(stat -c %i "$entry")
out=$("$WP" run --verbose c-img:v1 -- again 2>&1); rc=$?
is "$rc:$(grep -c 'compiling the app' <<<"$out")" "0:0" "a second run is not transpiled again"
is "$(stat -c %i "$entry")" "$ino" "it uses the same entry"
like "$out" "arg\[1\]=again" "and runs"
# the entry is named by the component's content, not by the image holding it
(cd app && "$WP" build --wasm hello.wasm --file static -t c-img:same >/dev/null)
out=$("$WP" run --verbose c-img:same 2>&1)
is "$(grep -c 'compiling the app' <<<"$out")" "0" "another image holding the same component shares the transpiled form"

# gc: a compiled form no start used for 30 days goes, one in use stays (a start touches it)
touch -d '40 days ago' "$entry"
"$WP" run c-img:v1 >/dev/null 2>&1
[ "$(stat -c %Y "$entry")" -gt "$(date -d '1 day ago' +%s)" ]; ok $? "a start marks its transpiled form used"
old_sum=$(sha256sum prober.component.wasm | cut -d' ' -f1)
"$WP" build --layout wasm --wasm prober.component.wasm -t c-old:v1 >/dev/null && "$WP" run c-old:v1 >/dev/null 2>&1
touch -d '40 days ago' "$TMP/cache/compiled/$JCO_DIR/$old_sum"
"$WP" gc >/dev/null
check "gc removes a transpiled form unused for 40 days" test ! -e "$TMP/cache/compiled/$JCO_DIR/$old_sum"
check "and keeps the one in use" test -f "$entry/app.js"

# racing first starts make the entry once
"$WP" build --wasm exitcode.component.wasm -t c-exit:v1 >/dev/null
pids=()
for i in 1 2 3 4; do ("$WP" run c-exit:v1 -- 0 > "race$i.out" 2>&1; echo $? > "race$i.rc") & pids+=($!); done
wait "${pids[@]}"
is "$(cat race1.rc race2.rc race3.rc race4.rc | tr -d '\n')" "0000" "four racing first runs of a component all exit 0"
esum=$(sha256sum exitcode.component.wasm | cut -d' ' -f1)
is "$(ls -A "$TMP/cache/compiled/$JCO_DIR" | grep -c "$esum")" "1" "one transpiled entry for it"
is "$(ls -A "$TMP/cache/compiled/$JCO_DIR" | grep -c '^\.tmp')" "0" "no temporary folder left"
"$WP" run c-exit:v1 -- 0 >/dev/null 2>&1
is "$?" "0" "a component exiting 0: run exits 0"
"$WP" run c-exit:v1 -- 7 >/dev/null 2>&1
is "$?" "1" "exiting 7: run exits 1 (WASI 0.2's exit carries ok or error only)"

# stdin, and signals: SIGTERM ends a component's run as it ends a module's
"$WP" build --wasm prober.component.wasm -t c-prober:v1 >/dev/null
is "$(printf 'typed in\n' | "$WP" run c-prober:v1 -- i 2>&1)" "stdin: typed in" "stdin reaches the component"
"$WP" build --wasm sleeper.component.wasm -t c-sleep:v1 >/dev/null
"$WP" run c-sleep:v1 -- 1 >/dev/null 2>&1
"$WP" run c-sleep:v1 -- 60 > sleep.out 2>&1 &
spid=$!
for _ in $(seq 1 100); do grep -q . sleep.out 2>/dev/null && break; sleep 0.05; done
sleep 0.2
kill -TERM "$spid"
wait "$spid"
is "$?" "143" "SIGTERM ends a sleeping component's run (exit 143)"

# ---- a file's I/O on the app's thread (node/runners/jco-io.mjs), as preview2-shim's
# worker does it: the same lines from both ways, the worker not started for them ----
"$WP" build --layout wasm --wasm files.component.wasm -t c-files:v1 >/dev/null
mkdir -p fl-local fl-worker
out_local=$(printf 'one\ntwo\n' | WASMPACK_JCO_TIMES=1 "$WP" run -v "$TMP/fl-local:/data" c-files:v1 -- /data 2>"$TMP/fl.err"); rc=$?
out_worker=$(printf 'one\ntwo\n' | WASMPACK_JCO_IO=worker "$WP" run -v "$TMP/fl-worker:/data" c-files:v1 -- /data 2>&1)
is "$rc" "0" "the files app runs (a file's I/O on the app's thread)"
for what in "big write" "big read" "stat size" "pread" "seek read" "append" "appended tail" "pwrite" "truncate" \
	"rename" "list" "unlink" "poll a file" "missing file is ENOENT" "no file in a missing folder"; do
	like "$out_local" "$what: ok" "a file's I/O on the app's thread: $what"
done
is "$(tail -3 <<<"$out_local" | tr '\n' ' ')" "one two stdin: 2 lines " "stdin's lines (blocking reads of descriptor 0 on the app's thread)"
is "$out_local" "$out_worker" "the same lines as through preview2-shim's own I/O thread (WASMPACK_JCO_IO=worker)"
is "$(grep -c 'I/O thread asked for' "$TMP/fl.err")" "0" "and the I/O thread was never started for them"
like "$(cat "$TMP/fl.err")" "wasmpack: jco start: node start" "(the start's split says so)"
is "$(ls fl-local)" "$(ls fl-worker)" "the folder holds the same files after both"
out_local=$(printf 'one\n' | WASMPACK_JCO_TIMES=1 "$WP" run -v "$TMP/fl-local:/data" c-files:v1 -- /data poll-stdin 2>&1)
out_worker=$(printf 'one\n' | WASMPACK_JCO_IO=worker "$WP" run -v "$TMP/fl-worker:/data" c-files:v1 -- /data poll-stdin 2>&1)
like "$out_local" "poll a file and stdin: ok" "a poll of a file's pollable with one of the I/O thread's (stdin)"
like "$out_local" "I/O thread asked for" "(which starts the I/O thread)"
is "$(grep -v '^wasmpack: jco start' <<<"$out_local")" "$out_worker" "the same lines as through preview2-shim's own I/O thread"
out=$(printf 'x\n' | WASMPACK_JCO_TIMES=1 "$WP" run c-prober:v1 -- s:0 i 2>&1)
like "$out" "stdin: x" "stdin still reaches a component read line by line"

# ---- the wasm layout and the Spin layout carry components too ----
"$WP" build --layout wasm --wasm hello.component.wasm -t c-art:v1 >/dev/null
is "$("$WP" inspect c-art:v1 --format json | jq -r .config.os)" "wasip2" "the wasm layout of a component: os wasip2"
out=$("$WP" run c-art:v1 --dir "$TMP/app/static:/static" -- a b 2>&1); rc=$?
is "$rc" "0" "wasm layout: the component runs"
like "$out" "arg\[0\]=/hello.component.wasm" "argv[0] is its absolute path in the app's root (issue 25)"
like "$out" "arg\[2\]=b" "with the arguments"
like "$out" "Hello from the image" "and a --dir folder at its guest path"
"$WP" build --layout spin --wasm hello.component.wasm --file app/static:static --env GREETING=spin -t c-spin:v1 >/dev/null
out=$("$WP" run c-spin:v1 -- x 2>&1); rc=$?
is "$rc" "0" "Spin layout (command trigger): the component runs"
like "$out" "env GREETING=spin" "with the component's environment"
like "$out" "arg\[1\]=x" "its arguments"
like "$out" "Hello from the image" "and its files"

# ---- an index of a module and its component: wasip1 first, --platform wasip2/wasm for the component ----
"$WP" build --wasm "$HELLO" --file app/static:static -t m-img:v1 >/dev/null
"$WP" index create both:v1 m-img:v1 c-img:v1 >/dev/null
out=$("$WP" run both:v1 -- from-index 2>&1)
like "$out" "arg\[1\]=from-index" "run of an index of both runs one"
is "$("$WP" run --verbose both:v1 2>&1 | grep -c 'engine node ')" "1" "the module (wasip1/wasm), by default"
is "$("$WP" run --verbose --platform wasip2/wasm both:v1 2>&1 | grep -c 'engine jco ')" "1" "the component with --platform wasip2/wasm"
"$WP" build --force --wasm "$HELLO" --platform linux/amd64 -t lin:v1 >/dev/null
"$WP" index create conly:v1 lin:v1 c-img:v1 >/dev/null
is "$("$WP" run --verbose conly:v1 2>&1 | grep -c 'engine jco ')" "1" "an index of a linux image and a component: its wasip2/wasm entry"

# ---- the engine is chosen by what the image holds ----
err=$("$WP" run --engine node c-img:v1 2>&1); rc=$?
is "$rc" "2" "--engine node for a component: a usage error"
like "$err" "the engine 'node' does not run a wasm component \(wasip2\) such as '/hello.wasm': wasmtime or jco do; installed: jco" \
	"saying which engines would, and which of them are installed (not V8's words)"
err=$("$WP" run --engine jco m-img:v1 2>&1); rc=$?
is "$rc" "2" "--engine jco for a module: a usage error"
like "$err" "the engine 'jco' does not run a wasm module \(wasip1\).*wasmtime, wasmedge, wasmer or node do" "naming the engines for modules"
out=$("$WP" run m-img:v1 -- mod 2>&1); rc=$?
is "$rc" "0" "a module beside it still goes to node"
like "$out" "arg\[1\]=mod" "and runs"
err=$(PATH=$BUILD:/usr/bin:/bin "$WP" run c-img:v1 2>&1); rc=$?
is "$rc" "3" "no engine for components installed: exit 3"
like "$err" "no wasm engine that runs a wasm component \(wasip2\) is installed: install wasmtime \(recommended on nodes\) or jco" \
	"saying what to install"
(cd app && "$WP" build --wasm hello.wasm --file static --annotation dev.wasmpack.engine=node -t c-pref:v1 >/dev/null)
out=$("$WP" run --verbose c-pref:v1 2>&1); rc=$?
is "$rc" "0" "an image preferring node for its component still runs"
like "$out" "prefers the engine 'node', which .*does not run a wasm component" "saying why the preference was passed over"

# ---- what the engine cannot give, and what does not transpile ----
# a component importing an interface no engine here provides (made byte by byte: a type
# section with an empty instance type, an import section naming it)
/usr/bin/python3 - <<'PY'
name = b"example:missing/api@1.0.0"
sec = lambda i, b: bytes([i, len(b)]) + b
open("missing.wasm", "wb").write(b"\0asm\x0d\x00\x01\x00" + sec(7, bytes([1, 0x42, 0]))
                                 + sec(10, bytes([1, 0, len(name)]) + name + bytes([5, 0])))
PY
"$WP" build --layout wasm --wasm missing.wasm -t c-missing:v1 >/dev/null
err=$("$WP" run c-missing:v1 2>&1); rc=$?
is "$rc" "1" "a component with an import the engine lacks fails"
like "$err" "jco engine: the component imports example:missing/api@1\.0\.0, which this engine does not provide" \
	"naming the missing import"
# A component that declares functions WASI lacks on WASI's own interfaces (issue 22, 1): a
# [constructor]network (jco would answer it with a fresh Network, network allowed), or an
# extra function in wasi:cli/environment. Made from component text by jco's parse
# (wasm-tools); refused before the transpile, by name, and the refusal is remembered.
cat > ctor.wat <<'WAT'
(component
  (type $net (instance
    (export "network" (type (sub resource)))
    (export "[constructor]network" (func (result (own 0))))))
  (import "wasi:sockets/network@0.2.0" (instance (type $net))))
WAT
cat > envx.wat <<'WAT'
(component
  (type $env (instance
    (export "get-environment" (func (result (list (tuple string string)))))
    (export "get-host-secrets" (func (result string)))))
  (import "wasi:cli/environment@0.2.3" (instance (type $env))))
WAT
cat > static.wat <<'WAT'
(component
  (type $io (instance
    (export "pollable" (type (sub resource)))
    (export "[static]pollable.steal" (func (result u32)))))
  (import "wasi:io/poll@0.2.0" (instance (type $io))))
WAT
# the same constructor through an outer alias of the component's own type (which the
# walk of the types follows), then through types it cannot follow (an alias of another
# instance's export, an imported type): those are refused as such
cat > outer.wat <<'WAT'
(component $root
  (type $net (instance
      (export "network" (type (sub resource)))
      (export "[constructor]network" (func (result (own 0))))))
  
  (alias outer $root $net (type $t))
  (import "wasi:sockets/network@0.2.0" (instance $n (type $t)))
  (alias export $n "[constructor]network" (func $ctor))
  (core func $ctor_l (canon lower (func $ctor)))
  (core module $m
    (import "n" "ctor" (func $c (result i32)))
    (func (export "run") (result i32) (drop (call $c)) (i32.const 0)))
  (core instance $ni (export "ctor" (func $ctor_l)))
  (core instance $mi (instantiate $m (with "n" (instance $ni))))
  (func $run (result (result)) (canon lift (core func $mi "run")))
  (instance $ri (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $ri)))
WAT
cat > aliasx.wat <<'WAT'
(component
  (import "example:evil/types" (instance $i
    (type $net (instance
      (export "network" (type (sub resource)))
      (export "[constructor]network" (func (result (own 0))))))
    (export "t" (type (eq $net)))))
  (alias export $i "t" (type $t))
  (import "wasi:sockets/network@0.2.0" (instance (type $t))))
WAT
cat > timport.wat <<'WAT'
(component
  (type $net (instance
      (export "network" (type (sub resource)))
      (export "[constructor]network" (func (result (own 0))))))
  (import "t" (type $t (eq $net)))
  (import "wasi:sockets/network@0.2.0" (instance (type $t))))
WAT
for w in outer aliasx timport; do
	jco parse "$TMP/$w.wat" -o "$TMP/$w.wasm" >/dev/null 2>&1
	"$WP" build --layout wasm --wasm "$w.wasm" -t "c-$w:v1" >/dev/null
	err=$("$WP" run "c-$w:v1" 2>&1); rc=$?
	is "$rc" "1" "a component whose wasi:sockets/network type comes through $w: refused"
	like "$err" "(a function WASI does not define|a type this check cannot follow)" "before it starts (${err:0:120})"
done
for w in "ctor [constructor]network wasi:sockets/network@0.2.0" "envx get-host-secrets wasi:cli/environment@0.2.3" \
	"static [static]pollable.steal wasi:io/poll@0.2.0"; do
	set -- $w
	jco parse "$TMP/$1.wat" -o "$TMP/$1.wasm" >/dev/null 2>&1
	"$WP" build --layout wasm --wasm "$1.wasm" -t "c-$1:v1" >/dev/null
	for attempt in first again; do
		err=$("$WP" run "c-$1:v1" 2>&1); rc=$?
		is "$rc" "1" "a component importing $2 from $3 ($attempt): refused"
		like "$err" "imports '$(sed 's/[][]/\\&/g' <<<"$2")' from $3, a function WASI does not define" "naming the function"
	done
	like "$err" "remembered" "the second time from the remembered verdict"
	csum=$(sha256sum "$1.wasm" | cut -d' ' -f1)
	check "no transpiled form is kept for it" test ! -e "$TMP/cache/compiled/$JCO_DIR/$csum/app.js"
done

# its imports read well, but the core module it holds is no module
/usr/bin/python3 - <<'PY'
sec = lambda i, b: bytes([i, len(b)]) + b
open("broken.wasm", "wb").write(b"\0asm\x0d\x00\x01\x00" + sec(1, b"\0asm\x01\x00\x00\x00\x7f\x7fgarbage"))
PY
"$WP" build --layout wasm --wasm broken.wasm -t c-broken:v1 >/dev/null
err=$("$WP" run c-broken:v1 2>&1); rc=$?
is "$rc" "1" "a component jco cannot transpile: exit 1"
like "$err" "jco transpile failed \(exit [0-9]+\): .*ComponentError: .*section" "saying the transpile failed, with jco's words (no stack)"
bsum=$(sha256sum broken.wasm | cut -d' ' -f1)
check "and no transpiled form is kept for it" test ! -e "$TMP/cache/compiled/$JCO_DIR/$bsum"
err=$("$WP" run --verbose c-broken:v1 2>&1); rc=$?
is "$rc:$(grep -c 'compiling the app' <<<"$err")" "1:0" "the next start fails the same without running jco again"
like "$err" "jco transpile failed \(exit [0-9]+\): .*\(remembered from an earlier start\)" "saying the failure is remembered"
is "$(ls -A "$TMP/cache/compiled/$JCO_DIR" | grep -c '^\.tmp')" "0" "not even a temporary folder"

# ---- wasmtime: precompiled once into the same cache (a stand-in wasmtime: the real one is
# not in Debian 12; its compile writes a marker, its args and the input; its run says what
# it was given) ----
mkdir -p wt && cat > wt/wasmtime <<'SH'
#!/bin/sh
case "$1" in
compile)
	args="$*"; shift
	while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift 2 ;; -W) shift 2 ;; *) in=$1; shift ;; esac; done
	[ -n "${WT_FAIL_COMPILE:-}" ] && { echo "this wasmtime cannot compile" >&2; exit 3; }
	{ printf 'CWASM %s\n' "$args"; cat "$in"; } > "$out" ;;
*) echo "fake wasmtime: $*" ;;
esac
SH
chmod 755 wt/wasmtime
msum=$(sha256sum "$HELLO" | cut -d' ' -f1)
out=$(PATH=$TMP/wt:$PATH "$WP" run m-img:v1 -- x 2>&1)
like "$out" "fake wasmtime: run --allow-precompiled --argv0 /hello.wasm .*/compiled/wasmtime-[0-9a-f]{16}/$msum/app\.cwasm x\$" \
	"wasmtime runs the module's precompiled form from the node cache, under the wasm's own name"
cw=$(ls "$TMP"/cache/compiled/wasmtime-*/"$msum"/app.cwasm 2>/dev/null | head -1)
like "$(head -1 "$cw" 2>/dev/null)" "^CWASM compile /.*/compiled/wasmtime-[0-9a-f]{16}/\.tmp-[0-9a-f]{16}-[^/]+/in\.wasm -o " \
	"made by wasmtime compile, of a copy of the wasm in a folder of its own"
check "of exactly the app's wasm" cmp <(tail -c +$(( $(head -1 "$cw" | wc -c) + 1 )) "$cw") "$HELLO"
out=$(PATH=$TMP/wt:$PATH "$WP" run c-img:v1 2>&1)
like "$out" "fake wasmtime: run -W component-model=y --allow-precompiled .*/$sum/app\.cwasm" \
	"wasmtime is chosen before jco for a component, with the component model on"
like "$(head -1 "$TMP"/cache/compiled/wasmtime-*/"$sum"/app.cwasm)" "^CWASM compile -W component-model=y " "and compiled with it"
out=$(PATH=$TMP/wt:$PATH WASMPACK_NO_PRECOMPILE=1 "$WP" run m-img:v1 2>&1)
like "$out" "fake wasmtime: run --dir [^ ]+ [^ ]*/hello\.wasm\$" "WASMPACK_NO_PRECOMPILE=1 runs the wasm itself"
cp -p wt/wasmtime wt/wasmtime.new && echo >> wt/wasmtime.new && mv wt/wasmtime.new wt/wasmtime
out=$(PATH=$TMP/wt:$PATH WT_FAIL_COMPILE=1 "$WP" run --verbose m-img:v1 2>&1); rc=$?
like "$out" "running the wasm without precompiling it: wasmtime compile failed \(exit 3\): this wasmtime cannot compile" \
	"a wasmtime that cannot compile: said with -v"
like "$out" "fake wasmtime: run --dir [^ ]+ [^ ]*/hello\.wasm\$" "and the wasm itself runs"
is "$(ls -d "$TMP"/cache/compiled/wasmtime-* | wc -l)" "2" "each wasmtime build has its own compiled forms (a changed binary is another)"

# ---- under containerd, through the shim ----
if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null || ! command -v docker-registry >/dev/null; then
	skip "needs root, containerd and docker-registry for the shim's part"
	done_testing
	exit
fi
H=$BUILD/tests/helpers
NS=wasmpack-comp-$$
SOCKS=$(mktemp -d /tmp/wpk.XXXXXX)
on_exit "rm -rf '$SOCKS'"
# the shim's node cache is its own: it transpiles for itself
export WASMPACK_SHIM_SOCKET_DIR=$SOCKS
C=$TMP/ctd
WASMPACK_CACHE=$TMP/shimcache start_containerd "$C"
ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
PORT=$(free_port)
start_registry reg "$PORT"
R=127.0.0.1:$PORT
"$WP" tag c-img:v1 "$R/c-img:v1" >/dev/null && "$WP" push -q --plain-http "$R/c-img:v1" >/dev/null
ctr_ images pull --plain-http --platform wasip2/wasm "$R/c-img:v1" >/dev/null 2>&1
ok $? "ctr pulls the component image for wasip2/wasm"
out=$(ctr_ run --rm --snapshotter native --platform wasip2/wasm --runtime io.containerd.wasmpack.v1 "$R/c-img:v1" c1 /hello.wasm from-ctr 2>&1); rc=$?
is "$rc" "0" "ctr run of the component through the shim exits 0"
like "$out" "arg\[1\]=from-ctr" "with the container's args"
like "$out" "env GREETING=hi" "the image's env"
like "$out" "Hello from the image" "and its static file"
check "the shim transpiled it into its node cache" test -f "$TMP/shimcache/compiled/$JCO_DIR/$sum/app.js"
"$WP" tag c-exit:v1 "$R/c-exit:v1" >/dev/null && "$WP" push -q --plain-http "$R/c-exit:v1" >/dev/null
ctr_ images pull --plain-http --platform wasip2/wasm "$R/c-exit:v1" >/dev/null 2>&1
ctr_ run --rm --snapshotter native --platform wasip2/wasm --runtime io.containerd.wasmpack.v1 "$R/c-exit:v1" c2 /exitcode.component.wasm 5 >/dev/null 2>&1
is "$?" "1" "a failing component's status comes through ctr (1: WASI 0.2)"
create_() { # create_ ID IMAGE ARGS-JSON
	printf '{"ociVersion":"1.0.2","process":{"args":%s,"env":[],"cwd":"/"},"root":{"path":"rootfs"}}' "$3" > "spec-$1.json"
	"$H/ctd_container" "$C/c.sock" "$NS" create "$1" "$2" io.containerd.wasmpack.v1 "spec-$1.json"
}
for l in art spin; do
	"$WP" save "c-$l:v1" -o "c-$l.tar" >/dev/null && ctr_ images import --all-platforms --no-unpack "c-$l.tar" >/dev/null
	create_ "c$l" "docker.io/library/c-$l:v1" '["app","via-'$l'"]'
	out=$(ctr_ task start "c$l" 2>&1); rc=$?
	like "$out" "arg\[1\]=via-$l" "the $l layout's component runs under the shim, read from the content store"
	ctr_ task rm "c$l" >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete "c$l"
done
like "$out" "Hello from the image" "the Spin component with its files"
# an index of a linux image and the component: the shim picks wasip2/wasm when no wasip1 entry is there
"$WP" save conly:v1 -o conly.tar >/dev/null && ctr_ images import --all-platforms --no-unpack conly.tar >/dev/null
create_ cix docker.io/library/conly:v1 '["/hello.wasm","via-index"]'
out=$(ctr_ task start cix 2>&1)
like "$out" "arg\[1\]=via-index" "the shim runs the wasip2/wasm entry of an index"
ctr_ task rm cix >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete cix
ctr_ images rm "$R/c-img:v1" "$R/c-exit:v1" docker.io/library/c-art:v1 docker.io/library/c-spin:v1 docker.io/library/conly:v1 >/dev/null 2>&1
done_testing
