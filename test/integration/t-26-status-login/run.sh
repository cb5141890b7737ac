#!/usr/bin/env bash
# Setup: `petrel serve` (quick-start config) with status: {tls: true, login: true} on
#   127.0.0.1:$STATUS_PORT: HTTPS with the self-signed certificate Petrel makes for
#   mail.example.test; two users in the credentials database (`petrel user add`), "boss" made
#   an admin with `petrel user admin boss on`, "clerk" not. curl is the client.
# Plain HTTP gets no page. Without credentials: 401 with a Basic challenge; a wrong password:
# 401 and a log line naming the user; a user without the admin flag: 403; the admin: the
# Traffic page, /metrics and /api/health, over a certificate curl verifies for
# mail.example.test. /healthz needs no login (monitoring). A queue action without the login is
# refused before its CSRF check. After 20 failed logins in a minute even the right password
# gets 429 until the minute is over. status.address beyond loopback is accepted with tls and
# login on, and refused without them.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool curl

write_config "status: {address: '127.0.0.1:$STATUS_PORT', tls: true, login: true}"
echo 'boss pass 1' | petrel user add boss >/dev/null
echo 'clerk pass 2' | petrel user add clerk >/dev/null
petrel user admin boss on | grep -q "is an admin" || fail "petrel user admin boss on"
if petrel user admin nobody on 2>"$T/admin.err"; then fail "admin flag set for an unknown user"; fi
grep -q "no such user" "$T/admin.err" || fail "unknown user: $(cat "$T/admin.err")"
start_petrel

CERT="$STATE_DIR/tls/self-signed.crt"
URL="https://mail.example.test:$STATUS_PORT"
# fetch PATH [CURL_ARGS...]: prints "CODE" and leaves the body in $T/body, the head in $T/head.
fetch() {
  local path="$1"
  shift
  curl -sS --max-time 10 --cacert "$CERT" --resolve "mail.example.test:$STATUS_PORT:127.0.0.1" \
    -o "$T/body" -D "$T/head" -w '%{http_code}' "$@" "$URL$path"
}

# Plain HTTP to the TLS port: no HTTP answer at all.
code="$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$STATUS_PORT/healthz" 2>/dev/null || true)"
[[ "$code" != 200 ]] || fail "plain HTTP got a page from the TLS endpoint"

assert_eq 401 "$(fetch /)" "no credentials"
grep -qi '^WWW-Authenticate: Basic realm="Petrel status"' "$T/head" || fail "no challenge: $(cat "$T/head")"
assert_eq 401 "$(fetch / -u 'boss:wrong')" "wrong password"
wait_for 5 "the failed login in the log" log_has 'status login failed for boss: bad password'
assert_eq 403 "$(fetch / -u 'clerk:clerk pass 2')" "a user without the admin flag"
assert_eq 200 "$(fetch / -u 'boss:boss pass 1')" "the admin"
grep -q '<title>' "$T/body" || fail "the Traffic page has no title: $(head -c 300 "$T/body")"
assert_eq 200 "$(fetch /metrics -u 'boss:boss pass 1')" "/metrics with the login"
grep -q '^petrel_' "$T/body" || fail "/metrics body: $(head -c 300 "$T/body")"
assert_eq 401 "$(fetch /metrics)" "/metrics without the login"
assert_eq 200 "$(fetch /api/health -u 'boss:boss pass 1')" "/api/health"
assert_eq 200 "$(fetch /healthz)" "/healthz needs no login"
assert_eq 401 "$(fetch '/api/queue/hold?id=X' -X POST -H 'X-CSRF-Token: x')" "a POST without login"

# The failure cap: 20 in a minute (one was spent above, and clerk's 403 another), then 429.
for i in $(seq 1 20); do fetch / -u "boss:guess$i" >/dev/null; done
assert_eq 429 "$(fetch / -u 'boss:guess-again')" "a login after 20 failures"
grep -qi '^Retry-After: 60' "$T/head" || fail "no Retry-After: $(cat "$T/head")"
code="$(fetch / -u 'boss:boss pass 1')"
# The admin's earlier login is remembered (its credentials passed): still served.
assert_eq 200 "$code" "the admin's remembered login during the cap"
stop_petrel

# Beyond loopback: only with tls and login.
write_config "status: {address: '0.0.0.0:$STATUS_PORT', tls: true, login: true}"
petrel check-config >/dev/null 2>&1 || fail "check-config refused 0.0.0.0 with tls and login"
write_config "status: {address: '0.0.0.0:$STATUS_PORT', tls: true}"
if petrel check-config >"$T/check.out" 2>&1; then fail "check-config accepted 0.0.0.0 without login"; fi
grep -q "needs status.tls: true and status.login: true" "$T/check.out" ||
  fail "no loopback error: $(cat "$T/check.out")"
pass
