#!/usr/bin/env bash
# The registry behind TLS (a CA made here), htpasswd Basic auth, and token auth with a
# token server of the tests' own that grants scopes per user. Credentials from login,
# helpers and auth files; never in any output.
. "$(dirname "$0")/lib.bash"
command -v docker-registry >/dev/null || { skip "docker-registry is not installed"; done_testing; exit; }
cd "$TMP"
export DOCKER_CONFIG=$TMP/docker HOME=$TMP/home
unset REGISTRY_AUTH_FILE XDG_RUNTIME_DIR XDG_CONFIG_HOME
mkdir -p app/static "$HOME" && printf 'hi\n' > app/static/a.txt
outputs=$TMP/all-output
run() { "$@" 2>&1 | tee -a "$outputs"; return "${PIPESTATUS[0]}"; }

# ---- TLS with our own CA ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=wasmpack-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 \
	-extfile <(printf 'subjectAltName=IP:127.0.0.1\n') 2>/dev/null
tport=$(free_port)
start_registry tls "$tport" "  tls:
    certificate: $TMP/srv.crt
    key: $TMP/srv.key" || { ok 1 "TLS registry starts"; done_testing; exit 1; }
T=127.0.0.1:$tport
d=$(cd app && "$WP" build --wasm "$HELLO" --file static -t $T/demo/app:v1)
start=$(date +%s%N)
err=$(run "$WP" push $T/demo/app:v1); rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
is "$rc" "1" "TLS verification is on: an unknown CA fails"
like "$err" "$T's TLS certificate is not trusted" "and the error names the host and says certificate"
like "$err" "give its CA with --ca-file, or ca_file under \[registry.\"$T\"\] in config.toml; --insecure skips" \
	"and how to trust it"
[ "$ms" -lt 1500 ]; ok $? "at once: an untrusted certificate is not retried (${ms} ms)"
is "$(run "$WP" push $T/demo/app:v1 --ca-file ca.crt)" "$d" "--ca-file trusts our CA"
is "$(run "$WP" push $T/demo/app:v1 --insecure)" "$d" "--insecure skips verification"
mkdir -p cfg/wasmpack && printf '[registry."%s"]\nca_file = "%s"\n' "$T" "$TMP/ca.crt" > cfg/wasmpack/config.toml
is "$(XDG_CONFIG_HOME=$TMP/cfg run "$WP" pull $T/demo/app:v1)" "$d" "ca_file from config.toml"

# ---- htpasswd Basic auth ----
htpasswd -Bbn alice s3cret > htpasswd
bport=$(free_port)
start_registry basic "$bport" "auth:
  htpasswd:
    realm: wasmpack-test
    path: $TMP/htpasswd" || { ok 1 "htpasswd registry starts"; done_testing; exit 1; }
B=127.0.0.1:$bport
"$WP" tag $T/demo/app:v1 $B/demo/app:v1 >/dev/null
err=$(run "$WP" push $B/demo/app:v1 --plain-http); rc=$?
is "$rc" "4" "push without credentials: exit 4"
like "$err" "requires credentials: run 'wasmpack login $B'" "and says how to log in"
err=$(printf 'wrong\n' | run "$WP" login $B -u alice --password-stdin --plain-http); rc=$?
is "$rc" "4" "login with a wrong password: exit 4"
like "$err" "refused" "and says refused"
check "a refused login saves nothing" test ! -e "$DOCKER_CONFIG/config.json"
out=$(printf 's3cret\n' | run "$WP" login $B -u alice --password-stdin --plain-http)
is "$out" "logged in to $B" "login with the right password"
is "$(stat -c %a "$DOCKER_CONFIG/config.json")" "600" "config.json is private (0600)"
is "$(jq -r ".auths[\"$B\"].auth" "$DOCKER_CONFIG/config.json" | base64 -d)" "alice:s3cret" "credentials saved under the registry's name"
is "$(run "$WP" push $B/demo/app:v1 --plain-http)" "$d" "push with the saved credentials"
is "$(WASMPACK_STORE=$TMP/s2 run "$WP" pull $B/demo/app:v1 --plain-http)" "$d" "pull with them"
is "$(run "$WP" logout $B)" "logged out of $B" "logout"
is "$(jq -r ".auths[\"$B\"]" "$DOCKER_CONFIG/config.json")" "null" "logout removes the credentials"
run "$WP" logout $B >/dev/null; is "$?" "3" "logout again: not logged in (exit 3)"
# docker's habits (issue 25): -p works with docker's warning; on a terminal the user name is
# asked for too; without a terminal, -u and --password-stdin stay the way
out=$(run "$WP" login $B -u alice -p s3cret --plain-http); rc=$?
is "$rc" "0" "login -p: accepted"
like "$out" "WARNING! Using --password via the CLI is insecure. Use --password-stdin." "with docker's warning"
like "$out" "logged in to $B" "and logged in"
run "$WP" logout $B >/dev/null
if command -v script >/dev/null; then
	out=$( (sleep 1; printf 'alice\n'; sleep 1; printf 's3cret\n') | script -qec "'$WP' login $B --plain-http" /dev/null 2>&1 | tr -d '\r')
	like "$out" "Username for $B: " "login on a terminal asks for the user name"
	like "$out" "Password: " "then the password (not echoed)"
	like "$out" "logged in to $B" "and logs in"
	[ "$(grep -c s3cret <<<"$out")" = 0 ]; ok $? "the password never shows"
	run "$WP" logout $B >/dev/null
