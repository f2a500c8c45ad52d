#!/usr/bin/env bash
# The option tables drive --help, the man page and the completions: the checked-in
# copies must be what the binary generates, and the scripts must load.
. "$(dirname "$0")/lib.bash"

for sh in bash zsh fish; do
	check "completions/wasmpack.$sh matches 'wasmpack completion $sh'" diff -u "$ROOT/completions/wasmpack.$sh" <("$WP" completion $sh)
done
check "docs/wasmpack.1 matches the option tables" diff -u "$ROOT/docs/wasmpack.1" <("$WP" __man)
check "the bash completion is valid bash" bash -n "$ROOT/completions/wasmpack.bash"
out=$(bash -c ". '$ROOT/completions/wasmpack.bash'; COMP_WORDS=(wasmpack build --lay); COMP_CWORD=2; _wasmpack; echo \"\${COMPREPLY[*]}\"")
is "$out" "--layout" "bash completes a build option"
out=$(bash -c ". '$ROOT/completions/wasmpack.bash'; COMP_WORDS=(wasmpack build --layout ''); COMP_CWORD=3; _wasmpack; echo \"\${COMPREPLY[*]}\"")
is "$out" "spin image wasm" "bash completes the layout names"
out=$(bash -c ". '$ROOT/completions/wasmpack.bash'; COMP_WORDS=(wasmpack ima); COMP_CWORD=1; _wasmpack; echo \"\${COMPREPLY[*]}\"")
is "$out" "images" "bash completes a command"
"$WP" completion tcsh >/dev/null 2>&1
is "$?" "2" "an unknown shell is a usage error"

help=$("$WP" build --help)
like "$help" "--layout LAYOUT +image layout: spin \(default for a spin.toml\), image \(default\), wasm" "build --help lists options from the table"
like "$help" "--store DIR" "and the global options"
like "$("$WP" --help)" "build +build an OCI image" "--help lists commands"
"$WP" >/dev/null 2>&1
is "$?" "2" "no command: usage, exit 2"
like "$("$WP" version)" '^wasmpack [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{12}(-modified)?|unknown), built ([0-9]{4}-[0-9]{2}-[0-9]{2}|unknown)\)' \
	"version names the commit and the build date"
like "$("$WP" version)" 'libarchive [0-9.]+, libcurl [0-9.]+, OpenSSL [0-9.]+.*, jansson [0-9.]+, libgit2 [0-9.]+, zlib [0-9.]+' \
	"and the libraries as they run"
is "$("$WP" version -q)" "$("$WP" version --format json | jq -r .version)" "version -q: the number alone"
# Every environment variable the code reads is in the man page.
missing=""
for v in $(grep -rhoE 'getenv\("[A-Za-z_0-9]+"\)' --include=*.c "$ROOT"/common "$ROOT"/oci "$ROOT"/registry "$ROOT"/spin \
	"$ROOT"/node "$ROOT"/shim "$ROOT"/cli | sed 's/getenv("\(.*\)")/\1/' | sort -u); do
	grep -q "^\.B $v\$" "$ROOT/docs/wasmpack.1" || missing="$missing $v"
done
is "$missing" "" "the man page's ENVIRONMENT lists every variable the code reads"
like "$(cat "$ROOT/docs/wasmpack.1")" '\.SH FILES' "the man page has FILES"
like "$(cat "$ROOT/docs/wasmpack.1")" '\.SH EXAMPLES' "EXAMPLES"
like "$(cat "$ROOT/docs/wasmpack.1")" '\.SH SEE ALSO' "and SEE ALSO"
cmds=$("$WP" --help | awk '/^Commands:/ {on=1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on=0}')
[ "$(wc -w <<<"$cmds")" -ge 24 ]; ok $? "--help lists the commands ($(wc -w <<<"$cmds"))"
for c in $cmds; do
	like "$("$WP" $c --help)" $'Examples:\n  wasmpack '"$c" "$c --help ends with examples"
done
is "$("$WP" version --format json | jq -r '.libraries|keys|join(",")')" "jansson,libarchive,libcurl,libgit2,openssl,zlib" "version --format json names the libraries"
"$WP" --store "$TMP/other" --format json images >/dev/null 2>&1
is "$?" "3" "global options also go before the command: images of a store not made yet is not found"
check "and made no store there (it only reads)" test ! -e "$TMP/other"
"$WP" images --format yaml >/dev/null 2>&1
is "$?" "2" "an unknown --format is a usage error"

# Options are typed (cli/cli.h): every number is parsed in one place, with its range, and
# an option read under a wrong name does not compile.
for bad in "build --wasm x --gzip-level 0" "build --wasm x --gzip-level 10" "push --concurrency 65 a:v1" \
	"pull --concurrency 1x a:v1" "run --workers 0 a:v1" "run --workers 99999999999999999999 a:v1"; do
	out=$("$WP" $bad 2>&1); rc=$?
	is "$rc" "2" "'$bad' is a usage error"
	like "$out" "want a number from [0-9]+ to [0-9]+" "naming the range"
done
like "$("$WP" build --gzip-level nine 2>&1)" "--gzip-level 'nine': want a number from 1 to 9" "with the value given"
cat > "$TMP/typo.c" <<'C'
#include "cli/cli.h"
const char *f(void);
const char *f(void)
{
	return wp_opts.platfrom;
}
C
out=$(${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Werror -I"$ROOT" $(pkg-config --cflags jansson 2>/dev/null) -c -o /dev/null "$TMP/typo.c" 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "a mistyped option name does not compile"
like "$out" "has no member named .platfrom" "the compiler names it"
sed -i 's/platfrom/platform/' "$TMP/typo.c"
check "the right name compiles" ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Werror -I"$ROOT" $(pkg-config --cflags jansson 2>/dev/null) -c -o /dev/null "$TMP/typo.c"

done_testing
