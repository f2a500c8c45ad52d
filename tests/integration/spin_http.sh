#!/usr/bin/env bash
# Spin apps serve for real with no spin binary (issue 23): wasmpack's own Spin HTTP trigger
# (the engine spin-jco) runs an app's wasi:http components on Node.js through jco, with
# Spin's routing and headers, variables, key-value, the outbound allow-list, a pool of
# workers and a drain on SIGTERM. The component is testdata/http/http-hello.c (a wasi:http
# component of C built by `make wasm-apps`); upstreams are tests/helpers/upstream.py.
. "$(dirname "$0")/lib.bash"
cd "$TMP"
JCO_BIN=$ROOT/.deps/jco/node_modules/.bin
COMP=$BUILD/testdata/http-hello.wasm
if ! command -v node >/dev/null || ! [ -x "$JCO_BIN/jco" ] || ! [ -f "$COMP" ]; then
	skip "needs node, jco (scripts/deps.sh) and the wasi:http test component (make wasm-apps)"
	done_testing
	exit
fi
# no spin on the PATH: the trigger is wasmpack's own
export PATH=$JCO_BIN:$BUILD:/usr/sbin:/usr/bin:/sbin:/bin WASMPACK_CACHE=$TMP/cache
unset WASMPACK_ENGINE

# serve NAME ARGS...: `wasmpack run ARGS` in the background, its pid in $TMP/NAME.pid, its
# stderr in $TMP/NAME.err; stopped when the test ends.
serve() {
	local name=$1
	shift
	"$WP" run "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" &
	echo $! > "$TMP/$name.pid"
	on_exit "kill $! 2>/dev/null; wait $! 2>/dev/null"
}
stop() { kill "$(cat "$TMP/$1.pid")" 2>/dev/null; wait "$(cat "$TMP/$1.pid")" 2>/dev/null; }

UP=$(free_port)
mkdir -p up
/usr/bin/python3 "$ROOT/tests/helpers/upstream.py" "$UP" "$TMP/up" > /dev/null 2>&1 &
on_exit "kill $! 2>/dev/null"
DENIED=$(free_port)

mkdir -p app/static && cp "$COMP" app/web.wasm && cp "$HELLO" app/hello.wasm && printf 'a static file\n' > app/static/a.txt
cat > app/spin.toml <<EOF
spin_manifest_version = 2

[application]
name = "shop"
version = "1.2.3"

[variables]
greeting = { default = "hello" }
token = { required = true }
upstream = { default = "127.0.0.1:$UP" }

[[trigger.http]]
route = "/..."
component = "web"

[[trigger.http]]
route = "/exact/headers"
component = "web"

[[trigger.http]]
route = "/users/:id/..."
component = "web"

[[trigger.http]]
route = "/a/..."
component = "web"

[[trigger.http]]
route = "/a/b/..."
component = "other"

[[trigger.http]]
route = { private = true }
component = "hidden"

[[trigger.http]]
route = "/cgi/..."
component = "cgi"
executor = { type = "wagi" }

[component.web]
source = "web.wasm"
files = [{ source = "static", destination = "/" }]
environment = { GREETING = "bonjour" }
key_value_stores = ["default"]
allowed_outbound_hosts = ["http://{{ upstream }}"]
[component.web.variables]
message = "{{ greeting }} world"
secret = "{{ token }}"

[component.other]
source = "web.wasm"
environment = { GREETING = "from other" }

[component.hidden]
source = "web.wasm"

[component.cgi]
source = "hello.wasm"
files = [{ source = "static", destination = "/static" }]
environment = { GREETING = "cgi", HELLO_FILE = "/static/a.txt" }
EOF
"$WP" build app -t shop:v1 >/dev/null
P=$(free_port)
serve s1 shop:v1 --verbose --listen "127.0.0.1:$P" --workers 2 --variable token=s3cret
check "wasmpack run of a Spin HTTP app serves (no spin installed)" wait_http "http://127.0.0.1:$P/.well-known/spin/health"
U=http://127.0.0.1:$P
like "$(cat "$TMP/s1.err")" "the Spin app runs with spin-jco" "--verbose says which trigger runs it (wasmpack's own)"
is "$(curl -sS "$U/.well-known/spin/health")" "OK" "/.well-known/spin/health answers OK"
info=$(curl -sS "$U/.well-known/spin/info")
is "$(jq -r '.app.name + " " + .app.version' <<<"$info")" "shop 1.2.3" "/.well-known/spin/info: the app's name and version"
like "$(jq -r .version <<<"$info")" "^wasmpack " "and the version of what serves it"
is "$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$U/.well-known/spin/nothing")" "404 0" \
	"another /.well-known/spin/ path: an empty 404"

