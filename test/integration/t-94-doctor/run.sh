#!/usr/bin/env bash
# Setup: two zone_dns.py servers on loopback ($DNS_GOOD, $DNS_BAD) serving example.test and
#   the reverse and DNS-list names of 127.0.0.1; one `petrel serve` (quick-start config, mx
#   listener 127.0.0.1:$SMTP_PORT with STARTTLS and a 30-day certificate for
#   mail.example.test, status 127.0.0.1:$STATUS_PORT, a DKIM key s1 for example.test, a
#   mysql table whose "server" is a Python TCP listener on 127.0.0.1:$TABLE_PORT); the
#   doctor's open-relay test connects from 127.0.0.2 (outside relay.mynetworks).
# `petrel doctor` against the good zone: every line passes, exit 0, the open-relay test saw
# "Relay access denied"; --json parses. Against the broken zone (MX elsewhere, SPF without
# our address, no DMARC record, another DKIM key, 127.0.0.1 listed): fail lines with their
# fixes, exit 2. A certificate expiring in 3 days: a warning, exit 1. The server's own run
# shows on /api/health and the Health page (doctor rows, DNS and table servers reachable).
# With 127.0.0.0/8 in mynetworks the relay test says it cannot test; with recipient
# restrictions that permit everything it finds the open relay.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool openssl
"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  skip "cannot bind 127.0.0.2 (no 127.0.0.0/8 on lo)"

"$PETREL" dkim keygen --domain example.test --selector s1 --algorithm ed25519 \
  --out "$T/s1.key" >"$T/s1.zone" || fail "dkim keygen failed"
"$PETREL" dkim keygen --domain example.test --selector s1 --algorithm ed25519 \
  --out "$T/other.key" >"$T/other.zone" || fail "dkim keygen failed"
GOOD_KEY="$(grep -o '"[^"]*"' "$T/s1.zone" | tr -d '"' | tr -d '\n')"
OTHER_KEY="$(grep -o '"[^"]*"' "$T/other.zone" | tr -d '"' | tr -d '\n')"
[[ "$GOOD_KEY" == v=DKIM1* ]] || fail "no key record from dkim keygen: $(cat "$T/s1.zone")"

make_cert "$T/mail" mail.example.test 1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3 \
  -subj "/CN=mail.example.test" -addext "subjectAltName=DNS:mail.example.test" \
  -keyout "$T/soon.key" -out "$T/soon.crt" >/dev/null 2>&1 || fail "openssl req failed"

common_zone() {
  cat <<ZONE
example.test.                 60 IN SOA ns.example.test. h.example.test. 1 7200 900 1209600 60
mail.example.test.            60 IN A   127.0.0.1
1.0.0.127.in-addr.arpa.       60 IN PTR mail.example.test.
bl.test.                      60 IN SOA ns.bl.test. h.bl.test. 1 7200 900 1209600 60
ZONE
}
{ common_zone; cat <<ZONE
example.test.                 60 IN MX  10 mail.example.test.
example.test.                 60 IN TXT "v=spf1 ip4:127.0.0.1 -all"
s1._domainkey.example.test.   60 IN TXT "$GOOD_KEY"
_dmarc.example.test.          60 IN TXT "v=DMARC1; p=reject; rua=mailto:postmaster@example.test"
ZONE
} >"$T/good.zone"
{ common_zone; cat <<ZONE
example.test.                 60 IN MX  10 mx.elsewhere.test.
mx.elsewhere.test.            60 IN A   192.0.2.99
example.test.                 60 IN TXT "v=spf1 ip4:192.0.2.99 -all"
s1._domainkey.example.test.   60 IN TXT "$OTHER_KEY"
1.0.0.127.bl.test.            60 IN A   127.0.0.2
1.0.0.127.bl.test.            60 IN TXT "listed for the doctor test"
ZONE
} >"$T/bad.zone"
start_zone_dns "$T/good.zone"
DNS_GOOD=$DNS_PORT
start_zone_dns "$T/bad.zone"
DNS_BAD=$DNS_PORT

# The "mysql server": accepts TCP connections (the doctor only connects).
pick_ports TABLE_PORT
py_bg - <<'EOF'
import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["TABLE_PORT"])))
s.listen(16)
open(os.path.join(os.environ["T"], "table.ready"), "w").close()
while True:
    c, _ = s.accept()
    c.close()
