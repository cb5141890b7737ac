#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config, relay.mynetworks: [127.0.0.1/32]) with five
#   listeners on 127.0.0.1, each with its own restriction set:
#     mx      ($SMTP_PORT)  set default: client "check_client_access client_acts" (inline:
#             127.0.0.2 -> PREPEND X-Petrel-Test: yes), sender "check_sender_access sender_acts"
#             (inline: hold@example.net -> HOLD held for review, discard@example.net -> DISCARD),
#             recipient [permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination];
#     early   ($EARLY_PORT) set early: delay_reject: false, client "check_client_access
#             cidr:$T/clients.cidr" (127.0.0.2 REJECT), sender "check_sender_access spam"
#             (inline: spam@example.net -> REJECT);
#     late    ($LATE_PORT)  set late: the same two lists with delay_reject at its default (true);
#     carry   ($CARRY_PORT) set carry: delay_reject: false, client "check_client_access dip"
#             (inline: 127.0.0.2 -> DEFER_IF_PERMIT client not yet verified), sender
#             "check_sender_access dips" (grey@example.net -> DEFER_IF_PERMIT sender not
#             verified);
#     atdata  ($DATA_PORT)  set atdata: data: [reject];
#     ateod   ($EOD_PORT)   set ateod: end_of_data: [defer].
#   Clients: swaks (with --local-interface 127.0.0.2 to be outside mynetworks), Python smtplib,
#   and lib.py's raw-socket Client for the commands after a 554 greeting.
# Each stage's restrictions decide at their own stage: with delay_reject: false a client refused
# by the client list gets 554 as its greeting, 503 to everything but QUIT (RFC 5321 3.1) and a
# "reject: CONNECT" log line, and a refused sender is answered at MAIL; with delay_reject: true
# the same lists answer at RCPT. A DEFER_IF_PERMIT of the client list with delay_reject: false
# is carried from CONNECT to RCPT as Postfix does: 220, 250 to EHLO and MAIL, then 450 at RCPT
# for a recipient we would take, while a relay refusal (554) wins. `data` answers DATA, `end_of_data` answers after the content
# (nothing delivered, nothing queued). access(5) PREPEND adds its field right below our
# Received field, HOLD queues the message held until `petrel queue release`, DISCARD answers 250
# and keeps nothing.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks
"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  skip "cannot bind 127.0.0.2 (no 127.0.0.0/8 on lo)"

pick_ports EARLY_PORT LATE_PORT DATA_PORT EOD_PORT CARRY_PORT
cat >"$T/clients.cidr" <<'EOF'
# 127.0.0.2 plays a client we refuse; 127.0.0.1 is not listed.
127.0.0.2/32    REJECT
EOF
write_config "
relay: {mynetworks: ['127.0.0.1/32']}
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: early, address: '127.0.0.1:$EARLY_PORT', restrictions: early}
  - {name: late, address: '127.0.0.1:$LATE_PORT', restrictions: late}
  - {name: carry, address: '127.0.0.1:$CARRY_PORT', restrictions: carry}
  - {name: atdata, address: '127.0.0.1:$DATA_PORT', restrictions: atdata}
  - {name: ateod, address: '127.0.0.1:$EOD_PORT', restrictions: ateod}
tables:
  client_acts: {type: inline, map: {127.0.0.2: 'PREPEND X-Petrel-Test: yes'}}
  sender_acts: {type: inline, map: {hold@example.net: 'HOLD held for review',
                                    discard@example.net: DISCARD}}
  spam: {type: inline, map: {spam@example.net: REJECT}}
  dip: {type: inline, map: {127.0.0.2: 'DEFER_IF_PERMIT client not yet verified'}}
  dips: {type: inline, map: {grey@example.net: 'DEFER_IF_PERMIT sender not verified'}}
