#!/usr/bin/env bash
# Apps built by real toolchains at test time (issue 25): C with clang and wasi-libc, Rust
# with Debian's rustc --target wasm32-wasi (std only), AssemblyScript with asc, JavaScript with
# componentize-js (a component: its arguments, environment, clock, random and exit). Each does what a real app does with
# WASI (testdata/toolchain: args, env, a static file, a folder listing, a temp file, the
# clock, random, its exit code), in the wasm and the image layouts, through wasmpack run
# and through the shim (ctr run), and says so line by line.
. "$(dirname "$0")/lib.bash"
SRC=$ROOT/testdata/toolchain
langs=()
mkdir -p "$TMP/tc"
if clang --target=wasm32-wasi -O2 -o "$TMP/tc/app-c.wasm" "$SRC/app.c" 2>"$TMP/tc/c.log"; then
	langs+=(c)
else
	ok 1 "the C app builds with clang and wasi-libc: $(head -3 "$TMP/tc/c.log")"
fi
# Debian's rustc, by its path: a rustup toolchain first on PATH may lack the target
if [ -x /usr/bin/rustc ] && /usr/bin/rustc --target wasm32-wasi -O -C strip=symbols -o "$TMP/tc/app-rust.wasm" "$SRC/app.rs" 2>"$TMP/tc/rust.log"; then
	langs+=(rust)
else
	skip "the Rust app needs Debian's rustc, libstd-rust-dev-wasm32 and lld-14 (scripts/deps.sh installs them): $(head -3 "$TMP/tc/rust.log" 2>/dev/null)"
fi
# AssemblyScript, with asc and its WASI shim (pinned by scripts/wasi-as)
ASC=$ROOT/.deps/wasi-as/node_modules/.bin/asc
if [ -x "$ASC" ]; then
	mkdir -p "$TMP/tc/as"
	cp "$SRC/app.ts" "$TMP/tc/as/"
	ln -s "$ROOT/.deps/wasi-as/node_modules" "$TMP/tc/as/node_modules"
	printf '{"extends": "./node_modules/@assemblyscript/wasi-shim/asconfig.json"}' > "$TMP/tc/as/asconfig.json"
	if (cd "$TMP/tc/as" && "$ASC" app.ts -o ../app-as.wasm >../as.log 2>&1); then
		langs+=(as)
	else
		ok 1 "the AssemblyScript app builds with asc: $(head -3 "$TMP/tc/as.log")"
	fi
else
	skip "the AssemblyScript app needs asc (scripts/wasi-as, installed by scripts/deps.sh)"
