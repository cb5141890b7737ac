#!/usr/bin/env bash
# Authentication-Results on the real SMTP path (issue 12): a key made by `petrel dkim keygen`
# served by zone_dns.py; dkimpy (python3-dkim) signs messages that smtplib sends from 127.0.0.2
# (outside mynetworks) with check_spf in the sender list and dkim.verify on. The delivered
# files must carry one Authentication-Results field of ours on top:
# - signed and intact: dkim=pass header.d=dkim.test header.s=sel, spf=pass smtp.mailfrom;
# - body changed after signing: dkim=fail;
# - a field the client sent claiming our authserv-id is gone, another authserv-id's stays;
# - a 100 KB message (spooled body; the field kept in the queue row) also gets dkim=pass.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import dkim' 2>/dev/null || skip "python3-dkim is not installed"

cd "$T"
"$PETREL" dkim keygen --domain dkim.test --selector sel --out sel.key >sel.zone
py - <<'PY'
import re
text = ''.join(re.findall(r'"([^"]*)"', open('sel.zone').read()))
parts = ' '.join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))
with open('zone.txt', 'w') as z:
    z.write('dkim.test. 60 IN SOA ns.dkim.test. h.dkim.test. 1 7200 900 1209600 60\n')
    z.write('sel._domainkey.dkim.test. 60 IN TXT %s\n' % parts)
    z.write('dkim.test. 60 IN TXT "v=spf1 ip4:127.0.0.2 -all"\n')
PY
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
dkim: {verify: true}
relay: {mynetworks: [127.0.0.1/32]}
restrictions:
  default:
    sender: [check_spf]
    recipient: [permit_mynetworks, reject_unauth_destination]
"
start_petrel

# send NAME BODY_KIND: signs with dkimpy (the key petrel made), tampers when asked, sends.
send() {
  py - "$1" "$2" <<'PY'
import dkim, smtplib, sys
name, kind = sys.argv[1], sys.argv[2]
body = 'Hello from %s.\r\n' % name
if kind == 'large':
    body = ''.join('line %06d of a large message, padded to sixty-four octets....\r\n' % i
                   for i in range(1600))
msg = ('From: Sender <sender@dkim.test>\r\nTo: alice@example.test\r\nSubject: %s\r\n'
       'Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@dkim.test>\r\n'
       'Authentication-Results: mail.example.test; dkim=pass header.d=forged.test\r\n'
       'Authentication-Results: elsewhere.example; spf=pass smtp.mailfrom=dkim.test\r\n'
       '\r\n' % (name, name) + body).encode()
key = open('sel.key', 'rb').read()
sig = dkim.sign(msg, b'sel', b'dkim.test', key, include_headers=[b'From', b'To', b'Subject', b'Date'])
msg = sig + msg
if kind == 'tampered':
    msg = msg.replace(b'Hello', b'Jello')
s = smtplib.SMTP('127.0.0.1', int(__import__('os').environ['SMTP_PORT']),
                 source_address=('127.0.0.2', 0), timeout=30)
s.sendmail('sender@dkim.test', ['alice@example.test'], msg)
s.quit()
PY
}

send intact plain
send broken tampered
send big large
wait_for 20 "3 messages in alice's Maildir" maildir_has example.test/alice 3 || fail "3 messages not delivered"

file_of() { grep -l "^Subject: $1" "$MAIL_ROOT"/example.test/alice/new/*; }
# The field as one line (its continuation lines joined).
ar_of() {
  awk '/^Authentication-Results: mail.example.test/{f=1; printf "%s", $0; next}
       f && /^[ \t]/{printf " %s", $0; next} f{exit}' "$(file_of "$1")"
}
for m in intact big; do
  ar=$(ar_of "$m")
  [[ "$ar" == *"dkim=pass"*"header.d=dkim.test"*"header.s=sel"* ]] || fail "$m: no dkim=pass: $ar"
  [[ "$ar" == *"spf=pass smtp.mailfrom=dkim.test"* ]] || fail "$m: no spf=pass: $ar"
  [[ "$ar" != *forged.test* ]] || fail "$m: the client's field claiming our authserv-id survived"
  assert_eq 1 "$(grep -c '^Authentication-Results: mail.example.test' "$(file_of "$m")")" \
    "$m: fields claiming mail.example.test"
  grep -q '^Authentication-Results: elsewhere.example; spf=pass' "$(file_of "$m")" ||
    fail "$m: another authserv-id's field was removed"
  # Ours is on top, above the Received field.
  first=$(grep -m1 -nE '^(Authentication-Results|Received):' "$(file_of "$m")")
  [[ "$first" == *"Authentication-Results: mail.example.test"* ]] || fail "$m: not on top: $first"
done
ar=$(ar_of broken)
[[ "$ar" == *"dkim=fail"*"header.d=dkim.test"* ]] || fail "tampered: no dkim=fail: $ar"
size=$(stat -c %s "$(file_of big)")
[[ "$size" -gt 100000 ]] || fail "the large message is $size octets"
pass
