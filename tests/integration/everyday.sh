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
like "$out" "arg\[0\]=hello.wasm" "run takes the id images prints"
# an id shared by two images (both tags of one image count once)
common=""
for n in 1 2 3 4; do [ "${d1:7:$n}" = "${d2:7:$n}" ] && common=${d1:7:$n}; done
if [ -n "$common" ]; then
	out=$("$WP" inspect "$common" 2>&1); rc=$?
	is "$rc" "2" "an id of $common that fits two images is a usage error"
	like "$out" "matches 2 images" "naming how many"
	like "$out" "${d1:0:19}.*app:v1|${d1:0:19}.*again:v1" "and listing them"
else
	ok 0 "the two images share no leading hex digit (nothing ambiguous to try)"
	ok 0 "-"
	ok 0 "-"
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
	like "$out" "arg\[0\]=hello.wasm" "wasmpack $form runs from $S2"
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

done_testing
