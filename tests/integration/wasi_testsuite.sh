#!/usr/bin/env bash
# WebAssembly's WASI testsuite (../shared/wasi-testsuite, its wasip1 part), each case run
# bare on Node.js's WASI (tests/helpers/wasi-bare.cjs, the case's args, env and dirs) and
# through `wasmpack run` (the case built into an image, its dirs given as -v HOST:NAME with
# the names the suite gives, relative ones included). A case that passes bare but not
# through wasmpack fails this test: nothing may be lost between the engine and the app.
# The C cases are built here with clang and wasi-libc. The table of what passed is printed
# (and kept in docs/node.md).
. "$(dirname "$0")/lib.bash"
SUITE=${WASMPACK_SHARED:-$ROOT/../shared}/wasi-testsuite
if [ ! -d "$SUITE/tests" ]; then
	skip "WASI's testsuite is not at $SUITE: it is github.com/WebAssembly/wasi-testsuite (prod/testsuite-all); WASMPACK_SHARED=DIR names the folder holding wasi-testsuite/"
	done_testing
	exit $?
fi
BARE=$ROOT/tests/helpers/wasi-bare.cjs
declare -A bare_pass=() wp_pass=() total=()

# One case: its wasm and its JSON (args, env, dirs, exit_code, stdout), run both ways in a
# fresh copy of its dirs. Prints "bare wasmpack" as 1/0.
run_case() {
	local wasm=$1 json=$2 lang=$3 name work args=() envj='{}' pre='{}' code=0 want_out="" has_out=0 d
	local vols=() envs=() b=0 w=0 out rc
	name=$(basename "$wasm" .wasm)
	work=$TMP/case/$lang/$name
	rm -rf "$work"; mkdir -p "$work"
	if [ -f "$json" ]; then
		mapfile -t args < <(jq -r '.args // [] | .[]' "$json")
		envj=$(jq -c '.env // {}' "$json")
		code=$(jq -r '.exit_code // 0' "$json")
		if jq -e 'has("stdout")' "$json" >/dev/null; then has_out=1; want_out=$(jq -j '.stdout' "$json"); fi
		pre='{}'
		while read -r d; do
			[ -n "$d" ] || continue
			# writable, as a checkout of the suite is (the shared copy is read-only: root
			# writes there anyway, wasmpack's engine, without root's capabilities, does not)
			cp -r "$(dirname "$json")/$d" "$work/$d" && chmod -R u+w "$work/$d"
			pre=$(jq -c --arg g "$d" --arg h "$work/$d" '. + {($g): $h}' <<<"$pre")
			vols+=(-v "$work/$d:$d")
		done < <(jq -r '.dirs // [] | .[]' "$json")
		# NUL-separated: a value may hold a newline (environ_get-multiple-variables)
		while IFS= read -r -d '' kv; do envs+=(-e "$kv"); done < <(jq -j '.env // {} | to_entries[] | "\(.key)=\(.value)\u0000"' "$json")
	fi
	out=$(cd "$work" && node --no-warnings "$BARE" "$wasm" "/$name.wasm" "$pre" "$envj" "${args[@]}" 2>/dev/null); rc=$?
	[ "$rc" = "$code" ] && { [ $has_out = 0 ] || [ "$out" = "$want_out" ]; } && b=1
	# fresh dirs again: a case may have written to them
	if [ -f "$json" ]; then
		while read -r d; do
			[ -n "$d" ] && rm -rf "${work:?}/$d" && cp -r "$(dirname "$json")/$d" "$work/$d" && chmod -R u+w "$work/$d"
		done < <(jq -r '.dirs // [] | .[]' "$json")
	fi
	out=$(cd "$work" && "$WP" run "${vols[@]}" "${envs[@]}" "wt-$lang/$name:v1" -- "${args[@]}" 2>"$work.err"); rc=$?
	[ "$rc" = "$code" ] && { [ $has_out = 0 ] || [ "$out" = "$want_out" ]; } && w=1
	[ $b = 1 ] && [ $w = 0 ] && echo "# $lang/$name: bare passes, wasmpack does not (exit $rc, want $code): $(head -c 300 "$work.err")" >&2
	echo "$b $w"
}