EOF
wait_for 10 "the table server on $TABLE_PORT" test -e "$T/table.ready"

config() {  # DNS_PORT CERT EXTRA_YAML
  write_config "
listeners!: [{name: mx, address: '127.0.0.1:$SMTP_PORT', tls: optional}]
tls: {certificates: [{cert: '$T/$2.crt', key: '$T/$2.key'}]}
dns: {servers: ['127.0.0.1:$1']}
relay: {mynetworks: ['127.0.0.1/32']}
dkim: {sign: [{domain: example.test, selector: s1, key: '$T/s1.key', algorithm: ed25519-sha256}]}
tables: {remote: {type: mysql, host: 127.0.0.1, port: '$TABLE_PORT', database: mail,
                  query: 'SELECT 1 FROM t WHERE a = %s'}}
doctor: {addresses: [127.0.0.1], relay_test_source: 127.0.0.2, dns_lists: [bl.test],
         min_free_space: 1MB, interval: 1h}
${3:-}"
}
doctor() {  # EXPECTED_EXIT OUT ARGS...
  local want="$1" out="$2" rc=0
  shift 2
  "$PETREL" doctor --config "$CONF" "$@" >"$out" 2>"$out.err" || rc=$?
  [[ "$rc" == "$want" ]] ||
    fail "petrel doctor $*: exit $rc, expected $want: $(cat "$out" "$out.err")"
}

config "$DNS_GOOD" mail
start_petrel

# The good zone: every check passes.
doctor 0 "$T/good.out"
log "good zone:"; cat "$T/good.out" >&2
grep -v '^doctor: ' "$T/good.out" | grep -v '^pass ' && fail "a line that does not pass"
for check in dns-server host ptr mx spf dkim dmarc dnsbl tls port open-relay directory \
             table-server; do
  grep -q "^pass $check " "$T/good.out" || fail "no passing $check line"
done
has_line() {  # FILE PATTERN-PIECES... (joined)
  local file="$1" p
  shift
  printf -v p '%s' "$@"
  grep -q -- "$p" "$file"
}
has_line "$T/good.out" '^pass open-relay mx .*RCPT TO:<relay-test@.*> from 127.0.0.2 refused: ' \
  '554 5.7.1 .*Relay access denied' || fail "the relay test did not see the refusal"
assert_log 'NOQUEUE: reject: RCPT from .*\[127.0.0.2\]: 554 5.7.1' \
  "the server logged the relay test"
doctor 0 "$T/good.json" --json
py - "$T/good.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "pass" and r["exit"] == 0, r
assert all(f["verdict"] == "pass" and f["fix"] == "" for f in r["findings"]), r
assert {f["check"] for f in r["findings"]} >= {"mx", "spf", "dkim", "dmarc", "open-relay"}
EOF

# The broken zone: fail lines with fixes, exit 2.
config "$DNS_BAD" mail
doctor 2 "$T/bad.out" --domain example.test
log "broken zone:"; cat "$T/bad.out" >&2
expect_line() { has_line "$T/bad.out" "$@" || fail "no line matching '$*'"; }
expect_line '^fail mx example.test: the MX records (10 mx.elsewhere.test) point at other ' \
  'hosts, not at mail.example.test -- fix: publish "example.test. IN MX 10 mail.example.test."$'
expect_line '^fail spf example.test for 127.0.0.1: the record "v=spf1 ip4:192.0.2.99 -all" ' \
  'gives fail for 127.0.0.1 (-all) -- fix: add "ip4:127.0.0.1"'
