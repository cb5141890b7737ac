#!/usr/bin/env bash
# Setup: `petrel serve` with the quick-start config plus dkim.sign (two entries for
#   example.test: rsa-sha256 selector r2026 and ed25519-sha256 selector e2026, keys made by
#   `petrel dkim keygen`), dkim.verify on, canonical.sender from a regexp file (alice@ ->
#   alice.smith@, so the From: address changes at delivery), an mx listener on
#   127.0.0.1:$SMTP_PORT and a submission listener (STARTTLS, AUTH from a file table) on
#   127.0.0.1:$SUB_PORT; relay.transport sends remote.test to an aiosmtpd peer on
#   127.0.0.4:25; relay.mynetworks 127.0.0.1/32, then (after a reload) an SQLite table
#   holding 127.0.0.1. Python smtplib as the client, from 127.0.0.1 (in mynetworks) or bound
#   to 127.0.0.2 (outside).
# Mail from mynetworks and from an authenticated client, From: example.test, gets two
# DKIM-Signature fields (one per selector) and one log line each; every delivered copy (the
# Maildir file and what the relay peer received) verifies with dkimpy (dnsfunc over the
# keygen records) and with opendkim -t, although canonical.sender rewrote the From: address
# after receipt, also for a message larger than the in-memory limit (spooled). A client
# outside mynetworks without AUTH is not signed, nor is mail whose From: is another domain. With
# mynetworks in a table that blocks (SQLite), the same holds.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/relay_lib.sh"
/usr/bin/python3 -c 'import dkim' 2>/dev/null || skip "python3-dkim is not installed"
need_relay_harness 127.0.0.4:25 127.0.0.2:0
need_tool openssl opendkim sqlite3

start_harness world "
peers:
  - {name: mx, address: '127.0.0.4:25', hostname: mx.remote.test}
"
pick_ports SUB_PORT
cd "$T"
"$PETREL" dkim keygen --domain example.test --selector r2026 --out r2026.key >r2026.zone
"$PETREL" dkim keygen --domain example.test --selector e2026 --algorithm ed25519 \
  --out e2026.key >e2026.zone
: >records.txt
for z in r2026 e2026; do
  printf '%s._domainkey.example.test\t%s\n' "$z" "$(grep -o '"[^"]*"' $z.zone | tr -d '"\n')" >>records.txt
done
printf 'alice@example.test %s\n' "$(openssl passwd -6 secret)" >"$T/users"
cat >"$T/sender.regexp" <<'EOF2'
/^alice@example\.test$/   alice.smith@example.test
EOF2
# config MYNETWORKS: the test's config with relay.mynetworks MYNETWORKS.
config() {
  write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: submission, address: '127.0.0.1:$SUB_PORT', tls: required, auth: required,
     restrictions: submission}
auth: {backend: lookup, credentials: 'file:$T/users'}
tables:
  transport: {type: inline, map: {remote.test: '[127.0.0.4]:25'}}
  aliases: {type: inline, map: {postmaster@example.test: alice@example.test,
                                alice.smith@example.test: alice@example.test}}
  nets: {type: sqlite, path: '$T/nets.db', query: \"SELECT 'OK' FROM nets WHERE ip = %s\"}
canonical:
  sender: 'regexp:$T/sender.regexp'
relay: {transport: transport, mynetworks: $1}
dkim:
  verify: true
  sign:
    - {domain: example.test, selector: r2026, key: '$T/r2026.key'}
    - {domain: example.test, selector: e2026, key: '$T/e2026.key', algorithm: ed25519-sha256}
"
}
sqlite3 "$T/nets.db" "CREATE TABLE nets (ip TEXT); INSERT INTO nets VALUES ('127.0.0.1');"
config "['127.0.0.1/32']"
check_config
start_petrel
wait_for 10 "port $SUB_PORT" port_open "$SUB_PORT"

# send TAG SOURCE_IP PORT AUTH BODY_KB FROM RELAYED: one message to bob@example.test and,
# when RELAYED is yes, dave@remote.test.
send() {
  TAG="$1" SOURCE="$2" PORT="$3" AUTH="$4" BODY_KB="$5" FROM="$6" RELAYED="$7" py <<'PY'
import os, smtplib, ssl
tag, kb, frm = os.environ["TAG"], int(os.environ["BODY_KB"]), os.environ["FROM"]
msg = ("From: \"Alice (Accounts)\" <%s>\r\n"
       "To: Bob <bob@example.test>,\r\n dave@remote.test\r\n"
       "Subject: %s report\r\n"
       "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
       "Message-ID: <%s@example.test>\r\n"
       "MIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=us-ascii\r\n"
       "\r\n"
       "Hello  Bob,\t \r\n\r\n.a line that starts with a dot\r\n" % (frm, tag, tag))
msg += ("filler line %s\r\n" % ("x" * 60)) * (kb * 1024 // 75)
msg += "\r\n\r\n"
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), timeout=20,
                 source_address=(os.environ["SOURCE"], 0))
if os.environ["AUTH"] == "yes":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo("client.test")
    s.login("alice@example.test", "secret")
rcpts = ["bob@example.test"] + (["dave@remote.test"] if os.environ["RELAYED"] == "yes" else [])
refused = s.sendmail(frm, rcpts, msg)
assert not refused, refused
s.quit()
PY
}

