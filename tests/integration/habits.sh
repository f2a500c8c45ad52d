#!/usr/bin/env bash
# The habits users bring from docker, podman and skopeo (issue 25), in their words: what
# they type, the exit code and the key words they get back.
. "$(dirname "$0")/lib.bash"
PROBER=$BUILD/testdata/prober.wasm
"$WP" build --layout wasm -t prb:v1 --wasm "$PROBER" >/dev/null
"$WP" build --layout wasm -t hi:v1 --wasm "$HELLO" >/dev/null
mkdir -p "$TMP/d"
echo "hello from the host" > "$TMP/d/x"

# ---- run -v HOST:GUEST[:ro], as docker's; relative guest names, as WASI's preopens ----
is "$("$WP" run -v "$TMP/d:/data" prb:v1 -- r:/data/x)" "read /data/x: hello from the host" "run -v HOST:/data mounts the folder"
is "$("$WP" run prb:v1 -v "$TMP/d:/data" -- r:/data/x)" "read /data/x: hello from the host" "-v after the image too, as docker users type it"
is "$("$WP" run --volume "$TMP/d:/data" prb:v1 -- r:/data/x)" "read /data/x: hello from the host" "--volume is its long name"
is "$("$WP" run -v "$TMP/d:fs-tests.dir" prb:v1 -- r:fs-tests.dir/x)" "read fs-tests.dir/x: hello from the host" \
	"a relative guest name (fs-tests.dir), as wasmtime's --dir and the WASI testsuite name it"
is "$("$WP" run --dir "$TMP/d:." prb:v1 -- r:x)" "read x: hello from the host" "and '.', the app's own folder"
is "$("$WP" run -v "$TMP/d:/data:ro" prb:v1 -- w:/data/new r:/data/x)" $'write /data/new: refused\nread /data/x: hello from the host' \
	"-v HOST:GUEST:ro is read-only for the app"
[ ! -e "$TMP/d/new" ]; ok $? "and nothing was written on the host"
is "$("$WP" run -v "$TMP/d:/data:rw" prb:v1 -- w:/data/new)" "write /data/new: ok" ":rw writes"
[ -e "$TMP/d/new" ]; ok $? "to the host folder"
out=$("$WP" run -v "$TMP/nothere:/data" prb:v1 2>&1); rc=$?
is "$rc" "3" "-v of a missing host folder: not found"
like "$out" "'$TMP/nothere:/data': the host folder '$TMP/nothere'" "naming it"
out=$("$WP" run -v "$TMP/d" prb:v1 2>&1); rc=$?
is "$rc" "2" "-v without a guest: usage"
like "$out" "want HOST:GUEST\[:ro\]" "saying the form"
out=$("$WP" run -v "$TMP/d:" prb:v1 2>&1); rc=$?
is "$rc" "2" "-v with an empty guest: usage"
# -v before the command is wasmpack's verbose, as ever; after run, docker's volume
out=$("$WP" -v run prb:v1 -- r:/nothing 2>&1); rc=$?
is "$rc" "0" "wasmpack -v run: verbose, not a volume"
like "$out" "node cache" "(it says what it does)"
out=$("$WP" run --verbose prb:v1 2>&1); rc=$?
like "$out" "node cache" "--verbose after run"

# ---- -e, -w, --rm ----
out=$("$WP" run -e GREETING=hi -w /data --rm hi:v1 2>&1); rc=$?
like "$out" "env GREETING=hi" "-e is --env"
like "$out" "env PWD=/data" "-w is the app's working folder (PWD: WASI has no other)"

# ---- a value that looks like a mistaken option gets a hint ----
out=$("$WP" run prb:v1 "$TMP/d:/data" 2>&1); rc=$?
like "$out" "hint: '$TMP/d:/data' goes to the app as an argument; to mount it, give it as -v" \
	"an existing /host:/guest after the image gets a hint"
out=$("$WP" run prb:v1 -- "$TMP/d:/data" 2>&1)
[ "$(grep -c hint <<<"$out")" = 0 ]; ok $? "but not after --, where it is meant for the app"

done_testing