restrictions:
  default:
    client: ['check_client_access client_acts']
    sender: ['check_sender_access sender_acts']
    recipient: [permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination]
  early:
    delay_reject: false
    client: ['check_client_access cidr:$T/clients.cidr']
    sender: ['check_sender_access spam']
  late:
    client: ['check_client_access cidr:$T/clients.cidr']
    sender: ['check_sender_access spam']
  carry:
    delay_reject: false
    client: ['check_client_access dip']
    sender: ['check_sender_access dips']
  atdata:
    data: [reject]
  ateod:
    end_of_data: [defer]
"
"$PETREL" check-config --config "$CONF" >"$T/check-config.out" 2>&1 ||
  fail "check-config: $(cat "$T/check-config.out")"
start_petrel
for p in "$EARLY_PORT" "$LATE_PORT" "$DATA_PORT" "$EOD_PORT" "$CARRY_PORT"; do
  wait_for 10 "port $p" port_open "$p"
done

# swaks_rc ARGS...: runs swaks against 127.0.0.1 and sets RC; its transcript is in $T/swaks.out.
swaks_rc() {
  RC=0
  swaks --server 127.0.0.1 --timeout 20 "$@" >"$T/swaks.out" 2>&1 || RC=$?
}
transcript() { tail -n 12 "$T/swaks.out"; }
# in_maildir BOX TEXT: how many of BOX's delivered files contain TEXT (fixed string).
in_maildir() {
  local dir="$MAIL_ROOT/$1/new"
  [[ -d "$dir" ]] || { echo 0; return; }
  grep -rlF -- "$2" "$dir" | wc -l
}
# maildir_holds BOX TEXT N: true when exactly N of BOX's files contain TEXT (for wait_for).
maildir_holds() { [[ "$(in_maildir "$1" "$2")" -eq "$3" ]]; }

# ---- 1. delay_reject: false, client list: refused at connect -------------------------------
# Setup: listener early, clients.cidr rejects 127.0.0.2.
swaks_rc --port "$EARLY_PORT" --local-interface 127.0.0.2 --helo outside.example.net \
  --from ham@example.net --to alice@example.test
assert_eq 21 "$RC" "swaks from 127.0.0.2 on early: exit status (21: refused greeting); transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: Access denied' \
  "swaks greeting from 127.0.0.2 on early"
EARLY_PORT="$EARLY_PORT" py <<'EOF'
import os
from lib import *
c = Client(port=int(os.environ["EARLY_PORT"]), source="127.0.0.2")
expect_reply(c.banner, 554, "5.7.1", "greeting to 127.0.0.2")
check("<unknown[127.0.0.2]>: Client host rejected: Access denied" in c.banner.text, "greeting: %r" % c.banner)
c.expect("EHLO outside.example.net", 503, "5.7.0")
c.expect("HELO outside.example.net", 503, "5.7.0")
c.expect("MAIL FROM:<ham@example.net>", 503, "5.7.0")
c.expect("RCPT TO:<alice@example.test>", 503, "5.7.0")
c.expect("NOOP", 503, "5.7.0")
c.expect("QUIT", 221)
check(c.is_closed(), "the connection stays open after QUIT")
EOF
assert_log 'NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: Access denied; proto=SMTP$' \
  "connect reject line"
assert_no_log 'reject: (HELO|MAIL|RCPT) from unknown\[127\.0\.0\.2\]' "commands after the 554 greeting"
# 127.0.0.1 is not in the cidr table: the same listener takes its mail.
swaks_rc --port "$EARLY_PORT" --helo inside.example.net --from ham@example.net \
  --to alice@example.test --header 'Subject: t58 early ham'
assert_eq 0 "$RC" "swaks from 127.0.0.1 on early: exit status; transcript: $(transcript)"
wait_for 15 "the early ham in alice's Maildir" maildir_holds example.test/alice 'Subject: t58 early ham' 1
assert_no_log 'reject: CONNECT from unknown\[127\.0\.0\.1\]' "127.0.0.1 at connect"

