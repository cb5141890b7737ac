#!/usr/bin/env bash
# Milters (issue 13): a pymilter (libmilter) test milter on loopback, filters.milters naming it.
# Setup: test_milter.py on 127.0.0.1:$MILTER_PORT (later a second one on unix:$MILTER2_SOCKET and
# opendkim on $DKIM_PORT), petrel on $SMTP_PORT (later also $PLAIN_PORT), smtplib as client.
# - a plain message: the milter saw connect, HELO, MAIL, RCPT, the header fields, the body and
#   the end of message with Postfix's macros (i = the queue id, {daemon_name}, j, {rcpt_addr});
#   delivered to alice with X-Test-Milter at the end, X-Top at the top, the Subject changed,
#   X-Remove-Me gone, and also to bob (SMFIR_ADDRCPT);
# - Subject REJECTME: refused at end of data with the milter's 550 5.7.1 text, logged as
#   milter-reject; TEMPME: 451 4.7.1; DISCARDME: 250 and nothing delivered (milter-discard);
#   HOLDME: accepted and held in the queue;
# - the milter stopped: milter_default_action tempfail refuses the session at CONNECT (421 4.7.1
#   "Service unavailable - try again later") with a warning naming the milter; then accept lets
#   mail through; a milter that never answers (a silent server on $SILENT) times out after
#   milter_command_timeout;
# - opendkim (signing, on 127.0.0.1:$DKIM_PORT) after a second test milter (on a unix socket,
#   so both endpoint kinds are used): the delivered message has the body the test milter put
#   in its place (SMFIR_REPLBODY) and carries opendkim's DKIM-Signature over that body and the
#   changed Subject, and dkimpy verifies it; a
#   second listener with `milters: []` passes a REJECTME message untouched.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import Milter' 2>/dev/null || skip "python3-milter (pymilter) is not installed"

cd "$T"
MILTER_PORT=$(pick_port)
MILTER_LOG="$T/milter.log"
py_bg "$IT_DIR/t-79-milter/test_milter.py" "$MILTER_PORT" "$MILTER_LOG" </dev/null
MILTER_PID=$PY_BG_PID
wait_for 10 "the test milter on port $MILTER_PORT" port_open "$MILTER_PORT"

write_config "
filters:
  milters: ['inet:127.0.0.1:$MILTER_PORT']
  milter_command_timeout: 10s
  milter_content_timeout: 10s
"
start_petrel

# send SUBJECT [PORT]: prints the reply to the message (to alice, from a mynetworks client).
send() {
  py - "$1" "${2:-$SMTP_PORT}" <<'PY'
import smtplib, sys, os
subject, port = sys.argv[1], int(sys.argv[2])
msg = ('From: Sender <sender@example.net>\r\nTo: alice@example.test\r\nSubject: %s\r\n'
       'X-Remove-Me: yes\r\nMessage-ID: <%s@t79>\r\n\r\nHello milter.\r\n'
       % (subject, subject.replace(' ', '-'))).encode()
try:
    s = smtplib.SMTP('127.0.0.1', port, timeout=30)
    s.ehlo('client.example.net')
    s.mail('sender@example.net')
    s.rcpt('alice@example.test')
    code, text = s.data(msg)
    s.quit()
except (smtplib.SMTPConnectError, smtplib.SMTPDataError) as e:
    # The milter refused the session at CONNECT (its default action), or the message.
    code, text = e.smtp_code, e.smtp_error
print(code, text.decode())
PY
}

reply=$(send 'plain one')
[[ "$reply" == 250* ]] || fail "plain message answered: $reply"
wait_for 20 "alice's and bob's copies" eval \
  'maildir_has example.test/alice 1 && maildir_has example.test/bob 1' ||
  fail "the message did not reach alice and bob (SMFIR_ADDRCPT)"
