#!/usr/bin/env bash
# Setup: `petrel serve` (quick-start config, hostname mx.petrel.test, dns.servers -> the test's
#   DNS server, relay.destination_concurrency 2, relay.connection_cache_time 3s,
#   relay.timeouts.greeting 2s, queue.min_backoff 1s / max_backoff 2s) on 127.0.0.1:$SMTP_PORT.
#   relay_lib.py serves DNS on 127.0.0.1:$DNS_PORT and the peers, all on port 25:
#     127.0.0.3 mx.noutf8.test   aiosmtpd without SMTPUTF8 (smtputf8: false)
#     127.0.0.4 mx.utf8.test     aiosmtpd with SMTPUTF8
#     127.0.0.5 mx.small.test    aiosmtpd announcing SIZE 20000 (data_size_limit)
#     127.0.0.6 mx.busy.test     aiosmtpd; its connections.log records when each connection
#                                opens and ends (QUIT read or closed) and how many are live
#     127.0.0.7 mx.mute.test     a plain TCP server that never sends a greeting (silent: true)
#     [::1]     mx.v6.test       aiosmtpd; mx.v6.test has only an AAAA record (::1)
#   Mail comes from alice@example.test (a local Maildir, so DSNs land there) over raw sockets
#   and smtplib from 127.0.0.1 (mynetworks).
# 1. SMTPUTF8 (RFC 6531 3.2, no downgrade): a message submitted with MAIL ... SMTPUTF8 and a
#    UTF-8 Subject (ASCII envelope), and one with a UTF-8 local part (jösé@noutf8.test), both to
#    the peer without SMTPUTF8 -> bounced: log dsn=5.6.7 status=bounced, one DSN each (parsed
#    with the email package: Status 5.6.7, Action failed, the diagnostic names SMTPUTF8), and
#    that peer never sees MAIL for them (an ASCII control message on the same peer is
#    delivered, without SMTPUTF8 on MAIL). jösé@utf8.test at the SMTPUTF8 peer is delivered
#    with SMTPUTF8 on MAIL, the UTF-8 recipient intact, the content byte for byte.
# 2. SIZE (RFC 1870): to the peer announcing SIZE 20000, a 30 KB message gets no MAIL at all
#    and bounces with 5.3.4 (log and DSN; the diagnostic names the limit); a 10 KB message is
#    delivered with SIZE=<exactly the octets the peer received> on MAIL.
# 3. Concurrency and reuse: 30 messages to busy.test submitted over 5 parallel smtplib
#    sessions all arrive (each recipient once, 30 status=sent lines); the peer never had more
#    than 2 connections live at once, saw fewer than 30 connections (several messages per
#    connection), and each connection ended with QUIT only after being idle for about
#    connection_cache_time (>= 2.5 s after its last message, within 8 s).
# 4. Greeting timeout: x@mute.test -> log "relay=mx.mute.test[127.0.0.7]:25 ... dsn=4.4.2,
#    status=deferred (... timed out while waiting for the greeting)" between 1.8 s and 6 s after
#    submission; petrel wrote nothing to the mute peer; no DSN; `petrel queue list` shows the
#    message and `petrel queue show ID` lists x@mute.test as deferred with that last reply.
# 5. IPv6 (skipped, not the test, when [::1]:25 cannot be bound): u@v6.test is delivered over
#    IPv6: log relay=mx.v6.test[::1]:25 status=sent, the peer saw the client ::1.
# In the end: exactly 3 DSNs (parts 1 and 2), the queue is empty once the mute message is
# deleted, petrel stops cleanly.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/relay_lib.sh"
need_relay_harness 127.0.0.3:25 127.0.0.4:25 127.0.0.5:25 127.0.0.6:25 127.0.0.7:25

V6=0
if can_bind '[::1]:25'; then V6=1; else log "part 5 (IPv6) skipped: cannot bind [::1]:25"; fi
export V6