# ---- 2. sender list: at MAIL with delay_reject: false, at RCPT with true -------------------
# Setup: listeners early (delay_reject: false) and late (default true), both with
#   check_sender_access spam (spam@example.net REJECT); client 127.0.0.1.
swaks_rc --port "$EARLY_PORT" --helo early.example.net --from spam@example.net --to alice@example.test
assert_eq 23 "$RC" "swaks spam@ on early: exit status (23: MAIL refused); transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <spam@example\.net>: Sender address rejected: Access denied' \
  "swaks MAIL reply on early"
assert_log 'NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <spam@example\.net>: Sender address rejected: Access denied; from=<spam@example\.net> proto=ESMTP helo=<early\.example\.net>$' \
  "MAIL reject line (delay_reject: false)"
assert_no_log 'reject: RCPT from .*helo=<early\.example\.net>' "RCPT on early after a refused MAIL"

swaks_rc --port "$LATE_PORT" --helo late.example.net --from spam@example.net --to alice@example.test
assert_eq 24 "$RC" "swaks spam@ on late: exit status (24: RCPT refused); transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<- +250 ' "late: MAIL accepted"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <spam@example\.net>: Sender address rejected: Access denied' \
  "swaks RCPT reply on late"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <spam@example\.net>: Sender address rejected: Access denied; from=<spam@example\.net> to=<alice@example\.test> proto=ESMTP helo=<late\.example\.net>$' \
  "RCPT reject line (delay_reject: true)"
assert_no_log 'reject: MAIL from .*helo=<late\.example\.net>' "MAIL on late"
# With delay_reject: true the client list also answers at RCPT, after a 220 greeting.
swaks_rc --port "$LATE_PORT" --local-interface 127.0.0.2 --helo outside-late.example.net \
  --from ham@example.net --to alice@example.test
assert_eq 24 "$RC" "swaks from 127.0.0.2 on late: exit status (24: RCPT refused); transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: Access denied' \
  "swaks RCPT reply to 127.0.0.2 on late"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: Access denied; from=<ham@example\.net> to=<alice@example\.test> proto=ESMTP helo=<outside-late\.example\.net>$' \
  "client reject at RCPT (delay_reject: true)"
assert_eq 2 "$(log_count 'reject: CONNECT from')" "CONNECT rejects (scenario 1's two connections only)"

# ---- 2b. DEFER_IF_PERMIT carried from CONNECT to RCPT (delay_reject: false) -----------------
# Setup: listener carry; the client list's table answers DEFER_IF_PERMIT for 127.0.0.2.
CARRY_PORT="$CARRY_PORT" py <<'EOF'
import os
from lib import *
c = Client(port=int(os.environ["CARRY_PORT"]), source="127.0.0.2")
expect_reply(c.banner, 220, None, "greeting to 127.0.0.2 on carry")
c.expect("EHLO carry.example.net", 250)
c.expect("MAIL FROM:<ham@example.net>", 250)
# A reject of the recipient stage wins over the pending deferral.
r = c.expect("RCPT TO:<x@elsewhere.test>", 554, "5.7.1")
check("Relay access denied" in r.text, "relay refusal: %r" % r)
# A recipient the stage permits: the client's deferral, with the client list's text.
r = c.expect("RCPT TO:<alice@example.test>", 450, "4.7.1")
check("<unknown[127.0.0.2]>: Client host rejected: client not yet verified" in r.text,
      "deferred RCPT: %r" % r)
c.expect("QUIT", 221)
EOF
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 450 4\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: client not yet verified; from=<ham@example\.net> to=<alice@example\.test> proto=ESMTP helo=<carry\.example\.net>$' \
  "the carried DEFER_IF_PERMIT's reject line at RCPT"
assert_no_log 'reject: (CONNECT|HELO|EHLO|MAIL) from .*(helo=<carry\.example\.net>|Client host rejected: client not yet)' \
  "a refusal before RCPT on carry"
# `petrel policy test` carries it the same way and says so.
RC=0
"$PETREL" policy test --config "$CONF" --listener carry --client 127.0.0.2 --helo carry.example.net \
  --from ham@example.net --to alice@example.test >"$T/policy-test.out" 2>&1 || RC=$?