f=$(ls "$MAIL_ROOT"/example.test/alice/new/*)
# The first field as received (delivery puts Return-Path and Delivered-To above it).
grep -Ev '^(Return-Path|Delivered-To):' "$f" | head -1 | grep -q '^X-Top: first' ||
  fail "X-Top is not the first field: $(head -4 "$f")"
grep -q '^Subject: changed: plain one' "$f" || fail "Subject not changed: $(grep Subject "$f")"
grep -q '^X-Test-Milter: added' "$f" || fail "X-Test-Milter not added"
if grep -q '^X-Remove-Me' "$f"; then fail "X-Remove-Me not deleted"; fi
grep -q '^Hello milter\.' "$f" || fail "the body is gone"
# What the milter was told, with Postfix's macros.
id=$(sed -n 's/.*: \([0-9A-F]*\): client=.*/\1/p' "$PETREL_LOG" | head -1)
grep -q '^connect .* 127\.0\.0\.1 daemon_name=mx j=mail\.example\.test' "$MILTER_LOG" ||
  fail "connect not seen: $(cat "$MILTER_LOG")"
grep -q '^helo client\.example\.net' "$MILTER_LOG" || fail "HELO not seen"
grep -q '^mail <sender@example\.net>' "$MILTER_LOG" || fail "MAIL not seen"
grep -q '^rcpt <alice@example\.test> rcpt_addr=alice@example\.test' "$MILTER_LOG" ||
  fail "RCPT not seen with {rcpt_addr}"
grep -q '^header Subject: plain one' "$MILTER_LOG" || fail "the header not seen"
grep -q '^header Received: ' "$MILTER_LOG" || fail "our Received field not shown"
grep -q '^eoh' "$MILTER_LOG" || fail "end of header not seen"
grep -q '^body ' "$MILTER_LOG" || fail "the body not seen"
grep -q "^eom i=$id" "$MILTER_LOG" || fail "end of message without i=$id: $(grep eom "$MILTER_LOG")"

reply=$(send 'please REJECTME')
[[ "$reply" == "550 5.7.1 Rejected by the test milter" ]] || fail "REJECTME answered: $reply"
wait_for 10 "the milter-reject line" eval \
  "log_has ': milter-reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]|: milter-reject: END-OF-MESSAGE from [^ ]*\[127\.0\.0\.1\]: 5\.7\.1 Rejected by the test milter; from=<sender@example\.net> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.net>'"
reply=$(send 'please TEMPME')
[[ "$reply" == "451 4.7.1 Service unavailable - try again later" ]] || fail "TEMPME answered: $reply"
reply=$(send 'please DISCARDME')
[[ "$reply" == 250* ]] || fail "DISCARDME answered: $reply"
log_has ': milter-discard: END-OF-MESSAGE from ' || fail "no milter-discard line"
reply=$(send 'please HOLDME')
[[ "$reply" == 250* ]] || fail "HOLDME answered: $reply"
petrel queue list --json | py -c '
import json, sys
q = json.load(sys.stdin)
held = [m for m in q if m["held"]]
assert len(held) == 1, q
' || fail "the HOLDME message is not held"
log_has 'hold: .*milter triggers HOLD action: held by the test milter' || fail "no hold line"
sleep 1
maildir_has example.test/alice 1 || fail "a refused, discarded or held message was delivered"

# The milter goes away: milter_default_action.
kill "$MILTER_PID"
wait_for 10 "the test milter to stop" not_running "$MILTER_PID"
# The session opens the milter connection when the client connects: a 421 greeting.
reply=$(send 'milter down')
[[ "$reply" == "421 4.7.1 Service unavailable - try again later" ]] ||
  fail "with the milter down (tempfail) answered: $reply"
log_has "warning: milter inet:127\.0\.0\.1:$MILTER_PORT: connect: " ||
  fail "no warning naming the milter"
stop_petrel
write_config "
filters:
  milters: ['inet:127.0.0.1:$MILTER_PORT']
  milter_default_action: accept
"
start_petrel
reply=$(send 'accepted anyway')
[[ "$reply" == 250* ]] || fail "with the milter down (accept) answered: $reply"
wait_for 20 "the message delivered" maildir_has example.test/alice 2 || fail "not delivered"

# A milter that takes the connection and never answers: milter_command_timeout, then tempfail.
stop_petrel
SILENT=$(pick_port)
start_silent_server "$SILENT"
write_config "
filters:
  milters: ['inet:127.0.0.1:$SILENT']
  milter_command_timeout: 1s
"
start_petrel
reply=$(send 'silent milter')
[[ "$reply" == "421 4.7.1 Service unavailable - try again later" ]] ||
  fail "with a silent milter answered: $reply"
log_has "warning: milter inet:127\.0\.0\.1:$SILENT: timeout after 1s" ||
  fail "no timeout warning"

# opendkim as a signing milter after the test milter: it signs the header as the test milter
# left it (the changed Subject), and dkimpy verifies what was delivered.
command -v opendkim >/dev/null || { log "opendkim is not installed: signing part skipped"; pass; }
/usr/bin/python3 -c 'import dkim' 2>/dev/null || { log "python3-dkim missing: signing part skipped"; pass; }
stop_petrel
"$PETREL" dkim keygen --domain example.net --selector m79 --out m79.key >m79.zone 2>/dev/null
MILTER2_SOCKET="$T/milter2.sock"
DKIM_PORT=$(pick_port)
cat >opendkim.conf <<EOC
Syslog no
Mode s
Domain example.net
Selector m79
KeyFile $T/m79.key
Socket inet:$DKIM_PORT@127.0.0.1
Background no
RequireSafeKeys no
Canonicalization relaxed/simple
PidFile $T/opendkim.pid
EOC
opendkim -f -x "$T/opendkim.conf" </dev/null >opendkim.out 2>&1 &
EXTRA_PIDS+=($!)
py_bg "$IT_DIR/t-79-milter/test_milter.py" "$MILTER2_SOCKET" "$T/milter2.log" </dev/null
wait_for 10 "opendkim on port $DKIM_PORT" port_open "$DKIM_PORT"
wait_for 10 "the test milter on $MILTER2_SOCKET" test -S "$MILTER2_SOCKET"
PLAIN_PORT=$(pick_port)
write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: plain, address: '127.0.0.1:$PLAIN_PORT', milters: []}
filters:
  milters: ['unix:$MILTER2_SOCKET', 'inet:127.0.0.1:$DKIM_PORT']
