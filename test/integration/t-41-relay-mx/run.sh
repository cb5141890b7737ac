#!/usr/bin/env bash
# Setup: `petrel serve` (quick-start config, hostname mx.petrel.test, dns.servers pointing at
#   the test's DNS server, relay.tls: may) on 127.0.0.1:$SMTP_PORT; relay_lib.py as the rest of
#   the world: a DNS server on 127.0.0.1:$DNS_PORT and aiosmtpd peers on port 25 of
#   127.0.0.4 (mx2.remote.test), .5 (amx.test), .6 (mx.other.test), .7 and .8 (pref.test).
#   Nothing listens on 127.0.0.3, the address of mx1.remote.test: connections are refused.
#   Mail is submitted from 127.0.0.1 (in mynetworks) with a raw Python client, once from
#   127.0.0.2 (outside). relay.transport: routed.test -> "smtp:[127.0.0.5]:25", .parent.test ->
#   "other.test"; domains.relay: [partner.test].
# MX routing: remote.test has MX 10 mx1 (refuses) and MX 20 mx2: every message arrives at mx2
# in the first attempt, nothing is deferred. pref.test lists MX 20 before MX 10 in the answer:
# the MX 10 host gets the mail, the MX 20 one nothing. amx.test has no MX (NODATA): the mail
# goes to its A record (implicit MX, RFC 5321 5.1). Three messages with three recipients each
# (one > 32 KiB so it comes from a spool file, lines starting with dots, 8-bit UTF-8 text)
# arrive as one transaction each with all three recipients; a message to a remote.test, an
# other.test and a local recipient is split between two peers and a Maildir. Each peer got
# MAIL FROM the sender, EHLO mx.petrel.test, and the bytes petrel accepted: its Received:
# header (with "for <rcpt>" only for a single recipient) then the message, byte for byte.
# The log has "ID: to=<rcpt>, relay=mx2.remote.test[127.0.0.4]:25, delay=.., delays=a/b/c/d,
# dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as <the peer's id for that message>)" for
# every recipient; BODY=8BITMIME is passed on; no DSN reaches the sender, the queue ends
# empty, and petrel closes its idle connections after connection_cache_time with QUIT.
# Transport: routed.test goes to [127.0.0.5] without any DNS lookup of routed.test;
# deep.parent.test matches ".parent.test" and goes to other.test's MX. domains.relay: from
# 127.0.0.2 (outside mynetworks) partner.test is accepted and relayed (to its MX, mx2) while
# remote.test is refused with 554 5.7.1.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/relay_lib.sh"
need_relay_harness 127.0.0.4:25 127.0.0.5:25 127.0.0.6:25 127.0.0.7:25 127.0.0.8:25 127.0.0.2:0

pick_ports DNS_PORT
start_harness world "
dns:
  address: 127.0.0.1:$DNS_PORT
  zones:
    remote.test: {MX: ['10 mx1.remote.test', '20 mx2.remote.test']}
    mx1.remote.test: {A: [127.0.0.3]}
    mx2.remote.test: {A: [127.0.0.4]}
    amx.test: {A: [127.0.0.5]}
    other.test: {MX: ['10 mx.other.test']}
    mx.other.test: {A: [127.0.0.6]}
    pref.test: {MX: ['20 mx20.pref.test', '10 mx10.pref.test']}
    mx20.pref.test: {A: [127.0.0.7]}
    mx10.pref.test: {A: [127.0.0.8]}
    partner.test: {MX: ['10 mx2.remote.test']}
    routed.test: {MX: ['10 mx2.remote.test']}
    parent.test: {MX: ['10 mx2.remote.test']}
peers:
  - {name: mx2, address: '127.0.0.4:25', hostname: mx2.remote.test}
  - {name: amx, address: '127.0.0.5:25', hostname: amx.test}
  - {name: other, address: '127.0.0.6:25', hostname: mx.other.test}
  - {name: pref20, address: '127.0.0.7:25', hostname: mx20.pref.test}
  - {name: pref10, address: '127.0.0.8:25', hostname: mx10.pref.test}
"

write_config "
hostname: mx.petrel.test
dns: {servers: ['127.0.0.1:$DNS_PORT']}
domains: {relay: [partner.test]}
tables:
  transport: {type: inline, map: {routed.test: 'smtp:[127.0.0.5]:25', .parent.test: other.test}}
relay:
  tls: may
  transport: transport
  connection_cache_time: 2s
  timeouts: {connect: 3s, greeting: 5s, command: 5s, data_init: 5s, data_block: 5s, data_done: 5s}
queue: {min_backoff: 1s, max_backoff: 2s}
"
check_config
start_petrel

