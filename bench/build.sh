#!/usr/bin/env bash
# `wasmpack build` side by side with its peers, in one run, on one generated app:
# one WASM_MIB wasm file plus FILES static files of FILE_KIB each.
#   - the hashing floor: `openssl dgst -sha256` over the same bytes
#   - umoci building the same image (init, new, insert wasm, insert static)
# Figures are medians of RUNS runs with warm page caches; ratios are what to read.
# Usage: bench/build.sh            (WASM_MIB=256 FILES=2000 FILE_KIB=16 RUNS=5)
#        WASM_CONTENT=text bench/build.sh   (compressible wasm instead of high-entropy)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
WP=${WASMPACK_BUILD:-$ROOT/build}/wasmpack
WASM_MIB=${WASM_MIB:-256}
FILES=${FILES:-2000}
FILE_KIB=${FILE_KIB:-16}
RUNS=${RUNS:-5}
WASM_CONTENT=${WASM_CONTENT:-random}
for tool in openssl umoci /usr/bin/time perl; do
	command -v "$tool" >/dev/null || { echo "bench needs $tool (scripts/deps.sh installs it)" >&2; exit 1; }
done
W=$(mktemp -d /tmp/wasmpack-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"

# The app. The wasm file is high-entropy by default (code plus embedded data such as model
# weights is what makes a wasm file this large); half the static files are text, half are
# already compressed (images, fonts), as on a typical site.
{
	printf '\0asm\1\0\0\0'
	if [ "$WASM_CONTENT" = text ]; then
		head -c $((WASM_MIB * 1048576 - 8)) < <(base64 -w 76 /dev/urandom)
	else
		head -c $((WASM_MIB * 1048576 - 8)) /dev/urandom
	fi
} > app.wasm
mkdir -p static/text static/media
perl -e '
	my @w = qw(wasm component layer image registry node cluster pod shim engine module store blob digest
	           manifest config tag build push pull run the a of to and in for with on from by);
	srand(42);
	for my $i (1 .. '"$FILES"' / 2) {
		open(my $f, ">", "static/text/page$i.html") or die;
		my $s = "";
		$s .= $w[int(rand(@w))] . (rand() < 0.1 ? ".\n" : " ") while length($s) < '"$FILE_KIB"' * 1024;
		print $f substr($s, 0, '"$FILE_KIB"' * 1024);
	}'
for i in $(seq 1 $((FILES - FILES / 2))); do head -c $((FILE_KIB * 1024)) /dev/urandom > "static/media/img$i.png"; done
total_bytes=$(( $(stat -c %s app.wasm) + $(find static -type f -printf '%s\n' | paste -sd+ | bc) ))

. "$ROOT/bench/timing.sh"
rss_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

# Warm the page cache so every tool reads from memory.
cat app.wasm static/*/* > /dev/null

umoci_build() {
	umoci init --layout u && umoci new --image u:t &&
		umoci insert --rootless --image u:t app.wasm /app.wasm &&
		umoci insert --rootless --image u:t static /static
}
# The floors hash every byte once, on one thread. They are not the same work as a build:
# the image layout hashes each byte twice (the file's digest for the stat cache, and the
# layer as it is gzipped) and gzips, on two threads; they say what reading and hashing
# alone cost.
times=$(time_interleaved \
	hash_all : 'openssl dgst -sha256 app.wasm static/text/* static/media/*' \
	hash_wasm : 'openssl dgst -sha256 app.wasm' \
	wasm_first 'rm -rf s1' 'WASMPACK_STORE=s1 "$WP" build --layout wasm --wasm app.wasm' \
	image_first 'rm -rf s2' 'WASMPACK_STORE=s2 "$WP" build --wasm app.wasm --file static' \
	umoci 'rm -rf u' 'umoci_build')
floor_all=$(pick hash_all <<<"$times"); floor_wasm=$(pick hash_wasm <<<"$times")
wasm_first=$(pick wasm_first <<<"$times"); image_first=$(pick image_first <<<"$times"); umoci_first=$(pick umoci <<<"$times")
wasm_rebuild=$(time_cmd : env WASMPACK_STORE=s1 "$WP" build --layout wasm --wasm app.wasm)
image_rebuild=$(time_cmd : env WASMPACK_STORE=s2 "$WP" build --wasm app.wasm --file static)
# Both images hold exactly the app: unpacked, each tree is the input, byte for byte.
WASMPACK_STORE=s2 "$WP" unpack "$(WASMPACK_STORE=s2 "$WP" build --wasm app.wasm --file static)" -o wp-tree >/dev/null
umoci raw unpack --rootless --image u:t umoci-tree >/dev/null 2>&1
mkdir -p want && cp app.wasm want/ && cp -r static want/
diff -r want wp-tree/rootfs >/dev/null || { echo "bench: wasmpack's image does not hold the app" >&2; exit 1; }
diff -r want umoci-tree >/dev/null || { echo "bench: umoci's image does not hold the app" >&2; exit 1; }
[ "$(sha256sum < s1/blobs/sha256/"$(sha256sum app.wasm | cut -d' ' -f1)" | cut -d' ' -f1)" = "$(sha256sum app.wasm | cut -d' ' -f1)" ] ||
	{ echo "bench: the wasm layout's layer is not the wasm file" >&2; exit 1; }
rm -rf s3 s4
rss_wasm=$(WASMPACK_STORE=s3 rss_kib "$WP" build --layout wasm --wasm app.wasm)
rss_image=$(WASMPACK_STORE=s4 rss_kib "$WP" build --wasm app.wasm --file static)
rss_image_rebuild=$(WASMPACK_STORE=s4 rss_kib "$WP" build --wasm app.wasm --file static)
wp_size=$(du -sb s2/blobs | cut -f1)
umoci_size=$(du -sb u/blobs | cut -f1)

cat <<TABLE
app: $WASM_MIB MiB wasm ($WASM_CONTENT) + $FILES files of $FILE_KIB KiB = $((total_bytes / 1048576)) MiB; $(nproc) cores; interleaved, median of $RUNS runs
checked: wasmpack's and umoci's images unpack to the app's files byte for byte; the wasm layout's layer is the wasm file
| what                                   | seconds | ratio                          |
|----------------------------------------|---------|--------------------------------|
| openssl dgst -sha256, wasm only, 1 thread | $floor_wasm | 1.00 (hashing the bytes once) |
| openssl dgst -sha256, all bytes, 1 thread | $floor_all | 1.00 (hashing the bytes once; a build hashes twice and gzips) |
| wasmpack build --layout wasm           | $wasm_first | $(ratio "$wasm_first" "$floor_wasm") x floor |
| wasmpack build --layout wasm, rebuild  | $wasm_rebuild | $(ratio "$wasm_rebuild" "$wasm_first") x first build |
| wasmpack build --layout image          | $image_first | $(ratio "$image_first" "$umoci_first") x umoci, $(ratio "$image_first" "$floor_all") x floor |
| wasmpack build --layout image, rebuild | $image_rebuild | $(ratio "$image_rebuild" "$image_first") x first build |
| umoci init/new/insert/insert           | $umoci_first | 1.00                           |
peak RSS: build --layout wasm $((rss_wasm / 1024)) MiB, --layout image $((rss_image / 1024)) MiB, image rebuild $((rss_image_rebuild / 1024)) MiB
stored blobs: wasmpack $((wp_size / 1048576)) MiB, umoci $((umoci_size / 1048576)) MiB
TABLE