# ---- routing as Spin's trigger routes ----
h() { curl -sS "$U$1/headers" | grep -i "^$2: " | sed "s/^[^:]*: //"; }
is "$(curl -sS "$U/hello")" "hello from a C component, bonjour" "a request reaches the component, with its environment"
is "$(h /exact spin-matched-route)" "/exact/headers" "an exact route beats the wildcard"
is "$(h /exact spin-path-info)" "" "spin-path-info of an exact route: empty"
is "$(h /exact/more spin-matched-route)" "/..." "a path below an exact route is not it"
is "$(h /users/42/x spin-matched-route)" "/users/:id/..." "a :name parameter route"
is "$(h /users/42/x spin-path-match-id)" "42" "spin-path-match-id is the parameter's value"
is "$(h /users/42/x spin-path-info)" "/x/headers" "spin-path-info: what follows the route"
is "$(h /a/b/c spin-matched-route)" "/a/b/..." "the longest wildcard prefix wins"
is "$(h /a/b/c x-greeting)" "from other" "and its component answers"
is "$(h /a/x spin-matched-route)" "/a/..." "a shorter prefix for what the longer one does not hold"
is "$(h /abc spin-matched-route)" "/..." "/a/... does not match /abc"
is "$(curl -sS "$U/exact/headers/" | grep '^spin-matched-route: ')" "spin-matched-route: /exact/headers" \
	"a trailing slash still matches the exact route"
is "$(h /zz spin-raw-component-route)" "/..." "spin-raw-component-route"
is "$(h /users/9/y spin-component-route)" "/users/:id" "spin-component-route: the route without its wildcard"
is "$(h /zz spin-base-path)" "/" "spin-base-path"
is "$(curl -sS "$U/zz/headers?q=1" | grep '^spin-full-url: ' | cut -d' ' -f2)" "http://127.0.0.1:$P/zz/headers?q=1" \
	"spin-full-url: the whole URL with its query"
like "$(h /zz spin-client-addr)" "^127\.0\.0\.1:[0-9]+$" "spin-client-addr: the client's address and port"
hdrs=$(curl -sS "$U/zz/headers" -H 'Connection: keep-alive, x-hop' -H 'x-hop: 1' -H 'Keep-Alive: timeout=5' -H 'x-kept: yes')
like "$hdrs" "x-kept: yes" "an ordinary request header reaches the component"
ok "$(grep -ciE '^(connection|keep-alive|x-hop|host):' <<<"$hdrs" | grep -qx 0; echo $?)" \
	"hop-by-hop headers (and those Connection names) do not, nor host (its authority is the request's)"
hdrs=$(curl -sS "$U/zz/headers" -H 'spin-path-info: /forged')
is "$(grep -c '^spin-path-info: ' <<<"$hdrs")" "1" "a client cannot forge a spin-* header"

# ---- responses ----
is "$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$U/status/418")" "418 0" \
	"a response with no body at all (a null body): 418, empty"
is "$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "$U/status/204")" "204 0" "a 204"
head -c 3145728 /dev/urandom > big
curl -sS --data-binary @big "$U/echo" -o big.out
check "a 3 MB body echoed back byte for byte" cmp big big.out
curl -sSN "$U/stream" | while IFS= read -r line; do echo "$(date +%s%N) $line"; done > stream.log
is "$(cut -d' ' -f2- stream.log | tr '\n' ' ')" "chunk 1 chunk 2 chunk 3 " "a streamed body arrives whole and in order"
t1=$(sed -n 1p stream.log | cut -d' ' -f1) t3=$(sed -n 3p stream.log | cut -d' ' -f1)
ok "$([ $(((t3 - t1) / 1000000)) -ge 400 ] && echo 0 || echo 1)" \
	"and chunk by chunk, as written (the first $(((t3 - t1) / 1000000)) ms before the last), not all at the end"
is "$(curl -sS "$U/file/a.txt")" "a static file" "the component's files, at their destination"

# ---- WAGI: a wasip1 module as a CGI program ----
out=$(curl -sS -i "$U/cgi/x/y?a=1&b=2" | tr -d '\r')
like "$out" "^HTTP/1.1 200" "a WAGI route (a wasip1 module, executor wagi) answers"
like "$out" "Content-Type: text/plain" "with the CGI headers it wrote"
like "$out" "arg\[0\]=/cgi/x/y" "argv: the path, then the query's words"
like "$out" "arg\[1\]=a=1" "(the query split at &)"
like "$out" "env PATH_INFO=/x/y" "PATH_INFO"
like "$out" "env QUERY_STRING=a=1&b=2" "QUERY_STRING"
like "$out" "env REQUEST_METHOD=GET" "REQUEST_METHOD"
like "$out" "env GREETING=cgi" "the component's environment"
like "$out" "a static file" "and its files"