pick_ports DNS_PORT
start_harness world "
dns:
  address: 127.0.0.1:$DNS_PORT
  zones:
    noutf8.test: {MX: ['10 mx.noutf8.test']}
    mx.noutf8.test: {A: [127.0.0.3]}
    utf8.test: {MX: ['10 mx.utf8.test']}
    mx.utf8.test: {A: [127.0.0.4]}
    small.test: {MX: ['10 mx.small.test']}
    mx.small.test: {A: [127.0.0.5]}
    busy.test: {MX: ['10 mx.busy.test']}
    mx.busy.test: {A: [127.0.0.6]}
    mute.test: {MX: ['10 mx.mute.test']}
    mx.mute.test: {A: [127.0.0.7]}
    v6.test: {MX: ['10 mx.v6.test']}
    mx.v6.test: {AAAA: ['::1']}
peers:
  - {name: noutf8, address: '127.0.0.3:25', hostname: mx.noutf8.test, smtputf8: false}
  - {name: utf8, address: '127.0.0.4:25', hostname: mx.utf8.test, smtputf8: true}
  - {name: small, address: '127.0.0.5:25', hostname: mx.small.test, data_size_limit: 20000}
  - {name: busy, address: '127.0.0.6:25', hostname: mx.busy.test}
  - {name: mute, address: '127.0.0.7:25', silent: true}
"
if ((V6)); then
  start_harness v6 "
peers:
  - {name: v6, address: '[::1]:25', hostname: mx.v6.test}
"
fi

write_config "
hostname: mx.petrel.test
dns: {servers: ['127.0.0.1:$DNS_PORT']}
relay:
  tls: may
  destination_concurrency: 2
  connection_cache_time: 3s
  timeouts: {connect: 2s, greeting: 2s, command: 5s, data_init: 5s, data_block: 5s, data_done: 5s}
queue: {min_backoff: 1s, max_backoff: 2s}
"
check_config
start_petrel

# ---- submit everything: the slow part (4) first, the burst (3) last ---------------------------
py <<'EOF'
import json, os, smtplib, threading, time
from lib import *
T = os.environ["T"]
A = "alice@example.test"
sent = {}

def submit(key, rcpts, lines, params="", subject=None, extra=()):
    msg = make_message(subject or "t-44 " + key, lines, msgid="<t44-%s@example.test>" % key,
                       sender=A, to=rcpts[0], extra_headers=extra)
    t = time.time()
    qid = send_message(A, rcpts, msg, mail_params=params)
    sent[key] = {"id": qid, "rcpts": rcpts, "msg": msg.decode("utf-8"), "time": t}

utf8_hdrs = ("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
             "Content-Transfer-Encoding: 8bit")
# 4: the peer that never greets.
submit("mute", ["x@mute.test"], ["nobody answers"])
# 1: SMTPUTF8.
submit("utf8hdr", ["user@noutf8.test"], ["Grüße, ASCII envelope"], params=" SMTPUTF8 BODY=8BITMIME",
       subject="t-44 utf8hdr Grüße aus Köln", extra=utf8_hdrs)
submit("utf8rcpt", ["jösé@noutf8.test"], ["a UTF-8 local part"], params=" SMTPUTF8")
submit("ascii", ["plain@noutf8.test"], ["nothing needs SMTPUTF8 here"])
submit("utf8ok", ["jösé@utf8.test"], ["Bonjour José ✉"], params=" SMTPUTF8 BODY=8BITMIME",
       subject="t-44 utf8ok Grüße", extra=utf8_hdrs)
# 2: SIZE.
submit("big", ["big@small.test"], ["%05d %s" % (i, "b" * 72) for i in range(384)])    # ~30 KB
submit("medium", ["ok@small.test"], ["%05d %s" % (i, "m" * 72) for i in range(128)])  # ~10 KB
# 5: IPv6.
if os.environ["V6"] == "1":
    submit("v6", ["u@v6.test"], ["over IPv6"])

