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

# ---- rmi of an id that several tags name: refused, as docker refuses it, unless -f ----
"$WP" build --layout wasm -t multi:a --wasm "$HELLO" --annotation x=multi >/dev/null
"$WP" tag multi:a multi:b >/dev/null
"$WP" tag multi:a multi:c >/dev/null
id=$("$WP" images | awk '$1 ~ /multi:a$/ {print $2}')
out=$("$WP" rmi "$id" 2>&1); rc=$?
is "$rc" "1" "rmi ID of an image tagged three times: refused"
like "$out" "is the id of an image tagged 3 times \(docker.io/library/multi:a, docker.io/library/multi:b, docker.io/library/multi:c\): remove the tags by name, or all of them with rmi -f" \
	"listing its tags and the way to remove them all"
is "$("$WP" images | grep -c multi:)" "3" "nothing was removed"
check "rmi of one of its names" "$WP" rmi multi:c
out=$("$WP" rmi -f "$id" 2>&1); rc=$?
is "$rc" "0" "rmi -f ID removes every tag"
like "$out" "untagged: docker.io/library/multi:a" "saying which"
is "$("$WP" images | grep -c multi:)" "0" "none is left"
"$WP" build --layout wasm -t single:a --wasm "$HELLO" --annotation x=single >/dev/null
id=$("$WP" images | awk '$1 ~ /single:a$/ {print $2}')
check "rmi ID of an image tagged once needs no -f" "$WP" rmi "$id"

# ---- build --platform of a native platform for wasm content: refused unless --force ----
before=$(jq -c . "$WASMPACK_STORE/index.json")
out=$("$WP" build --wasm "$HELLO" --platform linux/amd64 -t lin:v1 2>&1); rc=$?
is "$rc" "2" "build --platform linux/amd64 of a wasm app: usage error"
like "$out" "the app is wasm, and a linux/amd64 node would try to run it as a native container; use wasip1/wasm, wasip2/wasm or wasi/wasm \(or --force\)" \
	"saying why and what to use"
is "$(jq -c . "$WASMPACK_STORE/index.json")" "$before" "nothing tagged"
check "wasi/wasm is a wasm platform" "$WP" build --wasm "$HELLO" --platform wasi/wasm -t wasi:v1
check "--force builds it anyway (an index's placeholder)" "$WP" build --force --wasm "$HELLO" --platform linux/arm64 -t lin:v1
is "$("$WP" inspect lin:v1 | jq -r '.config.os + "/" + .config.architecture')" "linux/arm64" "with that platform"

# ---- make install puts the man page and the completions where their tools look ----
if make -s -C "$ROOT" O="$BUILD" install DESTDIR="$TMP/inst" PREFIX=/usr >"$TMP/install.log" 2>&1; then
	for f in bin/wasmpack bin/wasmpack-core bin/containerd-shim-wasmpack-v1 share/man/man1/wasmpack.1 \
		share/bash-completion/completions/wasmpack share/zsh/site-functions/_wasmpack \
		share/fish/vendor_completions.d/wasmpack.fish; do
		[ -f "$TMP/inst/usr/$f" ]; ok $? "make install: /usr/$f"
	done
	cmp -s "$ROOT/docs/wasmpack.1" "$TMP/inst/usr/share/man/man1/wasmpack.1"; ok $? "the man page as generated"
	make -s -C "$ROOT" O="$BUILD" uninstall DESTDIR="$TMP/inst" PREFIX=/usr >/dev/null 2>&1
	is "$(find "$TMP/inst" -type f | wc -l)" "0" "make uninstall removes all of it"
else
	ok 1 "make install failed: $(tail -3 "$TMP/install.log")"
fi

# ---- inspect of a Spin app: an empty allow-list is [] (none allowed), not null ----
mkdir -p "$TMP/sp" && cp "$HELLO" "$TMP/sp/hello.wasm"
printf 'spin_manifest_version = 2\n[application]\nname = "x"\n[[trigger.http]]\nroute = "/..."\ncomponent = "c"\n[component.c]\nsource = "hello.wasm"\nallowed_outbound_hosts = []\n[[trigger.http]]\nroute = "/d"\ncomponent = "d"\n[component.d]\nsource = "hello.wasm"\nallowed_outbound_hosts = ["https://example.com"]\n' > "$TMP/sp/spin.toml"
"$WP" build "$TMP/sp" -t sp:v1 >/dev/null
is "$("$WP" inspect sp:v1 | jq -c '[.app.components[] | {(.id): .allowed_outbound_hosts}] | add')" \
	'{"c":[],"d":["https://example.com"]}' "inspect: allowed_outbound_hosts [] for [], the hosts for hosts"