# ---- variables ----
is "$(curl -sS "$U/var/message")" "hello world" "a variable from the app's default"
is "$(curl -sS "$U/var/secret")" "s3cret" "a required variable from --variable"
like "$(curl -sS "$U/var/nothing")" "undefined: no variable for \"web\".\"nothing\"" "an undeclared one is undefined, as Spin says"
like "$(curl -sS "$U/var/Bad")" "invalid-name" "an invalid name is invalid-name"

# ---- key-value ----
is "$(curl -sS -X PUT --data-binary 'v1' "$U/kv/default/k1")" "stored" "key-value: a value set"
pids=()
for i in $(seq 1 12); do curl -sS -o "kv.$i" "$U/kv/default/k1" & pids+=($!); done
wait "${pids[@]}"
vals=$(for i in $(seq 1 12); do cat "kv.$i"; echo; done)
is "$(sort -u <<<"$vals")" "v1" "and seen by every later request, whichever worker serves it"
is "$(curl -sS "$U/kv/archive/k1")" "access-denied" "a store the component was not granted: access-denied"
like "$(cat "$TMP/s1.err")" "key-value store 'archive' refused: not in its key_value_stores" "and a log line naming it"

# ---- outbound ----
is "$(curl -sS "$U/fetch/127.0.0.1:$UP/hello")" "upstream says hi" "an allowed outbound request (a {{ variable }} in the rule)"
like "$(curl -sS "$U/fetch/127.0.0.1:$DENIED/hello")" "outbound refused: error-code 15" \
	"a host not allowed: HTTP-request-denied, as Spin answers"
like "$(cat "$TMP/s1.err")" "outbound request to http://127.0.0.1:$DENIED refused: not in its allowed_outbound_hosts \(http://127.0.0.1:$UP\)" \
	"and a log line naming the host and the rules"

# ---- concurrency ----
codes=$(seq 1 40 | xargs -P 8 -I{} curl -sS -o /dev/null -w '%{http_code}\n' "$U/hello")
is "$(sort <<<"$codes" | uniq -c | awk '{print $1" "$2}')" "40 200" "40 requests, 8 at a time: all answered"
out=$(curl -sS -0 -i -m 5 "$U/hello" | tr -d '\r')
like "$out" "hello from a C component" "an HTTP/1.0 client is answered"
like "$out" "Connection: close" "and not kept waiting on keep-alive"

# two requests held by a slow upstream, with two workers: a third is answered anyway
rm -f up/held up/release
(curl -sS -m 30 -w '\n' "$U/fetch/127.0.0.1:$UP/hold" > held1.out &)
(curl -sS -m 30 -w '\n' "$U/fetch/127.0.0.1:$UP/hold" > held2.out &)
for _ in $(seq 1 100); do [ "$(cat up/held 2>/dev/null)" = 2 ] && break; sleep 0.05; done
is "$(cat up/held 2>/dev/null)" "2" "two requests held at a slow upstream (both workers busy)"
is "$(curl -sS -m 5 "$U/hello")" "hello from a C component, bonjour" "a third request is answered while they wait"
is "$(cat held1.out held2.out)" "" "(before they are released)"
touch up/release
for _ in $(seq 1 100); do [ -s held1.out ] && [ -s held2.out ] && break; sleep 0.05; done
is "$(cat held1.out held2.out | tr '\n' ' ')" "released released " "then both are answered"

# ---- what must not take the server down (an attack review's findings) ----
is "$(curl -sS -o /dev/null -w '%{http_code}' "$U/status/000")" "500" "a status HTTP does not have: a 500, not a crash"
is "$(curl -sS "$U/hello")" "hello from a C component, bonjour" "and the server goes on"
head -c 5242880 /dev/zero > body5m
is "$(curl -sS -m 20 -o /dev/null -w '%{http_code}' --data-binary @body5m "$U/cgi/x")" "200" \
	"a 5 MB body to a WAGI route is taken whole (no stall on the window)"
npid=$(pgrep -f "$TMP/cache/wasmpack-spin-http.mjs" | head -1)
if [ -n "$npid" ] && [ -r "/proc/$npid/environ" ]; then
	check "the variables' values are not in the engine's environment (/proc shows it)" \
		bash -c "! tr '\0' '\n' < /proc/$npid/environ | grep -q s3cret"
else
	skip "the engine's environment is not readable here"
