#!/usr/bin/env bash
# Bad input gets a clear error and a documented exit code, and the store loses nothing:
# no partial blob, no dangling tag.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
mkdir -p app/static && printf 'x\n' > app/static/a.txt
"$WP" build --wasm "$HELLO" -t base:v1 >/dev/null
before=$(store_state "$WASMPACK_STORE")

expect() { # expect EXIT PATTERN DESCRIPTION -- ARGS...
	local want=$1 pat=$2 desc=$3 err rc
	shift 4
	err=$("$@" 2>&1 >/dev/null); rc=$?
	is "$rc" "$want" "$desc: exit $want"
	like "$err" "$pat" "$desc: error names the problem"
	is "$(store_state "$WASMPACK_STORE")" "$before" "$desc: store unchanged"
}

expect 2 "missing.wasm'.*No such file" "a missing --wasm" -- "$WP" build --wasm missing.wasm -t t:1
printf 'plain text\n' > notwasm.wasm
expect 2 "'notwasm.wasm' is not a wasm binary" "a non-wasm --wasm" -- "$WP" build --wasm notwasm.wasm -t t:1
expect 1 "escapes its root" "a --file DEST escaping the root" -- "$WP" build --wasm "$HELLO" --file app/static/a.txt:../../etc/x -t t:1
expect 1 "escapes its root" "a --file DEST with .. inside" -- "$WP" build --wasm "$HELLO" --file app/static/a.txt:/a/../../b -t t:1
expect 2 "no-such-dir" "a missing --file" -- "$WP" build --wasm "$HELLO" --file no-such-dir -t t:1
expect 2 "invalid reference 'Bad/Upper:1'" "an invalid reference" -- "$WP" build --wasm "$HELLO" -t Bad/Upper:1
expect 2 "bad tag" "an invalid tag" -- "$WP" build --wasm "$HELLO" -t 'app:-x'
# Registry hosts: RFC 1123 names or [IPv6], ports 1-65535; anything else is a usage error.
expect 2 "bad registry host 'localhost:99999999999999999999'" "a port past 2^64" -- "$WP" tag base:v1 'localhost:99999999999999999999/x:y'
expect 2 "bad registry host 'localhost:65536'" "port 65536" -- "$WP" tag base:v1 'localhost:65536/x:y'
expect 2 "bad registry host 'localhost:0'" "port 0" -- "$WP" build --wasm "$HELLO" -t 'localhost:0/x:y'
expect 2 "invalid reference '\[\]'" "empty brackets" -- "$WP" tag base:v1 '[]'
expect 2 "bad registry host '\[\]:5000'" "empty IPv6 address" -- "$WP" tag base:v1 '[]:5000/x'
expect 2 "bad registry host '\[::1'" "an unclosed bracket" -- "$WP" pull '[::1/x:y'
expect 2 "bad registry host 'a\.\.b\.com'" "an empty label" -- "$WP" push 'a..b.com/x:y'
expect 2 "not a registry host" "login to a port past 65535" -- "$WP" login 'localhost:99999' -u me --password-stdin
expect 2 "not a registry host" "logout of an empty host" -- "$WP" logout '[]'
expect 2 "want KEY=VALUE" "an --env without =" -- "$WP" build --wasm "$HELLO" --env NOVALUE
expect 2 "nothing to build" "no --wasm at all" -- "$WP" build
expect 2 "unknown option '--bogus'" "an unknown option" -- "$WP" build --bogus
expect 1 "both be written to '/a.txt'" "two files at one place" -- "$WP" build --wasm "$HELLO" --file app/static/a.txt:a.txt --file app/static/a.txt:/a.txt
ln -s "$TMP/app" app/static/loop
expect 1 "symbolic link 'loop' -> '$TMP/app' leads outside the folder 'app/static'" "a symlink to a folder outside --file" -- "$WP" build --wasm "$HELLO" --file app/static
rm app/static/loop
expect 2 "unknown command" "an unknown command" -- "$WP" frobnicate