# 3: 30 messages to one domain over 5 parallel sessions.
burst = {}
errors = []
def session(n):
    try:
        with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
            s.ehlo()
            for i in range(6):
                k = n * 6 + i
                rcpt = "r%02d@busy.test" % k
                msg = make_message("t-44 busy %02d" % k, ["message %d of the burst" % k],
                                   msgid="<t44-busy-%02d@example.test>" % k, sender=A, to=rcpt)
                code, _ = s.mail(A)
                check(code == 250, "burst MAIL: %d" % code)
                code, _ = s.rcpt(rcpt)
                check(code == 250, "burst RCPT %s: %d" % (rcpt, code))
                code, text = s.data(msg)
                check(code == 250, "burst DATA %s: %d %r" % (rcpt, code, text))
                burst[rcpt] = queued_id(Reply(code, [text.decode()], b""))
    except BaseException as e:  # check() exits via SystemExit
        errors.append("session %d: %r" % (n, e))
threads = [threading.Thread(target=session, args=(n,)) for n in range(5)]
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
check(not errors, "burst submission failed: %s" % errors)
check(len(burst) == 30, "burst: %d messages queued, want 30" % len(burst))
sent["burst"] = burst
sent["burst_seconds"] = time.time() - t0
json.dump(sent, open(os.path.join(T, "sent.json"), "w"))
EOF
id_of() { py -c 'import json,sys,os; print(json.load(open(os.environ["T"]+"/sent.json"))[sys.argv[1]]["id"])' "$1"; }

# ---- part 4: greeting timeout -------------------------------------------------------------------
MUTE_ID="$(id_of mute)"
export MUTE_ID
py <<'EOF'
import json, os, re, time
from lib import *
from relay_lib import *
sent = json.load(open(os.path.join(os.environ["T"], "sent.json")))
qid = os.environ["MUTE_ID"]
rx = (r"^.*%s: to=<x@mute\.test>, (?:orig_to=<[^>]*>, )?relay=mx\.mute\.test\[127\.0\.0\.7\]:25, "
      r"delay=[0-9.]+, delays=[0-9./]+, dsn=4\.4\.2, status=deferred \((?P<text>.*)\)$" % qid)
m = wait_log(rx, timeout=10, what="the greeting timeout of %s" % qid)
seen = time.time()
text = m.group("text")
check(re.search(r"timed out while waiting for the greeting", text),
      "deferral text %r does not say it timed out waiting for the greeting" % text)
# Not before the 2 s greeting timeout, and not much after it (the log was polled every 0.1 s).
elapsed = seen - sent["mute"]["time"]
check(elapsed <= 6, "the greeting timeout (2s) took %.1fs to defer the message" % elapsed)
log = petrel_log()
first = re.search(rx, log, re.M)
delay = float(re.search(r"delay=([0-9.]+)", first.group(0)).group(1))
check(delay >= 1.8, "deferred after delay=%.2fs, before the 2s greeting timeout" % delay)
check(not re.search(r"%s: to=<x@mute\.test>.*status=(sent|bounced)" % qid, log),
      "the mute message was sent or bounced")
# The mute peer got a TCP connection and not one byte from petrel.
ev = peer_events("mute")
check(re.search(r"^conn 1: connect from \('127\.0\.0\.1', \d+\)$", ev, re.M), "mute: no connection:\n" + ev)
check(not re.search(r"^conn \d+: C: ", ev, re.M), "petrel wrote to a server that never greeted:\n" + ev)

# The queue: still there, the recipient deferred with the last reply.
q = queue_list()
mine = [x for x in q if x["id"] == qid]
check(len(mine) == 1, "%s not in `petrel queue list --json`: %r" % (qid, q))
r = mine[0]["recipients"]
check(len(r) == 1 and r[0]["address"] == "x@mute.test" and r[0]["status"] == "deferred"
      and r[0]["attempts"] >= 1 and "waiting for the greeting" in (r[0]["last_error"] or ""),
      "queued recipient: %r" % r)