# ---- save to standard output, load from standard input, as docker's ----
"$WP" save hi:v1 -o "$TMP/hi-file.tar" >/dev/null
"$WP" save hi:v1 > "$TMP/hi-stdout.tar"; rc=$?
is "$rc" "0" "save IMG > f.tar: no -o, standard output not a terminal"
cmp -s "$TMP/hi-file.tar" "$TMP/hi-stdout.tar"; ok $? "the same bytes as save -o (the archive is reproducible)"
out=$("$WP" save hi:v1 -o - | WASMPACK_STORE=$TMP/s-pipe "$WP" load); rc=$?
is "$rc" "0" "save -o - | load: a pipe"
like "$out" "loaded: docker.io/library/hi:v1" "loads the image"
out=$(WASMPACK_STORE=$TMP/s-in "$WP" load < "$TMP/hi-stdout.tar"); rc=$?
is "$rc:$out" "0:loaded: docker.io/library/hi:v1" "load < f.tar: no -i, standard input not a terminal"
is "$(WASMPACK_STORE=$TMP/s-in "$WP" inspect hi:v1 | jq -r .digest)" "$("$WP" inspect hi:v1 | jq -r .digest)" "the same image"
out=$(WASMPACK_STORE=$TMP/s-in2 "$WP" load -i - < "$TMP/hi-stdout.tar"); rc=$?
is "$rc" "0" "load -i - reads standard input too"
if command -v script >/dev/null; then
	out=$(script -qec "'$WP' save hi:v1" /dev/null 2>&1); rc=$?
	like "$out" "save: standard output is a terminal: give the archive with -o FILE, or redirect it" "save to a terminal is refused"
	out=$(script -qec "'$WP' save hi:v1; echo rc=\$?" /dev/null 2>&1)
	like "$out" "rc=2" "exit 2"
	out=$(script -qec "'$WP' load; echo rc=\$?" /dev/null 2>&1)
	like "$out" "load: standard input is a terminal: give the archive with -i FILE" "load from a terminal is refused"
	like "$out" "rc=2" "exit 2"
else
	ok 1 "script(1) is needed for the terminal cases"
fi

# ---- a mistyped local tag is "not found", naming the store's nearest names ----
"$WP" build --layout wasm -t capp:v1 --wasm "$HELLO" --annotation x=capp >/dev/null
out=$("$WP" run capp:v11 2>&1); rc=$?
is "$rc" "3" "run of a mistyped local tag: not found (exit 3), not a network error"
like "$out" "no image 'capp:v11' in the store; the store has: capp:v1; nor could it be pulled from docker.io" \
	"saying the store has no such image, its nearest names, then what Docker Hub said"
out=$("$WP" push capp:v11 2>&1); rc=$?
is "$rc" "3" "push of a mistyped local tag: not found"
like "$out" "no image 'capp:v11' in the store; the store has: capp:v1" "with the nearest names"
out=$("$WP" run zzzz-nothing-like-it:v1 2>&1); rc=$?
is "$rc" "3" "a name nothing in the store is near: not found too"
[ "$(grep -c 'the store has' <<<"$out")" = 0 ]; ok $? "and no list of unrelated names"

