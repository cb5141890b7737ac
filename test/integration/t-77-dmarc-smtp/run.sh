#!/usr/bin/env bash
# DMARC on the real SMTP path (issue 12): zone_dns.py serves three author domains, smtplib
# sends from 127.0.0.2 (outside mynetworks) with dmarc.verify and dkim.verify on and no SPF
# check in the lists (the Authentication-Results stage evaluates SPF itself for DMARC):
# - bank.test (p=reject): a forged From: with another envelope domain and no signature is
#   refused at end of data with 550 5.7.1, and logged as a reject;
# - dkim.test (p=reject): signed by dkimpy with the key `petrel dkim keygen` made, envelope in
#   the domain: delivered with "dkim=pass ...; spf=pass ...; dmarc=pass" in our field; the
#   same sealed by a forwarder with dkimpy's arc_sign: "arc=pass";
# - quar.test (p=quarantine) with on_quarantine: hold: accepted, held in the queue;
# - the forged bank.test From: from 127.0.0.1 (mynetworks) is not evaluated: delivered;
# - dmarc.reports on: the three messages of domains with rua= are rows in dmarc.db;
#   `petrel dmarc send-reports` mails bank.test's report to alice (example.test authorises
#   it, RFC 7489 7.1) and not dkim.test's to bob (no authorisation record); the rows go.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import dkim, authres' 2>/dev/null || skip "python3-dkim (with authres) is not installed"
[ -r /usr/share/publicsuffix/public_suffix_list.dat ] || skip "publicsuffix is not installed"

cd "$T"
"$PETREL" dkim keygen --domain dkim.test --selector sel --out sel.key >sel.zone
py - <<'PY'
import re
text = ''.join(re.findall(r'"([^"]*)"', open('sel.zone').read()))
parts = ' '.join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))
with open('zone.txt', 'w') as z:
    for d in ('dkim.test', 'bank.test', 'quar.test', 'evil.test'):
        z.write('%s. 60 IN SOA ns.%s. h.%s. 1 7200 900 1209600 60\n' % (d, d, d))
    z.write('sel._domainkey.dkim.test. 60 IN TXT %s\n' % parts)
    z.write('dkim.test. 60 IN TXT "v=spf1 ip4:127.0.0.2 -all"\n')
    z.write('_dmarc.dkim.test. 60 IN TXT "v=DMARC1; p=reject; rua=mailto:bob@example.test"\n')
    z.write('bank.test. 60 IN TXT "v=spf1 -all"\n')
    z.write('_dmarc.bank.test. 60 IN TXT "v=DMARC1; p=reject; rua=mailto:alice@example.test"\n')
    # RFC 7489 7.1: example.test takes bank.test's reports, not dkim.test's.
    z.write('example.test. 60 IN SOA ns.example.test. h.example.test. 1 7200 900 1209600 60\n')
    z.write('bank.test._report._dmarc.example.test. 60 IN TXT "v=DMARC1"\n')
    z.write('quar.test. 60 IN TXT "v=spf1 -all"\n')
    z.write('_dmarc.quar.test. 60 IN TXT "v=DMARC1; p=quarantine"\n')
    z.write('evil.test. 60 IN TXT "v=spf1 ip4:127.0.0.2 -all"\n')
PY
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
dkim: {verify: true}
dmarc: {verify: true, on_quarantine: hold, reports: {enabled: true}}
relay: {mynetworks: [127.0.0.1/32]}
restrictions:
  default:
    recipient: [permit_mynetworks, reject_unauth_destination]
"
start_petrel

# send SOURCE_IP ENVELOPE_FROM FROM_HEADER SUBJECT [sign]: prints the reply to the message.
send() {
  py - "$@" <<'PY'
import dkim, smtplib, sys, os
src, env_from, from_hdr, subject = sys.argv[1:5]
sign = sys.argv[5] if len(sys.argv) > 5 else ''
msg = ('From: %s\r\nTo: alice@example.test\r\nSubject: %s\r\n'
       'Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@t77>\r\n\r\n'
       'Hello.\r\n' % (from_hdr, subject, subject.replace(' ', '-'))).encode()
if sign == 'arc':  # a forwarder (fwd.dkim.test) sealed it, as a mailing list would
    msg = b'Authentication-Results: fwd.dkim.test; spf=pass smtp.mailfrom=dkim.test\r\n' + msg
    msg = b''.join(dkim.arc_sign(msg, b'sel', b'dkim.test', open('sel.key', 'rb').read(),
                                 b'fwd.dkim.test')) + msg
elif sign:
    msg = dkim.sign(msg, b'sel', b'dkim.test', open('sel.key', 'rb').read(),
                    include_headers=[b'From', b'To', b'Subject', b'Date']) + msg
s = smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), source_address=(src, 0), timeout=30)
s.ehlo('client.evil.test')
s.mail(env_from)
s.rcpt('alice@example.test')
code, text = s.data(msg)
print(code, text.decode())
s.quit()
PY
}

reply=$(send 127.0.0.2 attacker@evil.test 'Bank <ceo@bank.test>' 'forged')
[[ "$reply" == "550 5.7.1 "*"bank.test"* ]] || fail "forged p=reject From: answered: $reply"
wait_for 10 "the reject logged" eval \
  "log_has 'NOQUEUE: reject: END-OF-MESSAGE from .*\[127\.0\.0\.2\]: 550 5\.7\.1 .*bank\.test'"

