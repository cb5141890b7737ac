#!/usr/bin/env bash
# ARC sealing of forwarded mail (issue 12's last part, issue 14's "ARC-sealed when
# forwarding"; docs/arc.md), with dkimpy (python3-dkim) as the sender's signer, the upstream
# sealer and the foreign receiver's verifier.
# Setup: zone_dns.py on 127.0.0.1:$DNS_PORT serving dkim.test (its DKIM/ARC key `sel`, SPF
#   for 127.0.0.2) and example.test's ARC key `arc` (`petrel dkim keygen`); `petrel serve`
#   (quick-start config: example.test, alice) on 127.0.0.1:$SMTP_PORT with dkim.verify on,
#   arc.seal {example.test, arc}, srs on fwd.example.test, the alias fwd@example.test ->
#   someone@outside.example, alice's Sieve script redirecting "Subject: redirect" to
#   carol@outside.example, and relay.transport sending outside.example to an aiosmtpd sink on
#   127.0.0.1:$OUT_PORT. Clients: smtplib from 127.0.0.2 (outside) and 127.0.0.1 (mynetworks).
# - A message DKIM-signed by dkimpy to fwd@example.test: the sink gets it with MAIL FROM an
#   SRS0 address and a fresh ARC set: dkim.arc_verify says cv=pass with i=1; the AAR carries
#   our Authentication-Results (dkim=pass); the log says "ARC-Seal field added (i=1,
#   cv=none, s=arc, d=example.test)".
# - A message dkimpy ARC-sealed upstream (i=1) to fwd@example.test: i=2, cv=pass for
#   arc_verify; tampered at the sink (one body letter), arc_verify says fail.
# - The same with its seal's cv= changed to fail (an ended chain): forwarded without a set,
#   with the warning "not ARC-sealed: the chain has ended ...".
# - A Sieve redirect to a foreign address: the copy is sealed when queued (i=1, pass).
# - Ordinary outbound mail of a local client (mynetworks) to outside.example: no ARC field.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import dkim, authres, aiosmtpd; dkim.arc_sign, dkim.arc_verify' \
  2>/dev/null || skip "python3-dkim (with authres) or python3-aiosmtpd is not installed"

pick_ports OUT_PORT
export OUT_PORT
cd "$T"
"$PETREL" dkim keygen --domain dkim.test --selector sel --out sel.key >sel.zone
"$PETREL" dkim keygen --domain example.test --selector arc --out arc.key >arc.zone
py - <<'PY'
import re
def txt(path):
    text = ''.join(re.findall(r'"([^"]*)"', open(path).read()))
    return text, ' '.join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))
sel, sel_parts = txt('sel.zone')
arc, arc_parts = txt('arc.zone')
with open('records.txt', 'w') as f:
    f.write('sel._domainkey.dkim.test.\t%s\narc._domainkey.example.test.\t%s\n' % (sel, arc))
with open('zone.txt', 'w') as z:
    for d in ('dkim.test', 'example.test'):
        z.write('%s. 60 IN SOA ns.%s. h.%s. 1 7200 900 1209600 60\n' % (d, d, d))
    z.write('sel._domainkey.dkim.test. 60 IN TXT %s\n' % sel_parts)
    z.write('arc._domainkey.example.test. 60 IN TXT %s\n' % arc_parts)
    z.write('dkim.test. 60 IN TXT "v=spf1 ip4:127.0.0.2 -all"\n')
PY
start_zone_dns "$T/zone.txt"

cat > sink.py <<'PY'
# An SMTP sink: every message as one JSON line {mail_from, rcpt_tos, data (the exact bytes,
# latin-1)} in FILE.
import asyncio, json, sys
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                                "data": envelope.original_content.decode("latin-1")}) + "\n")
        return "250 2.0.0 Ok: stored"
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
asyncio.get_event_loop().run_until_complete(asyncio.sleep(120))
PY
py_bg sink.py "$OUT_PORT" "$T/out.jsonl"
wait_for 10 "the outside sink" port_open "$OUT_PORT" || fail "sink did not start"

