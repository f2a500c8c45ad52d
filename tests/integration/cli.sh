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
like "$("$WP" version)" '^wasmpack [0-9]+\.[0-9]+\.[0-9]+$' "version"
is "$("$WP" version --format json | jq -r '.libraries|keys|join(",")')" "jansson,libarchive,libcurl,libgit2,openssl,zlib" "version --format json names the libraries"
"$WP" --store "$TMP/other" --format json images >/dev/null 2>&1
is "$?" "3" "global options also go before the command: images of a store not made yet is not found"
check "and made no store there (it only reads)" test ! -e "$TMP/other"
"$WP" images --format yaml >/dev/null 2>&1
is "$?" "2" "an unknown --format is a usage error"

done_testing
