#!/usr/bin/env bash
# Setup: `petrel serve` (quick-start config, hostname mx.example.test) on 127.0.0.1:$SMTP_PORT
#   with delivery.sieve user scripts and delivery.vacation on an SQLite table shaped like
#   PostfixAdmin's `vacation` (email, subject, body, activefrom, activeuntil, active; the
#   MariaDB test uses fixed ports, so this one does not start MariaDB); relay.transport sends
#   remote.test to an aiosmtpd sink on 127.0.0.1:$SINK_PORT, which records every envelope and
#   message. Clients: Python's smtplib from 127.0.0.1.
#   dkim.sign for example.test (a key from `petrel dkim keygen`); dkimpy verifies what the
#   sink got against the keygen record.
# Vacation (RFC 5230, RFC 3834), observed through what arrives:
# - alice's script: vacation :subject "Alice is away" :addresses ["a.smith@example.test"].
#   bob (local) gets one reply in his Maildir: from <> (Return-Path: <>), From alice,
#   Auto-Submitted: auto-replied, In-Reply-To and References naming his Message-ID; alice
#   keeps the message. His second message gets none, nor his third after a restart.
# - remote senders: the sink gets replies (MAIL FROM:<>) for mail To: alice, To: a.smith
#   (:addresses) and with Auto-Submitted: no, each DKIM-signed d=example.test; none for List-Id, Precedence: bulk,
#   Auto-Submitted: auto-generated, MAILER-DAEMON, owner-*, *-request senders, mail where
#   alice is only a Bcc of the envelope, and the null sender; each such case is logged.
# - the table: frank (active) answers with the table's subject and body; gina (active = 0)
#   and holly (activeuntil in the past) do not.
# Redirect: erin's `redirect "carol@example.test"` leaves erin's Maildir empty and carol gets
#   the message with Delivered-To: erin@example.test on top; henry's `redirect :copy` keeps a
#   copy and carol gets another; ivan's redirect to far@remote.test reaches the sink from
#   <bob@example.test> with Delivered-To: ivan on top and the signature it got at receipt still
#   verifying; jack -> kate -> jack stops at jack (the
#   copy already has Delivered-To: jack): kept there, with the loop warning. Reject: dave's `reject` bounces to bob with a DSN carrying
#   5.7.1 and the reason; from <> the reject is only logged.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool sqlite3
"$PYTHON" -c 'import aiosmtpd' 2>/dev/null || skip "missing Python module aiosmtpd (python3-aiosmtpd)"
"$PYTHON" -c 'import dkim' 2>/dev/null || skip "python3-dkim is not installed"

