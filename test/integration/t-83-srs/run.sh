#!/usr/bin/env bash
# Forwarding with SRS (issue 14, docs/srs.md), against python3-srs and postsrsd.
# Setup: `petrel serve` (quick-start config; srs.domain fwd.example.test with one secret;
#   the alias fwd@example.test -> someone@outside.example; relay.transport sends
#   outside.example to an aiosmtpd sink on 127.0.0.1:$OUT_PORT and orig.example to a second
#   one on 127.0.0.1:$ORIG_PORT) on 127.0.0.1:$SMTP_PORT; clients are smtplib from 127.0.0.2
#   (outside mynetworks) and 127.0.0.1 (inside); postsrsd on 127.0.0.1:$PSS_F/$PSS_R when
#   Debian's postsrsd is installed.
# - Mail from sender@orig.example to fwd@example.test and alice@example.test: alice's Maildir
#   gets it with Return-Path <sender@orig.example>; the outside sink sees MAIL FROM the SRS0
#   address python3-srs makes with the same secret today, and python3-srs reverses it to
#   sender@orig.example. postsrsd with the same secret makes the same address and reverses it.
# - Mail relayed for a client in mynetworks keeps its sender.
# - A bounce (MAIL FROM:<>) to an address made by python3-srs is accepted and reaches the
#   original sender at the orig.example sink. postsrsd's SRS1 of first.example's SRS0 (made by
#   python3-srs with another secret) is reversed by Petrel to that SRS0 and relayed to
#   first.example (the same sink).
# - A tampered hash and a timestamp of 30 days ago get 550 5.1.1; the log says which.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
"$PYTHON" -c 'import SRS, aiosmtpd' 2>/dev/null || skip "python3-srs or python3-aiosmtpd missing"

pick_ports OUT_PORT ORIG_PORT PSS_F PSS_R
export OUT_PORT ORIG_PORT PSS_F PSS_R
SECRET="petrel-t83-secret"
export SECRET
cd "$T"
printf '%s\n' "$SECRET" > srs.secrets

