#!/usr/bin/env bash
# A hostile registry: redirects and token realms that name other protocols than http(s)
# (gopher would let it make wasmpack send raw bytes to any port; file would read local
# files) are refused with an error naming the scheme, and nothing reaches a raw listener.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
PORT=$(free_port)
RAW=$(free_port)
# The raw listener: records whatever reaches it.
$PY -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
open(sys.argv[2] + ".ready", "w").close()
while True:
    c, _ = s.accept(); c.settimeout(2)
    try: data = c.recv(4096)
    except Exception: data = b"(connected)"
    open(sys.argv[2], "ab").write(data or b"(connected)"); c.close()
' "$RAW" "$TMP/raw.log" &
on_exit "kill $! 2>/dev/null"
$PY "$ROOT/tests/helpers/evil_registry.py" "$PORT" "$RAW" &
on_exit "kill $! 2>/dev/null"
wait_http "http://127.0.0.1:$PORT/v2/" || echo "# the evil registry did not start"
for _ in $(seq 1 50); do [ -e raw.log.ready ] && break; sleep 0.1; done
for kind in gopher file dict; do
	err=$("$WP" pull --plain-http "127.0.0.1:$PORT/$kind:v1" 2>&1); rc=$?
	is "$rc" "1" "a manifest redirect to $kind://: exit 1"
	like "$err" "the scheme '$kind' is not http or https" "the redirect to $kind:// is refused, naming the scheme"
	err=$("$WP" pull --plain-http "127.0.0.1:$PORT/realm-$kind:v1" 2>&1); rc=$?
	[ "$rc" -ne 0 ]; ok $? "a token realm of $kind://: the pull fails"
	like "$err" "token realm.*the scheme '$kind' is not http or https" "the realm is refused, naming the scheme"
done
# A token that would add lines to a request's headers (or is no bearer token at all).
for kind in crlf space empty; do
	err=$("$WP" pull --plain-http "127.0.0.1:$PORT/token-$kind/x:v1" 2>&1); rc=$?
	is "$rc" "4" "a token service answering a $kind token: exit 4"
	like "$err" "token service of 127.0.0.1:$PORT: the (token holds characters a bearer token cannot|answer holds no token)" \
		"the $kind token is refused, saying why"
done
# Tag pages: the next page is followed on the registry itself, never to another host or scheme
# (the registry's credentials go with each request).
is "$("$WP" tags --plain-http "127.0.0.1:$PORT/pages-self" | tr '\n' ' ')" "a b " "tags follows a next page on the registry"
for to in other scheme; do
	out=$("$WP" tags --plain-http "127.0.0.1:$PORT/pages-$to" 2>"$TMP/pages.err"); rc=$?
	is "$rc" "0" "tags with a next page elsewhere ($to): exit 0"
	is "$out" "a" "only the registry's own page is listed ($to)"
	like "$(cat "$TMP/pages.err")" "tag list may be incomplete.*not followed" "a warning says the next page was not followed ($to)"
done

# An upload moved elsewhere (issue 22, 3): the registry answers the upload POST with an
# absolute Location on another port or host name; the PATCH and PUT that follow it carry
# no credentials (Basic, or the registry's bearer token), while requests to the registry
# itself still do.
TPORT=$(free_port) THIEF=$(free_port)
mkdir -p thief && cd thief
$PY "$ROOT/tests/helpers/upload_thief.py" "$TPORT" "$THIEF" &
on_exit "kill $! 2>/dev/null"
cd "$TMP"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$TPORT/v2/" && break; sleep 0.1; done
mkdir -p docker && printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$TPORT" "$(printf alice:s3cret | base64)" > docker/config.json
export WASMPACK_STORE=$TMP/thief-store
"$WP" build --wasm "$HELLO" -t thief-src:v1 >/dev/null
for repo in port-app host-app same-app bearer-port bearer-host; do
	: > thief/requests.log
	"$WP" tag thief-src:v1 "127.0.0.1:$TPORT/$repo:v1" >/dev/null
	DOCKER_CONFIG=$TMP/docker "$WP" push --plain-http "127.0.0.1:$TPORT/$repo:v1" >/dev/null 2>"push-$repo.err"
	uploads=$(grep -c " /upload/" thief/requests.log)
	[ "$uploads" -gt 0 ]; ok $? "$repo: the client followed the upload Location ($uploads requests)"
	case $repo in
	same-*)
		is "$(grep " /upload/" thief/requests.log | grep -vc ' -$')" "$uploads" "$repo: on the registry itself the upload keeps its credentials" ;;
	*)
		is "$(grep " /upload/" thief/requests.log | grep -vc ' -$')" "0" "$repo: no Authorization header went with the upload elsewhere"
		grep " /upload/" thief/requests.log | grep -v ' -$' | sed 's/^/#   /' ;;
	esac
	[ "$(grep " /v2/$repo/blobs/uploads/" thief/requests.log | grep -c ' -$')" -lt \
		"$(grep -c " /v2/$repo/blobs/uploads/" thief/requests.log)" ]; ok $? "$repo: the registry itself still got them"
done
# the place the upload moved to answers 401 with a token realm of its own: no credentials
# go to that realm either (it would collect them), and the push fails
: > thief/requests.log
"$WP" tag thief-src:v1 "127.0.0.1:$TPORT/steal-app:v1" >/dev/null
DOCKER_CONFIG=$TMP/docker "$WP" push --plain-http "127.0.0.1:$TPORT/steal-app:v1" >/dev/null 2>push-steal.err; rc=$?
[ "$rc" -ne 0 ]; ok $? "an upload elsewhere answered with a 401 and a realm of its own: the push fails"
is "$(grep ' /steal' thief/requests.log | grep -vc ' -$')" "0" "no credentials went to that realm"
export WASMPACK_STORE=$TMP/store
check "no request carried the header a token tried to add" test ! -e injected.log
sleep 0.3
is "$(cat raw.log 2>/dev/null)" "" "nothing reached the raw TCP listener"
unlike_() { ! grep -q "$2" <<<"$1"; ok $? "$3"; }
unlike_ "$err" "root:x:0" "no local file was read"
check "no blob came into the store" test -z "$(ls "$WASMPACK_STORE/blobs/sha256" 2>/dev/null)"
done_testing