text_list = petrel("queue", "list")
check(re.search(r"(?m)^%s\b" % qid, text_list), "`petrel queue list` lacks %s:\n%s" % (qid, text_list))
show = petrel("queue", "show", qid)
m = re.search(r"(?m)^x@mute\.test: deferred, (\d+) attempts?, next attempt .*\n  last: (.*)$", show)
check(m is not None, "`petrel queue show %s` does not list x@mute.test as deferred with its last "
      "reply:\n%s" % (qid, show))
check(re.search(r"timed out while waiting for the greeting", m.group(2)),
      "queue show: last reply %r does not name the greeting timeout" % m.group(2))
check(re.search(r"(?m)^Subject: t-44 mute\r?$", show), "queue show lacks the message:\n%s" % show)
EOF

# ---- parts 1, 2, 5: delivered and bounced -------------------------------------------------------
wait_for 15 "the ASCII message at noutf8" peer_at_least noutf8 1
wait_for 15 "the SMTPUTF8 message at utf8" peer_at_least utf8 1
wait_for 15 "the 10 KB message at small" peer_at_least small 1
((V6)) && wait_for 15 "the message at the IPv6 peer" peer_at_least v6 1
wait_for 15 "three DSNs in alice's Maildir" maildir_at_least example.test/alice 3

py <<'EOF'
import json, os, re
from lib import *
from relay_lib import *
sent = json.load(open(os.path.join(os.environ["T"], "sent.json")))
log = petrel_log()
A = "alice@example.test"

def line(key, rcpt, rest):
    rx = r"%s: to=<%s>, (?:orig_to=<[^>]*>, )?relay=%s" % (sent[key]["id"], re.escape(rcpt), rest)
    check(re.search(rx, log, re.M), "no log line matches /%s/; lines for <%s>:\n%s" % (
        rx, rcpt, "\n".join(l for l in log.splitlines() if "to=<%s>" % rcpt in l)))

def only(peer, key, rcpt, proto="ESMTP"):
    msgs = peer_messages(peer)
    check(len(msgs) == 1, "%s received %d messages, want 1: %r" % (peer, len(msgs), [m["rcpt_tos"] for m, _ in msgs]))
    meta, content = msgs[0]
    where = "%s at %s" % (key, peer)
    check(meta["mail_from"] == A and meta["rcpt_tos"] == [rcpt],
          "%s: envelope <%s> -> %r" % (where, meta["mail_from"], meta["rcpt_tos"]))
    # proto: how petrel received it ("with UTF8SMTP" after MAIL ... SMTPUTF8).
    check_relayed(content, sent[key]["msg"].encode("utf-8"), where, queue_id=sent[key]["id"],
                  for_addr=rcpt, proto=proto)
    return meta

# The DSNs, by the Subject they return.
dsns = {}
for path in maildir_files("example.test/alice"):
    d = parse_dsn(path)
    m = re.search(r"(?m)^Subject: t-44 (\w+)", d["headers"])
    check(m is not None, "%s: no returned Subject header: %r" % (path, d["headers"][:400]))
    check(m.group(1) not in dsns, "two DSNs for %s" % m.group(1))
    dsns[m.group(1)] = path
check(sorted(dsns) == ["big", "utf8hdr", "utf8rcpt"], "DSNs for %s, want big, utf8hdr, utf8rcpt" % sorted(dsns))

# ---- 1: SMTPUTF8
utf8_fail = {"status": "5.6.7", "diagnostic": r"SMTPUTF8"}
check_dsn(dsns["utf8hdr"], A, {"user@noutf8.test": utf8_fail}, original_subject=None)
line("utf8hdr", "user@noutf8.test", r"mx\.noutf8\.test\[127\.0\.0\.3\]:25, .*dsn=5\.6\.7, status=bounced \(.*SMTPUTF8")
line("utf8rcpt", "jösé@noutf8.test", r"mx\.noutf8\.test\[127\.0\.0\.3\]:25, .*dsn=5\.6\.7, status=bounced \(.*SMTPUTF8")
# The UTF-8 address in the DSN, as raw bytes (the DSN is message/delivery-status, not RFC 6533's
# message/global-delivery-status: docs/relay.md), and field by field.
raw = open(dsns["utf8rcpt"], "rb").read()
check("Final-Recipient: rfc822; jösé@noutf8.test\n".encode() in raw,
      "the utf8rcpt DSN does not name jösé@noutf8.test:\n%s" % raw.decode("utf-8", "replace"))