mkdir -p sieve/users/example.test
cat > sieve/users/example.test/alice.sieve <<'SIEVE'
if header :contains "Subject" "redirect" {
  redirect "carol@outside.example";
}
SIEVE
printf 'petrel-t91-secret\n' > srs.secrets
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
dkim: {verify: true}
arc: {seal: {domain: example.test, selector: arc, key: $T/arc.key}}
srs: {domain: fwd.example.test, secrets_file: $T/srs.secrets}
tables:
  aliases: {type: inline, map: {postmaster@example.test: alice@example.test,
                                fwd@example.test: someone@outside.example}}
  transport: {type: inline, map: {outside.example: 'smtp:[127.0.0.1]:$OUT_PORT'}}
relay: {transport: transport, tls: none, mynetworks: [127.0.0.1/32]}
restrictions:
  default:
    recipient: [permit_mynetworks, reject_unauth_destination]
delivery:
  sieve: {user_scripts: $T/sieve/users}
queue: {min_backoff: 1s, max_backoff: 2s}
"
start_petrel

# send SOURCE_IP ENVELOPE_FROM RCPT SUBJECT [dkim|arc]: prints the reply to the message.
send() {
  py - "$@" <<'PY'
import dkim, smtplib, sys, os
src, env_from, rcpt, subject = sys.argv[1:5]
how = sys.argv[5] if len(sys.argv) > 5 else ''
msg = ('From: Sender <%s>\r\nTo: %s\r\nSubject: %s\r\n'
       'Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@t91>\r\n\r\n'
       'Hello,\r\n\r\nthis  line has  double spaces.\r\n' % (
           env_from, rcpt, subject, subject.replace(' ', '-'))).encode()
key = open('sel.key', 'rb').read()
if how in ('dkim', 'arc'):
    msg = dkim.sign(msg, b'sel', b'dkim.test', key,
                    include_headers=[b'From', b'To', b'Subject', b'Date']) + msg
if how in ('arc', 'ended'):  # a mailing list (lists.dkim.test) sealed it before us
    msg = b'Authentication-Results: lists.dkim.test; dkim=pass header.d=dkim.test\r\n' + msg
    sets = b''.join(dkim.arc_sign(msg, b'sel', b'dkim.test', key, b'lists.dkim.test'))
    if how == 'ended':  # its seal says cv=fail: the chain has ended (RFC 8617 5.1.2)
        sets = sets.replace(b'cv=none', b'cv=fail')
    msg = sets + msg
s = smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), source_address=(src, 0), timeout=30)
s.ehlo('client.dkim.test')
s.mail(env_from)
s.rcpt(rcpt)
code, text = s.data(msg)
print(code, text.decode())
s.quit()
PY
}

# check SUBJECT WANT_CV WANT_I [tamper]: arc_verify over the sink's copy with that subject.
check() {
  py - "$@" <<'PY'
import dkim, json, os, sys
subject, want_cv, want_i = sys.argv[1], sys.argv[2], int(sys.argv[3])
tamper = len(sys.argv) > 4
records = {}
for line in open('records.txt'):
    name, text = line.rstrip('\n').split('\t', 1)
    records[name] = text.encode()
def dnsfunc(name, timeout=5):
    return records.get(name.decode() if isinstance(name, bytes) else name)
found = [m for m in map(json.loads, open(os.environ['T'] + '/out.jsonl'))
         if ('\r\nSubject: %s\r\n' % subject) in m['data']]
assert len(found) == 1, 'copies with Subject %s at the sink: %d' % (subject, len(found))
data = found[0]['data'].encode('latin-1')
if tamper:
    data = data.replace(b'double spaces', b'double spices')
cv, results, reason = dkim.arc_verify(data, dnsfunc=dnsfunc)
cv = (cv or b'none').decode()
got_i = max((int(r.get('instance', 0)) for r in results or []), default=0)
print(cv, got_i, reason)
assert cv == want_cv and (tamper or got_i == want_i), (cv, got_i, reason)
PY
}

sink_has() { [[ -s "$T/out.jsonl" ]] && grep -q -- "Subject: $1" "$T/out.jsonl"; }

