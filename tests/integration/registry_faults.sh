#!/usr/bin/env bash
# Faults between wasmpack and the registry (a proxy of the tests' own): dropped
# connections mid-body, 500s, 429 with Retry-After, truncated and damaged blobs. Push and
# pull succeed through retries or fail with a clear error; the store never holds a blob
# whose digest does not match; nothing hangs (every command has a time limit).
. "$(dirname "$0")/lib.bash"
command -v docker-registry >/dev/null || { skip "docker-registry is not installed"; done_testing; exit; }
export WASMPACK_RETRY_BASE_MS=20
rport=$(free_port)
start_registry faults "$rport" || { ok 1 "registry starts"; done_testing; exit 1; }
pport=$(free_port)
rules=$TMP/rules
plog=$TMP/proxy.log
: > "$rules"
"$BUILD/tests/helpers/fault_proxy" "$pport" "$rport" "$rules" "$plog" &
ppid=$!
on_exit "kill $ppid 2>/dev/null"
wait_http "http://127.0.0.1:$pport/v2/" || { ok 1 "proxy starts"; done_testing; exit 1; }
P=127.0.0.1:$pport
W() { timeout 120 "$WP" "$@"; }
nrules=0
faults() { nrules=$((nrules + 1)); { printf '%s\n' "$@"; echo "# rules $nrules"; } > "$rules"; : > "$plog"; : > "$plog.t"; }
cd "$TMP"
mkdir -p app && head -c 40000000 /dev/urandom > app/big.bin && printf 'small\n' > app/small.txt
d=$(cd app && "$WP" build --wasm "$HELLO" --file small.txt --file big.bin -t $P/f/app:v1)

faults "* /v2/f/ 2 status500" "HEAD /blobs/ 1 status429"
out=$(W push $P/f/app:v1 --plain-http --format json); rc=$?
is "$rc" "0" "push succeeds through two 500s and a 429"
[ "$(jq -r .transfer.retries <<<"$out")" -ge 3 ]; ok $? "and says it retried"
grep -q "status429" "$plog"; ok $? "the proxy did answer 429"
# Retry-After: 1 — the same request again no sooner than a second after the 429 (the
# proxy's clock; retries of the 500s wait 20 ms here).
gap=$(awk '$4 == "status429" {path = $3; method = $2; t = $1; next} t && $2 == method && $3 == path {print $1 - t; exit}' "$plog.t")
like "${gap:-none}" "^[0-9]+$" "the 429'd request was made again"
[ "${gap:-0}" -ge 1000 ]; ok $? "Retry-After: 1 was honoured: ${gap:-?} ms between the 429 and the retry"

# A PATCH cut off mid-body: the upload resumes from the range the registry reports.
head -c 40000000 /dev/urandom > app/big2.bin
d2=$(cd app && "$WP" build --wasm "$HELLO" --file big2.bin -t $P/f/resume:v1)
faults "PATCH /blobs/uploads 1 droprequest"
out=$(W push $P/f/resume:v1 --plain-http --format json); rc=$?
is "$rc" "0" "push survives a connection dropped during a PATCH"
grep -q "^GET /v2/f/resume/blobs/uploads/" "$plog"; ok $? "it asked the registry for the upload's status"
grep -q "^PATCH .* droprequest" "$plog"; ok $? "the proxy did cut a PATCH off"
is "$(jq -r '.blobs|max_by(.size).outcome' <<<"$out")" "uploaded" "the big layer was uploaded (not mounted)"
is "$(WASMPACK_STORE=$TMP/s1 W pull 127.0.0.1:$rport/f/resume:v1 --plain-http)" "$d2" "the resumed upload is intact (pulled straight from the registry)"
check "and every blob matches" store_verified "$TMP/s1"

# A monolithic PUT cut off: start that blob again.
head -c 3000000 /dev/urandom > app/mono.bin
d3=$(cd app && "$WP" build --wasm "$HELLO" --file mono.bin -t $P/f/mono:v1)
faults "PUT /blobs/uploads 1 droprequest"
is "$(W push $P/f/mono:v1 --plain-http)" "$d3" "push survives a dropped monolithic PUT"
grep -q "^PUT .* droprequest" "$plog"; ok $? "the proxy did cut the PUT off"

