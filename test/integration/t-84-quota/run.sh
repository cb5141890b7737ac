#!/usr/bin/env bash
# Setup: one `petrel serve` (SMTP on $SMTP_PORT) with delivery.quota over an inline table
#   (alice 100000 bytes / 10 messages, bob 30000 bytes, carol 2 messages) and a short
#   queue.max_lifetime; one Dovecot (dovecot.sh: IMAP on $DOVECOT_IMAP_PORT, `quota =
#   maildir:User quota`, the same limits as userdb quota_rule) over the same Maildirs.
#   Clients: smtplib and imaplib from /usr/bin/python3.
# Checks:
# - Petrel's maildirsize ("100000S,10C", one line per delivery) is what Dovecot reports:
#   GETQUOTAROOT INBOX gives STORAGE (KiB) and MESSAGE as Petrel counted them, and Dovecot
#   keeps the file as it is (same limits, trusted);
# - a Sieve folder counts: alice's spam in .spam/ is in the usage;
# - carol, full (2 of 2 messages), gets 452 4.2.2 at RCPT; bob's third 12 KB message does
#   not fit (36000 > 30000): deferred with dsn=4.2.2 (Mailbox full), not stored, then bounced
#   at queue.max_lifetime (4.4.7, "message expired in queue: Mailbox full") to its sender;
# - with over_quota: bounce, a full mailbox gets 552 5.2.2 at RCPT;
# - MAIL FROM SIZE=: one byte over what is left of alice's quota gets 452 4.2.2 at RCPT, what
#   is left exactly gets 250 (smtplib), and Dovecot's own quota-status policy
#   service (Postfix's check_policy_service peer, started on $QS_PORT) answers the same for
#   the same sizes over the same maildirsize.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/dovecot.sh"

cd "$T"
cat > globalsieverc <<'SIEVE'
require "fileinto";
if header :contains "X-Spam-Flag" "YES" { fileinto "spam"; stop; }
SIEVE
quota_config() {  # OVER_QUOTA
  write_config "
tables:
  mailboxes: {map: {carol@example.test: example.test/carol/}}
  quota: {type: inline, map: {alice@example.test: '100000,10', bob@example.test: '30000',
                              carol@example.test: '0,2'}}
queue: {max_lifetime: 20s, min_backoff: 1s, max_backoff: 2s}
delivery:
  sieve: {global_before: $T/globalsieverc}
  quota: {table: quota, default: 0, over_quota: $1}
"
}
quota_config defer
start_petrel
A="$MAIL_ROOT/example.test/alice"
B="$MAIL_ROOT/example.test/bob"
C="$MAIL_ROOT/example.test/carol"

# send TO SUBJECT KBYTES [spam]: one message of about KBYTES KiB; prints the RCPT reply code.
send() {
  py - "$@" <<'PY'
import os, smtplib, sys
to, subject, kb = sys.argv[1], sys.argv[2], int(sys.argv[3])
spam = 'X-Spam-Flag: YES\r\n' if len(sys.argv) > 4 else ''
body = ('x' * 78 + '\r\n') * (kb * 1024 // 80)
msg = 'From: s@example.net\r\nTo: %s\r\nSubject: %s\r\n%s\r\n%s' % (to, subject, spam, body)
s = smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30)
s.ehlo('client.example.net')
s.mail('s@example.net')
code, text = s.rcpt(to)
print(code, text.decode())
if code == 250:
    s.data(msg)
s.quit()
PY
}
delivered() { log_count "to=<$1>, .*status=sent" ; }