cd "$T"
# dkim.sign for example.test: the replies are signed, a redirected copy keeps the signature
# its message got at receipt (bob sends from mynetworks), and both verify with dkimpy.
"$PETREL" dkim keygen --domain example.test --selector v2026 --out v2026.key >v2026.zone
printf 'v2026._domainkey.example.test.\t%s\n' "$(grep -o '"[^"]*"' v2026.zone | tr -d '"\n')" >records.txt
SINK_PORT="$(pick_port)"
export SINK_PORT

# PostfixAdmin's vacation table (its MySQL schema, in SQLite types).
sqlite3 "$T/postfixadmin.db" <<'SQL'
CREATE TABLE vacation (
  email TEXT PRIMARY KEY, subject TEXT NOT NULL, body TEXT NOT NULL,
  cache TEXT NOT NULL DEFAULT '', domain TEXT NOT NULL,
  created TEXT NOT NULL DEFAULT '2000-01-01 00:00:00',
  activefrom TEXT NOT NULL DEFAULT '2000-01-01 00:00:00',
  activeuntil TEXT NOT NULL DEFAULT '2038-01-18 00:00:00',
  active INTEGER NOT NULL DEFAULT 1);
INSERT INTO vacation (email, subject, body, domain, active) VALUES
  ('frank@example.test', 'Frank is out', 'Frank reads mail again on the 14th.
Urgent: ask carol.', 'example.test', 1),
  ('gina@example.test', 'Gina is out', 'off', 'example.test', 0);
INSERT INTO vacation (email, subject, body, domain, activeuntil) VALUES
  ('holly@example.test', 'Holly was out', 'past', 'example.test', '2001-01-01 00:00:00');
SQL

mkdir -p sieve/example.test
cat > sieve/example.test/alice.sieve <<'SIEVE'
require "vacation";
vacation :days 7 :subject "Alice is away" :addresses ["a.smith@example.test"]
  "I am away until Monday.";
SIEVE
cat > sieve/example.test/dave.sieve <<'SIEVE'
require "reject";
reject "Dave does not take mail from you";
SIEVE
cat > sieve/example.test/erin.sieve <<'SIEVE'
redirect "carol@example.test";
SIEVE
cat > sieve/example.test/henry.sieve <<'SIEVE'
require "copy";
redirect :copy "carol@example.test";
SIEVE
echo 'redirect "far@remote.test";' > sieve/example.test/ivan.sieve
echo 'redirect "kate@example.test";' > sieve/example.test/jack.sieve
echo 'redirect "jack@example.test";' > sieve/example.test/kate.sieve

boxes=""
for u in alice bob carol dave erin frank gina holly henry ivan jack kate; do
  boxes+="$u@example.test: example.test/$u/, "
done
write_config "
hostname: mx.example.test
tables:
  mailboxes!: {type: inline, map: {${boxes%, }}}
  transport: {type: inline, map: {remote.test: 'smtp:[127.0.0.1]:$SINK_PORT'}}
  vacation:
    type: sqlite
    path: $T/postfixadmin.db
    query: \"SELECT subject || char(10) || body FROM vacation WHERE email = %s AND active = 1 AND activefrom <= datetime('now') AND activeuntil >= datetime('now')\"
relay: {transport: transport}
queue: {min_backoff: 1s, max_backoff: 2s}
delivery:
  sieve: {user_scripts: $T/sieve}
  vacation: {table: vacation, once_per: 7d}
dkim:
  sign: [{domain: example.test, selector: v2026, key: '$T/v2026.key'}]
"

# The remote world: records each message as one JSON line in $T/sink.jsonl.
py_bg - <<'PY'
import json, os, time
from aiosmtpd.controller import Controller
T = os.environ["T"]
class Sink:
    async def handle_DATA(self, server, session, envelope):
        with open(os.path.join(T, "sink.jsonl"), "a") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 2.0.0 Ok: sunk"
c = Controller(Sink(), hostname="127.0.0.1", port=int(os.environ["SINK_PORT"]))
c.start()
open(os.path.join(T, "sink.ready"), "w").close()
deadline = time.time() + 300
while not os.path.exists(os.path.join(T, "sink.stop")) and time.time() < deadline:
    time.sleep(0.1)
c.stop()
PY
wait_for 15 "the aiosmtpd sink on 127.0.0.1:$SINK_PORT" test -e "$T/sink.ready"
start_petrel

# send SENDER RCPT SUBJECT [EXTRA-HEADER-LINES] [TO-FIELD]
send() {
  py - "$@" <<'PY'
import os, smtplib, sys
sender, rcpt, subject = sys.argv[1:4]
extra = sys.argv[4] if len(sys.argv) > 4 else ""
to = sys.argv[5] if len(sys.argv) > 5 else rcpt
ident = "<%s.%s@client.example>" % (subject.replace(" ", "-"), os.getpid())
msg = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nReferences: <earlier@client.example>\r\n%s\r\nHello.\r\n"
       % (sender or "MAILER-DAEMON@client.example", to, subject, ident, extra))
with smtplib.SMTP("127.0.0.1", int(os.environ["SMTP_PORT"]), timeout=30) as s:
    s.sendmail(sender, [rcpt], msg)
PY
}
sink_count() { [[ -f "$T/sink.jsonl" ]] && wc -l <"$T/sink.jsonl" || echo 0; }
BOB="$MAIL_ROOT/example.test/bob/new"

# dkim_ok N: the sink's Nth message (1-based) has exactly one DKIM-Signature, d=example.test,
# and dkimpy verifies it against the keygen record.
dkim_ok() {
  N="$1" py <<'PY'
import dkim, json, os, sys
T = os.environ["T"]
records = dict(l.rstrip("\n").split("\t", 1) for l in open(os.path.join(T, "records.txt")))
rows = [json.loads(l) for l in open(os.path.join(T, "sink.jsonl"))]
raw = rows[int(os.environ["N"]) - 1]["data"].encode("utf-8")
raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
head = raw.split(b"\r\n\r\n", 1)[0]
if head.count(b"DKIM-Signature:") != 1 or b"d=example.test" not in head:
    sys.exit("not one example.test signature:\n" + head.decode())
if not dkim.verify(raw, dnsfunc=lambda name, timeout=5: records.get(name.decode(), "").encode()):
    sys.exit("dkimpy: does not verify:\n" + head.decode())
PY
}

# --- Vacation: a local sender, once. ---
send bob@example.test alice@example.test "Lunch"
wait_for 20 "alice's reply in bob's Maildir" maildir_has example.test/bob 1
reply=$(cat "$BOB"/*)
[[ "$reply" == *$'Return-Path: <>\n'* ]] || fail "the reply is not from <>: $reply"
for want in 'From: alice@example.test' 'To: <bob@example.test>' 'Subject: Alice is away' \
  'Auto-Submitted: auto-replied' 'In-Reply-To: <Lunch.' \
  'References: <earlier@client.example> <Lunch.' 'I am away until Monday.'; do
  [[ "$reply" == *"$want"* ]] || fail "the reply lacks '$want': $reply"
done
[[ "$reply" =~ Message-ID:\ \<[^@]+@mx.example.test\> ]] || fail "no Message-ID: $reply"
[[ "$reply" =~ Date:\ [A-Z][a-z][a-z],\  ]] || fail "no Date: $reply"
wait_for 10 "alice's copy" maildir_has example.test/alice 1
assert_log ': vacation reply: [0-9A-F]+' "the vacation reply line"
send bob@example.test alice@example.test "Second"
wait_for 20 "alice's second message" maildir_has example.test/alice 2
wait_for 10 "the once-per-days note" log_has 'to=<alice@example.test>: vacation: no reply to <bob@example.test>: already replied within 7 days'

# --- Vacation: the RFC 3834 rules, senders at the sink's domain. ---
send list@remote.test alice@example.test "List" "List-Id: <team.remote.test>"$'\r\n'
send bulk@remote.test alice@example.test "Bulk" "Precedence: bulk"$'\r\n'
send auto@remote.test alice@example.test "Auto" "Auto-Submitted: auto-generated"$'\r\n'
send MAILER-DAEMON@remote.test alice@example.test "Daemon"
send owner-team@remote.test alice@example.test "Owner"
send team-request@remote.test alice@example.test "Request"
send notme@remote.test alice@example.test "Bcc" "" "someone@remote.test"
send "" alice@example.test "Null"
send ok1@remote.test alice@example.test "Plain"
send ok2@remote.test alice@example.test "Other address" "" "A. Smith <a.smith@example.test>"
send ok3@remote.test alice@example.test "Not auto" "Auto-Submitted: no"$'\r\n'
wait_for 30 "alice's 13 messages" maildir_has example.test/alice 13
wait_for 30 "three replies at the sink" eval '[[ $(sink_count) -ge 3 ]]'
wait_for 30 "an empty queue" queue_empty
py <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(os.path.join(os.environ["T"], "sink.jsonl"))]
got = sorted(r["to"][0] for r in rows)
if got != ["ok1@remote.test", "ok2@remote.test", "ok3@remote.test"]:
    sys.exit("replies went to %s" % got)
for r in rows:
    if r["from"] not in ("", "<>"):  # aiosmtpd shows the null reverse-path as "<>"
        sys.exit("a reply's MAIL FROM is <%s>" % r["from"])
    if "Auto-Submitted: auto-replied\r\n" not in r["data"] and "Auto-Submitted: auto-replied\n" not in r["data"]:
        sys.exit("no Auto-Submitted in %r" % r["data"])
PY
[[ $? -eq 0 ]] || fail "the sink's replies are wrong"
for n in 1 2 3; do dkim_ok $n || fail "reply $n at the sink is not DKIM-signed as it should be"; done
for why in 'list@remote.test>: list mail \(List-Id\)' 'bulk@remote.test>: Precedence: bulk' \
  'auto@remote.test>: Auto-Submitted: auto-generated' 'MAILER-DAEMON@remote.test>: sender mailer-daemon' \
  'owner-team@remote.test>: sender owner-team' 'team-request@remote.test>: sender team-request' \
  'notme@remote.test>: the user is not in To, Cc or Bcc' '>: sender is <>'; do
  assert_log "to=<alice@example.test>: vacation: no reply to <$why" "the vacation note: $why"
done

# --- Once per days across a restart (state_dir/vacation.db). ---
stop_petrel
start_petrel
send bob@example.test alice@example.test "Third"
wait_for 20 "alice's third message from bob" maildir_has example.test/alice 14
wait_for 10 "the note after the restart" eval \
  '[[ $(log_count "no reply to <bob@example.test>: already replied within 7 days") -ge 2 ]]'
wait_for 10 "an empty queue" queue_empty
maildir_has example.test/bob 1 || fail "bob got another reply after the restart: $(ls "$BOB")"
[[ -f "$STATE_DIR/vacation.db" ]] || fail "no $STATE_DIR/vacation.db"

# --- The PostfixAdmin table. ---
send bob@example.test frank@example.test "For Frank"
send bob@example.test gina@example.test "For Gina"
send bob@example.test holly@example.test "For Holly"
wait_for 20 "frank's reply" maildir_has example.test/bob 2
wait_for 20 "an empty queue" queue_empty
maildir_has example.test/frank 1 || fail "frank did not keep his mail"
maildir_has example.test/gina 1 && maildir_has example.test/holly 1 || fail "gina/holly lost mail"
maildir_has example.test/bob 2 || fail "gina or holly replied: $(grep -h '^Subject' "$BOB"/*)"
frank=$(grep -l '^Subject: Frank is out' "$BOB"/*) || fail "no reply from the table"
grep -q '^Urgent: ask carol.$' "$frank" || fail "the table's body is not in the reply: $(cat "$frank")"
grep -q '^Auto-Submitted: auto-replied$' "$frank" || fail "the table reply is not auto-replied"

# --- Redirect, with and without :copy. ---
send bob@example.test erin@example.test "Redirect me"
wait_for 20 "carol's redirected copy" maildir_has example.test/carol 1
send bob@example.test henry@example.test "Copy me"
wait_for 20 "carol's second copy" maildir_has example.test/carol 2
wait_for 20 "henry's own copy" maildir_has example.test/henry 1
wait_for 20 "an empty queue" queue_empty
maildir_has example.test/erin 0 || fail "erin kept a redirected message"
copy=$(grep -l '^Subject: Redirect me' "$MAIL_ROOT"/example.test/carol/new/*) || fail "no copy at carol"
head -3 "$copy" | grep -q '^Return-Path: <bob@example.test>$' || fail "the copy's sender: $(head -3 "$copy")"
grep -q '^Delivered-To: erin@example.test$' "$copy" || fail "no Delivered-To: erin in the copy"
grep -q '^Message-ID: <Redirect-me\.' "$copy" || fail "the copy's content changed"
assert_log 'to=<erin@example.test>,.*status=sent \(redirected by sieve to carol@example.test\)' \
  "erin's delivery line"
assert_log ': sieve redirect: [0-9A-F]+' "the redirect line"

# A redirect to a foreign address leaves through the relay, from the original sender.
send bob@example.test ivan@example.test "Far away"
wait_for 20 "the redirected copy at the sink" eval '[[ $(sink_count) -ge 4 ]]'
py <<'PY'
import json, os, sys
r = [json.loads(l) for l in open(os.path.join(os.environ["T"], "sink.jsonl"))][-1]
if r["from"] != "bob@example.test" or r["to"] != ["far@remote.test"]:
    sys.exit("the copy went from <%s> to %s" % (r["from"], r["to"]))
if not r["data"].startswith("Delivered-To: ivan@example.test") or "Subject: Far away" not in r["data"]:
    sys.exit("the copy: %r" % r["data"][:300])
PY
[[ $? -eq 0 ]] || fail "the foreign redirect is wrong"
dkim_ok 4 || fail "the redirected copy's signature from receipt no longer verifies"
# jack -> kate -> jack: the copy comes back with Delivered-To: jack and stays with jack.
send bob@example.test jack@example.test "Loop"
wait_for 20 "the looping copy kept by jack" maildir_has example.test/jack 1
wait_for 20 "an empty queue" queue_empty
maildir_has example.test/kate 0 || fail "kate kept a copy"
assert_log 'to=<jack@example.test>: sieve: mail forwarding loop for jack@example.test: not redirected; kept' \
  "the loop warning"
grep -q '^Delivered-To: kate@example.test$' "$MAIL_ROOT"/example.test/jack/new/* ||
  fail "jack's copy did not go through kate"

# --- Reject. ---
send bob@example.test dave@example.test "Hi Dave"
wait_for 20 "the DSN to bob" maildir_has example.test/bob 3
wait_for 20 "an empty queue" queue_empty
maildir_has example.test/dave 0 || fail "dave kept a rejected message"
dsn=$(grep -l '^Content-Type: multipart/report' "$BOB"/*) || fail "no DSN at bob"
grep -q 'Status: 5.7.1' $dsn || fail "the DSN has no 5.7.1: $(cat $dsn)"
grep -q 'Dave does not take mail from you' $dsn || fail "the DSN lacks the reason: $(cat $dsn)"
assert_log 'to=<dave@example.test>,.*dsn=5.7.1, status=bounced \(rejected by the recipient' \
  "dave's bounce line"
send "" dave@example.test "Null to Dave"
wait_for 20 "the discarded reject" log_has 'undeliverable mail from <> discarded: 1 recipient'
wait_for 20 "an empty queue" queue_empty
maildir_has example.test/bob 3 || fail "a reject from <> made mail"
touch "$T/sink.stop"
pass
