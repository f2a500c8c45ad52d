#!/usr/bin/env bash
# Apps built by real toolchains at test time (issue 25): C with clang and wasi-libc, Rust
# with Debian's rustc --target wasm32-wasi (std only), AssemblyScript with asc. Each does what a real app does with
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

# ---- the same through the shim: ctr run of the image layout, the folder a bind mount ----
if [ "$(id -u)" -eq 0 ] && command -v containerd >/dev/null && command -v ctr >/dev/null && [ ${#langs[@]} -gt 0 ]; then
	SOCKS=$(mktemp -d /tmp/wps.XXXXXX)
	on_exit "rm -rf '$SOCKS'"
	export PATH=$BUILD:$PATH WASMPACK_CACHE=$TMP/cache WASMPACK_SHIM_SOCKET_DIR=$SOCKS WASMPACK_ENGINE=node
	NS=wasmpack-tc-$$
	C=$TMP/ctd
	start_containerd "$C"
	on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
	ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
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
else
	skip "the shim cases need root, containerd and ctr"
fi
done_testing