# ---- accounting shared with Dovecot ----------------------------------------------------------
[[ "$(send alice@example.test one 4)" == 250* ]] || fail "RCPT alice refused"
wait_for 20 "the first delivery to alice" eval '[[ $(delivered alice@example.test) -ge 1 ]]'
# A new Maildir gets its maildirsize at the next delivery (counted from the directories).
[[ "$(send alice@example.test two 8)" == 250* ]] || fail "RCPT alice refused"
[[ "$(send alice@example.test junk 2 spam)" == 250* ]] || fail "RCPT alice (spam) refused"
wait_for 20 "three deliveries to alice" eval '[[ $(delivered alice@example.test) -ge 3 ]]'
ls "$A"/.spam/new/* >/dev/null 2>&1 || fail "the spam was not filed into .spam/"
[[ -f "$A/maildirsize" ]] || fail "no maildirsize in alice's Maildir"
head -1 "$A/maildirsize" | grep -qx '100000S,10C' || fail "limit line: $(head -1 "$A/maildirsize")"
read -r BYTES COUNT < <(awk 'NR > 1 { b += $1; c += $2 } END { print b, c }' "$A/maildirsize")
REAL="$(find "$A/new" "$A/cur" "$A/.spam/new" "$A/.spam/cur" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')"
assert_eq 3 "$COUNT" "messages in alice's maildirsize"
assert_eq "$REAL" "$BYTES" "bytes in alice's maildirsize (the files' sizes)"
cp "$A/maildirsize" "$T/maildirsize.before"

USERS="alice:{PLAIN}pw::::$A::userdb_quota_rule=*:bytes=100000:messages=10
bob:{PLAIN}pw::::$B::userdb_quota_rule=*:bytes=30000
carol:{PLAIN}pw::::$C::userdb_quota_rule=*:messages=2"
# Dovecot's quota-status (Postfix policy protocol): what Postfix + Dovecot would say at RCPT.
# No grace (Petrel has none); recipients are looked up without their domain (passwd-file).
pick_ports QS_PORT
start_dovecot "$USERS" "
auth_username_format = %Ln
service quota-status {
  executable = quota-status -p postfix
  inet_listener {
    address = 127.0.0.1
    port = $QS_PORT
  }
  client_limit = 1
}
plugin {
  quota_grace = 0
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = \"452 4.2.2 Mailbox is full\"
}"
# getquota USER: prints "STORAGE used limit MESSAGE used limit" from GETQUOTAROOT INBOX.
getquota() {
  dovecot_own "$MAIL_ROOT"
  py - "$1" <<'PY'
import imaplib, os, re, sys
m = imaplib.IMAP4('127.0.0.1', int(os.environ['DOVECOT_IMAP_PORT']), timeout=20)
m.login(sys.argv[1], 'pw')
typ, data = m.getquotaroot('INBOX')
assert typ == 'OK', (typ, data)
quota = [d.decode() for d in data[1] if d]
print(' '.join(re.sub(r'^.*\((.*)\)$', r'\1', q) for q in quota))
m.logout()
PY
}
export DOVECOT_IMAP_PORT
Q="$(getquota alice)" || fail "GETQUOTAROOT for alice failed: $(dovecot_log)"
log "alice: Dovecot says '$Q', Petrel counted $BYTES bytes in $COUNT messages"
# IMAP QUOTA counts KiB, Dovecot rounds up.
assert_eq "STORAGE $(((BYTES + 1023) / 1024)) $(((100000 + 1023) / 1024)) MESSAGE 3 10" "$Q" "Dovecot's GETQUOTAROOT for alice"
cmp -s "$A/maildirsize" "$T/maildirsize.before" ||
  fail "Dovecot rewrote Petrel's maildirsize: $(cat "$A/maildirsize")"

# ---- SIZE= at RCPT, against Dovecot's quota-status ------------------------------------------
# probe TO SIZE: MAIL FROM with SIZE=, RCPT, no DATA; prints the RCPT reply.
probe() {
  py - "$@" <<'PY'
import os, smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30)
s.ehlo('client.example.net')
s.mail('s@example.net', ['SIZE=%s' % sys.argv[2]])
code, text = s.rcpt(sys.argv[1])
print(code, text.decode())
s.rset()
s.quit()
PY
}
# quota_status TO SIZE: Dovecot's answer (the action) for that recipient and size.
quota_status() {
  py - "$@" <<'PY'
import os, socket, sys
s = socket.create_connection(('127.0.0.1', int(os.environ['QS_PORT'])), timeout=20)
s.sendall(('request=smtpd_access_policy\nprotocol_state=RCPT\nsender=s@example.net\n'
           'recipient=%s\nsize=%s\n\n' % (sys.argv[1], sys.argv[2])).encode())
reply = b''
while not reply.endswith(b'\n\n'):
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
print(reply.decode().strip().removeprefix('action='))
PY
}
export QS_PORT
dovecot_own "$MAIL_ROOT"
LEFT=$((100000 - BYTES))
R="$(probe alice@example.test $((LEFT + 1)))"
[[ "$R" == "452 4.2.2 <alice@example.test>: Mailbox full" ]] ||
  fail "RCPT alice with SIZE=$((LEFT + 1)) (1 byte over): '$R'"
assert_log "NOQUEUE: reject: RCPT from .*452 4\.2\.2 <alice@example\.test>: Mailbox full" \
  "the SIZE= rejection logged"
D="$(quota_status alice@example.test $((LEFT + 1)))"
[[ "$D" == "452 4.2.2 Mailbox is full" ]] ||
  fail "Dovecot's quota-status for SIZE=$((LEFT + 1)): '$D' ($(dovecot_log))"
R="$(probe alice@example.test "$LEFT")"
[[ "$R" == 250* ]] || fail "RCPT alice with SIZE=$LEFT (what is left): '$R'"
D="$(quota_status alice@example.test "$LEFT")"
[[ "$D" == DUNNO ]] || fail "Dovecot's quota-status for SIZE=$LEFT: '$D'"
# The count did not move: nothing was delivered by the probes.
cmp -s "$A/maildirsize" "$T/maildirsize.before" ||
  fail "the SIZE= probes changed alice's maildirsize: $(cat "$A/maildirsize")"

# ---- full at RCPT ----------------------------------------------------------------------------
send carol@example.test c1 1 >/dev/null
send carol@example.test c2 1 >/dev/null
wait_for 20 "two deliveries to carol" eval '[[ $(delivered carol@example.test) -ge 2 ]]'
R="$(send carol@example.test c3 1)"
[[ "$R" == "452 4.2.2 <carol@example.test>: Mailbox full" ]] || fail "RCPT to full carol: '$R'"
assert_log 'NOQUEUE: reject: RCPT from .*452 4\.2\.2 <carol@example\.test>: Mailbox full' \
  "the RCPT rejection logged"
Q="$(getquota carol)" || fail "GETQUOTAROOT for carol failed"
[[ "$Q" == *"MESSAGE 2 2"* ]] || fail "Dovecot's quota for carol: '$Q'"

# ---- does not fit at delivery: deferred, then bounced at max_lifetime ---------------------------
for i in 1 2; do [[ "$(send bob@example.test b$i 12)" == 250* ]] || fail "RCPT bob $i refused"; done
wait_for 20 "two deliveries to bob" eval '[[ $(delivered bob@example.test) -ge 2 ]]'
[[ "$(send bob@example.test b3 12)" == 250* ]] || fail "RCPT bob 3 refused (bob is not full yet)"
wait_for 20 "bob's third message deferred with 4.2.2" \
  log_has 'to=<bob@example\.test>, .*dsn=4\.2\.2, status=deferred \(Mailbox full\)'
assert_eq 2 "$(count_maildir example.test/bob)" "messages in bob's INBOX"
Q="$(getquota bob)" || fail "GETQUOTAROOT for bob failed"
read -r BYTES COUNT < <(awk 'NR > 1 { b += $1; c += $2 } END { print b, c }' "$B/maildirsize")
assert_eq 2 "$COUNT" "messages in bob's maildirsize (the third was not counted)"
assert_eq "STORAGE $(((BYTES + 1023) / 1024)) 30" "$Q" "Dovecot's GETQUOTAROOT for bob"
wait_for 40 "bob's message bounced at max_lifetime" \
  log_has 'to=<bob@example\.test>, .*dsn=4\.4\.7, status=bounced \(message expired in queue: Mailbox full\)'
assert_eq 2 "$(count_maildir example.test/bob)" "messages in bob's INBOX after the bounce"

# ---- over_quota: bounce ----------------------------------------------------------------------
stop_petrel
quota_config bounce
start_petrel
R="$(send carol@example.test c4 1)"
[[ "$R" == "552 5.2.2 <carol@example.test>: Mailbox full" ]] || fail "RCPT to full carol (bounce): '$R'"

stop_dovecot
pass