fi
# clients that announce a body and never send it: they hold workers, not the server
for i in 1 2 3; do
	(exec 3<>"/dev/tcp/127.0.0.1/$P"; printf 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n' >&3; sleep 8) &
done
sleep 0.5
is "$(curl -sS -m 5 "$U/hello")" "hello from a C component, bonjour" \
	"three clients stalling their bodies do not stop a fourth request (workers are added while they wait)"

# ---- SIGTERM: the requests in flight are answered, then it stops ----
(curl -sSN -m 10 "$U/stream" > drained.out &)
sleep 0.3
kill -TERM "$(cat "$TMP/s1.pid")"
wait "$(cat "$TMP/s1.pid")"; rc=$?
is "$rc" "0" "SIGTERM: the trigger stops with 0"
is "$(tr '\n' ' ' < drained.out)" "chunk 1 chunk 2 chunk 3 " "after answering the request in flight in full"
check "and no longer accepts connections" bash -c "! curl -sS -m 2 -o /dev/null $U/hello 2>/dev/null"

# ---- state, and what a start needs ----
P2=$(free_port)
serve s2 shop:v1 --listen "127.0.0.1:$P2" --state-dir "$TMP/state" --workers 1
wait_http "http://127.0.0.1:$P2/.well-known/spin/health"
like "$(cat "$TMP/s2.err")" "variable 'token' is required and has no value" "a required variable without a value: the start fails, naming it"
stop s2
export SPIN_VARIABLE_TOKEN=from-env SPIN_VARIABLE_GREETING=hey
serve s2 shop:v1 --listen "127.0.0.1:$P2" --state-dir "$TMP/state" --workers 1
check "with SPIN_VARIABLE_TOKEN it starts" wait_http "http://127.0.0.1:$P2/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P2/var/secret")" "from-env" "a variable from SPIN_VARIABLE_<NAME>"
is "$(curl -sS "http://127.0.0.1:$P2/var/message")" "hey world" "which wins over the default"
curl -sS -X PUT --data-binary 'kept' "http://127.0.0.1:$P2/kv/default/k2" >/dev/null
stop s2
unset SPIN_VARIABLE_GREETING
serve s2 shop:v1 --listen "127.0.0.1:$P2" --state-dir "$TMP/state" --workers 1 --variable token=x
wait_http "http://127.0.0.1:$P2/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P2/kv/default/k2")" "kept" "key-value under --state-dir outlives the process"
is "$(stat -c %a "$TMP/state")" "700" "(the state folder is the user's own)"
stop s2

# ---- a runtime config: more key-value stores, kept inside the state folder ----
mkdir -p rc && cp "$COMP" rc/web.wasm
printf 'spin_manifest_version = 2\n[application]\nname = "rc"\n[[trigger.http]]\nroute = "/..."\ncomponent = "web"\n[component.web]\nsource = "web.wasm"\nkey_value_stores = ["default", "cache"]\n' > rc/spin.toml
"$WP" build rc -t rc:v1 >/dev/null
err=$("$WP" run rc:v1 --listen "127.0.0.1:$P2" 2>&1); rc=$?
like "$err" "the key-value store 'cache' is not defined" "a store label no runtime config defines: the start fails, naming it"
printf '[key_value_store.cache]\ntype = "spin"\npath = "cache.log"\n' > rc.toml
serve s6 rc:v1 --listen "127.0.0.1:$P2" --state-dir "$TMP/rcstate" --runtime-config-file rc.toml --workers 1
check "with --runtime-config-file defining it, it starts" wait_http "http://127.0.0.1:$P2/.well-known/spin/health"
curl -sS -X PUT --data-binary 'c1' "http://127.0.0.1:$P2/kv/cache/x" >/dev/null
is "$(curl -sS "http://127.0.0.1:$P2/kv/cache/x")" "c1" "the runtime config's store serves"
stop s6
is "$(head -1 "$TMP/rcstate/cache.log")" "wasmpack-kv 1" "kept in the file it names, in the state folder (wasmpack's log format)"
printf '[key_value_store.cache]\npath = "../../etc/wasmpack-kv"\n' > bad.toml
err=$("$WP" run rc:v1 --listen "127.0.0.1:$P2" --state-dir "$TMP/rcstate" --runtime-config-file bad.toml 2>&1); rc=$?
is "$rc" "1" "a store path leading out of the state folder: the start fails"
like "$err" "is not inside the state folder" "saying so"
check "and nothing is written there" test ! -e /etc/wasmpack-kv
for bad in /etc/wasmpack-kv2 sub/kv.log "$TMP/rcstate/../kv.log"; do
	printf '[key_value_store.cache]\npath = "%s"\n' "$bad" > bad.toml
	"$WP" run rc:v1 --listen "127.0.0.1:$P2" --state-dir "$TMP/rcstate" --runtime-config-file bad.toml >/dev/null 2>&1
	is "$?" "1" "a store path '$bad' (absolute, in a subfolder, or climbing out): refused"