"
start_petrel
reply=$(send 'to be signed REPLACEBODY')
[[ "$reply" == 250* ]] || fail "the message for opendkim answered: $reply"
wait_for 20 "the signed message" maildir_has example.test/alice 3 || fail "not delivered"
FILE=$(grep -l '^Subject: changed: to be signed' "$MAIL_ROOT"/example.test/alice/new/*) ||
  fail "no message with the changed Subject"
grep -q '^Replaced by the test milter\.' "$FILE" || fail "the body was not replaced: $(cat "$FILE")"
if grep -q '^Hello milter' "$FILE"; then fail "the old body is still there"; fi
FILE="$FILE" py <<'PY' || fail "dkimpy: see above"
import dkim, os, re, sys
text = ''.join(re.findall(r'"([^"]*)"', open('m79.zone').read()))
def dnsfunc(name, timeout=5):
    return text.encode() if name.decode().rstrip('.') == 'm79._domainkey.example.net' else None
raw = open(os.environ["FILE"], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
head = raw.split(b'\r\n\r\n', 1)[0]
if b'DKIM-Signature:' not in head:
    sys.exit('not signed by opendkim:\n' + head.decode())
if not dkim.verify(raw, dnsfunc=dnsfunc):
    sys.exit('the opendkim signature does not verify:\n' + head.decode())
sig = re.search(rb'DKIM-Signature:(.*?)\r\n(?![ \t])', head, re.S).group(1)
if b'd=example.net' not in sig or b'subject' not in sig.lower():
    sys.exit('unexpected signature: ' + sig.decode())
PY

# A listener with `milters: []` (per-listener override): no milter sees its mail.
reply=$(send 'REJECTME on plain' "$PLAIN_PORT")
[[ "$reply" == 250* ]] || fail "the listener without milters answered: $reply"
wait_for 20 "the unfiltered message" maildir_has example.test/alice 4 || fail "not delivered"
FILE=$(grep -l '^Subject: REJECTME on plain' "$MAIL_ROOT"/example.test/alice/new/*) ||
  fail "the unfiltered message was changed"
if grep -q '^DKIM-Signature:' "$FILE"; then fail "the unfiltered message was signed"; fi
# Each refusal and hold is one log line, cleanup's (pflogsumm counts lines): the session adds
# no "NOQUEUE: reject: END-OF-MESSAGE" and smtpd no second "hold:" for what a milter did.
assert_eq 0 "$(log_count 'NOQUEUE: reject: END-OF-MESSAGE')" "session reject lines for refused messages"
assert_eq 1 "$(log_count ': (milter-)?hold: ')" "hold lines"
pass
