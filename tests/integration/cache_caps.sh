#!/usr/bin/env bash
# The node cache has caps (issue 22, 5): WASMPACK_CACHE_MAX_ENTRIES and _MAX_SIZE (or
# [cache] in config.toml) evict the least recently used entries when an unpack or gc goes
# past them; an entry a running app holds is never evicted.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
if ! command -v node >/dev/null; then
	skip "needs node (scripts/deps.sh installs it)"
	done_testing
	exit
fi
export WASMPACK_CACHE=$TMP/cache WASMPACK_ENGINE=node
SLEEPER=$BUILD/testdata/sleeper.wasm
entries() { ls "$WASMPACK_CACHE" | grep -c '^[0-9a-f]\{64\}$'; }
hex_of() { "$WP" images --format json | jq -r --arg n "docker.io/library/$1" '.[] | select(.name == $n) | .digest' | cut -d: -f2; }
for i in 1 2 3 4; do "$WP" build --wasm "$EXITC" --env "N=$i" -t "app$i:v1" >/dev/null; done
"$WP" build --wasm "$SLEEPER" -t sleepy:v1 >/dev/null

export WASMPACK_CACHE_MAX_ENTRIES=2
# a running app holds its entry: it stays whatever the caps say
"$WP" run sleepy:v1 -- 30 > sleepy.out 2>&1 &
sp=$!
on_exit "kill $sp 2>/dev/null"
for _ in $(seq 1 100); do grep -q "sleeper started" sleepy.out 2>/dev/null && break; sleep 0.05; done
for i in 1 2 3; do "$WP" run "app$i:v1" -- 0 >/dev/null 2>&1; sleep 0.05; done
is "$(entries)" "2" "at most 2 entries: the least recently used went"
check "the running app's entry stayed" test -d "$WASMPACK_CACHE/$(hex_of sleepy:v1)"
check "the entry just made stayed" test -d "$WASMPACK_CACHE/$(hex_of app3:v1)"
check "the oldest idle one went" test ! -e "$WASMPACK_CACHE/$(hex_of app1:v1)"
out=$("$WP" run "app1:v1" -- 5 2>&1); rc=$?
is "$rc" "5" "an evicted app runs again (unpacked anew)"
kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null

# recently used wins: app1 just ran; a run of app4 evicts the others first
"$WP" run "app1:v1" -- 0 >/dev/null 2>&1
"$WP" run "app4:v1" -- 0 >/dev/null 2>&1
check "a recently used entry stays" test -d "$WASMPACK_CACHE/$(hex_of app1:v1)"
check "and the new one" test -d "$WASMPACK_CACHE/$(hex_of app4:v1)"
is "$(entries)" "2" "still 2"

# the size cap, from config.toml's [cache] (the environment wins over it)
unset WASMPACK_CACHE_MAX_ENTRIES
mkdir -p cfg && printf '[cache]\nmax_size = "1K"\nmax_entries = 100\n' > cfg/config.toml
WASMPACK_CONFIG=$TMP/cfg/config.toml "$WP" run "app2:v1" -- 0 >/dev/null 2>&1
is "$(entries)" "1" "[cache] max_size = \"1K\" in config.toml: only the entry just made is left"
WASMPACK_CONFIG=$TMP/cfg/config.toml WASMPACK_CACHE_MAX_SIZE=20G "$WP" run "app3:v1" -- 0 >/dev/null 2>&1
is "$(entries)" "2" "WASMPACK_CACHE_MAX_SIZE=20G wins over the file"
out=$(WASMPACK_CACHE_MAX_ENTRIES=1 "$WP" gc --format json); rc=$?
is "$rc:$(jq -r .cacheEntriesEvicted <<<"$out")" "0:1" "gc holds the cache to its caps too (one evicted)"
is "$(entries)" "1" "leaving one"
done_testing