check_dsn(dsns["utf8rcpt"], A, {"jösé@noutf8.test": utf8_fail}, original_subject="t-44 utf8rcpt")

meta = only("noutf8", "ascii", "plain@noutf8.test")
check("SMTPUTF8" not in meta["mail_options"], "SMTPUTF8 on MAIL for an ASCII message: %r" % meta["mail_options"])
ev = peer_events("noutf8")
check(len(re.findall(r"^conn \d+: C: MAIL ", ev, re.M)) == 1, "noutf8 saw MAIL more than once:\n" + ev)
check(re.findall(r"^conn \d+: C: RCPT (.*)$", ev, re.M) == ["TO:<plain@noutf8.test>"],
      "noutf8 saw RCPT for a message needing SMTPUTF8:\n" + ev)
check(not re.search(r"^conn \d+: S: 250-SMTPUTF8", ev, re.M), "the noutf8 peer announced SMTPUTF8:\n" + ev)
line("ascii", "plain@noutf8.test", r"mx\.noutf8\.test\[127\.0\.0\.3\]:25, .*dsn=2\.0\.0, status=sent \(250 ")

meta = only("utf8", "utf8ok", "jösé@utf8.test", proto="UTF8SMTP")
check("SMTPUTF8" in meta["mail_options"], "no SMTPUTF8 on MAIL at the SMTPUTF8 peer: %r" % meta["mail_options"])
check(re.search(r"^conn \d+: C: MAIL FROM:<alice@example\.test>.* SMTPUTF8", peer_events("utf8"), re.M),
      "utf8: MAIL without SMTPUTF8:\n" + peer_events("utf8"))
line("utf8ok", "jösé@utf8.test", r"mx\.utf8\.test\[127\.0\.0\.4\]:25, .*dsn=2\.0\.0, status=sent \(250 ")

# ---- 2: SIZE
check_dsn(dsns["big"], A, {"big@small.test": {
    "status": "5.3.4", "diagnostic": r"message too big for peer: \d+ octets, its SIZE limit is 20000"}},
    original_subject="t-44 big")
line("big", "big@small.test", r"mx\.small\.test\[127\.0\.0\.5\]:25, .*dsn=5\.3\.4, status=bounced \(.*SIZE limit is 20000")
meta = only("small", "medium", "ok@small.test")
check(len(sent["big"]["msg"]) > 30000 and 10000 < meta["size"] < 20000,
      "sizes: big %d, medium at the peer %d" % (len(sent["big"]["msg"]), meta["size"]))
sizes = [o for o in meta["mail_options"] if o.upper().startswith("SIZE=")]
check(sizes == ["SIZE=%d" % meta["size"]], "medium: MAIL parameters %r, want SIZE=%d (the octets received)"
      % (meta["mail_options"], meta["size"]))
ev = peer_events("small")
check(re.search(r"^conn \d+: S: 250-SIZE 20000$", ev, re.M), "small did not announce SIZE 20000:\n" + ev)
mails = re.findall(r"^conn \d+: C: MAIL (.*)$", ev, re.M)
check(len(mails) == 1, "small saw %d MAIL commands, want 1 (none for the 30 KB message):\n%s" % (len(mails), ev))
check(re.findall(r"^conn \d+: C: RCPT (.*)$", ev, re.M) == ["TO:<ok@small.test>"],
      "small saw RCPT for the big message:\n" + ev)