expect_line '^fail dmarc _dmarc.example.test: no DMARC record -- fix: publish ' \
  '"_dmarc.example.test. IN TXT'
expect_line '^fail dkim s1._domainkey.example.test: the published key is not the public key ' \
  'of the key file -- fix: publish "s1._domainkey.example.test. IN TXT \\"' "$GOOD_KEY" '\\""'
expect_line '^fail dnsbl 127.0.0.1 on bl.test: listed (127.0.0.2): listed for the doctor test ' \
  '-- fix:'
expect_line '^pass ptr 127.0.0.1:'

# A certificate with 3 days left: a warning, exit 1.
config "$DNS_GOOD" soon
doctor 1 "$T/soon.out"
grep -Eq '^warn tls .*/soon.crt: expires in [23] days \(fewer than 14\) -- fix: renew' \
  "$T/soon.out" ||
  fail "no certificate warning: $(cat "$T/soon.out")"
[[ "$(grep -vc '^pass \|^doctor: ' "$T/soon.out")" == 1 ]] || fail "more than the certificate warns"

# The server's own run (5 s after start) on /api/health and the Health page.
health_has_doctor() {
  curl -sf "http://127.0.0.1:$STATUS_PORT/api/health" >"$T/health.json" &&
    grep -q '"doctor":{"status"' "$T/health.json" && ! grep -q '"time":0,' "$T/health.json"
}
wait_for 60 "the server's doctor run on /api/health" health_has_doctor
py - "$T/health.json" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1]))
d = h["doctor"]
assert d["status"] == "pass" and d["time"] > 0, d
assert any(f["check"] == "open-relay" and f["verdict"] == "pass" for f in d["findings"]), d
assert h["dns_servers"] and all(s["reachable"] for s in h["dns_servers"]), h["dns_servers"]
assert [s["name"] for s in h["table_servers"]] == ["remote (mysql 127.0.0.1:%s)"
                                                  % __import__("os").environ["TABLE_PORT"]], h
assert all(s["reachable"] for s in h["table_servers"]), h["table_servers"]
EOF
curl -sf "http://127.0.0.1:$STATUS_PORT/dash/health" >"$T/health.html" || fail "no Health page"
for id in dns-servers table-servers doctor doctor-summary; do
  grep -q "id=\"$id\"" "$T/health.html" || fail "the Health page has no #$id"
done
grep -q '<td>open-relay</td>' "$T/health.html" || fail "no open-relay row on the Health page"
assert_log 'doctor: pass \([0-9]+ checks, 0 not passing' "the server logged its doctor run"
stop_petrel

# 127.0.0.0/8 in mynetworks: the relay test cannot prove anything.
config "$DNS_GOOD" mail "relay!: {mynetworks: ['127.0.0.0/8']}"
start_petrel
doctor 1 "$T/inside.out"
has_line "$T/inside.out" '^warn open-relay mx .*: cannot test from inside mynetworks: ' \
  'RCPT TO:<relay-test@.*> from 127.0.0.2 accepted (the source is in relay.mynetworks) ' \
  '-- fix: set doctor.relay_test_source' ||
  fail "no inside-mynetworks warning: $(cat "$T/inside.out")"
stop_petrel

# A recipient list that permits everything: an open relay, found.
config "$DNS_GOOD" mail "restrictions: {default: {recipient: [permit]}}"
start_petrel
doctor 2 "$T/open.out"
has_line "$T/open.out" '^fail open-relay mx .*: OPEN RELAY: RCPT TO:<relay-test@.*> ' \
  'from 127.0.0.2 (outside relay.mynetworks) accepted: 250' ||
  fail "the open relay was not found: $(cat "$T/open.out")"
assert_no_log 'relay-test@[^ ]*>, .*status=' "the relay test's recipient never got a delivery"
stop_petrel
[[ "$(db_count messages)" == 0 ]] || fail "the relay test left a message in the queue"
pass
