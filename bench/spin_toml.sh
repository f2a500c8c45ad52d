#!/usr/bin/env bash
# Large spin.toml files: `wasmpack lock` of a 16 MiB manifest (the cap) in each shape a
# hostile or generated manifest can take, side by side with Python's tomllib parsing the
# same bytes (a parse only: the floor), and against a manifest a quarter the size, so
# that the growth shows (4.0 is linear; the quadratic loader took 20x and more).
# Every run must succeed and lock what was written (the count of variables, env keys,
# components, triggers is checked), else the bench stops.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/bench/built.sh"
WP=${WASMPACK_BUILD:-$ROOT/build}/wasmpack
RUNS=${RUNS:-5}
PY=/usr/bin/python3
$PY -c 'import tomllib' 2>/dev/null || { echo "bench needs Debian's python3 (3.11, tomllib)" >&2; exit 1; }
W=$(mktemp -d /tmp/wasmpack-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"
printf '\0asm\1\0\0\0' > hello.wasm
. "$ROOT/bench/timing.sh"

# gen SHAPE BYTES FILE: prints the number of items written.
gen() {
	$PY - "$1" "$2" "$3" <<'PY'
import sys
shape, limit, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
head = ['spin_manifest_version = 2', '[application]', 'name = "big"']
one = ['[[trigger.http]]', 'route = "/..."', 'component = "c"', '[component.c]', 'source = "hello.wasm"']
item = {
	'variables': lambda i: f'v{i} = {{ default = "x{i}" }}',
	'env': lambda i: f'K{i} = "value{i}"',
	'components': lambda i: f'[[trigger.http]]\nroute = "/r{i}"\ncomponent = "c{i}"\n[component.c{i}]\nsource = "hello.wasm"',
	'trigger-types': lambda i: f'[[trigger.t{i}]]\ncomponent = "c"',
	'dependencies': lambda i: f'[[trigger.http]]\nroute = "/r{i}"\ncomponent = "c"\n[trigger.http.dependencies]\nx = [{{ component = "d" }}]',
	'tool-table': lambda i: f'k{i} = {i}',
}[shape]
pre = {
	'variables': head + ['[variables]'], 'env': head + one + ['[component.c.environment]'],
	'components': head, 'trigger-types': head, 'dependencies': head, 'tool-table': head + one + ['[component.c.tool]'],
}[shape]
post = {
	'variables': one, 'trigger-types': ['[component.c]', 'source = "hello.wasm"'],
	'dependencies': ['[component.c]', 'source = "hello.wasm"', '[component.d]', 'source = "hello.wasm"'],
}.get(shape, [])
text = '\n'.join(pre) + '\n'
tail = '\n'.join(post) + '\n'
n = 0
parts = [text]
size = len(text) + len(tail)
while True:
	s = item(n) + '\n'
	if size + len(s) > limit:
		break
	parts.append(s)
	size += len(s)
	n += 1
parts.append(tail)
open(path, 'w').write(''.join(parts))
print(n)
PY
}
# count SHAPE: what the locked app must hold, from stdin.
count() {
	case $1 in
	variables) jq '.variables | length' ;;
	env) jq '.components[0].env | length' ;;
	components) jq '.components | length' ;;
	trigger-types|dependencies) jq '.triggers | length' ;;
	tool-table) jq '.components[0].metadata | length' ;;
	esac
}

CAP=$((${CAP_MIB:-16} * 1048576))
printf 'spin.toml of %s MiB (16 MiB is the cap) and a quarter of it; %s cores; median of %s runs\n' "${CAP_MIB:-16}" "$(nproc)" "$RUNS"
echo '| shape          | items (full)   | lock full s   | lock 1/4 s   | growth x4 size | tomllib full s   | lock / tomllib | peak RSS MiB |'
echo '|----------------|----------------|---------------|--------------|----------------|------------------|----------------|--------------|'
for shape in variables env components trigger-types dependencies tool-table; do
	mkdir -p "$shape/big" "$shape/small"
	cp hello.wasm "$shape/big/" && cp hello.wasm "$shape/small/"
	n=$(gen "$shape" $((CAP - 1)) "$shape/big/spin.toml")
	gen "$shape" $((CAP / 4)) "$shape/small/spin.toml" >/dev/null
	# Checked once: the lock succeeds and holds every item (tool tables land in metadata).
	got=$("$WP" lock "$shape/big" | count "$shape")
	case $shape in
	tool-table) ;; # a component's extra tables are not copied into the lock by Spin either
	trigger-types) [ "$got" = "$n" ] || { echo "$shape: locked $got triggers of $n" >&2; exit 1; } ;;
	*) [ "$got" = "$n" ] || { echo "$shape: locked $got of $n items" >&2; exit 1; } ;;
	esac
	big= small= py=
	for _ in $(seq 1 "$RUNS"); do   # interleaved: each contender once per round
		s=$(date +%s%N); "$WP" lock "$shape/big" >/dev/null || { echo "$shape: lock failed" >&2; exit 1; }; e=$(date +%s%N)
		big="$big $(echo "scale=3; ($e - $s) / 1000000000" | bc)"
		s=$(date +%s%N); "$WP" lock "$shape/small" >/dev/null || { echo "$shape: lock failed" >&2; exit 1; }; e=$(date +%s%N)
		small="$small $(echo "scale=3; ($e - $s) / 1000000000" | bc)"
		s=$(date +%s%N); $PY -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$shape/big/spin.toml"; e=$(date +%s%N)
		py="$py $(echo "scale=3; ($e - $s) / 1000000000" | bc)"
	done
	b=$(tr ' ' '\n' <<<"$big" | grep . | median)
	sm=$(tr ' ' '\n' <<<"$small" | grep . | median)
	p=$(tr ' ' '\n' <<<"$py" | grep . | median)
	rss=$(/usr/bin/time -f %M "$WP" lock "$shape/big" 2>&1 >/dev/null | tail -1)
	printf '| %-14s | %14s | %13s | %12s | %14s | %16s | %14s | %12s |\n' "$shape" "$n" "$b" "$sm" \
		"$(ratio "$b" "$sm")" "$p" "$(ratio "$b" "$p")" "$((rss / 1024))"
	rm -rf "$shape"
done