assert_eq 1 "$RC" "petrel policy test on carry: exit status ($(cat "$T/policy-test.out"))"
assert_file_contains "$T/policy-test.out" '^[0-9]+\. CONNECT: accepted$' "policy test: CONNECT accepted"
assert_file_contains "$T/policy-test.out" 'DEFER_IF_PERMIT pending \(check_client_access dip: 450 4\.7\.1 .*\): carried to RCPT' \
  "policy test: the pending deferral in the trace"
assert_file_contains "$T/policy-test.out" '^=> refused at RCPT: 450 4\.7\.1 <unknown\[127\.0\.0\.2\]>: Client host rejected: client not yet verified$' \
  "policy test: the decision"
# The sender list's DEFER_IF_PERMIT likewise (MAIL 250, RCPT 450); the next transaction's
# MAIL starts again from the client's (nothing for 127.0.0.1), so its RCPT is taken.
CARRY_PORT="$CARRY_PORT" py <<'EOF'
import os
from lib import *
c = Client(port=int(os.environ["CARRY_PORT"]))
expect_reply(c.banner, 220, None, "greeting to 127.0.0.1 on carry")
c.expect("EHLO carry-grey.example.net", 250)
c.expect("MAIL FROM:<grey@example.net>", 250)
r = c.expect("RCPT TO:<alice@example.test>", 450, "4.7.1")
check("<grey@example.net>: Sender address rejected: sender not verified" in r.text,
      "deferred RCPT: %r" % r)
c.expect("RSET", 250)
c.expect("MAIL FROM:<ham@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect("QUIT", 221)
EOF
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 450 4\.7\.1 <grey@example\.net>: Sender address rejected: sender not verified; from=<grey@example\.net> to=<alice@example\.test> proto=ESMTP helo=<carry-grey\.example\.net>$' \
  "the sender's carried DEFER_IF_PERMIT at RCPT"
# 127.0.0.1 has nothing pending on the same listener: its mail goes in.
swaks_rc --port "$CARRY_PORT" --helo carry-ok.example.net --from ham@example.net \
  --to alice@example.test --header 'Subject: t58 carry ham'
assert_eq 0 "$RC" "swaks from 127.0.0.1 on carry: exit status; transcript: $(transcript)"
wait_for 15 "the carry ham in alice's Maildir" maildir_holds example.test/alice 'Subject: t58 carry ham' 1

# ---- 3. data and end_of_data lists -----------------------------------------------------------
# Setup: listener atdata (data: [reject]) and ateod (end_of_data: [defer]); smtplib from
#   127.0.0.1 to alice.
wait_for 10 "an empty queue" queue_empty
ALICE_BEFORE="$(count_maildir example.test/alice)"
DATA_PORT="$DATA_PORT" EOD_PORT="$EOD_PORT" py <<'EOF'
import os, smtplib
from lib import *

def attempt(port, helo, subject):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=20)
    msg = make_message(subject, ["a body line"], sender="data@example.net")
    try:
        s.sendmail("data@example.net", ["alice@example.test"], msg)
    except smtplib.SMTPDataError as e:
        s.quit()
        return e.smtp_code, e.smtp_error.decode()
    fail("%s: the message was accepted" % subject)

code, text = attempt(int(os.environ["DATA_PORT"]), "atdata.example.net", "t58 at data")
check(code == 554 and text.startswith("5.7.1 Access denied"), "DATA reply: %d %r" % (code, text))
code, text = attempt(int(os.environ["EOD_PORT"]), "ateod.example.net", "t58 at end of data")
check(code == 450 and text.startswith("4.7.1 Try again later"), "end-of-data reply: %d %r" % (code, text))
EOF
assert_log 'NOQUEUE: reject: DATA from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 Access denied; from=<data@example\.net> (to=<alice@example\.test> )?proto=ESMTP helo=<atdata\.example\.net>$' \
  "DATA reject line"
