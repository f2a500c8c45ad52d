#!/usr/bin/env bash
# `build --layout wasm`: the CNCF TAG Runtime wasm OCI artifact, exactly.
. "$(dirname "$0")/lib.bash"
cd "$TMP"

out=$("$WP" build --layout wasm --wasm "$HELLO" -t wasm:v1 --format json)
ok $? "build --layout wasm"
manifest=$("$WP" inspect --raw manifest wasm:v1)
config=$("$WP" inspect --raw config wasm:v1)
file_digest="sha256:$(sha256sum "$HELLO" | cut -d' ' -f1)"
is "$(jq -r .mediaType <<<"$manifest")" "application/vnd.oci.image.manifest.v1+json" "manifest media type"
is "$(jq -r .config.mediaType <<<"$manifest")" "application/vnd.wasm.config.v0+json" "config media type"
is "$(jq -r 'has("artifactType")' <<<"$manifest")" "false" "no artifactType"
is "$(jq -r '.layers|length' <<<"$manifest")" "1" "exactly one layer"
is "$(jq -r '.layers[0].mediaType' <<<"$manifest")" "application/wasm" "layer media type application/wasm"
is "$(jq -r '.layers[0].digest' <<<"$manifest")" "$file_digest" "the layer is the raw wasm bytes"
is "$(jq -r '.layers[0].size' <<<"$manifest")" "$(stat -c %s "$HELLO")" "layer size"
is "$(jq -r '.layers[0].annotations["org.opencontainers.image.title"]' <<<"$manifest")" "hello.wasm" "layer title annotation is the file name"
is "$(jq -r '.architecture + " " + .os' <<<"$config")" "wasm wasip1" "a core module is wasm/wasip1"
is "$(jq -c .layerDigests <<<"$config")" "[\"$file_digest\"]" "layerDigests lists the layer"
check "the layer blob is byte-identical to the input" cmp "$(blob "$file_digest")" "$HELLO"
sk=$(skopeo inspect --raw "oci:$WASMPACK_STORE:docker.io/library/wasm:v1" 2>&1)
is "$(jq -r .config.mediaType <<<"$sk")" "application/vnd.wasm.config.v0+json" "skopeo reads the artifact manifest"

# A component: its top-level imports and exports go into the config and os is wasip2.
perl -e '
	sub leb { my $n = shift; my $o = ""; do { my $b = $n & 0x7f; $n >>= 7; $b |= 0x80 if $n; $o .= chr($b) } while ($n); $o }
	sub name { my $s = shift; leb(length $s) . $s }
	my $imp = leb(2) . "\x00" . name("wasi:cli/environment\@0.2.0") . "\x05" . leb(0)
	                 . "\x00" . name("wasi:io/streams\@0.2.0") . "\x05" . leb(1);
	my $exp = leb(1) . "\x00" . name("wasi:cli/run\@0.2.0") . "\x05" . leb(0) . "\x00";
	print "\x00asm\x0d\x00\x01\x00" . "\x0a" . leb(length $imp) . $imp . "\x0b" . leb(length $exp) . $exp;
' > comp.wasm
out=$("$WP" build --layout wasm --wasm comp.wasm --format json)
ok $? "build a component"
cfg=$(cat "$(blob "$(jq -r .config.digest <<<"$out")")")
is "$(jq -r .os <<<"$cfg")" "wasip2" "a component is wasip2"
is "$(jq -c .component.imports <<<"$cfg")" '["wasi:cli/environment@0.2.0","wasi:io/streams@0.2.0"]' "component imports"
is "$(jq -c .component.exports <<<"$cfg")" '["wasi:cli/run@0.2.0"]' "component exports"

# What the artifact cannot hold is refused, and nothing is written.
before=$(store_state "$WASMPACK_STORE")
err=$("$WP" build --layout wasm --wasm "$HELLO" --file "$HELLO" 2>&1); rc=$?
is "$rc" "2" "static files with --layout wasm: usage error"
like "$err" "static files" "the error says why"
err=$("$WP" build --layout wasm --wasm "$HELLO" --wasm "$EXITC" 2>&1); rc=$?
is "$rc" "2" "two wasm files with --layout wasm: usage error"
like "$err" "exactly one wasm" "the error says why"
"$WP" build --layout wasm --wasm "$HELLO" --env A=b >/dev/null 2>&1
is "$?" "2" "--env with --layout wasm: usage error"
printf '\x00asm\x02\x00\x00\x00' > odd.wasm
err=$("$WP" build --layout wasm --wasm odd.wasm 2>&1); rc=$?
is "$rc" "2" "an unknown wasm version is refused (a --wasm that is no usable wasm: usage, exit 2)"
like "$err" "not a wasm binary" "the error names the problem"
is "$(store_state "$WASMPACK_STORE")" "$before" "the store is unchanged by the refused builds"
"$WP" build --layout bogus --wasm "$HELLO" >/dev/null 2>&1
is "$?" "2" "an unknown layout is a usage error"

done_testing