# 1. DKIM-signed mail to an alias that forwards: a fresh chain, i=1.
reply=$(send 127.0.0.2 sender@dkim.test fwd@example.test 'signed' dkim)
[[ "$reply" == 250* ]] || fail "the signed message: $reply"
wait_for 20 "the forwarded signed message" sink_has signed || fail "nothing reached the sink"
out=$(check signed pass 1) || fail "arc_verify of the forwarded signed message: $out"
log "signed: $out"
py - <<'PY' || fail "the forwarded copy is not what was expected"
import json, os
m = [m for m in map(json.loads, open(os.environ['T'] + '/out.jsonl'))
     if 'Subject: signed' in m['data']][0]
assert m['mail_from'].startswith('SRS0=') and m['rcpt_tos'] == ['someone@outside.example'], m
head = m['data'].split('\r\n\r\n', 1)[0]
assert head.startswith('ARC-Seal: '), head[:200]
aar = head[head.index('ARC-Authentication-Results:'):].split('\r\n')[0]
assert aar.startswith('ARC-Authentication-Results: i=1; mail.example.test;'), aar
assert 'dkim=pass' in head[head.index('ARC-Authentication-Results:'):], head
PY
assert_log 'ARC-Seal field added \(i=1, cv=none, s=arc, d=example.test\)' "the seal's log line"

# 2. A message sealed upstream (i=1): our set is i=2 over a passing chain.
reply=$(send 127.0.0.2 sender@dkim.test fwd@example.test 'sealed upstream' arc)
[[ "$reply" == 250* ]] || fail "the ARC-sealed message: $reply"
wait_for 20 "the forwarded sealed message" sink_has 'sealed upstream' ||
  fail "the sealed message did not reach the sink"
out=$(check 'sealed upstream' pass 2) || fail "arc_verify of the resealed message: $out"
log "sealed upstream: $out"
out=$(check 'sealed upstream' fail 2 tamper) || fail "a tampered copy verified: $out"
assert_log 'ARC-Seal field added \(i=2, cv=pass, s=arc, d=example.test\)' "the i=2 log line"

# 2b. A chain whose newest seal says cv=fail has ended: forwarded without a set of ours.
reply=$(send 127.0.0.2 sender@dkim.test fwd@example.test 'ended chain' ended)
[[ "$reply" == 250* ]] || fail "the ended chain: $reply"
wait_for 20 "the forwarded ended chain" sink_has 'ended chain' || fail "the ended chain did not arrive"
py - <<'PY' || fail "the ended chain got a set"
import json, os
m = [m for m in map(json.loads, open(os.environ['T'] + '/out.jsonl'))
     if 'Subject: ended chain' in m['data']][0]
head = m['data'].split('\r\n\r\n', 1)[0]
assert head.count('ARC-Seal:') == 1 and 'i=2' not in head.split('ARC-Seal:')[1][:400], head[:600]
PY
assert_log 'warning: [0-9A-F]+: not ARC-sealed: the chain has ended' "the ended chain's warning"

# 3. A Sieve redirect to a foreign address: the copy is sealed as it is queued.
reply=$(send 127.0.0.2 sender@dkim.test alice@example.test 'redirect me' dkim)
[[ "$reply" == 250* ]] || fail "the message to redirect: $reply"
wait_for 20 "the redirected copy" sink_has 'redirect me' || fail "the redirect did not arrive"
out=$(check 'redirect me' pass 1) || fail "arc_verify of the redirected copy: $out"
log "redirect: $out"

# 4. A local client's own outbound mail is not forwarding: no ARC set.
reply=$(send 127.0.0.1 alice@example.test bob@outside.example 'outbound')
[[ "$reply" == 250* ]] || fail "the outbound message: $reply"
wait_for 20 "the outbound message" sink_has outbound || fail "the outbound message did not arrive"
py - <<'PY' || fail "ordinary outbound mail got an ARC set"
import json, os
m = [m for m in map(json.loads, open(os.environ['T'] + '/out.jsonl'))
     if 'Subject: outbound' in m['data']][0]
assert 'ARC-' not in m['data'].split('\r\n\r\n', 1)[0], m['data'][:400]
assert m['mail_from'] == 'alice@example.test', m
PY
[[ "$(log_count 'ARC-Seal field added')" -eq 3 ]] ||
  fail "expected 3 ARC-Seal log lines, got $(log_count 'ARC-Seal field added')"
pass