fi
out=$(printf 's3cret\n' | run "$WP" login $B --password-stdin --plain-http); rc=$?
is "$rc" "2" "login --password-stdin without -u: usage (no terminal to ask on)"
like "$out" "give the user name with -u USER" "saying so"

# config.json as a dotfile manager leaves it: a link (relative, through a second link) to
# the real file, which is 0640. login and logout write through to that file, atomically,
# keeping its mode, and leave the links as they were.
mkdir -p dotfiles/docker
printf '{"auths":{"example.com":{"auth":"%s"}}}\n' "$(printf 'u:p' | base64)" > dotfiles/docker/real.json
chmod 640 dotfiles/docker/real.json
ln -s docker/real.json dotfiles/config.json
mv "$DOCKER_CONFIG/config.json" "$TMP/config.before" 2>/dev/null
ln -s ../dotfiles/config.json "$DOCKER_CONFIG/config.json"
printf 's3cret\n' | run "$WP" login $B -u alice --password-stdin --plain-http >/dev/null
ok $? "login with a symlinked config.json"
check "config.json is still the link" test -L "$DOCKER_CONFIG/config.json"
is "$(readlink "$DOCKER_CONFIG/config.json"):$(readlink dotfiles/config.json)" "../dotfiles/config.json:docker/real.json" "both links are unchanged"
is "$(jq -r ".auths[\"$B\"].auth" dotfiles/docker/real.json | base64 -d)" "alice:s3cret" "the file the links lead to holds the credentials"
is "$(jq -r '.auths["example.com"].auth' dotfiles/docker/real.json | base64 -d)" "u:p" "and keeps what it held"
is "$(stat -c %a dotfiles/docker/real.json)" "640" "and keeps its mode"
is "$(ls dotfiles/docker)" "real.json" "no temp file is left beside it"
is "$(run "$WP" push $B/demo/app:v1 --plain-http)" "$d" "push reads the credentials through the links"
run "$WP" logout $B >/dev/null
is "$(jq -r ".auths[\"$B\"]" dotfiles/docker/real.json):$(stat -c %a dotfiles/docker/real.json)" "null:640" "logout writes through too, keeping the mode"
check "and the link stays" test -L "$DOCKER_CONFIG/config.json"
rm -f "$DOCKER_CONFIG/config.json"

# Blob downloads redirected to another host (as to object storage) carry no credentials.
printf 's3cret\n' | run "$WP" login $B -u alice --password-stdin --plain-http >/dev/null
pport=$(free_port)
printf 'GET /blobs/sha256 99 redirect\n' > redirect.rules
"$BUILD/tests/helpers/fault_proxy" "$pport" "$bport" redirect.rules redirect.log &
ppid=$!
on_exit "kill $ppid 2>/dev/null"
wait_http "http://127.0.0.1:$pport/v2/"
"$WP" tag $B/demo/app:v1 127.0.0.1:$pport/demo/app:v1 >/dev/null
printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$pport" "$(printf 'alice:s3cret' | base64)" > "$DOCKER_CONFIG/config.json"
is "$(WASMPACK_STORE=$TMP/s-redir run "$WP" pull 127.0.0.1:$pport/demo/app:v1 --plain-http)" "$d" "pull through blob redirects to another host"
grep -q "^GET /v2/demo/app/blobs/sha256:[0-9a-f]* redirect auth" redirect.log; ok $? "the first blob GET carried credentials"
grep -q "redirected=1 redirected$" redirect.log; ok $? "the redirected GETs happened"
is "$(grep -c "redirected=1 redirected.*auth" redirect.log)" "0" "and none of them carried Authorization"
rm -f "$DOCKER_CONFIG/config.json"