cat > sink.py <<'PY'
# An SMTP sink: every message as one JSON line {mail_from, rcpt_tos, data} in FILE.
import asyncio, json, sys
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), sys.argv[2]
class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(out, "a") as f:
            f.write(json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 2.0.0 Ok: stored"
c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
asyncio.get_event_loop().run_until_complete(asyncio.sleep(120))
PY
py_bg sink.py "$OUT_PORT" "$T/out.jsonl"
py_bg sink.py "$ORIG_PORT" "$T/orig.jsonl"
wait_for 10 "the outside sink" port_open "$OUT_PORT" || fail "sink did not start"
wait_for 10 "the orig sink" port_open "$ORIG_PORT" || fail "sink did not start"

write_config "
tables:
  aliases: {type: inline, map: {postmaster@example.test: alice@example.test,
                                fwd@example.test: someone@outside.example}}
  transport: {type: inline, map: {outside.example: 'smtp:[127.0.0.1]:$OUT_PORT',
                                  orig.example: 'smtp:[127.0.0.1]:$ORIG_PORT',
                                  first.example: 'smtp:[127.0.0.1]:$ORIG_PORT'}}
relay: {transport: transport, tls: none}
queue: {min_backoff: 1s, max_backoff: 2s}
srs: {domain: fwd.example.test, secrets_file: $T/srs.secrets}
"
start_petrel

# send FROM RCPT[,RCPT] SOURCE_IP: prints the RCPT replies ("code text" per recipient).
send() {
  py - "$@" <<'PY'
import os, smtplib, sys
sender, rcpts, source = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
s = smtplib.SMTP("127.0.0.1", int(os.environ["SMTP_PORT"]), timeout=30,
                 source_address=(source, 0))
s.ehlo("client.example")
s.mail(sender)
ok = False
for r in rcpts:
    code, text = s.rcpt(r)
    print(code, text.decode())
    ok = ok or code == 250
if ok:
    s.data(b"From: <%s>\r\nTo: <%s>\r\nSubject: t83\r\n\r\nHello.\r\n" % (
        sender.encode() or b"MAILER-DAEMON@orig.example", rcpts[0].encode()))
s.quit()
PY
}

# 1. An alias to an outside address: SRS0 at the outside sink, the plain sender in the Maildir.
send sender@orig.example fwd@example.test,alice@example.test 127.0.0.2 >/dev/null
wait_for 20 "the forwarded copy" test -s "$T/out.jsonl" || fail "nothing reached the outside sink"
wait_for 20 "alice's copy" maildir_has example.test/alice 1 || fail "alice got nothing"
grep -q '^Return-Path: <sender@orig.example>' "$MAIL_ROOT"/example.test/alice/new/* ||
  fail "alice's copy has another Return-Path: $(grep Return-Path "$MAIL_ROOT"/example.test/alice/new/*)"
SRS_SENDER=$(py -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["mail_from"])' "$T/out.jsonl")
export SRS_SENDER
log "forwarded with MAIL FROM:<$SRS_SENDER>"
py - <<'PY' || fail "python3-srs does not agree with $SRS_SENDER"
import json, os, SRS
srs = SRS.new(os.environ["SECRET"])
got = os.environ["SRS_SENDER"]
assert got.startswith("SRS0="), got
assert got.endswith("@fwd.example.test"), got
assert srs.reverse(got) == "sender@orig.example", srs.reverse(got)
made = srs.forward("sender@orig.example", "x@fwd.example.test")
assert made == got, (made, got)
m = json.loads(open(os.environ["T"] + "/out.jsonl").readline())
assert m["rcpt_tos"] == ["someone@outside.example"], m
PY

# 2. Relayed for a client in mynetworks: not forwarding, the sender stays.
send sender@orig.example other@outside.example 127.0.0.1 >/dev/null
wait_for 20 "the relayed message" eval '[[ $(wc -l < "$T/out.jsonl") -ge 2 ]]' ||
  fail "the relayed message did not arrive"
py - <<'PY' || fail "the relayed message was rewritten"
import json, os
m = [json.loads(l) for l in open(os.environ["T"] + "/out.jsonl")][1]
assert m["mail_from"] == "sender@orig.example" and m["rcpt_tos"] == ["other@outside.example"], m
PY

# 3. A bounce to an address python3-srs made goes back to the original sender.
BOUNCE_TO=$(py -c 'import SRS,os; print(SRS.new(os.environ["SECRET"]).forward("carol@orig.example", "x@fwd.example.test"))')
reply=$(send "" "$BOUNCE_TO" 127.0.0.2)
[[ "$reply" == 250* ]] || fail "the bounce to $BOUNCE_TO was refused: $reply"
wait_for 20 "the bounce at orig.example" test -s "$T/orig.jsonl" || fail "the bounce was not delivered"
py - <<'PY' || fail "the bounce reached the wrong place"
import json, os
m = json.loads(open(os.environ["T"] + "/orig.jsonl").readline())
assert m["mail_from"] in ("", "<>") and m["rcpt_tos"] == ["carol@orig.example"], m
PY

# 4. A tampered hash and an expired stamp: 550 5.1.1, the cause only in the log.
TAMPERED=$(py -c 'import sys; a=sys.argv[1]; h=a[5:9]; print(a[:5] + ("AAAA" if h != "AAAA" else "BBBB") + a[9:])' "$BOUNCE_TO")
reply=$(send "" "$TAMPERED" 127.0.0.2)
[[ "$reply" == "550 5.1.1 <$TAMPERED>: Recipient address rejected: User unknown in virtual mailbox table" ]] ||
  fail "tampered: $reply"
wait_for 5 "the log line" log_has "srs: reverse of <$TAMPERED> failed: invalid hash" || fail "no log line for the hash"
OLD=$(py -c 'import SRS,os,time; t=time.time()-30*86400; time.time=lambda: t; print(SRS.new(os.environ["SECRET"]).forward("carol@orig.example", "x@fwd.example.test"))')
reply=$(send "" "$OLD" 127.0.0.2)
[[ "$reply" == "550 5.1.1 "* && "$reply" != *xpired* ]] || fail "expired: $reply"
wait_for 5 "the log line" log_has "srs: reverse of <$OLD> failed: expired timestamp" || fail "no log line for the age"

# 5. postsrsd (libsrs2) with the same secret: the same address both ways.
if command -v postsrsd >/dev/null; then
  postsrsd -s "$T/srs.secrets" -d fwd.example.test -l 127.0.0.1 -f "$PSS_F" -r "$PSS_R" \
    >"$T/postsrsd.log" 2>&1 &
  EXTRA_PIDS+=("$!")
  wait_for 10 "postsrsd" port_open "$PSS_F" || fail "postsrsd did not start: $(cat "$T/postsrsd.log")"
  PSS1=$(py - <<'PY'
import os, socket
def ask(port, q):
    s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
    s.sendall(b"get " + q.encode() + b"\n")
    a = s.recv(4096).decode().strip(); s.close(); return a
assert ask(os.environ["PSS_F"], "sender@orig.example") == "200 " + os.environ["SRS_SENDER"]
assert ask(os.environ["PSS_R"], os.environ["SRS_SENDER"]) == "200 sender@orig.example"
# Mail first forwarded by first.example (another secret), then by postsrsd: an SRS1 that
# Petrel reverses to first.example's SRS0. (postsrsd answers "Already rewritten" for an SRS0
# its own secret verifies, whatever its domain.)
import SRS
first = SRS.new("first-forwarder-secret").forward("sender@orig.example", "x@first.example")
a = ask(os.environ["PSS_F"], first)
assert a.startswith("200 SRS1="), a
print(first, a[4:])
PY
) || fail "postsrsd disagrees with $SRS_SENDER"
  read -r FIRST PSS1 <<<"$PSS1"
  log "postsrsd SRS1: $PSS1"
  reply=$(send "" "$PSS1" 127.0.0.2)
  [[ "$reply" == 250* ]] || fail "postsrsd's SRS1 was refused: $reply"
  export PSS1_BACK="$FIRST"
  wait_for 20 "the SRS1 bounce at first.example" eval '[[ $(wc -l < "$T/orig.jsonl") -ge 2 ]]' ||
    fail "the bounce to postsrsd's SRS1 was not delivered"
  py - <<'PY' || fail "the SRS1 bounce went elsewhere"
import json, os
m = [json.loads(l) for l in open(os.environ["T"] + "/orig.jsonl")][1]
assert m["rcpt_tos"] == [os.environ["PSS1_BACK"]], m
PY
else
  log "postsrsd not installed: its comparison is skipped"
fi
pass
