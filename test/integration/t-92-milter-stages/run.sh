#!/usr/bin/env bash
# Milters at each SMTP stage (issue 13): stage_milter.py (pymilter, libmilter) on loopback,
# filters.milters naming it; smtplib as the client, petrel on $SMTP_PORT.
# - one SMTP session, one milter connection: connect, HELO, MAIL, each RCPT as it comes; bob
#   refused by the milter at RCPT (550 5.7.1, its text, "milter-reject: RCPT") while alice's
#   copy is delivered; a recipient our own checks refuse is shown to the milter (it asks,
#   SMFIP_RCPT_REJ) with {rcpt_mailer} error; the milter's SMFIR_REPLBODY is the delivered body,
#   and dkim.sign's signature over it verifies (dkimpy);
# - HELO refused at HELO, MAIL refused (550) and tempfailed (451) at MAIL, and the next MAIL of
#   the session goes on; after a RSET the milter is told SMFIC_ABORT; SMFIR_DISCARD at MAIL:
#   250 at the end of data and nothing delivered;
# - CONNECT refused: the greeting is the milter's 554 5.7.1;
# - per-stage timeouts: a milter that sleeps at RCPT (milter_command_timeout 1s) gets that
#   RCPT and the rest of the session 451 4.7.1; one that sleeps at the end of message
#   (milter_content_timeout 1s) gets the message 451;
# - the milter down: tempfail refuses the session at CONNECT (421 4.7.1); accept delivers.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import Milter' 2>/dev/null || skip "python3-milter (pymilter) is not installed"

cd "$T"
MILTER_PORT=$(pick_port)
MILTER_LOG="$T/milter.log"
MODE="$T/milter.mode"
py_bg "$IT_DIR/t-92-milter-stages/stage_milter.py" "$MILTER_PORT" "$MILTER_LOG" "$MODE" </dev/null
MILTER_PID=$PY_BG_PID
wait_for 10 "the stage milter on port $MILTER_PORT" port_open "$MILTER_PORT"

# dkim.sign signs what the milters leave (the replaced body) for this mynetworks client.
"$PETREL" dkim keygen --domain example.net --selector s92 --out s92.key >s92.zone 2>/dev/null
write_config "
filters:
  milters: ['inet:127.0.0.1:$MILTER_PORT']
  milter_command_timeout: 20s
  milter_content_timeout: 20s
dkim:
  sign:
    - {domain: example.net, selector: s92, key: '$T/s92.key'}
"
start_petrel

# session STEPS...: one SMTP session; each step prints "CMD CODE TEXT" (codes only matter).
#   ehlo:NAME mail:ADDR rcpt:ADDR rset: data:SUBJECT
session() {
  py - "$SMTP_PORT" "$@" <<'PY'
import smtplib, sys
port, steps = int(sys.argv[1]), sys.argv[2:]
try:
    s = smtplib.SMTP('127.0.0.1', port, timeout=30)
except smtplib.SMTPConnectError as e:
    print('connect', e.smtp_code, e.smtp_error.decode())
    sys.exit(0)
except smtplib.SMTPServerDisconnected as e:
    print('connect disconnected', e)
    sys.exit(0)
for step in steps:
    cmd, arg = step.split(':', 1)
    if cmd == 'ehlo':
        code, text = s.ehlo(arg)
    elif cmd == 'mail':
        code, text = s.mail(arg)
    elif cmd == 'rcpt':
        code, text = s.rcpt(arg)
    elif cmd == 'rset':
        code, text = s.docmd('RSET')
    else:
        msg = ('From: <sender@example.net>\r\nTo: <alice@example.test>\r\nSubject: %s\r\n'
               '\r\nThe original body.\r\n' % arg).encode()
        code, text = s.docmd('DATA')
        if code == 354:
            s.send(msg + b'.\r\n')
            code, text = s.getreply()
    print(cmd, code, text.decode().replace('\n', ' '))
try:
    s.quit()
except smtplib.SMTPServerDisconnected:
    pass
PY
}

out=$(session ehlo:client.example.net mail:sender@example.net rcpt:alice@example.test \
  rcpt:bob@example.test rcpt:nobody@example.test 'data:please REPLACE the body')
log "$out"
grep -q '^rcpt 250 ' <<<"$out" || fail "alice was not accepted: $out"
grep -q '^rcpt 550 5.7.1 bob is refused by the milter' <<<"$out" ||
  fail "bob was not refused by the milter at RCPT: $out"