# A credential helper (docker-credential-<name>) named in credHelpers.
mkdir -p bin
cat > bin/docker-credential-fake <<SH
#!/bin/sh
case "\$1" in
get) read server; printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret"}' "\$server" ;;
store) cat > "$TMP/helper-stored" ;;
erase) cat > "$TMP/helper-erased" ;;
esac
SH
chmod +x bin/docker-credential-fake
printf '{"credHelpers":{"%s":"fake"}}' "$B" > "$DOCKER_CONFIG/config.json"
is "$(PATH=$TMP/bin:$PATH run "$WP" push $B/demo/app:v1 --plain-http)" "$d" "credentials from a credential helper"
printf 's3cret' | PATH=$TMP/bin:$PATH run "$WP" login $B -u alice --password-stdin --plain-http >/dev/null
is "$(jq -r .Username "$TMP/helper-stored")" "alice" "login stores through the configured helper"
check "and not in config.json" sh -c "! grep -q auths '$DOCKER_CONFIG/config.json'"
# A credsStore (the default helper for every registry): get and store go through it.
rm -f "$TMP/helper-stored"
printf '{"credsStore":"fake"}' > "$DOCKER_CONFIG/config.json"
is "$(WASMPACK_STORE=$TMP/s-cs PATH=$TMP/bin:$PATH run "$WP" pull $B/demo/app:v1 --plain-http)" "$d" "credentials from a credsStore helper"
printf 's3cret' | PATH=$TMP/bin:$PATH run "$WP" login $B -u alice --password-stdin --plain-http >/dev/null
is "$(jq -r .Username "$TMP/helper-stored" 2>/dev/null)" "alice" "login stores through the credsStore"
check "and not in config.json" sh -c "! grep -q auths '$DOCKER_CONFIG/config.json'"
rm -f "$DOCKER_CONFIG/config.json"
# containers' auth.json in $XDG_RUNTIME_DIR (podman's and skopeo's), when Docker's has none.
mkdir -p xdg/containers
printf '{"auths":{"%s":{"auth":"%s"}}}' "$B" "$(printf 'alice:s3cret' | base64)" > xdg/containers/auth.json
is "$(XDG_RUNTIME_DIR=$TMP/xdg WASMPACK_STORE=$TMP/s-xdg run "$WP" pull $B/demo/app:v1 --plain-http)" "$d" \
	"credentials from \$XDG_RUNTIME_DIR/containers/auth.json"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$B" "$(printf 'alice:wrong' | base64)" > "$DOCKER_CONFIG/config.json"
XDG_RUNTIME_DIR=$TMP/xdg WASMPACK_STORE=$TMP/s-xdg2 run "$WP" pull $B/demo/app:v1 --plain-http >/dev/null
is "$?" "4" "Docker's config.json is looked at first (its wrong password wins over auth.json)"
rm -f "$DOCKER_CONFIG/config.json"
# containers' auth.json through REGISTRY_AUTH_FILE.
printf '{"auths":{"%s":{"auth":"%s"}}}' "$B" "$(printf 'alice:s3cret' | base64)" > authfile.json
rm -f "$DOCKER_CONFIG/config.json"
is "$(REGISTRY_AUTH_FILE=$TMP/authfile.json WASMPACK_STORE=$TMP/s3 run "$WP" pull $B/demo/app:v1 --plain-http)" "$d" "REGISTRY_AUTH_FILE"