if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	# nobody builds into a store of its own (another user's store is refused)
	chmod 755 "$TMP" "$TMP/app" "$TMP/app/static"; mkdir -p "$TMP/nobody-store" && chown 65534:65534 "$TMP/nobody-store"
	cp "$HELLO" "$TMP/hello.wasm"; chmod 644 "$TMP/hello.wasm"
	printf 'secret\n' > app/static/secret.txt && chmod 600 app/static/secret.txt
	expect 1 "cannot be read" "an unreadable file" -- setpriv --reuid=65534 --regid=65534 --clear-groups env WASMPACK_STORE="$TMP/nobody-store" "$WP" build --wasm "$TMP/hello.wasm" --file app/static -t t:1
	rm -f app/static/secret.txt
else
	skip "unreadable file: needs root to drop privileges"; skip "-"; skip "-"
fi

# A full disk: the build fails cleanly and the store keeps what it had.
if mkdir -p "$TMP/small" && mount -t tmpfs -o size=2m tmpfs "$TMP/small" 2>/dev/null; then
	on_exit "umount '$TMP/small'"
	export WASMPACK_STORE=$TMP/small/store
	"$WP" build --wasm "$HELLO" -t small:v1 >/dev/null
	before=$(store_state "$WASMPACK_STORE")
	head -c 3000000 /dev/urandom > "$TMP/big.bin"
	err=$("$WP" build --wasm "$HELLO" --file "$TMP/big.bin" --gzip-level 1 -t small:v2 2>&1); rc=$?
	is "$rc" "1" "a full disk: exit 1"
	like "$err" "No space left on device" "a full disk: the error says so"
	# Complete blobs of the failed build may stay until gc; what was there stays intact.
	check "a full disk: every blob matches its digest" store_verified "$WASMPACK_STORE"
	check "a full disk: everything stored before is intact" sh -c "cd '$WASMPACK_STORE' && printf '%s\n' \"\$1\" | sha256sum -c --quiet" - "$before"
	export WASMPACK_STORE=$TMP/store
	before=$(store_state "$WASMPACK_STORE")
else
	skip "full disk: cannot mount a tmpfs here"; skip "-"; skip "-"; skip "-"
fi

# A build killed mid-way leaves no partial blob and no tag.
base64 /dev/urandom | head -c 200000000 > "$TMP/huge.txt"
WASMPACK_THREADS=1 "$WP" build --wasm "$HELLO" --file "$TMP/huge.txt" --gzip-level 9 -t killed:v1 >/dev/null 2>&1 &
pid=$!
# Killed only once it is writing the big layer: an unnamed file (O_TMPFILE) open in the
# blobs folder, seen in /proc as "blobs/sha256/#INODE (deleted)", that has grown.
writing=
for _ in $(seq 1 200); do
	for fd in /proc/$pid/fd/*; do
		t=$(readlink "$fd" 2>/dev/null) || continue
		case $t in "$WASMPACK_STORE/blobs/sha256/#"*) [ "$(stat -L -c %s "$fd" 2>/dev/null || echo 0)" -gt 1000000 ] && writing=$t ;; esac
	done
	[ -n "$writing" ] && break
	sleep 0.05
done
like "$writing" "blobs/sha256/#[0-9]+ \(deleted\)" "the build was writing a blob (an unnamed temp file) when killed"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
is "$?" "137" "the build was killed mid-way (SIGKILL)"
check "every blob after the kill matches its digest" store_verified "$WASMPACK_STORE"
is "$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]]|join(",")' "$WASMPACK_STORE/index.json")" \
	"docker.io/library/base:v1" "no tag from the killed build"
is "$(ls -A "$WASMPACK_STORE/blobs/sha256" | grep -cvE '^[0-9a-f]{64}$')" "0" "no temp file left in the blobs folder"
is "$(find "$WASMPACK_STORE/.wasmpack/tmp" -type f | wc -l)" "0" "nor in .wasmpack/tmp (where a file system without O_TMPFILE keeps them)"
check "the next build works" "$WP" build --wasm "$HELLO" --file app/static -t after:v1

# A store path past PATH_MAX, before and after the command, with a space or "=".
long=$TMP/$(printf 'a%.0s' $(seq 1 5000))
for form in "--store $long run img:v1" "--store=$long run img:v1" "run --store $long img:v1"; do
	# shellcheck disable=SC2086
	err=$("$WP" $form 2>&1); rc=$?
	is "$rc" "1" "wasmpack $(cut -c1-16 <<<"$form")... with a 5,000-character store path: exit 1, no crash"
	like "$err" "store path too long" "and says the store path is too long"
done

done_testing