line("medium", "ok@small.test", r"mx\.small\.test\[127\.0\.0\.5\]:25, .*dsn=2\.0\.0, status=sent \(250 ")

# ---- 5: IPv6
if os.environ["V6"] == "1":
    meta = only("v6", "v6", "u@v6.test")
    check(meta["client"] == "::1", "v6: the peer saw client %r, want ::1" % meta["client"])
    line("v6", "u@v6.test", r"mx\.v6\.test\[::1\]:25, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as V6-0001\)")
EOF

# ---- part 3: the burst ---------------------------------------------------------------------------
wait_for 20 "30 messages at busy" peer_at_least busy 30
busy_closed() {
  py -c 'from relay_lib import *
c = peer_connections("busy")
raise SystemExit(0 if c["count"] > 0 and len(c["end"]) == c["count"] else 1)'
}
wait_for 12 "petrel to end its idle connections to busy (connection_cache_time 3s)" busy_closed
py <<'EOF'
import collections, json, os, re
from lib import *
from relay_lib import *
sent = json.load(open(os.path.join(os.environ["T"], "sent.json")))
burst = sent["burst"]
log = petrel_log()
msgs = peer_messages("busy")
rcpts = [r for m, _ in msgs for r in m["rcpt_tos"]]
check(sorted(rcpts) == sorted(burst), "busy got %d recipients (%d distinct), want the 30 of the burst"
      % (len(rcpts), len(set(rcpts))))
for rcpt, qid in burst.items():
    n = len(re.findall(r"%s: to=<%s>, relay=mx\.busy\.test\[127\.0\.0\.6\]:25, .*dsn=2\.0\.0, status=sent \(250 "
                       % (qid, re.escape(rcpt)), log))
    check(n == 1, "%s (%s): %d status=sent lines, want 1" % (rcpt, qid, n))
conns = peer_connections("busy")
per_conn = collections.Counter(m["conn"] for m, _ in msgs)
print("t-44-relay-limits: burst submitted in %.2fs; busy saw %d connection(s), at most %d at once, "
      "messages per connection %s" % (sent["burst_seconds"], conns["count"], conns["max_live"],
                                      dict(sorted(per_conn.items()))))
check(conns["max_live"] <= 2, "destination_concurrency 2, but busy had %d connections at once: %r"
      % (conns["max_live"], conns["events"]))
check(conns["count"] < 30, "no connection reuse: %d connections for 30 messages" % conns["count"])
check(max(per_conn.values()) > 1, "no connection carried two messages: %r" % dict(per_conn))
# Each connection ended politely (QUIT) after idling for connection_cache_time.
ev = peer_events("busy")
last_msg = {}
for m, _ in msgs:
    t = os.path.getmtime(os.path.join(relay_dir(), "busy", "%04d.json" % m["seq"]))
    last_msg[m["conn"]] = max(last_msg.get(m["conn"], 0), t)
for conn, opened in conns["open"].items():
    cmds = re.findall(r"^conn %d: C: (\S+)" % conn, ev, re.M)
    check(cmds and cmds[-1] == "QUIT", "connection %d to busy ended without QUIT; commands: %r" % (conn, cmds[-5:]))
    if conn in last_msg:
        idle = conns["end"][conn] - last_msg[conn]
        check(2.5 <= idle <= 8, "connection %d: QUIT %.2fs after its last message, want about 3s "
              "(connection_cache_time)" % (conn, idle))
EOF

# ---- the end --------------------------------------------------------------------------------------
sleep 0.5  # a fourth DSN (say, for the deferred message) would have arrived by now
assert_eq 3 "$(count_maildir example.test/alice)" "DSNs in alice's Maildir"
MUTE_ID="$(id_of mute)"
[[ "$(queue_count)" -eq 1 ]] || fail "only the mute message should be queued: $(petrel queue list)"
petrel queue delete "$MUTE_ID" >/dev/null || fail "petrel queue delete $MUTE_ID failed"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
((V6)) && stop_harness v6
stop_harness world
pass