reply=$(send 127.0.0.2 sender@dkim.test 'Sender <sender@dkim.test>' 'aligned' sign)
[[ "$reply" == 250* ]] || fail "aligned, signed message answered: $reply"
reply=$(send 127.0.0.2 sender@dkim.test 'Sender <sender@dkim.test>' 'sealed' arc)
[[ "$reply" == 250* ]] || fail "ARC-sealed message answered: $reply"
reply=$(send 127.0.0.2 attacker@evil.test 'Q <q@quar.test>' 'quarantined')
[[ "$reply" == 250* ]] || fail "p=quarantine message answered: $reply"
reply=$(send 127.0.0.1 attacker@evil.test 'Bank <ceo@bank.test>' 'local client')
[[ "$reply" == 250* ]] || fail "mynetworks client answered: $reply"

wait_for 20 "3 messages in alice's Maildir" maildir_has example.test/alice 3 ||
  fail "the aligned, the sealed and the local message were not delivered"
file_of() { grep -l "^Subject: $1" "$MAIL_ROOT"/example.test/alice/new/*; }
ar_of() {
  awk '/^Authentication-Results: mail.example.test/{f=1; printf "%s", $0; next}
       f && /^[ \t]/{printf " %s", $0; next} f{exit}' "$(file_of "$1")"
}
ar=$(ar_of aligned)
[[ "$ar" == *"dkim=pass"*"header.d=dkim.test"*"spf=pass smtp.mailfrom=dkim.test"*"dmarc=pass"*"header.from=dkim.test"* ]] ||
  fail "aligned: field is: $ar"
ar=$(ar_of sealed)
[[ "$ar" == *"arc=pass"* ]] || fail "sealed: no arc=pass: $ar"
ar=$(ar_of aligned)
if [[ "$ar" =~ [[:space:]]arc= ]]; then fail "a message without a chain got arc=: $ar"; fi
grep -q '^Subject: local client' "$MAIL_ROOT"/example.test/alice/new/* || fail "local message missing"
if grep -q '^Authentication-Results: mail.example.test.*dmarc' "$(file_of 'local client')"; then
  fail "a mynetworks client's message was evaluated"
fi
log_has ': dmarc=pass .*header.from=dkim.test' || fail "no dmarc=pass log line"
log_has ': dmarc=fail \(p=quarantine dis=quarantine\) header.from=quar.test' ||
  fail "no dmarc=fail log line for quar.test"

# The quarantined message is held in the queue, with Postfix's hold line.
petrel queue list --json | py -c '
import json, sys
q = json.load(sys.stdin)
held = [m for m in q if m["held"]]
assert len(held) == 1 and held[0]["sender"] == "attacker@evil.test", q
' || fail "the quarantined message is not held"
log_has 'hold: .*quarantined by DMARC policy for quar.test' || fail "no hold log line"

# Aggregate-report rows: bank.test (fail, rejected) and dkim.test (pass, twice); quar.test has
# no rua=.
rows() {
  py -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for r in db.execute("SELECT policy_domain, source_ip, header_from, disposition FROM messages ORDER BY policy_domain"):
    print(*r)
' "$STATE_DIR/dmarc.db"
}
wait_for 10 "3 report rows" eval '[[ $(rows | wc -l) -eq 3 ]]' || fail "report rows: $(rows)"
kept=$(rows)
grep -q '^bank.test 127.0.0.2 bank.test' <<<"$kept" || fail "no bank.test row: $kept"
grep -q '^dkim.test 127.0.0.2 dkim.test' <<<"$kept" || fail "no dkim.test row: $kept"

# The aggregate reports, sent now rather than at the end of the day.
out=$(petrel dmarc send-reports) || fail "send-reports: $out"
[[ "$out" == *"1 DMARC aggregate report queued"* ]] || fail "send-reports said: $out"
wait_for 20 "the report in alice's Maildir" maildir_has example.test/alice 4 || fail "no report"
report=$(grep -l '^Subject: Report Domain: bank.test Submitter: mail.example.test' \
  "$MAIL_ROOT"/example.test/alice/new/*) || fail "no report mail for bank.test"
py - "$report" <<'PY'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'))
parts = [p for p in msg.walk() if p.get_content_type() == 'text/xml']
assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
name = parts[0].get_filename()
assert name.startswith('mail.example.test!bank.test!') and name.endswith('.xml'), name
xml = parts[0].get_payload(decode=True).decode()
import xml.etree.ElementTree as ET
root = ET.fromstring(xml)
assert root.findtext('policy_published/domain') == 'bank.test', xml
rec = root.find('record')
assert rec.findtext('row/source_ip') == '127.0.0.2', xml
assert rec.findtext('row/policy_evaluated/disposition') == 'reject', xml
assert rec.findtext('identifiers/header_from') == 'bank.test', xml
PY
[[ -z "$(ls "$MAIL_ROOT"/example.test/bob/new 2>/dev/null)" ]] || fail "bob got a report"
log_has 'DMARC aggregate report for dkim.test not sent to <bob@example.test>: .*no v=DMARC1' ||
  fail "no log line for the unauthorised destination"
log_has ': DMARC aggregate report for bank.test \(1 message\) to <alice@example.test>' ||
  fail "no log line for the report sent"
assert_eq 0 "$(rows | wc -l)" "report rows left after sending"
pass