# ---- bash completes image references, whose ':' bash splits words at ----
# COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT as bash sets them for the line typed:
# "capp:v" is the three words capp, : and v (COMP_WORDBREAKS holds ':').
complete_line() { # complete_line WITH_BASH_COMPLETION LINE -> the words offered
	PATH=$BUILD:$PATH WASMPACK_STORE=$WASMPACK_STORE bash -c '
		[ "$1" = yes ] && . /usr/share/bash-completion/bash_completion
		. "$2/completions/wasmpack.bash"
		COMP_LINE=$3 COMP_POINT=${#3}
		# split as readline does: at blanks, and around each character of COMP_WORDBREAKS
		COMP_WORDS=(); w=""
		for ((i = 0; i < ${#COMP_LINE}; i++)); do
			c=${COMP_LINE:i:1}
			if [[ $c == [[:space:]] ]]; then [ -n "$w" ] && COMP_WORDS+=("$w"); w=""
			elif [[ $COMP_WORDBREAKS == *"$c"* ]]; then [ -n "$w" ] && COMP_WORDS+=("$w"); COMP_WORDS+=("$c"); w=""
			else w+=$c; fi
		done
		COMP_WORDS+=("$w")
		[ -z "$w" ] && [[ ${COMP_LINE: -1} != [[:space:]] ]] && unset "COMP_WORDS[-1]"
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_wasmpack
		echo "${COMPREPLY[*]}"' _ "$1" "$ROOT" "$2"
}
"$WP" tag capp:v1 127.0.0.1:15000/demo/capp:v1 >/dev/null
for bc in no yes; do
	if [ "$bc" = yes ] && [ ! -f /usr/share/bash-completion/bash_completion ]; then
		ok 1 "the bash-completion package is needed for these cases (scripts/deps.sh installs it)"
		continue
	fi
	is "$(complete_line $bc "wasmpack inspect capp:")" "v1" "bash-completion $bc: 'inspect capp:<TAB>' offers v1 (what follows the ':')"
	is "$(complete_line $bc "wasmpack inspect capp:v")" "v1" "bash-completion $bc: 'inspect capp:v<TAB>' too"
	is "$(complete_line $bc "wasmpack run ca")" "capp:v1" "bash-completion $bc: 'run ca<TAB>' offers capp:v1"
	is "$(complete_line $bc "wasmpack --store $WASMPACK_STORE run capp")" "capp:v1" "bash-completion $bc: with --store on the line"
	is "$(complete_line $bc "wasmpack build --plat")" "--platform" "bash-completion $bc: options still complete"
	is "$(complete_line $bc "wasmpack push 127.0.0.1:150")" "15000/demo/capp:v1" \
		"bash-completion $bc: 'push 127.0.0.1:150<TAB>' offers the rest of 127.0.0.1:15000/demo/capp:v1"
	is "$(complete_line $bc "wasmpack build --platform wasip1:")" "" "bash-completion $bc: nothing made up after a stray ':'"
done

# ---- with a registry: skopeo's transports, and a missing tag named with its nearest ----
if command -v docker-registry >/dev/null; then
	port=$(free_port)
	start_registry habits "$port"
	R=127.0.0.1:$port
	"$WP" tag hi:v1 $R/demo/hi:v1 >/dev/null && "$WP" push --plain-http $R/demo/hi:v1 >/dev/null
	"$WP" tag hi:v1 $R/demo/hi:v2 >/dev/null && "$WP" push --plain-http $R/demo/hi:v2 >/dev/null
	d=$("$WP" inspect hi:v1 | jq -r .digest)
	is "$("$WP" copy --plain-http docker://$R/demo/hi:v1 docker://$R/demo/copied:v1 | tail -1)" "$d" \
		"copy docker://A docker://B: skopeo's transport prefix"
	is "$(skopeo inspect --raw --tls-verify=false docker://$R/demo/copied:v1 | sha256sum | cut -d' ' -f1)" "${d#sha256:}" \
		"the registry has it, byte for byte"
	check "copy docker://REF oci:DIR" "$WP" copy --plain-http docker://$R/demo/hi:v1 "oci:$TMP/hi-oci:v1"
	for t in containers-storage:hi docker-daemon:hi:v1 dir:/tmp/x docker-archive:/tmp/x.tar; do
		out=$("$WP" copy "$t" "oci:$TMP/never" 2>&1); rc=$?
		is "$rc" "2" "copy $t: refused (usage)"
		like "$out" "is .*(podman|docker|skopeo)" "with the reason and what to do"
	done
	[ ! -e "$TMP/never" ]; ok $? "and nothing written"
	out=$("$WP" pull --plain-http $R/demo/hi:v3 2>&1); rc=$?
	is "$rc" "3" "pull of a missing remote tag: not found"
	like "$out" "$R/demo/hi has no tag 'v3'; the nearest it has: v1, v2" "naming the tag and the repository's nearest tags"
	out=$("$WP" run --plain-http $R/demo/nothing:v1 2>&1); rc=$?
	is "$rc" "3" "run of a repository the registry lacks: not found"
	like "$out" "$R has no repository demo/nothing" "saying so"
fi

# ---- images: a name filter, an index with its platforms, untagged images with -a ----
"$WP" build --layout wasm -t ix-w:v1 --wasm "$HELLO" --annotation x=ixw >/dev/null
"$WP" build --force --platform linux/amd64 -t ix-l:v1 --wasm "$HELLO" --annotation x=ixl >/dev/null
"$WP" index create ixall:v1 ix-w:v1 ix-l:v1 >/dev/null
out=$("$WP" images ixall)
like "$out" $'docker.io/library/ixall:v1 +sha256:[0-9a-f]{12} index +[0-9.]+ KiB\n  wasip1/wasm +sha256:[0-9a-f]{12} wasm +[0-9.]+ KiB\n  linux/amd64 +sha256:[0-9a-f]{12} image' \
	"images NAME: an index, with its platforms under it"
is "$(wc -l <<<"$out")" "4" "and only what the filter names (the header, the index and its two platforms)"
is "$("$WP" images ixall --format json | jq -c '.[0] | [.layout, (.platforms | map(.platform))]')" '["index",["wasip1/wasm","linux/amd64"]]' \
	"in JSON too"
tot=$("$WP" images ixall --format json | jq '.[0].size')
sum=$("$WP" images ixall --format json | jq '[.[0].platforms[].size] | add')
[ "$tot" -gt "$sum" ]; ok $? "its size is the index and every platform's image ($tot bytes > $sum)"
is "$("$WP" images 'ix-*' | tail -n +2 | awk '{print $1}' | sort | tr '\n' ' ')" "docker.io/library/ix-l:v1 docker.io/library/ix-w:v1 " \
	"images takes shell globs"
is "$("$WP" images 'ix-w:v1' | tail -n +2 | wc -l)" "1" "and REPOSITORY:TAG"
is "$("$WP" images nothing-of-the-kind | tail -n +2 | wc -l)" "0" "a filter nothing matches lists nothing"
dgone=$("$WP" inspect capp:v1 | jq -r .digest)
"$WP" rmi capp:v1 127.0.0.1:15000/demo/capp:v1 >/dev/null
[ "$("$WP" images | grep -c "${dgone:7:12}")" = 0 ]; ok $? "an untagged image is not listed"
like "$("$WP" images -a)" "<none> +sha256:${dgone:7:12} wasm" "images -a lists it (until gc)"

done_testing