printf 'TestPublicKeys %s\nMode v\nBackground No\nSyslog No\n' "$T/records.txt" >od.conf
# verify TAG FILE SIGNED FROM: FILE (Maildir, LF lines, or a peer's .eml) has two valid
# signatures (s=r2026 and s=e2026, d=example.test) when SIGNED is yes, none otherwise, and
# its From: address is FROM.
verify() {
  TAG="$1" FILE="$2" SIGNED="$3" FROM="$4" py <<'PY' || fail "$1: dkimpy: see above"
import dkim, os, sys
records = {}
for line in open('records.txt'):
    name, text = line.rstrip('\n').split('\t', 1)
    records[name + '.'] = text.encode()
def dnsfunc(name, timeout=5):
    return records.get(name.decode())
tag = os.environ["TAG"]
raw = open(os.environ["FILE"], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
open(tag + '.crlf.eml', 'wb').write(raw)
head = raw.split(b'\r\n\r\n', 1)[0]
want_from = os.environ["FROM"].encode()
if b'<' + want_from + b'>' not in head:
    sys.exit('%s: From: is not <%s>:\n%s' % (tag, want_from.decode(), head.decode()))
n = head.count(b'\r\nDKIM-Signature:') + head.startswith(b'DKIM-Signature:')
if os.environ["SIGNED"] != "yes":
    if n:
        sys.exit('%s: signed, but it should not be:\n%s' % (tag, head.decode()))
    sys.exit(0)
if n != 2:
    sys.exit('%s: %d signatures, expected 2:\n%s' % (tag, n, head.decode()))
d = dkim.DKIM(raw)
seen = set()
for i in range(n):
    if not d.verify(idx=i, dnsfunc=dnsfunc):
        sys.exit('%s: dkimpy: signature %d does not verify:\n%s' % (tag, i, head.decode()))
    seen.add((d.selector, d.domain, d.signature_fields[b'a']))
want = {(b'r2026', b'example.test', b'rsa-sha256'), (b'e2026', b'example.test', b'ed25519-sha256')}
if seen != want:
    sys.exit('%s: signatures %s, expected %s' % (tag, seen, want))
PY
  if [[ "$3" == yes ]]; then
    local out
    out="$(opendkim -x od.conf -vvv -t "$1.crlf.eml" 2>&1)" || fail "$1: opendkim -t: $out"
    [[ "$(grep -c 'dkim=pass' <<<"$out")" -eq 2 ]] || fail "$1: opendkim: not both signatures pass: $out"
  fi
}

newest_mail() { ls -t "$MAIL_ROOT/example.test/$1/new/"* | head -1; }
newest_peer() { ls -t "$RELAY_DIR/mx/"*.eml | head -1; }
local_n=0
relay_n=0
signed_n=0
# deliver TAG SOURCE PORT AUTH BODY_KB FROM SIGNED DELIVERED_FROM [RELAYED]
deliver() {
  local relayed="${9:-yes}"
  send "$1" "$2" "$3" "$4" "$5" "$6" "$relayed"
  local_n=$((local_n + 1))
  wait_for 15 "$1 in bob's Maildir" maildir_at_least example.test/bob "$local_n"
  verify "$1-maildir" "$(newest_mail bob)" "$7" "$8"
  if [[ "$relayed" == yes ]]; then
    relay_n=$((relay_n + 1))
    wait_for 15 "$1 at the relay peer" peer_at_least mx "$relay_n"
    verify "$1-relay" "$(newest_peer)" "$7" "$8"
  fi
  [[ "$7" == yes ]] && signed_n=$((signed_n + 1))
  local n
  n="$(log_count 'petrel/cleanup\[[0-9]+\]: [0-9A-F]+: DKIM-Signature field added \(s=r2026, d=example\.test\)')"
  assert_eq "$signed_n" "$n" "log lines for s=r2026 after $1"
  n="$(log_count 'petrel/cleanup\[[0-9]+\]: [0-9A-F]+: DKIM-Signature field added \(s=e2026, d=example\.test\)')"
  assert_eq "$signed_n" "$n" "log lines for s=e2026 after $1"
  log "$1: ok (signed: $7)"
}

# From mynetworks: signed over the From: as delivered (canonical.sender rewrote it).
deliver mynetworks 127.0.0.1 "$SMTP_PORT" no 1 alice@example.test yes alice.smith@example.test
# Larger than the in-memory limit: the body is spooled, the signatures kept in the queue row.
deliver large 127.0.0.1 "$SMTP_PORT" no 200 alice@example.test yes alice.smith@example.test
grep -q '^Authentication-Results: ' "$(newest_mail bob)" || fail "no Authentication-Results field"
# Authenticated, from outside mynetworks.
deliver authenticated 127.0.0.2 "$SUB_PORT" yes 1 alice@example.test yes alice.smith@example.test
grep -q "with ESMTPSA" "$(newest_mail bob)" || fail "the authenticated message was not ESMTPSA"
# Outside mynetworks without AUTH: not ours, not signed (nor are its headers rewritten); it
# may not relay, so only bob gets it.
deliver outside 127.0.0.2 "$SMTP_PORT" no 1 alice@example.test no alice@example.test no
# Ours, but From: another domain: no entry signs it.
deliver other-domain 127.0.0.1 "$SMTP_PORT" no 1 carol@other.test no carol@other.test

# relay.mynetworks as an SQLite table (it blocks: asked on the thread pool at end of data).
config nets
check_config
"$PETREL" reload --config "$CONF" >/dev/null || fail "reload failed"
wait_for 10 "the reload" log_has 'petrel/master\[[0-9]+\]: reload -- '
deliver table-mynetworks 127.0.0.1 "$SMTP_PORT" no 1 alice@example.test yes alice.smith@example.test
deliver table-outside 127.0.0.2 "$SMTP_PORT" no 1 alice@example.test no alice@example.test no
assert_no_log 'warning: .*DKIM' "a DKIM warning"
stop_petrel
pass
