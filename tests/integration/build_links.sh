#!/usr/bin/env bash
# Symbolic links in what a build reads. As with a docker build context: a link that stays
# inside its --file folder is kept as a link (image and wasm layouts; Spin's layout has no
# links, so there it is followed); a link that leads out of the folder, however it gets
# there, is refused with an error naming it, unless --follow-links says to copy what it
# points at. The same holds for a Spin app's files and its app folder.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
printf 'host secret\n' > "$TMP/secret.txt"

# 1. Links that stay inside are kept as links, byte for byte.
mkdir -p good/sub
printf 'a\n' > good/a.txt
ln -s a.txt good/in
ln -s ../a.txt good/sub/up
ln -s sub good/dirlink
ln -s not-there-yet good/dangling
d=$("$WP" build --wasm "$HELLO" --file good:/site -t links:v1); rc=$?
is "$rc" "0" "a folder whose links stay inside builds"
layer=$(jq -r '.layers[-1].digest' <<<"$("$WP" inspect --raw manifest links:v1)")
listing=$(tar -tvzf "$(blob "$layer")")
like "$listing" 'site/in -> a.txt' "the link is in the layer as a link"
like "$listing" 'site/sub/up -> \.\./a\.txt' "a link up to a sibling folder too"
like "$listing" 'site/dirlink -> sub' "a link to a folder is kept, not walked"
like "$listing" 'site/dangling -> not-there-yet' "a dangling link inside is kept"
check "unpack accepts the links" "$WP" unpack -o "$TMP/out1" links:v1
is "$(readlink "$TMP/out1/rootfs/site/in")" "a.txt" "and writes them as links"
is "$(cat "$TMP/out1/rootfs/site/sub/up")" "a" "which lead to the file"
is "$("$WP" build --wasm "$HELLO" --file good:/site -t links:v2)" "$d" "the same folder gives the same digest"

# 2. Links that leave the folder: absolute, climbing, through a chain, through a folder link.
refused() { # DESCRIPTION LINKNAME ARGS...
	local desc=$1 name=$2; shift 2
	local before err rc
	before=$(store_state "$WASMPACK_STORE")
	err=$("$WP" build "$@" -t refused:v1 2>&1); rc=$?
	is "$rc" "1" "$desc: refused (exit 1)"
	like "$err" "symbolic link '$name' -> .* leads outside the folder .*--follow-links" "$desc: the error names the link and the option"
	is "$(store_state "$WASMPACK_STORE")" "$before" "$desc: nothing tagged, no blob written"
}
mkdir -p abs && printf 'ok\n' > abs/ok.txt && ln -s "$TMP/secret.txt" abs/x
refused "an absolute link" "x" --wasm "$HELLO" --file abs
mkdir -p up/deep && ln -s ../../secret.txt up/deep/y
refused "a link climbing out" "deep/y" --wasm "$HELLO" --file up
mkdir -p chain && ln -s . chain/a && ln -s a/.. chain/x1 && ln -s x1/secret.txt chain/leak
refused "a link through a chain that looks inside" "(x1|leak)" --wasm "$HELLO" --file chain
mkdir -p viaabs && ln -s "$TMP" viaabs/host
refused "a link to a folder outside" "host" --wasm "$HELLO" --file viaabs

# 3. --follow-links copies what they point at.
check "--follow-links builds the folder" "$WP" build --follow-links --wasm "$HELLO" --file abs:/abs -t follow:v1
check "unpack" "$WP" unpack -o "$TMP/out2" follow:v1
check "the link became the file it pointed at" test -f "$TMP/out2/rootfs/abs/x" -a ! -L "$TMP/out2/rootfs/abs/x"
is "$(cat "$TMP/out2/rootfs/abs/x")" "host secret" "with its content"

# 4. A file named on the command line is followed: the user named it.
ln -s "$TMP/secret.txt" named-link
check "--file of a named link builds" "$WP" build --wasm "$HELLO" --file named-link:/n.txt -t named:v1
check "unpack" "$WP" unpack -o "$TMP/out3" named:v1
is "$(cat "$TMP/out3/rootfs/n.txt")" "host secret" "the named link's target is the file"

# 5. Spin apps: files reached through a link out of the app folder are refused.
spin_app() { # DIR FILES-LINE
	mkdir -p "$1"
	cp "$HELLO" "$1/hello.wasm"
	cat > "$1/spin.toml" <<TOML
spin_manifest_version = 2
[application]
name = "links"
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "hello.wasm"
$2
TOML
}
spin_refused() { # DESCRIPTION DIR
	local err rc
	err=$("$WP" build "$2" -t spinref:v1 2>&1); rc=$?
	is "$rc" "1" "$1: refused (exit 1)"
	like "$err" "leads outside the app folder.*--follow-links" "$1: the error says it leads outside and names the option"
	err=$("$WP" lock "$2" 2>&1); rc=$?
	is "$rc" "1" "$1: lock refuses it too"
}
spin_app s1 'files = ["static/**/*"]'
mkdir -p s1/static && printf 'in\n' > s1/static/in.txt && ln -s "$TMP/secret.txt" s1/static/x
spin_refused "a glob matching a link to a host file" s1
like "$("$WP" build s1 -t s1:v1 2>&1)" "static/x" "the error names the link"
spin_app s2 'files = ["static"]'
ln -s "$TMP" s2/static
spin_refused "a named folder that is a link out" s2
spin_app s3 'files = [{ source = "assets", destination = "/" }]'
mkdir -p s3/assets && ln -s ../../secret.txt s3/assets/y
spin_refused "a source folder holding a link climbing out" s3
spin_app s4 'files = ["static/x"]'
mkdir -p s4/static && ln -s "$TMP/secret.txt" s4/static/x
spin_refused "a file named in files that is a link out" s4
check "--follow-links builds it" "$WP" build --follow-links s4 -t s4:v1
spin_app s5 'files = ["static/**/*"]'
mkdir -p s5/static && printf 'in\n' > s5/static/in.txt && ln -s in.txt s5/static/alias
check "a Spin app whose links stay inside builds" "$WP" build s5 -t s5:v1
like "$("$WP" lock s5 | jq -c '.components[0].files')" "" "and locks"
# The Spin layout with --wasm and --file: links inside are followed (it has no links).
rm good/dangling
check "--layout spin with --file of a folder whose links stay inside" "$WP" build --layout spin --wasm "$HELLO" --file good:/site -t spinfile:v1
before=$(store_state "$WASMPACK_STORE")
err=$("$WP" build --layout spin --wasm "$HELLO" --file abs -t spinfile:v2 2>&1)
is "$?" "1" "--layout spin with --file of a folder with a link out: refused"
like "$err" "symbolic link 'x'" "naming the link"

done_testing