grep -q '^rcpt 550 5.1.1 ' <<<"$out" || fail "nobody was not refused by our checks: $out"
grep -q '^data 250 ' <<<"$out" || fail "the message was not taken: $out"
wait_for 20 "alice's copy" maildir_has example.test/alice 1 || fail "alice got nothing"
sleep 1
maildir_has example.test/bob 0 || fail "bob got a copy"
f=$(ls "$MAIL_ROOT"/example.test/alice/new/*)
grep -q "^The milter's new body\." "$f" || fail "the body was not replaced: $(cat "$f")"
grep -q '^Second line\.' "$f" || fail "the replacement's second line is missing"
if grep -q 'The original body' "$f"; then fail "the original body is still there"; fi
grep -q '^X-Replaced: yes' "$f" || fail "X-Replaced missing"
if /usr/bin/python3 -c 'import dkim' 2>/dev/null; then
  FILE="$f" py <<'PY' || fail "dkimpy: see above"
import dkim, os, re, sys
text = ''.join(re.findall(r'"([^"]*)"', open('s92.zone').read()))
def dnsfunc(name, timeout=5):
    return text.encode() if name.decode().rstrip('.') == 's92._domainkey.example.net' else None
raw = open(os.environ["FILE"], 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
if b'DKIM-Signature:' not in raw.split(b'\r\n\r\n', 1)[0]:
    sys.exit('not signed by dkim.sign')
if not dkim.verify(raw, dnsfunc=dnsfunc):
    sys.exit('the signature does not verify over the replaced body')
PY
fi
log_has 'NOQUEUE: milter-reject: RCPT from [^ ]*\[127\.0\.0\.1\]: 550 5\.7\.1 bob is refused'\
' by the milter; from=<sender@example\.net> to=<bob@example\.test>' || fail "no milter-reject line for bob"
# The milter heard each stage once, as it happened, over one connection.
assert_eq 1 "$(grep -c '^connect ' "$MILTER_LOG")" "connect callbacks"
grep -q '^helo client\.example\.net' "$MILTER_LOG" || fail "HELO not seen"
grep -q '^rcpt <alice@example\.test> mailer=smtp' "$MILTER_LOG" || fail "alice not seen"
grep -q '^rcpt <nobody@example\.test> mailer=error' "$MILTER_LOG" ||
  fail "the recipient our checks refused was not shown (SMFIP_RCPT_REJ): $(cat "$MILTER_LOG")"
grep -q '^eom' "$MILTER_LOG" || fail "end of message not seen"

# HELO and MAIL verdicts at those commands; the session goes on after them.
out=$(session ehlo:reject-helo.example ehlo:client.example.net mail:reject-mail@example.net \
  mail:temp-mail@example.net mail:sender@example.net rcpt:alice@example.test rset: \
  mail:sender@example.net rcpt:alice@example.test 'data:second')
log "$out"
grep -q '^ehlo 550 5.7.1 HELO refused by the milter' <<<"$out" || fail "HELO not refused: $out"
grep -q '^mail 550 5.7.1 sender refused by the milter' <<<"$out" || fail "MAIL not refused: $out"
grep -q '^mail 451 4.7.1 ' <<<"$out" || fail "MAIL not tempfailed: $out"
grep -q '^data 250 ' <<<"$out" || fail "the message after the refused MAILs was not taken: $out"
wait_for 20 "alice's second copy" maildir_has example.test/alice 2 || fail "not delivered"
# The transaction reset after its RCPT: the milter heard SMFIC_ABORT before the next MAIL.
grep -q '^abort' "$MILTER_LOG" || fail "the milter was never told SMFIC_ABORT"

out=$(session ehlo:client.example.net mail:discard-mail@example.net rcpt:alice@example.test \
  'data:discarded')
grep -q '^data 250 ' <<<"$out" || fail "the discarded message was not answered 250: $out"
wait_for 10 "the milter-discard line" log_has ': milter-discard: MAIL from ' ||
  fail "no milter-discard line"
sleep 1
maildir_has example.test/alice 2 || fail "the discarded message was delivered"

# CONNECT refused by the milter.
echo reject-connect >"$MODE"
out=$(session ehlo:client.example.net)
log "$out"
grep -q '^connect 554 5.7.1 connection refused by the milter' <<<"$out" ||
  fail "CONNECT not refused: $out"

# Per-stage timeouts: RCPT (milter_command_timeout), then end of message (content timeout).
stop_petrel
write_config "
filters:
  milters: ['inet:127.0.0.1:$MILTER_PORT']
  milter_command_timeout: 1s
  milter_content_timeout: 1s
"
start_petrel
echo slow-rcpt >"$MODE"
out=$(session ehlo:client.example.net mail:sender@example.net rcpt:alice@example.test rset: \
  mail:sender@example.net)
log "$out"
grep -q '^rcpt 451 4.7.1 Service unavailable - try again later' <<<"$out" ||
  fail "a milter slow at RCPT did not time out to 451: $out"
grep -q '^mail 451 4.7.1 ' <<<"$out" || fail "the failed milter's session went on: $out"
log_has "warning: milter inet:127\.0\.0\.1:$MILTER_PORT: timeout after 1s" ||
  fail "no timeout warning for RCPT"
echo slow-eom >"$MODE"
out=$(session ehlo:client.example.net mail:sender@example.net rcpt:alice@example.test 'data:slow')
log "$out"
grep -q '^data 451 4.7.1 Service unavailable - try again later' <<<"$out" ||
  fail "a milter slow at the end of message did not time out to 451: $out"
log_has "warning: [0-9A-F]+: milter inet:127\.0\.0\.1:$MILTER_PORT: timeout after 1s" ||
  fail "no timeout warning for the end of message"
rm -f "$MODE"

# The milter down: milter_default_action tempfail refuses at CONNECT; accept goes on.
kill "$MILTER_PID"
wait_for 10 "the stage milter to stop" not_running "$MILTER_PID"
out=$(session ehlo:client.example.net)
grep -q '^connect 421 4.7.1 Service unavailable - try again later' <<<"$out" ||
  fail "with the milter down (tempfail): $out"
log_has "warning: milter inet:127\.0\.0\.1:$MILTER_PORT: connect: " ||
  fail "no warning naming the milter"
stop_petrel
write_config "
filters:
  milters: ['inet:127.0.0.1:$MILTER_PORT']
  milter_default_action: accept
"
start_petrel
out=$(session ehlo:client.example.net mail:sender@example.net rcpt:alice@example.test 'data:anyway')
grep -q '^data 250 ' <<<"$out" || fail "with the milter down (accept): $out"
wait_for 20 "the message delivered" maildir_has example.test/alice 3 || fail "not delivered"
pass
