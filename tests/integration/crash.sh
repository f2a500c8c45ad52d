#!/usr/bin/env bash
# Crashes: build, push, pull and gc on one store, each killed (SIGKILL) at a random moment,
# many times over. After every kill `gc --verify` must find the store clean (a killed
# process leaves no partial blob, no damaged manifest and no tag without its blobs: blobs
# are linked into place only when whole, index.json is replaced atomically, a tag is
# written last) and every tag must still resolve to a whole image, which `save` proves by
# reading and checking every blob. The seed is printed, so a failure can be replayed
# (CRASH_SEED=N).
. "$(dirname "$0")/lib.bash"
cd "$TMP"
seed=${CRASH_SEED:-$$}
RANDOM=$seed
echo "# seed $seed"
ROUNDS=${CRASH_ROUNDS:-16}
port=$(free_port)
start_registry reg "$port" || { ok 1 "the registry starts"; done_testing; exit 1; }
R=127.0.0.1:$port

# Three apps of 8-24 MiB of text (gzip has work to do: a build takes about 0.1-0.3 s here),
# so that a kill lands in the middle of the work more often than not.
for k in 1 2 3; do
	mkdir -p "app$k"
	for f in 1 2 3 4; do head -c $((k * 1500000 + f * 1000)) /dev/urandom | base64 -w 100 > "app$k/f$f.txt"; done
done

# The store is sound: gc --verify finds nothing damaged, drops no tag, leaves no temp file,
# and every tag resolves to an image whose every blob is there and checks.
sound() { # WHAT
	local out rc name bad=0
	out=$("$WP" gc --verify --format json 2>"$TMP/gc.err"); rc=$?
	if [ "$rc" -ne 0 ] || [ "$(jq -r '.blobsDamaged + .tagsRemoved' <<<"$out")" != "0" ]; then
		echo "#   gc --verify after $1: rc=$rc $out $(cat "$TMP/gc.err")"
		bad=1
	fi
	if [ -n "$(ls -A "$WASMPACK_STORE/.wasmpack/tmp" 2>/dev/null)" ] || ls -A "$WASMPACK_STORE/blobs/sha256" | grep -q '^\.'; then
		echo "#   temp files left after gc"
		bad=1
	fi
	while read -r name; do
		[ -n "$name" ] || continue
		if ! "$WP" save "$name" -o "$TMP/check.tar" >/dev/null 2>"$TMP/save.err"; then
			echo "#   tag $name does not resolve to a whole image after $1: $(cat "$TMP/save.err")"
			bad=1
		fi
	done < <("$WP" images --format json | jq -r '.[].name')
	store_verified "$WASMPACK_STORE" >/dev/null || { echo "#   a blob does not match its name after $1"; bad=1; }
	return $bad
}

# Runs a command in the background and kills it after MS milliseconds (drawn by the
# caller); prints whether it was still running.
kill_after() { # MS CMD...
	local ms=$1; shift
	"$@" >/dev/null 2>&1 &
	local pid=$!
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	if kill -9 "$pid" 2>/dev/null; then echo killed; else echo finished; fi
	wait "$pid" 2>/dev/null
}

# The store exists before the first kill (commands that only read never make one; a store
# whose first build was killed before it began is no store at all).
"$WP" build --wasm "$HELLO" --file app1 -t app1:v1 >/dev/null 2>&1

killed=0
finished=0
for round in $(seq 1 "$ROUNDS"); do
	k=$((RANDOM % 3 + 1))
	case $((RANDOM % 4)) in
	0) what="build of app$k"
	   r=$(kill_after $((RANDOM % 250)) "$WP" build --wasm "$HELLO" --file "app$k" --annotation round=$round -t "app$k:v1") ;;
	1) what="push of app$k"
	   "$WP" build --wasm "$HELLO" --file "app$k" -t "app$k:v1" >/dev/null 2>&1
	   "$WP" tag "app$k:v1" "$R/app$k:r$round" >/dev/null 2>&1
	   r=$(kill_after $((RANDOM % 120)) "$WP" push --plain-http "$R/app$k:r$round") ;;
	2) what="pull of app$k"
	   # a pushed image, with its blobs gone from the store first, so the pull has work
	   "$WP" build --wasm "$HELLO" --file "app$k" -t "app$k:v1" >/dev/null 2>&1
	   "$WP" tag "app$k:v1" "$R/app$k:p" >/dev/null 2>&1
	   "$WP" push --plain-http "$R/app$k:p" >/dev/null 2>&1
	   "$WP" images --format json | jq -r '.[].name' | grep "app$k:" | xargs -r "$WP" rmi >/dev/null 2>&1
	   "$WP" gc >/dev/null 2>&1
	   r=$(kill_after $((RANDOM % 120)) "$WP" pull --plain-http "$R/app$k:p") ;;
	3) what="gc after removing app$k"
	   "$WP" images --format json | jq -r '.[].name' | grep "app$k:" | xargs -r "$WP" rmi >/dev/null 2>&1
	   r=$(kill_after $((RANDOM % 15)) "$WP" gc) ;;
	esac
	[ "$r" = killed ] && killed=$((killed + 1)) || finished=$((finished + 1))
	sound "the $what ($r)"
	ok $? "round $round: $what $r at a random moment; the store is sound and every tag resolves"
done
echo "# $killed runs killed, $finished finished before the kill"
[ "$killed" -gt 0 ]; ok $? "at least one run was killed mid-way ($killed of $ROUNDS)"

# And after all that, each app builds, pushes and pulls as if nothing had happened.
for k in 1 2 3; do
	d=$("$WP" build --wasm "$HELLO" --file "app$k" -t "app$k:final") && "$WP" tag "app$k:final" "$R/app$k:final" >/dev/null &&
		"$WP" push --plain-http "$R/app$k:final" >/dev/null && "$WP" rmi "app$k:final" "$R/app$k:final" >/dev/null 2>&1
	is "$(WASMPACK_STORE=$TMP/fresh "$WP" pull --plain-http "$R/app$k:final" 2>&1)" "$d" "app$k builds, pushes and pulls whole afterwards"
done
done_testing