py <<'EOF'
import json, os
from lib import *
T = os.environ["T"]
dot_lines = [".starts with a dot", "..two dots", ".", " .space dot", "end"]
big = ["%05d %s" % (i, "x" * 70) for i in range(600)]          # ~46 KB: a spool slot
utf8 = ["Grüße aus Köln, 日本語のテキスト"]
three = ["a@remote.test", "b@remote.test", "c@remote.test"]
sent = {}
def submit(key, rcpts, lines, extra=(), params=""):
    msg = make_message("t-41 " + key, lines, msgid="<t41-%s@example.test>" % key,
                       sender="alice@example.test", to=rcpts[0], extra_headers=extra)
    qid = send_message("alice@example.test", rcpts, msg, mail_params=params)
    sent[key] = {"id": qid, "rcpts": rcpts, "msg": msg.decode("utf-8")}
submit("m1", three, ["first of three"] + dot_lines)
submit("m2", three, ["second of three, large"] + big + dot_lines)
submit("m3", three, utf8, extra=("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                                 "Content-Transfer-Encoding: 8bit"), params=" BODY=8BITMIME")
submit("single", ["solo@amx.test"], ["one recipient, no MX: the A record"])
submit("mixed", ["x@remote.test", "y@other.test", "bob@example.test"], ["split three ways"])
submit("pref", ["u@pref.test"], ["the lower preference value wins"])
submit("routed", ["u@routed.test"], ["transport: [127.0.0.5]"])
submit("parent", ["u@deep.parent.test"], ["transport: .parent.test -> other.test"])
# From outside mynetworks: the relay domain is accepted, another foreign domain is not.
msg = make_message("t-41 partner", ["relay_domains"], msgid="<t41-partner@example.test>",
                   sender="someone@example.net", to="u@partner.test")
c = Client(source="127.0.0.2")
c.ehlo()
c.expect("MAIL FROM:<someone@example.net>", 250)
c.expect("RCPT TO:<u@remote.test>", 554, "5.7.1")
c.expect("RCPT TO:<u@partner.test>", 250)
c.expect("DATA", 354)
sent["partner"] = {"id": queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0")),
                   "rcpts": ["u@partner.test"], "msg": msg.decode("utf-8")}
c.expect("QUIT", 221)
c.close()
with open(os.path.join(T, "sent.json"), "w") as f:
    json.dump(sent, f)
EOF

wait_for 20 "5 messages at mx2" peer_at_least mx2 5
wait_for 10 "2 messages at amx" peer_at_least amx 2
wait_for 10 "2 messages at other" peer_at_least other 2
wait_for 10 "1 message at pref10" peer_at_least pref10 1
wait_for 10 "bob's copy of the mixed message" maildir_at_least example.test/bob 1
wait_for 10 "the queue to be empty" queue_empty
sleep 0.5  # anything sent twice or to the wrong peer would have arrived by now

py <<'EOF'
import json, os, re
from lib import *
from relay_lib import *
T = os.environ["T"]
sent = json.load(open(os.path.join(T, "sent.json")))
log = petrel_log()

def got(peer, n):
    msgs = peer_messages(peer)
    check(len(msgs) == n, "peer %s received %d messages, want %d: %r"
          % (peer, len(msgs), n, [m[0]["rcpt_tos"] for m in msgs]))
    return msgs

def verify(peer, key, relay, want_rcpts, meta, content):
    s = sent[key]
    where = "%s at %s (%s)" % (key, peer, meta["id"])
    sender = "someone@example.net" if key == "partner" else "alice@example.test"
    check(meta["mail_from"] == sender, "%s: MAIL FROM <%s>" % (where, meta["mail_from"]))
    check(meta["helo"] == "mx.petrel.test", "%s: EHLO %r, want mx.petrel.test" % (where, meta["helo"]))
    check(sorted(meta["rcpt_tos"]) == sorted(want_rcpts),
          "%s: recipients %r, want %r" % (where, meta["rcpt_tos"], want_rcpts))
    check_relayed(content, s["msg"].encode("utf-8"), where, queue_id=s["id"],
                  for_addr=s["rcpts"][0] if len(s["rcpts"]) == 1 else None,
                  client_ip="127.0.0.2" if key == "partner" else "127.0.0.1")
    for r in want_rcpts:
        rx = (r"%s: to=<%s>, (?:orig_to=<[^>]*>, )?relay=%s, delay=[0-9.]+, "
              r"delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2\.0\.0, "
              r"status=sent \(250 2\.0\.0 Ok: queued as %s\)$"
              % (s["id"], re.escape(r), re.escape(relay), re.escape(meta["id"])))
        check(re.search(rx, log, re.M), "%s: no log line matches /%s/; lines for it:\n%s" % (
            where, rx, "\n".join(l for l in log.splitlines() if "to=<%s>" % r in l)))

def by_id(msgs):
    out = {}
    for meta, content in msgs:
        m = RELAY_RECEIVED_RE.match(content)
        check(m is not None, "%s: no Received header of ours: %r" % (meta["id"], content[:300]))
        qid = m.group("id").decode()
        check(qid not in out, "message %s received twice by the same peer" % qid)
        out[qid] = (meta, content)
    return out

# mx2: the three 3-recipient messages, the remote.test part of the mixed one, partner.test.
mx2 = by_id(got("mx2", 5))
for key, rcpts in (("m1", None), ("m2", None), ("m3", None), ("mixed", ["x@remote.test"]),
                   ("partner", None)):
    qid = sent[key]["id"]
    check(qid in mx2, "%s (%s) did not reach mx2 (it got %s)" % (key, qid, sorted(mx2)))
    verify("mx2", key, "mx2.remote.test[127.0.0.4]:25", rcpts or sent[key]["rcpts"], *mx2[qid])
check(mx2[sent["m2"]["id"]][0]["size"] > 32 * 1024, "m2 is not the large message")
check("BODY=8BITMIME" in mx2[sent["m3"]["id"]][0]["mail_options"],
      "m3 was sent with BODY=8BITMIME but relayed with MAIL parameters %r"
      % mx2[sent["m3"]["id"]][0]["mail_options"])

amx = by_id(got("amx", 2))
check(sorted(amx) == sorted([sent["single"]["id"], sent["routed"]["id"]]), "amx got %s" % sorted(amx))
verify("amx", "single", "amx.test[127.0.0.5]:25", ["solo@amx.test"], *amx[sent["single"]["id"]])
verify("amx", "routed", "127.0.0.5[127.0.0.5]:25", ["u@routed.test"], *amx[sent["routed"]["id"]])
other = by_id(got("other", 2))
check(sorted(other) == sorted([sent["mixed"]["id"], sent["parent"]["id"]]), "other got %s" % sorted(other))
verify("other", "mixed", "mx.other.test[127.0.0.6]:25", ["y@other.test"], *other[sent["mixed"]["id"]])
verify("other", "parent", "mx.other.test[127.0.0.6]:25", ["u@deep.parent.test"], *other[sent["parent"]["id"]])
meta, content = got("pref10", 1)[0]
verify("pref10", "pref", "mx10.pref.test[127.0.0.8]:25", ["u@pref.test"], meta, content)
got("pref20", 0)

# The local recipient of the mixed message: Maildir, as before the relay existed.
files = maildir_files("example.test/bob")
check(len(files) == 1, "bob has %d messages, want 1" % len(files))
data = open(files[0], "rb").read()
check(data.startswith(b"Return-Path: <alice@example.test>\nDelivered-To: bob@example.test\n"),
      "bob's copy: %r" % data[:200])
check(data.endswith(crlf_to_lf(sent["mixed"]["msg"].encode())), "bob's copy differs from what was sent")
check(re.search(r"%s: to=<bob@example\.test>, relay=virtual, .*status=sent" % sent["mixed"]["id"], log, re.M),
      "no local delivery line for bob")

# Nothing failed on the way: mx1's refused connection is not a deferral, and no DSN.
bad = [l for l in log.splitlines() if re.search(r"status=(deferred|bounced)", l)]
check(not bad, "deferred or bounced deliveries: %s" % "\n".join(bad))
check(maildir_files("example.test/alice") == [], "the sender got mail (a DSN?)")
for key, s in sent.items():
    check(re.search(r"%s: removed$" % s["id"], log, re.M), "%s (%s) not removed from the queue" % (key, s["id"]))

# Every peer saw our name; each connection began with EHLO mx.petrel.test.
for peer in ("mx2", "amx", "other", "pref10"):
    ev = peer_events(peer)
    ehlos = re.findall(r"^conn \d+: C: (?:EHLO|HELO) (.*)$", ev, re.M)
    check(ehlos and all(e == "mx.petrel.test" for e in ehlos), "%s: EHLO/HELO names %r" % (peer, ehlos))
EOF

# The DNS server was asked for the MX of each domain, and for mx1's address (tried first).
q="$(dns_queries)"
for want in "remote.test MX" "mx1.remote.test A" "mx2.remote.test A" "amx.test MX" "amx.test A" \
  "other.test MX" "pref.test MX" "mx10.pref.test A"; do
  grep -Eq "^(udp|tcp) ${want//./\\.}\$" <<<"$q" || fail "the DNS server was never asked '$want'; it saw:
$q"
done
grep -Eq '^(udp|tcp) example\.test ' <<<"$q" && fail "a local domain was looked up in DNS: $(grep 'example\.test' <<<"$q")"
grep -Eq '^(udp|tcp) (routed|deep\.parent)\.test ' <<<"$q" && fail "a domain with a transport entry was looked up: $q"

# Idle connections are closed after connection_cache_time (2s), politely: QUIT first.
all_closed() {
  [[ "$(peer_events mx2 | grep -c ': disconnect')" -eq "$(peer_events mx2 | grep -c ': connect from')" ]]
}
wait_for 10 "petrel to close its idle connections to mx2" all_closed
py <<'EOF'
import re
from lib import *
from relay_lib import *
ev = peer_events("mx2")
for conn in sorted(set(re.findall(r"^conn (\d+): connect from", ev, re.M))):
    cmds = re.findall(r"^conn %s: C: (\S+)" % conn, ev, re.M)
    check(cmds and cmds[-1] == "QUIT", "connection %s to mx2 closed without QUIT; commands: %r" % (conn, cmds))
EOF

stop_petrel
stop_harness world
pass