# ---- token auth: alice may push, bob may only pull, anonymous nothing ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout tok.key -out tok.crt -days 2 -subj /CN=wasmpack-token-signer 2>/dev/null
printf 'alice s3cret demo/ pull,push\nbob hunter2 demo/ pull\n' > acl
tsport=$(free_port)
"$BUILD/tests/helpers/token_server" "$tsport" tok.key tok.crt acl wasmpack-test-issuer > token.log 2>&1 &
tspid=$!
on_exit 'kill $tspid 2>/dev/null'
kport=$(free_port)
start_registry token "$kport" "auth:
  token:
    realm: http://127.0.0.1:$tsport/token
    service: wasmpack-test
    issuer: wasmpack-test-issuer
    rootcertbundle: $TMP/tok.crt" || { ok 1 "token registry starts"; done_testing; exit 1; }
K=127.0.0.1:$kport
"$WP" tag $T/demo/app:v1 $K/demo/app:v1 >/dev/null
err=$(WASMPACK_STORE=$TMP/s4 run "$WP" pull $K/demo/app:v1 --plain-http); rc=$?
is "$rc" "4" "anonymous pull is refused: exit 4"
printf 's3cret' | run "$WP" login $K -u alice --password-stdin --plain-http >/dev/null
ok $? "login checks alice's password with the token service"
printf 'nope' | run "$WP" login $K -u alice --password-stdin --plain-http >/dev/null
is "$?" "4" "a wrong password at the token service: exit 4"
is "$(run "$WP" push $K/demo/app:v1 --plain-http)" "$d" "alice pushes with a bearer token"
printf 'hunter2' | run "$WP" login $K -u bob --password-stdin --plain-http >/dev/null
is "$(WASMPACK_STORE=$TMP/s5 run "$WP" pull $K/demo/app:v1 --plain-http)" "$d" "bob pulls"
"$WP" tag $T/demo/app:v1 $K/demo/bobs:v1 >/dev/null
err=$(run "$WP" push $K/demo/bobs:v1 --plain-http); rc=$?
is "$rc" "4" "bob may not push: exit 4"
like "$err" "refused bob access to repository:demo/bobs:pull,push" "and the message says who and what"
check "no manifest was written for bob" sh -c "! curl -sf -o /dev/null http://$K/v2/demo/bobs/manifests/v1"
# An identity token (OAuth2 refresh token) in config.json: the POST form flow.
printf '{"auths":{"%s":{"identitytoken":"refresh-alice"}}}' "$K" > "$DOCKER_CONFIG/config.json"
"$WP" tag $T/demo/app:v1 $K/demo/idt:v1 >/dev/null
is "$(run "$WP" push $K/demo/idt:v1 --plain-http)" "$d" "push with an identity token"

# Token lifetimes: a token is used for as long as it lives, and an absurd lifetime
# (expires_in near 2^63 overflowed the clock arithmetic, so the token counted as expired at
# once) is taken as a day, not as a reason to ask again for every request.
restart_token_server() { # EXPIRES_IN
	kill "$tspid" 2>/dev/null; wait "$tspid" 2>/dev/null
	# appending (O_APPEND), so that emptying the log below does not leave a hole
	TOKEN_EXPIRES_IN=$1 "$BUILD/tests/helpers/token_server" "$tsport" tok.key tok.crt acl wasmpack-test-issuer >> token.log 2>&1 &
	tspid=$!
	wait_http "http://127.0.0.1:$tsport/token" || true
	: > token.log
}
rm -f "$DOCKER_CONFIG/config.json"
printf 's3cret' | run "$WP" login $K -u alice --password-stdin --plain-http >/dev/null
for ttl in 300 9223372036854775807 -5 '"soon"'; do
	restart_token_server "$ttl"
	"$WP" tag $T/demo/app:v1 "$K/demo/ttl$RANDOM:v1" >/dev/null
	ref=$("$WP" images --format json | jq -r '.[].name' | grep "/demo/ttl" | tail -1)
	out=$(run "$WP" push "$ref" --plain-http); rc=$?
	is "$rc:$out" "0:$d" "expires_in $ttl: the push succeeds"
	# one token for the repository, one more when a blob mount names a second one
	like "$(grep -c '^granted alice' token.log)" "^[12]$" "expires_in $ttl: a token or two for the whole push"
	is "$(grep '^granted' token.log | sort | uniq -d)" "" "expires_in $ttl: no scope asked for twice"
	"$WP" rmi "$ref" >/dev/null
done

is "$(grep -c -e s3cret -e hunter2 -e refresh-alice "$outputs")" "0" "no password or token appears in any output"

done_testing