assert_log 'NOQUEUE: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 450 4\.7\.1 Try again later; from=<data@example\.net> (to=<alice@example\.test> )?proto=ESMTP helo=<ateod\.example\.net>$' \
  "end-of-data reject line"
sleep 1
assert_eq 0 "$(queue_count)" "queued messages after the data/end_of_data refusals"
assert_eq 0 "$(spool_count)" "spool slots in use after the data/end_of_data refusals"
assert_eq "$ALICE_BEFORE" "$(count_maildir example.test/alice)" "alice's Maildir after the refusals"
assert_eq 0 "$(in_maildir example.test/alice 't58 at')" "refused messages in alice's Maildir"
assert_no_log 'from=<data@example\.net>, size=' "a queued line for the refused messages"

# ---- 4. PREPEND, HOLD and DISCARD ----------------------------------------------------------
# Setup: listener mx (set default): 127.0.0.2 -> PREPEND X-Petrel-Test: yes; hold@example.net
#   -> HOLD held for review; discard@example.net -> DISCARD; smtplib to alice.
py <<'EOF'
import os, re, smtplib
from lib import *
T = os.environ["T"]

def send(source, helo, sender, subject):
    s = smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname=helo, timeout=20,
                     source_address=(source, 0))
    msg = make_message(subject, ["body of %s" % subject], sender=sender,
                       msgid="<%s@example.net>" % subject.replace(" ", "-"))
    s.ehlo(helo)
    code, text = s.mail(sender)
    check(code == 250, "MAIL FROM:<%s>: %d %r" % (sender, code, text))
    code, text = s.rcpt("alice@example.test")
    check(code == 250, "RCPT for %s: %d %r" % (subject, code, text))
    code, text = s.data(msg)
    check(code == 250, "%s: end of data: %d %r" % (subject, code, text))
    s.quit()
    m = re.search(r"queued as ([0-9A-F]+)", text.decode())
    check(m is not None, "%s: no queue id in %r" % (subject, text))
    open(os.path.join(T, subject.replace(" ", "-") + ".eml"), "wb").write(msg)
    return m.group(1)

ids = {
    "prepend": send("127.0.0.2", "prepend.example.net", "ham@example.net", "t58 prepend"),
    "hold": send("127.0.0.1", "hold.example.net", "hold@example.net", "t58 hold"),
    "discard": send("127.0.0.1", "discard.example.net", "discard@example.net", "t58 discard"),
}
for k, v in ids.items():
    open(os.path.join(T, k + ".id"), "w").write(v)
EOF
PREPEND_ID="$(cat "$T/prepend.id")"
HOLD_ID="$(cat "$T/hold.id")"
DISCARD_ID="$(cat "$T/discard.id")"
export PREPEND_ID HOLD_ID DISCARD_ID

# PREPEND: the field sits right below our Received field, the message follows byte for byte.
wait_for 15 "the PREPEND message in alice's Maildir" maildir_holds example.test/alice 'Subject: t58 prepend' 1
py <<'EOF'
import os, re
from lib import *
path = [f for f in maildir_files("example.test/alice") if b"Subject: t58 prepend" in open(f, "rb").read()][0]
data = open(path, "rb").read()
sent = crlf_to_lf(open(os.path.join(os.environ["T"], "t58-prepend.eml"), "rb").read())
m = re.match(rb"Return-Path: <ham@example\.net>\n"
             rb"Delivered-To: alice@example\.test\n"
             rb"Received: from prepend\.example\.net \(unknown \[127\.0\.0\.2\]\)\n"
             rb"\tby [^ \n]+ \(Petrel\) with ESMTP id (?P<id>[0-9A-F]+)\n"
             rb"\tfor <alice@example\.test>;[^\n]*\n"
             rb"(?:\t[^\n]*\n)*", data)