fi
# JavaScript, with componentize-js: a wasi:cli component (run by jco, as every component on
# a node without wasmtime); it reads no files (its world imports no wasi:filesystem)
CJS=$ROOT/.deps/componentize/node_modules/@bytecodealliance/componentize-js
JCO_BIN=$ROOT/.deps/jco/node_modules/.bin
js=0
if [ -d "$CJS" ] && [ -x "$JCO_BIN/jco" ]; then
	if (cd "$ROOT/.deps/componentize" && node --input-type=module -e "
		import { componentize } from '@bytecodealliance/componentize-js';
		import { readFile, writeFile } from 'node:fs/promises';
		const { component } = await componentize(await readFile('$SRC/app.js', 'utf8'),
			{ witPath: '$SRC/wit', worldName: 'app', disableFeatures: ['http'] });
		await writeFile('$TMP/tc/app-js.wasm', component);") >"$TMP/tc/js.log" 2>&1; then
		js=1
	else
		ok 1 "the JavaScript app builds with componentize-js: $(tail -3 "$TMP/tc/js.log")"
	fi
else
	skip "the JavaScript app needs componentize-js and jco (scripts/componentize, scripts/jco: scripts/deps.sh installs them)"
fi
echo "hello from the image" > "$TMP/tc/greeting.txt"

# The lines every run must print, the static file's line apart.
expect_lines() { # expect_lines OUTPUT WASM STATIC ENV WHAT
	local out=$1 wasm=$2 static=$3 env=$4 what=$5
	like "$out" "argv0=/$wasm" "$what: argv[0] is the wasm's absolute path"
	like "$out" "args=one,two words,5" "$what: the arguments, one with a space"
	like "$out" "env=$env" "$what: the environment"
	like "$out" "static=$static" "$what: the static file"
	like "$out" "list=a.txt,sub" "$what: the folder's listing (a relative preopen, fs-tests.dir)"
	like "$out" "temp=ok" "$what: a temp file written, read back and removed"
	like "$out" "clock=ok" "$what: the clock"
	like "$out" "random=ok" "$what: random bytes"
}
fresh_dir() { rm -rf "$1" && mkdir -p "$1/sub" && echo a > "$1/a.txt"; }

for lang in "${langs[@]}"; do
	wasm=app-$lang.wasm
	"$WP" build --layout wasm --wasm "$TMP/tc/$wasm" -t "tc-$lang:wasm" >/dev/null
	"$WP" build --wasm "$TMP/tc/$wasm" --file "$TMP/tc/greeting.txt:/static/greeting.txt" --env TOOLCHAIN_ENV=image \
		-t "tc-$lang:img" >/dev/null
	for layout in wasm img; do
		fresh_dir "$TMP/tc/fs-$lang-$layout"
		envs=()
		[ $layout = wasm ] && envs=(-e TOOLCHAIN_ENV=cli)   # the image layout's comes from the image
		out=$("$WP" run -v "$TMP/tc/fs-$lang-$layout:fs-tests.dir" "${envs[@]}" "tc-$lang:$layout" -- one "two words" 5 2>&1); rc=$?
		is "$rc" "5" "$lang, $layout layout, wasmpack run: the app's exit code"
		expect_lines "$out" "$wasm" "$([ $layout = img ] && echo "hello from the image" || echo none)" \
			"$([ $layout = img ] && echo image || echo cli)" "$lang, $layout layout, wasmpack run"
		is "$(ls "$TMP/tc/fs-$lang-$layout" | tr '\n' ' ')" "a.txt sub " "$lang, $layout layout: the temp file is gone from the host folder"
	done
done

if [ "$js" = 1 ]; then
	export PATH=$JCO_BIN:$PATH
	"$WP" build --layout wasm --wasm "$TMP/tc/app-js.wasm" -t tc-js:wasm >/dev/null
	"$WP" build --wasm "$TMP/tc/app-js.wasm" --env TOOLCHAIN_ENV=image -t tc-js:img >/dev/null
	for layout in wasm img; do
		envs=()
		[ $layout = wasm ] && envs=(-e TOOLCHAIN_ENV=cli)
		out=$("$WP" run "${envs[@]}" "tc-js:$layout" -- one "two words" 5 2>&1); rc=$?
		is "$rc" "1" "js, $layout layout, wasmpack run: a failing exit (WASI 0.2's exit is ok or err)"
		like "$out" "argv0=/app-js.wasm" "js, $layout layout: argv[0] is the wasm's absolute path"
		like "$out" "args=one,two words,5" "js, $layout layout: the arguments"
		like "$out" "env=$([ $layout = img ] && echo image || echo cli)" "js, $layout layout: the environment"
		like "$out" "clock=ok" "js, $layout layout: the clock"
		like "$out" "random=ok" "js, $layout layout: random bytes"
	done
	is "$("$WP" run tc-js:wasm -- zero 0 >/dev/null 2>&1; echo $?)" "0" "js: an ok exit is 0"
fi

# ---- the same through the shim: ctr run of the image layout, the folder a bind mount ----
if [ "$(id -u)" -eq 0 ] && command -v containerd >/dev/null && command -v ctr >/dev/null && [ ${#langs[@]} -gt 0 ]; then
	start_shim_containerd wasmpack-tc
	for lang in "${langs[@]}"; do
		"$WP" save "tc-$lang:img" -o "$TMP/tc/$lang.tar" >/dev/null
		ctr_ images import --platform wasip1/wasm --snapshotter native "$TMP/tc/$lang.tar" >/dev/null
		fresh_dir "$TMP/tc/fs-$lang-ctr"
		out=$(ctr_ run --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 \
			--mount "type=bind,src=$TMP/tc/fs-$lang-ctr,dst=/fs-tests.dir,options=rbind:rw" \
			"docker.io/library/tc-$lang:img" "tc-$lang" "/app-$lang.wasm" one "two words" 5 2>&1); rc=$?
		ctr_ task rm "tc-$lang" >/dev/null 2>&1; ctr_ container rm "tc-$lang" >/dev/null 2>&1
		is "$rc" "5" "$lang, through the shim: the app's exit code"
		expect_lines "$out" "app-$lang.wasm" "hello from the image" image "$lang, through the shim"
	done
	if [ "$js" = 1 ]; then
		"$WP" save tc-js:img -o "$TMP/tc/js.tar" >/dev/null
		ctr_ images import --platform wasip1/wasm --snapshotter native "$TMP/tc/js.tar" >/dev/null
		out=$(ctr_ run --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 \
			docker.io/library/tc-js:img tc-js /app-js.wasm one "two words" 5 2>&1); rc=$?
		ctr_ task rm tc-js >/dev/null 2>&1; ctr_ container rm tc-js >/dev/null 2>&1
		is "$rc" "1" "js, through the shim: a failing exit"
		like "$out" "args=one,two words,5" "js, through the shim: the arguments"
		like "$out" "env=image" "js, through the shim: the image's environment"
		like "$out" "random=ok" "js, through the shim: random bytes"
	fi
else
	skip "the shim cases need root, containerd and ctr"
fi
done_testing