done
check "none of them written" test ! -e /etc/wasmpack-kv2 -a ! -e "$TMP/kv.log" -a ! -e "$TMP/rcstate/sub"

# ---- the engine: no network of its own unless it reaches out ----
mkdir -p quiet && cp "$COMP" quiet/web.wasm
printf 'spin_manifest_version = 2\n[application]\nname = "quiet"\n[[trigger.http]]\nroute = "/only"\ncomponent = "web"\n[component.web]\nsource = "web.wasm"\n' > quiet/spin.toml
"$WP" build quiet -t quiet:v1 >/dev/null
P3=$(free_port)
serve s3 quiet:v1 --listen "127.0.0.1:$P3" --workers 1
check "an app with no outbound hosts serves" wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P3/only")" "route /only" "through the socket handed in"
is "$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$P3/other")" "404 0" "no route: an empty 404"
npid=$(pgrep -f "$TMP/cache/wasmpack-spin-http.mjs" | head -1)
if [ "$(id -u)" = 0 ] && [ -n "$npid" ]; then
	isnt_same=$([ "$(readlink "/proc/$npid/ns/net")" != "$(readlink /proc/self/ns/net)" ] && echo yes || echo no)
	is "$isnt_same" "yes" "and its engine has a network namespace of its own (a loopback only)"
else
	skip "needs root to see the engine's namespaces"
fi
stop s3
serve s5 quiet:v1 --verbose --engine spin-jco --listen "127.0.0.1:$P3" --workers 1
wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
like "$(cat "$TMP/s5.err")" "runs with spin-jco \(--engine\)" "--engine spin-jco forces wasmpack's own trigger"
stop s5
(cd app && "$WP" build --wasm web.wasm -t plain:v1 >/dev/null)
err=$("$WP" run --engine spin-jco plain:v1 2>&1); rc=$?
is "$rc" "2" "spin-jco for an app that is no Spin app: a usage error"
P4=$(free_port)
err=$("$WP" run quiet:v1 --listen "127.0.0.1:notaport" 2>&1); rc=$?
is "$rc" "2" "a listen address that is none: a usage error"
like "$err" "listen address" "naming it"
err=$("$WP" run quiet:v1 --workers 0 2>&1); rc=$?
is "$rc" "2" "--workers 0: a usage error"

# an app whose allow-list reaches out keeps the host's network, unless --network none says otherwise
serve s7 shop:v1 --verbose --network none --listen "127.0.0.1:$P3" --workers 1 --variable token=x
wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
like "$(curl -sS "http://127.0.0.1:$P3/fetch/127.0.0.1:$UP/hello")" "outbound failed" \
	"--network none: the allowed upstream is out of reach (a loopback of its own)"
stop s7
serve s7 shop:v1 --verbose --listen "127.0.0.1:$P3" --workers 1 --variable token=x
wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
like "$(cat "$TMP/s7.err")" "keeps the host's network, the allow-list enforced" "--verbose says when it keeps the host's network"
stop s7