check(m is not None, "%s: trace block not as expected:\n%r" % (path, data[:600]))
check(m.group("id").decode() == os.environ["PREPEND_ID"], "Received id %r" % m.group("id"))
rest = data[m.end():]
check(rest == b"X-Petrel-Test: yes\n" + sent,
      "%s: after the Received field, want the PREPEND field and the message as sent; got:\n%r"
      % (path, rest[:400]))
check(data.count(b"X-Petrel-Test:") == 1, "%s: X-Petrel-Test appears %d times" % (path, data.count(b"X-Petrel-Test:")))
EOF
assert_no_log 'X-Petrel-Test' "the PREPEND field in the log"
# Mail from 127.0.0.1 got no such field.
[[ "$(grep -lF 'X-Petrel-Test' "$MAIL_ROOT/example.test/alice/new/"* | wc -l)" -eq 1 ]] ||
  fail "X-Petrel-Test is in more than the PREPEND message: $(grep -lF 'X-Petrel-Test' "$MAIL_ROOT/example.test/alice/new/"*)"

# HOLD: queued, held, not delivered (not even by a flush) until released.
assert_log "^.*: $HOLD_ID: hold: unknown\\[127\\.0\\.0\\.1\\]: <hold@example\\.net>: Sender address [^;]*held for review; from=<hold@example\\.net> proto=ESMTP helo=<hold\\.example\\.net>\$" \
  "hold line"
# (the PREPEND message may still be leaving the queue after its delivery)
queue_ids() { petrel queue list --json | py -c 'import json, sys; print(" ".join(m["id"] for m in json.load(sys.stdin)))'; }
queue_is() { [[ "$(queue_ids)" == "$1" ]]; }
wait_for 10 "only $HOLD_ID in the queue" queue_is "$HOLD_ID"
py <<'EOF'
import os
from lib import *
q = {m["id"]: m for m in queue_list()}
hid = os.environ["HOLD_ID"]
check(list(q) == [hid], "queue after HOLD/DISCARD: %r (want only %s)" % (list(q), hid))
check(q[hid]["held"] is True, "%s held=%r" % (hid, q[hid]["held"]))
check([r["address"] for r in q[hid]["recipients"]] == ["alice@example.test"], "recipients %r" % q[hid]["recipients"])
EOF
petrel queue list | grep -q "^$HOLD_ID! " || fail "queue list does not mark $HOLD_ID held: $(petrel queue list)"
petrel queue flush >/dev/null || fail "queue flush failed"
sleep 2
assert_eq 0 "$(in_maildir example.test/alice 'Subject: t58 hold')" "the HOLD message delivered while held"
assert_no_log "$HOLD_ID: to=<" "a delivery attempt of the held message"
petrel queue release "$HOLD_ID" >/dev/null || fail "queue release $HOLD_ID failed"
wait_for 15 "the released message in alice's Maildir" maildir_holds example.test/alice 'Subject: t58 hold' 1
wait_for 10 "an empty queue after the release" queue_empty
assert_log "$HOLD_ID: to=<alice@example\\.test>, relay=virtual, .*status=sent" "delivery line of the released message"
grep -lF 'Subject: t58 hold' "$MAIL_ROOT/example.test/alice/new/"* | xargs grep -q '^X-Petrel-Test' &&
  fail "the HOLD message (from 127.0.0.1) got the PREPEND field"

# DISCARD: 250 to the client, a discard line, nothing queued or delivered.
assert_log "^.*: $DISCARD_ID: discard: unknown\\[127\\.0\\.0\\.1\\]: <discard@example\\.net>: Sender address [^;]*triggers DISCARD action; from=<discard@example\\.net> proto=ESMTP helo=<discard\\.example\\.net>\$" \
  "discard line"
assert_no_log "$DISCARD_ID: (to=|from=<discard@example\\.net>, size=)" "delivery or queued line of the discarded message"
assert_eq 0 "$(in_maildir example.test/alice 'Subject: t58 discard')" "the DISCARD message in alice's Maildir"
assert_eq 0 "$(queue_count)" "queue at the end"
assert_eq 0 "$(spool_count)" "spool slots in use at the end"

stop_petrel
pass
