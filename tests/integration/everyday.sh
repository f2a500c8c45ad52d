#!/usr/bin/env bash
# Everyday use (issue 14): what a new user types, and what they should get back. Each
# block is one of the things that annoyed, in the user's words: exit codes and the key
# words of the messages.
. "$(dirname "$0")/lib.bash"

# ---- 1. every id the tool prints is accepted back ----
"$WP" build --layout wasm -t app:v1 --wasm "$HELLO" >/dev/null
"$WP" build --layout image -t app:v2 --wasm "$HELLO" >/dev/null
"$WP" tag app:v1 again:v1 >/dev/null
d1=$("$WP" inspect app:v1 --format json | jq -r .digest)
d2=$("$WP" inspect app:v2 --format json | jq -r .digest)
hex=${d1#sha256:}
short=$("$WP" images | awk '$1 ~ /app:v1$/ {print $2}')
is "$short" "sha256:${hex:0:12}" "images prints a 12-digit id"
for id in "$short" "${hex:0:12}" "sha256:${hex:0:8}" "${hex:0:8}" "${hex:0:4}" "$d1"; do
	is "$("$WP" inspect "$id" --format json 2>&1 | jq -r .digest 2>/dev/null)" "$d1" "inspect $id finds the image"
done
rm -rf "$TMP/u1"
check "unpack takes the id images prints" "$WP" unpack "$short" -o "$TMP/u1"
out=$("$WP" run "$short" 2>&1)
like "$out" "arg\[0\]=/hello.wasm" "run takes the id images prints"
# an id shared by two images: real digests seldom share the 4 digits an id takes at least,
# so tests/unit/test_oci.c checks that with digests made to; here only when they happen to
if [ "${d1:7:4}" = "${d2:7:4}" ]; then
	out=$("$WP" inspect "${d1:7:4}" 2>&1); rc=$?
	is "$rc" "2" "an id of ${d1:7:4} that fits two images is a usage error"
	like "$out" "matches 2 images" "naming how many"
fi
start=$(date +%s%N)
out=$("$WP" run sha256:0123456789ab 2>&1); rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
is "$rc" "3" "run of an id the store does not hold: not found"
like "$out" "no image 'sha256:0123456789ab' in the store" "saying so"
like "$out" "wasmpack images" "and where to look"
[ "$ms" -lt 2000 ]; ok $? "at once, without asking any registry (${ms} ms)"
out=$("$WP" inspect sha256:ab 2>&1); rc=$?
is "$rc" "2" "sha256: with too few digits is a usage error"
like "$out" "at least 4 hex digits" "saying how many it takes"

# ---- 2. global options before and after the command, with a space or = ----
export S2=$TMP/store2 WASMPACK_CACHE=$TMP/cache2
WASMPACK_STORE=$S2 "$WP" build --layout wasm -t only:v1 --wasm "$HELLO" >/dev/null
for form in "--store $S2 images" "--store=$S2 images" "images --store $S2" "images --store=$S2"; do
	# shellcheck disable=SC2086
	out=$(env -u WASMPACK_STORE "$WP" $form 2>&1)
	like "$out" "only:v1" "wasmpack $form reads $S2"
done
# with nothing unpacked: wasmpack-core runs it (the front, warm, below)
for form in "--store $S2 run only:v1" "--store=$S2 run only:v1" "run --store $S2 only:v1" "run only:v1 --store=$S2" \
	"--store $S2 run only:v1" "--store=$S2 run only:v1"; do
	rm -rf "$WASMPACK_CACHE"
	# shellcheck disable=SC2086
	out=$(env -u WASMPACK_STORE "$WP" $form 2>&1)
	like "$out" "arg\[0\]=/hello.wasm" "wasmpack $form runs from $S2"
done
for warm in cold warm; do
	[ "$warm" = cold ] && rm -rf "$WASMPACK_CACHE"
	out=$(env -u WASMPACK_STORE "$WP" --store "$S2" -q run only:v1 -- one two 2>&1)
	like "$out" "arg\[1\]=one" "the app gets its arguments after -- ($warm)"
	like "$(printf '%s' "$out" | grep -c 'store\|-q')" "^0$" "and global options before the command stay out of them"
done
for cmd in "inspect only:v1" "tag only:v1 only:v2" "rmi only:v2" "gc" "save only:v1 -o $TMP/s.tar"; do
	# shellcheck disable=SC2086
	env -u WASMPACK_STORE "$WP" --store "$S2" $cmd >/dev/null 2>&1
	is "$?" "0" "wasmpack --store DIR $cmd"
done

# ---- 4, 5. a plain-HTTP registry, and failures that cannot heal ----
unset WASMPACK_CACHE
port=$(free_port)
start_registry plain "$port" || { ok 1 "a registry starts"; done_testing; exit 1; }
R=127.0.0.1:$port
"$WP" tag app:v1 "$R/demo/app:v1" >/dev/null
out=$("$WP" push "$R/demo/app:v1" 2>&1); rc=$?
is "$rc" "0" "push to a plain-HTTP registry on this machine works without --plain-http (as docker's)"
is "$out" "$d1" "and prints the digest"
out=$("$WP" -v pull "$R/demo/app:v1" 2>&1)
like "$out" "speaks plain HTTP" "-v says it fell back to plain HTTP"
mkdir -p "$TMP/cfg/wasmpack"
printf '[registry."%s"]\nplain_http = false\n' "$R" > "$TMP/cfg/wasmpack/config.toml"
for cmd in "push $R/demo/app:v1" "pull $R/demo/app:v1" "login $R -u alice --password-stdin"; do
	start=$(date +%s%N)
	# shellcheck disable=SC2086
	out=$(echo pw | XDG_CONFIG_HOME=$TMP/cfg "$WP" $cmd 2>&1); rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	is "$rc" "1" "${cmd%% *} over HTTPS to a plain-HTTP registry (fallback off): fails"
	like "$out" "$R answered HTTPS with plain HTTP" "saying what happened"
	like "$out" "use --plain-http, or set plain_http = true under \[registry.\"$R\"\] in config.toml" "and what fixes it"
	[ "$ms" -lt 1500 ]; ok $? "at once, not after retries (${ms} ms)"
done
closed=$(free_port)
"$WP" tag app:v1 "127.0.0.1:$closed/demo/app:v1" >/dev/null
start=$(date +%s%N)
out=$("$WP" push "127.0.0.1:$closed/demo/app:v1" 2>&1); rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
is "$rc" "1" "push to a port nobody listens on fails"
like "$out" "cannot connect to 127.0.0.1:$closed .*is the registry running, on this port\?" "naming the host and what to check"
[ "$ms" -lt 1500 ]; ok $? "at once: a refused connection is not retried (${ms} ms)"
"$WP" tag app:v1 "no-such-registry.invalid/demo/app:v1" >/dev/null
out=$("$WP" push "no-such-registry.invalid/demo/app:v1" 2>&1); rc=$?
is "$rc" "1" "push to a host that does not resolve fails"
like "$out" "cannot find the host of no-such-registry.invalid" "naming the host"
is "$(grep -c "HEAD\|POST" "$TMP/plain/log" >/dev/null; echo ok)" "ok" "-"

# ---- 3. transfers show their progress on a terminal, and only there ----
pport=$(free_port)
: > "$TMP/rules"
"$BUILD/tests/helpers/fault_proxy" "$pport" "$port" "$TMP/rules" "$TMP/plog" &
proxy=$!
on_exit "kill $proxy 2>/dev/null"
P=127.0.0.1:$pport
mkdir -p "$TMP/big/static"
head -c 2500000 /dev/urandom > "$TMP/big/static/a.bin"
head -c 700000 /dev/urandom > "$TMP/big/static/b.bin"
(cd "$TMP/big" && "$WP" build --wasm "$HELLO" --file static -t "$P/demo/big:v1" >/dev/null)
printf '* /blobs/ 1000 slow1024\n' > "$TMP/rules"   # a link of 1 MiB/s
# a terminal: `script` gives the command one, and keeps what it drew
script -qfec "$WP push --plain-http $P/demo/big:v1" "$TMP/push.tty" >/dev/null 2>&1
is "$?" "0" "push on a terminal over a slow link works"
screen=$(cat "$TMP/push.tty")
like "$screen" "sha256:[0-9a-f]{12} \[=*>? *\] +[0-9.]+ [KM]iB / 3\.[0-9] MiB" "a line per blob in flight: its bytes against its size"
like "$screen" "pushing [0-9]/3  [0-9.]+ [KM]iB / 3\.[0-9] MiB  [0-9.]+ [KM]iB/s  ETA [0-9]+:[0-9]{2}" "a total line: bytes, rate and ETA"
like "$screen" $'\e\\[[0-9]+A' "redrawn in place (the cursor goes back up)"
like "$screen" "sha256:[0-9a-f]{12}  uploaded +3\.[0-9] MiB" "a finished blob leaves a line"
like "$screen" "pushed 3 blobs, 3\.[0-9] MiB in" "and the summary stays"
"$WP" rmi "$P/demo/big:v1" >/dev/null; "$WP" gc >/dev/null
script -qfec "$WP pull --plain-http $P/demo/big:v1" "$TMP/pull.tty" >/dev/null 2>&1
like "$(cat "$TMP/pull.tty")" "pulling [0-9]/3 .*ETA|pulling 3/3" "pull draws it too"
like "$(cat "$TMP/pull.tty")" "downloaded +3\.[0-9] MiB" "with each blob as it lands"
printf '' > "$TMP/rules"
"$WP" tag "$P/demo/big:v1" "$P/demo/big:v2" >/dev/null
err=$("$WP" push --plain-http "$P/demo/big:v2" 2>&1 >/dev/null)
is "$err" "" "stderr not a terminal: no progress at all"
for flag in -q --no-progress; do
	script -qfec "$WP push --plain-http $flag $P/demo/big:v2" "$TMP/q.tty" >/dev/null 2>&1
	is "$(grep -cE 'ETA|/s  |\[[=> ]+\]|  uploaded  ' "$TMP/q.tty")" "0" "on a terminal with $flag: none either" ||
		sed 's/^/#   /' "$TMP/q.tty" | head -5
done
script -qfec "$WP push --plain-http --format json $P/demo/big:v2" "$TMP/j.tty" >/dev/null 2>&1
out=$("$WP" push --plain-http --format json "$P/demo/big:v2" 2>/dev/null)
is "$(jq -r .digest <<<"$out" 2>&1)" "$("$WP" inspect "$P/demo/big:v2" --format json | jq -r .digest)" "--format json prints the same JSON"
script -qfec "$WP unpack $P/demo/big:v1 -o $TMP/bigout" "$TMP/u.tty" >/dev/null 2>&1
like "$(cat "$TMP/u.tty")" "unpacked +3\.[0-9] MiB" "unpack shows its layers on a terminal"
head -c 100000 /dev/urandom > "$TMP/big/static/c.bin"
(cd "$TMP/big" && script -qfec "$WP build --wasm $HELLO --file static -t big:v3" "$TMP/b.tty" >/dev/null 2>&1)
like "$(cat "$TMP/b.tty")" "layer [0-9] +built" "a build shows its layers on a terminal"

# ---- 11. -v says what was decided and what went over the wire ----
out=$("$WP" run --verbose app:v1 2>&1)
like "$out" "debug: app:v1 is sha256:[0-9a-f]{64}; node cache (hit|miss)" "run --verbose: the image, and whether the cache had it"
like "$out" "engine [a-z]+ \((--engine|the first installed|the image's preference)[^)]*\): " "the engine chosen, and why"
like "$out" "engine node \([^)]*\): node .*hello.wasm" "with its command line"
mkdir -p "$TMP/dcfg"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$R" "$(printf 'alice:s3cr3t-pw' | base64)" > "$TMP/dcfg/config.json"
out=$(DOCKER_CONFIG=$TMP/dcfg "$WP" push -v --plain-http "$R/demo/app:v1" 2>&1)
like "$out" "$R: credentials of alice from .*dcfg/config.json" "push -v: where the credentials came from"
is "$(grep -c 's3cr3t-pw\|YWxpY2U6' <<<"$out")" "0" "but never the secret"
like "$out" "HEAD http://$R/v2/demo/app/blobs/sha256:[0-9a-f]{64}: 200 in [0-9]+ ms" "each request with its status and time"
out=$("$WP" pull -v --plain-http "$R/demo/app:v1" 2>&1)
like "$out" "no credentials stored: anonymous" "pull -v without credentials says anonymous"

# ---- 6. a non-wasm image never reaches an engine ----
cd "$TMP"
umoci init --layout lx >/dev/null 2>&1 && umoci new --image lx:v1 >/dev/null 2>&1 &&
	umoci unpack --image lx:v1 lxb >/dev/null 2>&1
mkdir -p lxb/rootfs/bin && printf '#!/bin/sh\necho native\n' > lxb/rootfs/bin/app && chmod +x lxb/rootfs/bin/app
cp /bin/true lxb/rootfs/bin/elf
umoci repack --image lx:v1 lxb >/dev/null 2>&1
umoci config --image lx:v1 --tag sh --config.entrypoint /bin/app --os linux --architecture amd64 >/dev/null 2>&1
umoci config --image lx:v1 --tag elf --config.entrypoint /bin/elf --os linux --architecture amd64 >/dev/null 2>&1
ok $? "umoci built linux/amd64 images"
out=$("$WP" run --engine node oci:lx:sh 2>&1); rc=$?
is "$rc" "1" "running a linux/amd64 image with a script entrypoint fails"
like "$out" "'/bin/app' is not wasm: it is a script \(#!\); the image is for linux/amd64; wasmpack runs wasm images" \
	"saying what the image is, before any engine"
out=$("$WP" run --engine node oci:lx:elf 2>&1)
like "$out" "'/bin/elf' is not wasm: it is a native program \(ELF\)" "a native program is named as one"
is "$(printf '%s' "$out" | grep -c "WebAssembly\|magic word")" "0" "and no engine's error shows"

# ---- 7. --engine names ----
out=$("$WP" run --engine nodejs app:v1 2>&1); rc=$?
is "$rc" "2" "--engine nodejs (a program, not an engine) is a usage error"
like "$out" "unknown engine 'nodejs': the engines are wasmtime, wasmedge, wasmer, node, jco, spin and spin-jco" "listing the known ones"
mkdir -p "$TMP/nopath" && ln -sf "$(command -v node)" "$TMP/nopath/node"
out=$(PATH=$TMP/nopath "$WP" run --engine wasmtime app:v1 2>&1); rc=$?
is "$rc" "3" "a known engine that is not installed: not found"
like "$out" "the engine 'wasmtime' is not installed \(not on PATH\); installed: node" "naming the installed ones"
out=$(PATH=$TMP/empty "$WP" run --engine wasmer app:v1 2>&1)
like "$out" "none that runs it is installed: install wasmtime" "and what to install when there is none"

# ---- 8. --dir host folders are checked first ----
out=$("$WP" run --dir /nonexistent:/data app:v1 2>&1); rc=$?
is "$rc" "3" "--dir of a missing host folder: not found"
like "$out" "'/nonexistent:/data': the host folder '/nonexistent': No such file" "naming it"
is "$(printf '%s' "$out" | grep -c "UVWASI\|at \|node:")" "0" "no engine stack trace"
out=$("$WP" run --dir /etc/passwd:/data app:v1 2>&1); rc=$?
is "$rc" "2" "--dir of a file: usage error"
like "$out" "'/etc/passwd' is not a folder" "saying so"
out=$("$WP" run --dir "$TMP:data" app:v1 2>&1); rc=$?
like "$out" "arg\[0\]=" "--dir with a relative guest name runs the app: a preopen of that name, as the engines take it (issue 25)"

# ---- 9. a mistyped --store never makes a store ----
out=$("$WP" --store "$TMP/typo" images 2>&1); rc=$?
is "$rc" "3" "images of a store that does not exist: not found"
like "$out" "no store at '$TMP/typo'" "saying so"
check "and nothing was made there" test ! -e "$TMP/typo"
for cmd in "inspect app:v1" "rmi app:v1" "tag app:v1 b:v1" "save app:v1 -o $TMP/x.tar" "push 127.0.0.1:1/a:v1" "gc"; do
	# shellcheck disable=SC2086
	"$WP" --store "$TMP/typo" $cmd >/dev/null 2>&1; rc=$?
	is "$rc:$(test -e "$TMP/typo" && echo made)" "3:" "$cmd on a missing store: not found, and no store made"
done
mkdir -p "$TMP/project/src" && echo 'int main;' > "$TMP/project/src/main.c"
before=$(cd "$TMP/project" && find . | sort)
out=$("$WP" --store "$TMP/project" build --layout wasm -t p:v1 --wasm "$HELLO" 2>&1); rc=$?
is "$rc" "1" "build into a folder that is neither empty nor a store is refused"
like "$out" "'$TMP/project' is not a store .*and not empty" "saying why"
is "$(cd "$TMP/project" && find . | sort)" "$before" "and the folder is as it was"
out=$("$WP" --store "$TMP/project" images 2>&1); rc=$?
like "$out" "is not a store" "reading it is refused too"
mkdir -p "$TMP/emptydir"
check "build into an empty folder makes a store there" "$WP" --store "$TMP/emptydir" build --layout wasm -t e:v1 --wasm "$HELLO"
check "with its oci-layout" test -f "$TMP/emptydir/oci-layout"
out=$(env -u WASMPACK_STORE HOME=$TMP/newhome XDG_DATA_HOME= "$WP" images --format json 2>&1); rc=$?
is "$rc:$out" "0:[]" "images on a fresh machine (the default store not made yet): an empty list"
check "and the default store is still not made" test ! -e "$TMP/newhome/.local/share/wasmpack"

# ---- 10. gc of one store leaves what other stores, containerd and running apps use ----
export WASMPACK_CACHE=$TMP/shared-cache
A=$TMP/storeA; B=$TMP/storeB
WASMPACK_STORE=$A "$WP" build --layout wasm -t a:v1 --wasm "$HELLO" --annotation who=a >/dev/null
WASMPACK_STORE=$B "$WP" build --layout wasm -t b:v1 --wasm "$HELLO" --annotation who=b >/dev/null
WASMPACK_STORE=$B "$WP" build --layout wasm -t c:v1 --wasm "$HELLO" --annotation who=c >/dev/null
da=$(WASMPACK_STORE=$A "$WP" inspect a:v1 --format json | jq -r .digest)
db=$(WASMPACK_STORE=$B "$WP" inspect b:v1 --format json | jq -r .digest)
dc=$(WASMPACK_STORE=$B "$WP" inspect c:v1 --format json | jq -r .digest)
for x in "$A a:v1" "$B b:v1" "$B c:v1"; do
	set -- $x; WASMPACK_STORE=$1 "$WP" run "$2" >/dev/null 2>&1
done
is "$(ls "$WASMPACK_CACHE" | grep -c '^[0-9a-f]\{64\}$')" "3" "three apps unpacked into the shared cache"
out=$(WASMPACK_STORE=$A "$WP" gc --format json)
is "$(jq .cacheEntriesRemoved <<<"$out")" "0" "gc of store A removes no entry of store B's"
check "B's entries are there" test -d "$WASMPACK_CACHE/${db#sha256:}" -a -d "$WASMPACK_CACHE/${dc#sha256:}"
# c:v1 is also a containerd image on this node
printf 'containerd:k8s.io\n' >> "$WASMPACK_CACHE/.users/${dc#sha256:}"
WASMPACK_STORE=$B "$WP" rmi b:v1 c:v1 >/dev/null 2>&1 || { WASMPACK_STORE=$B "$WP" rmi b:v1 >/dev/null; WASMPACK_STORE=$B "$WP" rmi c:v1 >/dev/null; }
# a:v1 runs (an engine that takes a while) while A drops it
mkdir -p "$TMP/slow" && printf '#!/bin/sh\nsleep 3\n' > "$TMP/slow/wasmtime" && chmod +x "$TMP/slow/wasmtime"
WASMPACK_STORE=$A PATH=$TMP/slow:$PATH "$WP" run --engine wasmtime a:v1 >/dev/null 2>&1 &
runner=$!
sleep 0.5
WASMPACK_STORE=$A "$WP" rmi a:v1 >/dev/null
out=$(WASMPACK_STORE=$B "$WP" gc --format json)
is "$(jq .cacheEntriesRemoved <<<"$out")" "1" "gc of B removes its own entry no one else uses"
check "the one containerd also uses stays" test -d "$WASMPACK_CACHE/${dc#sha256:}"
out=$(WASMPACK_STORE=$A "$WP" gc --format json)
check "the entry of a running app stays" test -d "$WASMPACK_CACHE/${da#sha256:}"
is "$(jq .cacheEntriesKeptForOthers <<<"$out")" "2" "gc counts what it kept for others"
wait $runner
out=$(WASMPACK_STORE=$A "$WP" gc --format json)
is "$(jq .cacheEntriesRemoved <<<"$out")" "1" "once the app ended, gc removes its entry"
check "it is gone" test ! -d "$WASMPACK_CACHE/${da#sha256:}"
unset WASMPACK_CACHE

# ---- 12. the smaller ones ----
out=$("$WP" save app:v1 -o "$TMP/app.tar" --format json)
is "$(jq -c .tags <<<"$out")" '["docker.io/library/app:v1"]' "save --format json names the tag it saved"
is "$(jq '.totalSize > .size' <<<"$out")" "true" "and the whole image's size, not only the manifest's"
ids=$("$WP" images -q)
is "$(printf '%s\n' "$ids" | grep -cv '^sha256:[0-9a-f]\{12\}$')" "0" "images -q prints only ids"
is "$(printf '%s\n' "$ids" | sort | uniq -d | wc -l)" "0" "each image once (app:v1 and again:v1 are one)"
out=$("$WP" -x 2>&1); rc=$?
is "$rc" "2" "wasmpack -x: usage error"
like "$out" "unknown option '-x'" "called an unknown option, not a command"
out=$("$WP" imgaes 2>&1)
like "$out" "unknown command 'imgaes'; did you mean 'images'\?" "a mistyped command gets a suggestion"
out=$("$WP" images --fromat json 2>&1)
like "$out" "unknown option '--fromat'; did you mean '--format'\?" "a mistyped option too"
out=$("$WP" --store "$TMP/x" 2>&1)
like "$out" "no command after '--store'" "global options without a command say so"
out=$("$WP" build /nonexistent 2>&1); rc=$?
is "$rc" "2" "build of a folder that does not exist: usage error"
like "$out" "build '/nonexistent': .*No such file" "naming it, not asking for --wasm"
out=$("$WP" pull a:b:c 2>&1)
like "$out" "invalid reference 'a:b:c': too many ':'" "a:b:c is told for what it is: one ':' too many"
for ref in a:b:c UPPER/x:1 'x:-t'; do
	"$WP" pull "$ref" >/dev/null 2>&1
	is "$?" "2" "pull '$ref': a malformed reference is a usage error"
done
out=$("$WP" push "$R/demo/app:v1" --plain-http --digestfile "$TMP" 2>&1); rc=$?
is "$rc" "2" "--digestfile naming a folder: usage error"
like "$out" "--digestfile '$TMP' is a folder" "naming the option"
is "$(grep -c 'PUT\|PATCH\|POST' "$TMP/plain/log" >/dev/null; "$WP" push "$R/demo/app:v1" --plain-http --digestfile "$TMP/nodir/d" 2>&1 | grep -c 'cannot be written')" "1" \
	"--digestfile in a folder that does not exist: told before the push"
mkdir -p "$TMP/cfg2/wasmpack" && printf '[registry."%s"]\nplian_http = true\n' "$R" > "$TMP/cfg2/wasmpack/config.toml"
out=$(XDG_CONFIG_HOME=$TMP/cfg2 "$WP" pull --plain-http "$R/demo/app:v1" 2>&1 >/dev/null)
like "$out" "config.toml:2: unknown key 'plian_http' in \[registry.\"$R\"\]; did you mean 'plain_http'\?" \
	"an unknown key in config.toml is warned about, with the file and line"
mkdir -p "$TMP/sp" && cp "$HELLO" "$TMP/sp/" &&
	printf 'spin_manifest_version = 2\n[application]\nname = "x"\n[[trigger.command]]\ncomponent = "c"\n[component.c]\nsorce = "hello.wasm"\n' > "$TMP/sp/spin.toml"
out=$("$WP" lock "$TMP/sp" 2>&1)
like "$out" "no \`source\`, but a key \`sorce\` \(line 7\): did you mean \`source\`\?" "a misspelled spin.toml key is named"
out=$("$WP" copy again:v1 "oci:$TMP/copied:x" 2>&1); rc=$?
is "$rc" "0" "copy of a store image to oci: reads the store (no docker.io)"
is "$(jq -r '.manifests[0].digest' "$TMP/copied/index.json")" "$d1" "the same image"
"$WP" tag app:v1 "127.0.0.1:$closed/demo/app:v9" >/dev/null
out=$("$WP" build --layout wasm --wasm "$HELLO" -t "127.0.0.1:$closed/demo/app:v9" --push 2>&1); rc=$?
is "$rc" "1" "build --push whose push fails: exit 1"
like "$out" "the image was built \(sha256:[0-9a-f]{64}\) and tagged 127.0.0.1:$closed/demo/app:v9: 'wasmpack push" \
	"and it says the image was built and tagged, and how to push again"
export DOCKER_CONFIG=$TMP/dc2
out=$(echo pw | "$WP" login "$R" -u bob --password-stdin --format json 2>&1)
is "$(jq -c . <<<"$out" 2>&1)" "{\"registry\":\"$R\",\"username\":\"bob\",\"loggedIn\":true}" "login --format json"
is "$("$WP" logout "$R" --format json | jq -c .)" "{\"registry\":\"$R\",\"loggedIn\":false}" "logout --format json"
unset DOCKER_CONFIG
check "tag takes several names" "$WP" tag app:v1 t1:v1 t2:v1 t3:v1
out=$("$WP" rmi t1:v1 t2:v1 --format json)
is "$(jq -c '[.[].untagged[]]' <<<"$out")" '["docker.io/library/t1:v1","docker.io/library/t2:v1"]' "rmi takes several"
"$WP" tag app:v1 "$R/demo/m1:v1" "$R/demo/m2:v1" >/dev/null
is "$("$WP" push --plain-http "$R/demo/m1:v1" "$R/demo/m2:v1" | sort -u)" "$d1" "push takes several"
before=$(ls "$TMP" | grep -c '^wasmpack-spin')
cp -r "$ROOT/testdata/spin-hello" "$TMP/sh" 2>/dev/null
printf 'spin_manifest_version = 2\n[application]\nname = "y"\n[[trigger.command]]\ncomponent = "c"\n[component.c]\nsource = "hello.wasm"\n' > "$TMP/sp/spin.toml"
"$WP" lock "$TMP/sp" >/dev/null 2>&1
is "$(ls "$TMP" | grep -c '^wasmpack-spin')" "$before" "lock of an app without files leaves no temp folder"
"$WP" lock "$TMP/sp" --assets-dir "$TMP/assets" >/dev/null 2>&1
is "$(ls "$TMP" | grep -c '^wasmpack-spin')" "$before" "nor with --assets-dir"
printf 'x' > "$TMP/notfile.wasm"; mkdir -p "$TMP/dir.wasm"
codes=""
for w in "$TMP/missing.wasm" "$TMP/dir.wasm" "$TMP/notfile.wasm"; do
	"$WP" build --wasm "$w" -t z:v1 >/dev/null 2>&1; codes="$codes$?"
done
is "$codes" "222" "a --wasm that is missing, a folder or not wasm: the same exit code (usage)"

# ---- remote images, without pulling ----
before=$(store_state "$WASMPACK_STORE")
out=$("$WP" tags "$R/demo/app")
is "$out" "v1" "tags REPO lists the repository's tags"
is "$("$WP" tags "$R/demo/m1" --format json | jq -c .)" "{\"name\":\"$R/demo/m1\",\"tags\":[\"v1\"]}" "tags --format json"
"$WP" tags "$R/demo/app:v1" >/dev/null 2>&1
is "$?" "2" "tags of a reference with a tag: usage error"
"$WP" tags "$R/demo/nothing-here" >/dev/null 2>&1
is "$?" "3" "tags of a repository the registry lacks: not found"
out=$("$WP" inspect --remote "$R/demo/app:v1")
is "$(jq -r .digest <<<"$out")" "$d1" "inspect --remote reads the manifest from the registry"
is "$(jq -r .remote <<<"$out")" "true" "saying so"
is "$(jq -r .config.architecture <<<"$out")" "wasm" "with the config"
out=$("$WP" inspect "$R/demo/m2:v1")
is "$(jq -r .digest <<<"$out")" "$d1" "inspect of a reference the store lacks asks its registry"
is "$("$WP" inspect --remote --raw config "$R/demo/app:v1" | sha256sum | cut -d' ' -f1)" \
	"$(jq -r .manifest.config.digest <<<"$out" | cut -d: -f2)" "--raw config gives the config's exact bytes"
is "$(store_state "$WASMPACK_STORE")" "$before" "and nothing of it lands in the store"

# ---- completion of image names from the store ----
out=$(PATH=$BUILD:$PATH bash -c ". '$ROOT/completions/wasmpack.bash'; COMP_WORDS=(wasmpack run ap); COMP_CWORD=2; _wasmpack; echo \"\${COMPREPLY[*]}\"")
is "$out" "app:v1 app:v2" "bash completes image names from the store"
out=$(PATH=$BUILD:$PATH bash -c ". '$ROOT/completions/wasmpack.bash'; COMP_WORDS=(wasmpack --store '$S2' inspect ''); COMP_CWORD=4; _wasmpack; echo \"\${COMPREPLY[*]}\"")
like "$out" "only:v1" "from the store named on the line"
like "$(cat "$ROOT/completions/wasmpack.zsh")" "__complete-refs" "zsh completes them too"
like "$(cat "$ROOT/completions/wasmpack.fish")" "__complete-refs" "and fish"

done_testing