# ---- an app built with Spin's own JS SDK tooling (j2w: componentize-js, StarlingMonkey) ----
JSAPP=$BUILD/testdata/spin-js.wasm
if [ -f "$JSAPP" ]; then
	mkdir -p jsapp && cp "$JSAPP" jsapp/app.wasm
	printf 'spin_manifest_version = 2\n[application]\nname = "js"\nversion = "1.0.0"\n[[trigger.http]]\nroute = "/..."\ncomponent = "js"\n[component.js]\nsource = "app.wasm"\n' > jsapp/spin.toml
	"$WP" build jsapp -t jsapp:v1 >/dev/null
	serve s9 jsapp:v1 --listen "127.0.0.1:$P3" --workers 2
	check "a Spin app built by Spin's JS SDK (j2w) serves with no spin" wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
	is "$(curl -sS "http://127.0.0.1:$P3/hi")" "hello from a JS component at /hi" "its fetch handler answers"
	is "$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$P3/teapot")" "418 0" \
		"new Response(null, {status: 418}): a bodiless 418, and the server goes on"
	curl -sS --data-binary @big "http://127.0.0.1:$P3/echo" -o js-big.out
	check "a 3 MB body through the JS component, byte for byte" cmp big js-big.out
	like "$(curl -sS "http://127.0.0.1:$P3/x/headers")" "spin-path-info: /x/headers" "Spin's headers reach the JS handler"
	codes=$(seq 1 20 | xargs -P 8 -I{} curl -sS -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$P3/n{}")
	is "$(sort <<<"$codes" | uniq -c | awk '{print $1" "$2}')" "20 200" "20 requests, 8 at a time, each in a fresh instance"
	stop s9
elif [ -n "${CI:-}" ]; then
	ok 1 "the JS SDK test app was not built (make deps installs Spin's j2w; make wasm-apps builds it)"
else
	skip "the JS SDK test app was not built (j2w missing)"
fi

# ---- imports: Spin's platform interfaces instantiate and refuse; others stop the start ----
mkdir -p plat unk
"$ROOT/scripts/http-component.sh" "$ROOT/testdata/http/http-hello.c" plat/web.wasm sqlite
"$ROOT/scripts/http-component.sh" "$ROOT/testdata/http/http-hello.c" unk/web.wasm unknown
for d in plat unk; do
	printf 'spin_manifest_version = 2\n[application]\nname = "%s"\n[[trigger.http]]\nroute = "/..."\ncomponent = "web"\n[component.web]\nsource = "web.wasm"\n' "$d" > $d/spin.toml
	"$WP" build $d -t $d:v1 >/dev/null
done
serve s8 plat:v1 --listen "127.0.0.1:$P3" --workers 1
check "a component importing Spin's sqlite starts" wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P3/sqlite")" "sqlite: access-denied" "and a call is refused as Spin refuses an ungranted database"
stop s8
err=$("$WP" run unk:v1 --listen "127.0.0.1:$P3" --workers 1 2>&1); rc=$?
is "$rc" "1" "a component importing an interface no host provides: the start fails"
like "$err" "imports wasmpack:http-hello/unknown, which this engine does not provide" "naming the import"

# ---- Spin 1: base prepended to the routes ----
mkdir -p v1 && cp "$COMP" v1/web.wasm
printf 'spin_version = "1"\nname = "v1app"\nversion = "1.0.0"\ntrigger = { type = "http", base = "/base" }\n[[component]]\nid = "web"\nsource = "web.wasm"\n[component.trigger]\nroute = "/hello/..."\n' > v1/spin.toml
"$WP" build v1 -t v1app:v1 >/dev/null
serve s10 v1app:v1 --listen "127.0.0.1:$P3" --workers 1
wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
hd=$(curl -sS "http://127.0.0.1:$P3/base/hello/x/headers")
like "$hd" "spin-matched-route: /base/hello/\.\.\." "a Spin 1 app's base is prepended to its routes"
like "$hd" "spin-base-path: /base" "and is spin-base-path"
is "$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P3/hello/x")" "404" "the route without it: no match"
stop s10

# ---- what the trigger refuses at start, saying what is missing ----
mkdir -p refuse && cp "$COMP" refuse/web.wasm && cp "$HELLO" refuse/mod.wasm
refuse() { # NAME SPIN.TOML-BODY PATTERN DESCRIPTION
	printf 'spin_manifest_version = 2\n[application]\nname = "%s"\n%b' "$1" "$2" > refuse/spin.toml
	"$WP" build refuse -t "refuse-$1:v1" >/dev/null 2>&1
	err=$("$WP" run "refuse-$1:v1" --listen "127.0.0.1:$P3" 2>&1); rc=$?
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "$4: the start fails"
	like "$err" "$3" "saying so"
}
refuse inbound '[[trigger.http]]\nroute = "/..."\ncomponent = "m"\n[component.m]\nsource = "mod.wasm"\n' \
	"wasm module with Spin's executor \(Spin 1's inbound-http\).*install spin" "a wasip1 module with Spin's executor (Spin 1 inbound-http)"
refuse chain '[[trigger.http]]\nroute = "/..."\ncomponent = "w"\n[component.w]\nsource = "web.wasm"\nallowed_outbound_hosts = ["http://other.spin.internal"]\n' \
	"service chaining is not served" "service chaining (*.spin.internal)"
refuse redis '[[trigger.redis]]\nchannel = "c"\ncomponent = "w"\n[component.w]\nsource = "web.wasm"\n' \
	"a 'redis' trigger.*serves HTTP only" "a redis trigger"
printf 'spin_manifest_version = 2\n[application]\nname = "aa"\n[[trigger.http]]\nroute = "/..."\ncomponent = "w"\n[component.w]\nsource = "web.wasm"\nallowed_outbound_hosts = ["insecure:allow-all"]\n' > refuse/spin.toml
like "$("$WP" build refuse -t refuse-aa:v1 2>&1)" "insecure:allow-all.*does not contain a scheme" \
	"allowed_outbound_hosts = [\"insecure:allow-all\"] is refused when the app is built, as Spin's loader refuses it"

# the image may ask for wasmpack's own trigger by name (dev.wasmpack.engine)
"$WP" build quiet --annotation dev.wasmpack.engine=spin-jco -t quiet:ann >/dev/null
serve s11 quiet:ann --verbose --listen "127.0.0.1:$P3" --workers 1
wait_http "http://127.0.0.1:$P3/.well-known/spin/health"
like "$(cat "$TMP/s11.err")" "runs with spin-jco \(the image's preference\)" "the image's dev.wasmpack.engine=spin-jco is honoured"
stop s11