# Pulls: dropped mid-body (resumed with Range), a flipped byte (fetched again).
faults "GET /blobs/sha256 1 drop"
out=$(WASMPACK_STORE=$TMP/s2 W pull $P/f/app:v1 --plain-http --format json); rc=$?
is "$rc" "0" "pull survives a connection dropped mid-blob"
grep -q "drop" "$plog"; ok $? "the proxy did drop it"
grep -q "^GET /v2/f/app/blobs/sha256.* range" "$plog"; ok $? "and the blob was resumed with a Range request"
check "the resumed blobs match their digests" store_verified "$TMP/s2"
faults "GET /blobs/sha256 1 flip"
out=$(WASMPACK_STORE=$TMP/s3 W pull $P/f/app:v1 --plain-http --format json 2>/dev/null); rc=$?
is "$rc" "0" "pull survives a flipped byte by fetching again"
flipped=$(awk '$3 == "flip" {print $2}' "$plog")
like "$flipped" "^/v2/f/app/blobs/sha256:[0-9a-f]{64}$" "the proxy did flip a byte of one blob"
is "$(grep -c "^GET $flipped " "$plog")" "2" "and that blob was fetched again"
# A transfer that stalls (half a blob, then nothing): given up after the stall limit
# (60 s; 2 s here through WASMPACK_STALL_SECONDS) and resumed.
faults "GET /blobs/sha256 1 stall"
start=$(date +%s%N)
out=$(WASMPACK_STALL_SECONDS=2 WASMPACK_STORE=$TMP/s-stall timeout 60 "$WP" pull $P/f/app:v1 --plain-http --format json 2>&1); rc=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
is "$rc" "0" "pull survives a stalled blob"
stalled=$(awk '$3 == "stall" {print $2}' "$plog")
like "$stalled" "^/v2/f/app/blobs/sha256:" "the proxy did stall one"
grep -q "^GET $stalled - range" "$plog"; ok $? "and it was resumed with a Range request"
[ "$elapsed" -ge 2000 ] && [ "$elapsed" -lt 20000 ]; ok $? "after the 2 s stall limit, not the default 60 s (${elapsed} ms)"
check "the blobs match their digests" store_verified "$TMP/s-stall"
check "the store holds only blobs that match" store_verified "$TMP/s3"

# A manifest fetched by tag is checked against the registry's Docker-Content-Digest: a
# byte changed on the way is caught though no digest was asked for.
faults "GET /v2/f/app/manifests/v1 99 flip"
err=$(WASMPACK_STORE=$TMP/s-dcd W pull $P/f/app:v1 --plain-http 2>&1); rc=$?
is "$rc" "5" "a manifest whose bytes do not match Docker-Content-Digest: exit 5"
like "$err" "the manifest has digest sha256:[0-9a-f]{64}, the registry says $d" "saying both digests"
grep -q "^GET /v2/f/app/manifests/v1 flip" "$plog"; ok $? "the proxy did change the manifest"
is "$(WASMPACK_STORE=$TMP/s-dcd "$WP" images --format json 2>/dev/null | jq length)" "0" "and nothing was tagged"

# Faults that do not go away: clear errors, nothing bad stored, no tag, no manifest.
faults "GET /blobs/sha256 99 flip"
err=$(WASMPACK_STORE=$TMP/s4 W pull $P/f/app:v1 --plain-http 2>&1); rc=$?
is "$rc" "5" "a blob damaged every time: exit 5"
like "$err" "digest mismatch" "and says digest mismatch"
check "no damaged blob in the store" store_verified "$TMP/s4"
is "$(WASMPACK_STORE=$TMP/s4 "$WP" images --format json | jq length)" "0" "and no tag"
faults "GET /blobs/sha256 99 short"
err=$(WASMPACK_STORE=$TMP/s5 W pull $P/f/app:v1 --plain-http 2>&1); rc=$?
[ "$rc" -ne 0 ]; ok $? "a blob cut short every time fails"
like "$err" "ended after" "and says the blob ended early"
check "nothing partial in the store" store_verified "$TMP/s5"
"$WP" tag $P/f/app:v1 $P/f/never:v1 >/dev/null
faults "* /v2/f/never/blobs/ 99 status500"
err=$(W push $P/f/never:v1 --plain-http 2>&1); rc=$?
is "$rc" "1" "a registry that keeps failing: exit 1"
like "$err" "HTTP 500" "and the error names the status"
is "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$rport/v2/f/never/manifests/v1)" "404" "no manifest pointing at missing blobs"

done_testing