# ---- C: built with clang and wasi-libc (the suite's tests/c/build.py, by hand) ----
mkdir -p "$TMP/c"
built=0
for src in "$SUITE"/tests/c/src/*.c; do
	name=$(basename "$src" .c)
	if clang --target=wasm32-wasi -O1 -o "$TMP/c/$name.wasm" "$src" 2>"$TMP/c/$name.log"; then
		[ -f "${src%.c}.json" ] && cp "${src%.c}.json" "$TMP/c/$name.json"
		built=$((built + 1))
	else
		echo "# c/$name does not build: $(head -3 "$TMP/c/$name.log")"
	fi
done
is "$built" "$(ls "$SUITE"/tests/c/src/*.c | wc -l)" "every C case builds with clang and wasi-libc"
for wasm in "$TMP"/c/*.wasm; do
	name=$(basename "$wasm" .wasm)
	"$WP" build --layout wasm --wasm "$wasm" -t "wt-c/$name:v1" >/dev/null || echo "# wt-c/$name: build failed"
done
# ---- AssemblyScript: built with asc and its WASI shim (pinned by scripts/wasi-as) ----
ASC=$ROOT/.deps/wasi-as/node_modules/.bin/asc
langs=(c)
if [ -x "$ASC" ]; then
	mkdir -p "$TMP/as"
	cp "$SUITE"/tests/assemblyscript/wasm32-wasip1/src/* "$TMP/as/"
	cp "$SUITE/tests/assemblyscript/wasm32-wasip1/asconfig.json" "$TMP/as/"
	ln -s "$ROOT/.deps/wasi-as/node_modules" "$TMP/as/node_modules"
	built=0
	for src in "$TMP"/as/*.ts; do
		name=$(basename "$src" .ts)
		if (cd "$TMP/as" && "$ASC" "$name.ts" -o "$name.wasm" >"$name.log" 2>&1); then
			built=$((built + 1))
			"$WP" build --layout wasm --wasm "$TMP/as/$name.wasm" -t "wt-as/$name:v1" >/dev/null || echo "# wt-as/$name: build failed"
		else
			echo "# as/$name does not build: $(head -3 "$TMP/as/$name.log")"
		fi
	done
	is "$built" "$(ls "$TMP"/as/*.ts | wc -l)" "every AssemblyScript case builds with asc"
	langs+=(as)
else
	skip "AssemblyScript (scripts/wasi-as) is not installed in .deps: scripts/deps.sh installs it from npm"
fi

# ---- Rust: built with Debian's rustc --target wasm32-wasi. The cases use the crates libc
# and once_cell (Debian's sources, built here) and wasi, which Debian does not package: a
# binding of our own, written from WASI's witx (tests/wasi-rs/wasi.rs) ----
RUSTC=/usr/bin/rustc
RS=$SUITE/tests/rust/wasm32-wasip1/src
libc_src=$(ls -d /usr/share/cargo/registry/libc-0.2.* 2>/dev/null | tail -1)
once_src=$(ls -d /usr/share/cargo/registry/once_cell-1.* 2>/dev/null | tail -1)
if [ -x "$RUSTC" ] && [ -d "$RS/bin" ] && [ -n "$libc_src" ] && [ -n "$once_src" ]; then
	mkdir -p "$TMP/rust" "$TMP/rlib"
	rc_() { "$RUSTC" --target wasm32-wasi -O "$@" 2>>"$TMP/rlib/build.log"; }
	# the cfgs libc's build script sets for a rustc this new
	libc_cfgs=()
	for c in libc_priv_mod_use libc_union libc_const_size_of libc_align libc_int128 libc_core_cvoid libc_packedN \
		libc_cfg_target_vendor libc_non_exhaustive libc_long_array libc_ptr_addr_of libc_underscore_const_names; do
		libc_cfgs+=(--cfg "$c")
	done
	ext=(-L "$TMP/rlib" --extern "libc=$TMP/rlib/liblibc.rlib" --extern "once_cell=$TMP/rlib/libonce_cell.rlib"
		--extern "wasi=$TMP/rlib/libwasi.rlib")
	if rc_ --edition 2015 --crate-type rlib --crate-name libc --cfg 'feature="std"' "${libc_cfgs[@]}" "$libc_src/src/lib.rs" \
			-o "$TMP/rlib/liblibc.rlib" &&
		rc_ --edition 2021 --crate-type rlib --crate-name once_cell --cfg 'feature="std"' --cfg 'feature="alloc"' \
			--cfg 'feature="race"' "$once_src/src/lib.rs" -o "$TMP/rlib/libonce_cell.rlib" &&
		rc_ --edition 2021 --crate-type rlib --crate-name wasi "$ROOT/tests/wasi-rs/wasi.rs" -o "$TMP/rlib/libwasi.rlib" &&
		rc_ --edition 2021 --crate-type rlib --crate-name wasi_tests "${ext[@]}" "$RS/lib.rs" -o "$TMP/rlib/libwasi_tests.rlib"; then
		built=0
		for src in "$RS"/bin/*.rs; do
			name=$(basename "$src" .rs)
			if rc_ --edition 2021 -C strip=symbols "${ext[@]}" --extern "wasi_tests=$TMP/rlib/libwasi_tests.rlib" "$src" \
				-o "$TMP/rust/$name.wasm"; then
				built=$((built + 1))
				[ -f "${src%.rs}.json" ] && cp "${src%.rs}.json" "$TMP/rust/"
				"$WP" build --layout wasm --wasm "$TMP/rust/$name.wasm" -t "wt-rust/$name:v1" >/dev/null ||
					echo "# wt-rust/$name: build failed"
			else
				echo "# rust/$name does not build"
			fi
		done
		is "$built" "$(ls "$RS"/bin/*.rs | wc -l)" "every Rust case builds with Debian's rustc (and our binding of WASI)"
		cp -r "$RS/bin/fs-tests.dir" "$TMP/rust/"
		langs+=(rust)
	else
		ok 1 "the Rust cases' crates build: $(tail -5 "$TMP/rlib/build.log")"
	fi
else
	skip "the Rust cases need Debian's rustc, libstd-rust-dev-wasm32, lld-14, librust-libc-dev and librust-once-cell-dev (scripts/deps.sh installs them)"
fi

# the cases read their dirs next to their JSON, as the suite lays them out
for lang in "${langs[@]}"; do
	for wasm in "$TMP/$lang"/*.wasm; do
		name=$(basename "$wasm" .wasm)
		json=$TMP/$lang/$name.json
		[ -f "$json" ] && [ -d "$SUITE/tests/c/src/fs-tests.dir" ] && [ ! -e "$TMP/$lang/fs-tests.dir" ] && cp -r "$SUITE/tests/c/src/fs-tests.dir" "$TMP/$lang/"
		read -r b w < <(run_case "$wasm" "$json" "$lang")
		total[$lang]=$((${total[$lang]:-0} + 1))
		bare_pass[$lang]=$((${bare_pass[$lang]:-0} + b))
		wp_pass[$lang]=$((${wp_pass[$lang]:-0} + w))
		if [ "$b" = 1 ]; then
			is "$w" "1" "$lang/$name passes through wasmpack as it does bare"
		fi
	done
done

# ---- a sample through the shim, under containerd: ctr run of the image layout, the case's
# dirs as bind mounts (absolute there, as OCI mounts are) ----
shim_total=0 shim_pass=0
if [ "$(id -u)" -eq 0 ] && command -v containerd >/dev/null && command -v ctr >/dev/null; then
	start_shim_containerd wasmpack-wasi
	# (not the environ cases: a container's environment holds the PATH its runtime spec sets,
	# as with every OCI runtime, where the case counts exactly its own variables)
	# (a Rust case names its folder by argument, as the preopen's name: under the shim that
	# name is the mount's absolute path, so the argument is made absolute too)
	sample=(c/clock_gettime-realtime c/fopen-with-access c/pwrite-with-append c/lseek as/proc_exit-success
		as/proc_exit-failure as/fd_write-to-stdout as/args_sizes_get-multiple-arguments)
	[[ " ${langs[*]} " == *" rust "* ]] && sample+=(rust/file_pread_pwrite rust/path_open_read_write rust/path_rename rust/clock_time_get)
	for c in "${sample[@]}"; do
		lang=${c%%/*} name=${c#*/}
		json=$TMP/$lang/$name.json work=$TMP/shim/$name
		mkdir -p "$work"
		"$WP" build --wasm "$TMP/$lang/$name.wasm" -t "wt-shim-$name:v1" >/dev/null &&
			"$WP" save "wt-shim-$name:v1" -o "$work.tar" >/dev/null &&
			ctr_ images import --platform wasip1/wasm --snapshotter native "$work.tar" >/dev/null || { echo "# $c: import failed"; continue; }
		mounts=() envs=() args=() code=0
		if [ -f "$json" ]; then
			while read -r d; do
				[ -n "$d" ] || continue
				cp -r "$(dirname "$json")/$d" "$work/$d" && chmod -R u+w "$work/$d"
				mounts+=(--mount "type=bind,src=$work/$d,dst=/$d,options=rbind:rw")
			done < <(jq -r '.dirs // [] | .[]' "$json")
			while IFS= read -r -d '' kv; do envs+=(--env "$kv"); done < <(jq -j '.env // {} | to_entries[] | "\(.key)=\(.value)\u0000"' "$json")
			mapfile -t args < <(jq -r --argjson dirs "$(jq -c '.dirs // []' "$json")" \
				'.args // [] | .[] | if (. as $a | $dirs | index($a)) then "/" + . else . end' "$json")
			code=$(jq -r '.exit_code // 0' "$json")
		fi
		ctr_ run --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 "${mounts[@]}" "${envs[@]}" \
			"docker.io/library/wt-shim-$name:v1" "wt-$name" "/$name.wasm" "${args[@]}" >"$work.out" 2>&1
		rc=$?
		ctr_ task rm "wt-$name" >/dev/null 2>&1; ctr_ container rm "wt-$name" >/dev/null 2>&1
		shim_total=$((shim_total + 1))
		if [ "$rc" = "$code" ]; then shim_pass=$((shim_pass + 1)); fi
		[ "$rc" = "$code" ] || sed 's/^/#   /' "$work.out" | head -5
		is "$rc" "$code" "$c through the shim (ctr run), as through wasmpack run"
	done
else
	skip "the shim sample needs root, containerd and ctr"
fi

echo "# WASI testsuite (wasip1): cases passed"
echo "# | suite | cases | bare Node.js WASI | through wasmpack run |"
echo "# |---|---|---|---|"
for lang in "${langs[@]}"; do
	echo "# | $lang | ${total[$lang]} | ${bare_pass[$lang]} | ${wp_pass[$lang]} |"
done
echo "# through the shim (ctr run, a sample of C, AssemblyScript and Rust cases): $shim_pass of $shim_total"
done_testing