# ---- the image layout: the trigger loads /spin.toml from the rootfs ----
"$WP" build app --layout image -t shopimg:v1 >/dev/null
serve s4 shopimg:v1 --listen "127.0.0.1:$P4" --workers 1 --variable token=t
check "the image layout (spin.toml in the rootfs) serves" wait_http "http://127.0.0.1:$P4/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P4/file/a.txt")" "a static file" "with the component's files"
is "$(h2=$(curl -sS "http://127.0.0.1:$P4/a/b/c/headers"); grep '^x-greeting' <<<"$h2")" "x-greeting: from other" "and its routes"
stop s4

# ---- under containerd, through the shim: SpinKube's env, no spin anywhere ----
if [ "$(id -u)" -ne 0 ] || ! command -v containerd >/dev/null; then
	skip "needs root and containerd for the shim's part"
	done_testing
	exit
fi
H=$BUILD/tests/helpers
NS=wasmpack-spin-$$
SOCKS=$(mktemp -d /tmp/wpk.XXXXXX)
on_exit "rm -rf '$SOCKS'"
export WASMPACK_SHIM_SOCKET_DIR=$SOCKS
C=$TMP/ctd
WASMPACK_CACHE=$TMP/shimcache start_containerd "$C"
ctr_() { ctr -a "$C/c.sock" -n "$NS" "$@"; }
on_exit "rmdir /sys/fs/cgroup/$NS /sys/fs/cgroup/*/$NS 2>/dev/null"
create_() { # create_ ID IMAGE ENV-JSON: a container with no snapshot (containerd 1.6 cannot unpack artifacts)
	printf '{"ociVersion":"1.0.2","process":{"args":[],"env":%s,"cwd":"/"},"root":{"path":"rootfs"}}' "$3" > "spec-$1.json"
	"$H/ctd_container" "$C/c.sock" "$NS" create "$1" "$2" io.containerd.wasmpack.v1 "spec-$1.json"
}
"$WP" save shop:v1 -o shop.tar >/dev/null && ctr_ images import --all-platforms --no-unpack shop.tar >/dev/null
P5=$(free_port)
create_ k1 docker.io/library/shop:v1 "[\"SPIN_HTTP_LISTEN_ADDR=127.0.0.1:$P5\",\"SPIN_VARIABLE_TOKEN=from-pod\"]"
ctr_ task start k1 > "$TMP/k1.log" 2>&1 &
starter=$!   # attached: ctr ends as the task does, with its status
check "Spin's layout from containerd's content store serves through the shim (SPIN_HTTP_LISTEN_ADDR)" \
	wait_http "http://127.0.0.1:$P5/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P5/hello")" "hello from a C component, bonjour" "the component answers under containerd"
is "$(curl -sS "http://127.0.0.1:$P5/var/secret")" "from-pod" "SPIN_VARIABLE_* from the container's env"
is "$(curl -sS "http://127.0.0.1:$P5/a/b/c/headers" | grep '^spin-matched-route')" "spin-matched-route: /a/b/..." "with every route"
curl -sS -X PUT --data-binary 'pod' "http://127.0.0.1:$P5/kv/default/k" >/dev/null
is "$(curl -sS "http://127.0.0.1:$P5/kv/default/k")" "pod" "key-value under the shim"
bundle=$(find "$C/state" -maxdepth 4 -type d -name k1 -path '*wasmpack*' 2>/dev/null | head -1)
[ -n "$bundle" ] || bundle=$(find "$C/state" -maxdepth 4 -type d -name k1 | head -1)
is "$(stat -c %a "$bundle/spin-state" 2>/dev/null)" "700" "under the shim, state is kept in a folder of its own in the bundle (0700)"
check "the default store is there" test -s "$bundle/spin-state/kv-64656661756c74.log"
kpid=$(pgrep -f "$TMP/shimcache/wasmpack-spin-http.mjs" | head -1)
if [ -n "$kpid" ]; then
	check "the engine sees the state folder, and not the rest of the bundle" \
		bash -c "grep -q ' $bundle/spin-state ' /proc/$kpid/mountinfo && ! grep -q ' $bundle ' /proc/$kpid/mountinfo"
else
	skip "the engine's process was not found"
fi
ctr_ task kill -s SIGTERM k1 >/dev/null 2>&1
wait "$starter"
is "$?" "0" "SIGTERM stops the task cleanly (exit 0)"
like "$(cat "$TMP/k1.log")" "serving http://127.0.0.1:$P5" "and its log says where it served"
ctr_ task rm k1 >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete k1

# the shim's delete kills only the container's own process: a wasmpack.pid naming another
# (a bundle's file is not to steer a kill) is left alone
sleep 60 & victim=$!
mkdir -p fakebundle && echo "$victim" > fakebundle/wasmpack.pid
printf '{"ociVersion":"1.0.2","linux":{"cgroupsPath":"/wp-none-%s"}}' "$$" > fakebundle/config.json
(cd fakebundle && "$BUILD/containerd-shim-wasmpack-v1" -namespace "$NS" -address "$C/c.sock" -id fake -bundle "$TMP/fakebundle" delete >/dev/null 2>&1)
check "the shim's delete leaves a process outside the container's cgroup alone" kill -0 "$victim"
kill "$victim" 2>/dev/null

# __spin-lock reads only a regular spin.toml at the rootfs's root, through no link
mkdir -p lk1/rootfs lk2/rootfs
ln -s /etc/hostname lk1/rootfs/spin.toml
mkfifo lk2/rootfs/spin.toml
err=$("$BUILD/wasmpack-core" __spin-lock lk1/rootfs 2>&1); rc=$?
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "a spin.toml that is a link (to a host file): refused"
like "$err" "not a link" "saying why, and nothing of the file it names"
out=$(timeout 10 "$BUILD/wasmpack-core" __spin-lock lk2/rootfs 2>&1); rc=$?
is "$rc" "1" "a FIFO as spin.toml: refused at once, not waited on"

# the JS SDK app under containerd too, from the content store
if [ -f "$JSAPP" ]; then
	"$WP" save jsapp:v1 -o jsapp.tar >/dev/null && ctr_ images import --all-platforms --no-unpack jsapp.tar >/dev/null
	P7=$(free_port)
	create_ k4 docker.io/library/jsapp:v1 "[\"SPIN_HTTP_LISTEN_ADDR=127.0.0.1:$P7\"]"
	ctr_ task start -d k4 >/dev/null 2>&1
	check "the JS SDK app serves through the shim" wait_http "http://127.0.0.1:$P7/.well-known/spin/health"
	is "$(curl -sS "http://127.0.0.1:$P7/from-ctr")" "hello from a JS component at /from-ctr" "and answers"
	ctr_ task kill -s SIGKILL k4 >/dev/null 2>&1; sleep 0.5
	ctr_ task rm k4 >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete k4
fi

# selective deployment: SPIN_COMPONENTS_TO_RETAIN keeps some components and their routes
create_ k2 docker.io/library/shop:v1 "[\"SPIN_HTTP_LISTEN_ADDR=127.0.0.1:$P5\",\"SPIN_VARIABLE_TOKEN=x\",\"SPIN_COMPONENTS_TO_RETAIN=web\"]"
ctr_ task start -d k2 >/dev/null 2>&1
wait_http "http://127.0.0.1:$P5/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P5/a/b/c/headers" | grep '^spin-matched-route')" "spin-matched-route: /a/..." \
	"SPIN_COMPONENTS_TO_RETAIN=web: the other component's route is gone"
ctr_ task kill -s SIGKILL k2 >/dev/null 2>&1; ctr_ task wait k2 >/dev/null 2>&1
ctr_ task rm k2 >/dev/null 2>&1; "$H/ctd_container" "$C/c.sock" "$NS" delete k2

# the image layout under ctr run (the host's network here; a pod's own under CRI): /spin.toml
# in the rootfs
"$WP" save shopimg:v1 -o shopimg.tar >/dev/null && ctr_ images import --all-platforms shopimg.tar >/dev/null 2>&1
P6=$(free_port)
ctr_ run -d --net-host --snapshotter native --platform wasip1/wasm --runtime io.containerd.wasmpack.v1 \
	--env "SPIN_HTTP_LISTEN_ADDR=127.0.0.1:$P6" --env SPIN_VARIABLE_TOKEN=t docker.io/library/shopimg:v1 k3 >/dev/null 2>"$TMP/k3.err"
check "ctr run of the image layout serves (the trigger loads /spin.toml from the rootfs)" \
	wait_http "http://127.0.0.1:$P6/.well-known/spin/health"
is "$(curl -sS "http://127.0.0.1:$P6/file/a.txt")" "a static file" "with the component's files"
ctr_ task kill -s SIGTERM k3 >/dev/null 2>&1; ctr_ task wait k3 >/dev/null 2>&1
ctr_ task rm k3 >/dev/null 2>&1; ctr_ containers rm k3 >/dev/null 2>&1
ctr_ images rm docker.io/library/shop:v1 docker.io/library/shopimg:v1 >/dev/null 2>&1

done_testing
