#!/usr/bin/env bash
# Setup: `petrel serve` (quick-start config, hostname mx.petrel.test, dns.servers -> the test's
#   DNS server, queue.min_backoff = max_backoff = 1s) on 127.0.0.1:$SMTP_PORT; relay_lib.py
#   serves DNS on 127.0.0.1:$DNS_PORT and aiosmtpd peers on 127.0.0.3:25 (mx.remote.test: 550
#   for bad@, 451 once for later@, 451 always for slow@) and 127.0.0.4:25 (mx.datafail.test:
#   554 after DATA). Mail comes from alice@example.test (a local mailbox, so DSNs land in her
#   Maildir) over a raw socket from 127.0.0.1.
# Part 1 (queue.max_lifetime 8s), each message on its own:
#   - null MX (RFC 7505) -> bounced at once, DSN Status 5.1.10
#   - NXDOMAIN -> bounced at once, DSN Status 5.1.2
#   - good@ + bad@ at one peer -> good@ delivered (the peer's envelope holds only good@), DSN for
#     bad@ only, Status 5.1.1, Remote-MTA "dns; mx.remote.test", Diagnostic-Code
#     "smtp; 550 5.1.1 <bad@...>: ..." (RFC 3464); DSNs for failures without a peer have no
#     Remote-MTA
#   - ok2@ + later@ -> ok2@ delivered, later@ deferred (451 in the log), then delivered alone on
#     the retry; no DSN
#   - 554 after DATA -> both recipients bounced, one DSN naming both, Status 5.6.0
#   - loop.test: MX 10 is our own hostname, MX 20 a live peer -> 5.4.6 "loops back to myself",
#     and the MX 20 peer (a backup after ourselves) never sees the recipient
#   - a message from <> refused with 550 -> bounced, logged, no DSN (no bounce of a bounce)
#   - slow@ (451 forever), and in another message y@broken.test (SERVFAIL: dsn=4.4.3) ->
#     deferred until max_lifetime, then a DSN each, Status 4.4.7, slow@'s Diagnostic-Code
#     quoting the 451
#   Every DSN is checked field by field with Python's email package (multipart/report;
#   report-type=delivery-status, text/plain + message/delivery-status + the returned headers,
#   Reporting-MTA, Final-Recipient, Action: failed, Status), exactly seven arrive, the queue ends
#   empty.
# Part 2 (restart, max_lifetime 1h): dns.servers is a port nothing listens on -> the message
#   is deferred (dsn=4.4.3, status=deferred), stays in `petrel queue list` as deferred, no DSN.
#   The config is pointed at the live DNS server, `petrel reload`, `petrel queue flush`: it is
#   delivered.
# Part 3 (queue.delay_warning 2s): two messages to slow@ (451 forever), one with NOTIFY=FAILURE:
#   exactly one "delayed" DSN (Action: delayed, Status 4.3.0, the 451 as Diagnostic-Code), for
#   the message without NOTIFY, and the messages stay queued.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/relay_lib.sh"
need_relay_harness 127.0.0.3:25 127.0.0.4:25

pick_ports DNS_PORT DEAD_DNS_PORT
start_harness world "
dns:
  address: 127.0.0.1:$DNS_PORT
  zones:
    remote.test: {MX: ['10 mx.remote.test']}
    mx.remote.test: {A: [127.0.0.3]}
    nullmx.test: {MX: ['0 .']}
    datafail.test: {MX: ['10 mx.datafail.test']}
    mx.datafail.test: {A: [127.0.0.4]}
    loop.test: {MX: ['10 mx.petrel.test', '20 mx.remote.test']}
    mx.petrel.test: {A: [127.0.0.1]}
    broken.test: SERVFAIL
peers:
  - name: mx
    address: 127.0.0.3:25
    hostname: mx.remote.test
    rcpt: {bad@remote.test: reject, later@remote.test: tempfail_once, slow@remote.test: tempfail}
  - name: datafail
    address: 127.0.0.4:25
    hostname: mx.datafail.test
    data_reply: '554 5.6.0 Content rejected'
"

relay_config() {  # DNS_SERVER_PORT MAX_LIFETIME [DELAY_WARNING]
  write_config "
hostname: mx.petrel.test
dns: {servers: ['127.0.0.1:$1']}
relay:
  tls: may
  connection_cache_time: 1s
  timeouts: {connect: 3s, greeting: 5s, command: 5s, data_init: 5s, data_block: 5s, data_done: 5s}
queue: {max_lifetime: $2, min_backoff: 1s, max_backoff: 1s, delay_warning: ${3:-0}}
"
  check_config
}

# ---- part 1 ----------------------------------------------------------------------------------
relay_config "$DNS_PORT" 8s
start_petrel

py <<'EOF'
import json, os
from lib import *
T = os.environ["T"]
ids = {}
def submit(key, rcpts, sender="alice@example.test"):
    msg = make_message("t-42 " + key, ["about %s" % key], msgid="<t42-%s@example.test>" % key,
                       sender=sender or "mailer-daemon@example.net", to=rcpts[0])
    ids[key] = send_message(sender, rcpts, msg)
submit("nullmx", ["u@nullmx.test"])
submit("nxdomain", ["u@nosuch.test"])
submit("split", ["good@remote.test", "bad@remote.test"])
submit("retry", ["ok2@remote.test", "later@remote.test"])
submit("datafail", ["a@datafail.test", "b@datafail.test"])
submit("loop", ["u@loop.test"])
submit("nullsender", ["bad@remote.test"], sender="")
submit("expire", ["slow@remote.test"])
submit("expiredns", ["y@broken.test"])
json.dump(ids, open(os.path.join(T, "ids.json"), "w"))
EOF
id_of() { py -c 'import json,sys,os; print(json.load(open(os.environ["T"]+"/ids.json"))[sys.argv[1]])' "$1"; }

wait_for 25 "seven DSNs in alice's Maildir" maildir_at_least example.test/alice 7
wait_for 10 "the queue to be empty" queue_empty
sleep 1.5  # an eighth DSN (say, for the <> message) would have arrived by now
assert_eq 7 "$(count_maildir example.test/alice)" "DSNs delivered to alice"

py <<'EOF'
import json, os, re
from lib import *
from relay_lib import *
ids = json.load(open(os.path.join(os.environ["T"], "ids.json")))
log = petrel_log()

def line(key, rcpt, rest):
    rx = r"%s: to=<%s>, (?:orig_to=<[^>]*>, )?relay=%s" % (ids[key], re.escape(rcpt), rest)
    check(re.search(rx, log, re.M), "no log line matches /%s/; lines for <%s>:\n%s" % (
        rx, rcpt, "\n".join(l for l in log.splitlines() if "to=<%s>" % rcpt in l)))

# The DSNs, by the Subject of the message they return.
dsns = {}
for path in maildir_files("example.test/alice"):
    d = parse_dsn(path)
    m = re.search(r"(?m)^Subject: t-42 (\S+)$", d["headers"])
    check(m is not None, "%s: no returned Subject header: %r" % (path, d["headers"][:400]))
    check(m.group(1) not in dsns, "two DSNs for %s" % m.group(1))
    dsns[m.group(1)] = path
check(sorted(dsns) == sorted(["nullmx", "nxdomain", "split", "datafail", "loop", "expire", "expiredns"]),
      "DSNs for %s" % sorted(dsns))

A = "alice@example.test"
d = check_dsn(dsns["nullmx"], A, {"u@nullmx.test": {"status": "5.1.10", "remote_mta": None}},
              original_subject="t-42 nullmx")
check(d["per_message"].get("arrival-date"), "no Arrival-Date in %s" % dsns["nullmx"])
line("nullmx", "u@nullmx.test", r"[^,]+, .*dsn=5\.1\.10, status=bounced \(")

check_dsn(dsns["nxdomain"], A, {"u@nosuch.test": {"status": "5.1.2", "remote_mta": None}})
line("nxdomain", "u@nosuch.test", r"[^,]+, .*dsn=5\.1\.2, status=bounced \(")

check_dsn(dsns["split"], A, {"bad@remote.test": {
    "status": "5.1.1", "remote_mta": "dns; mx.remote.test",
    "diagnostic": r"^smtp; ?550 5\.1\.1 <bad@remote\.test>: Recipient address rejected: User unknown"}})
line("split", "bad@remote.test", r"mx\.remote\.test\[127\.0\.0\.3\]:25, .*dsn=5\.1\.1, status=bounced \(.*550 5\.1\.1 <bad@remote\.test>: Recipient address rejected")
line("split", "good@remote.test", r"mx\.remote\.test\[127\.0\.0\.3\]:25, .*dsn=2\.0\.0, status=sent \(250 ")

both = {"status": "5.6.0", "diagnostic": r"^smtp; ?554 5\.6\.0 Content rejected$",
        "remote_mta": "dns; mx.datafail.test"}
check_dsn(dsns["datafail"], A, {"a@datafail.test": both, "b@datafail.test": both})
for r in ("a@datafail.test", "b@datafail.test"):
    line("datafail", r, r"mx\.datafail\.test\[127\.0\.0\.4\]:25, .*dsn=5\.6\.0, status=bounced \(.*554 5\.6\.0 Content rejected")

check_dsn(dsns["loop"], A, {"u@loop.test": {"status": "5.4.6", "diagnostic": r"loops back to myself",
                                           "remote_mta": None}})
line("loop", "u@loop.test", r"[^,]+, .*dsn=5\.4\.6, status=bounced \(.*loops back to myself")

check_dsn(dsns["expire"], A, {"slow@remote.test": {
    "status": "4.4.7", "remote_mta": "dns; mx.remote.test",
    "diagnostic": r"^smtp; ?451 4\.3\.0 <slow@remote\.test>: Temporary failure"}})
check_dsn(dsns["expiredns"], A, {"y@broken.test": {"status": "4.4.7", "remote_mta": None}})
line("expire", "slow@remote.test", r"mx\.remote\.test\[127\.0\.0\.3\]:25, .*status=deferred \(.*451 4\.3\.0 <slow@remote\.test>")
line("expiredns", "y@broken.test", r"[^,]+, .*dsn=4\.4\.3, status=deferred \(")
line("expire", "slow@remote.test", r"[^,]+, .*dsn=4\.4\.7, status=bounced \(")
line("expiredns", "y@broken.test", r"[^,]+, .*dsn=4\.4\.7, status=bounced \(")

# The 4xx, then the retry.
line("retry", "later@remote.test", r"mx\.remote\.test\[127\.0\.0\.3\]:25, .*dsn=4\.3\.0, status=deferred \(.*451 4\.3\.0 <later@remote\.test>: Temporary failure")
line("retry", "later@remote.test", r"mx\.remote\.test\[127\.0\.0\.3\]:25, .*dsn=2\.0\.0, status=sent \(250 ")
line("retry", "ok2@remote.test", r"mx\.remote\.test\[127\.0\.0\.3\]:25, .*dsn=2\.0\.0, status=sent \(250 ")
check(len(re.findall(r"%s: to=<ok2@remote\.test>.*status=sent" % ids["retry"], log)) == 1,
      "ok2@remote.test delivered more than once")

# No bounce of a bounce: logged as bounced, and nothing was queued for <>.
line("nullsender", "bad@remote.test", r"mx\.remote\.test\[127\.0\.0\.3\]:25, .*dsn=5\.1\.1, status=bounced \(")
check(not re.search(r"%s: sender non-delivery notification" % ids["nullsender"], log),
      "a bounce was made for a message from <>")

# What the peer received: good@ alone, ok2@ alone, later@ alone (on the retry), nothing else.
msgs = peer_messages("mx")
got = [(m["rcpt_tos"], m["mail_from"]) for m, _ in msgs]
want = [(["good@remote.test"], A), (["ok2@remote.test"], A), (["later@remote.test"], A)]
check(sorted(got) == sorted(want), "mx received %r, want %r" % (got, want))
for m, content in msgs:
    check(b"Subject: t-42 split\r\n" in content if m["rcpt_tos"] == ["good@remote.test"]
          else b"Subject: t-42 retry\r\n" in content, "mx got the wrong content for %r" % m["rcpt_tos"])
check(peer_messages("datafail") == [], "the datafail peer stored a message")
ev = peer_events("mx")
check("u@loop.test" not in ev, "the backup MX of loop.test was tried:\n%s" % ev)
check(len(re.findall(r"C: RCPT TO:<later@remote\.test>", ev)) == 2, "later@ was not tried exactly twice")
EOF

stop_petrel

# ---- part 2: DNS down --------------------------------------------------------------------------
relay_config "$DEAD_DNS_PORT" 1h
start_petrel
py <<'EOF'
import os
from lib import *
msg = make_message("t-42 dnsdown", ["waits for DNS"], msgid="<t42-dnsdown@example.test>",
                   sender="alice@example.test", to="w@remote.test")
open(os.path.join(os.environ["T"], "dnsdown.id"), "w").write(send_message("alice@example.test", ["w@remote.test"], msg))
EOF
DID="$(cat "$T/dnsdown.id")"
wait_for 15 "two deferrals of $DID" eval \
  '[[ $(log_count "$DID: to=<w@remote\.test>, relay=[^,]*, .*dsn=4\.4\.3, status=deferred \(") -ge 2 ]]'
DID="$DID" py <<'EOF'
import os, time
from lib import *
q = queue_list()
check([m["id"] for m in q] == [os.environ["DID"]], "queue: %r" % q)
r = q[0]["recipients"]
check(len(r) == 1 and r[0]["address"] == "w@remote.test" and r[0]["status"] == "deferred"
      and r[0]["attempts"] >= 1 and r[0]["last_error"], "queued recipient: %r" % r)
EOF
assert_eq 7 "$(count_maildir example.test/alice)" "DSNs after the DNS failure (none wanted)"
assert_eq 3 "$(peer_count mx)" "messages at mx while DNS is down"
petrel queue list | grep -q "^$DID" || fail "queue list does not show $DID: $(petrel queue list)"

# DNS back: reload with the live server, flush.
relay_config "$DNS_PORT" 1h
petrel reload >/dev/null || fail "petrel reload failed"
wait_for 10 "the reload" log_has 'petrel/master\[[0-9]+\]: reload -- '
petrel queue flush >/dev/null || fail "petrel queue flush failed"
wait_for 15 "the message at mx after DNS is back" peer_has mx 4
wait_for 10 "the queue to be empty" queue_empty
assert_log "$DID: to=<w@remote\\.test>, relay=mx\\.remote\\.test\\[127\\.0\\.0\\.3\\]:25, .*status=sent \\(250 " "delivery after DNS came back"
assert_eq 7 "$(count_maildir example.test/alice)" "DSNs after part 2"
stop_petrel

# ---- part 3: delay warning ------------------------------------------------------------------------
relay_config "$DNS_PORT" 1h 2s
start_petrel
py <<'EOF'
from lib import *
for key, notify in (("warn", ""), ("nowarn", " NOTIFY=FAILURE")):
    c = Client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@example.test>", 250)
    c.expect("RCPT TO:<slow@remote.test>%s" % notify, 250)
    c.expect("DATA", 354)
    c.expect_raw(dot_stuff(make_message("t-42 " + key, ["deferred for a while"], msgid="<t42-%s@example.test>" % key,
                                        sender="alice@example.test", to="slow@remote.test")), 250, "2.0.0")
    c.expect("QUIT", 221)
    c.close()
EOF
wait_for 10 "the delay warning in alice's Maildir" maildir_at_least example.test/alice 8
sleep 3  # a second warning, or one for NOTIFY=FAILURE, would have arrived by now
assert_eq 8 "$(count_maildir example.test/alice)" "DSNs after the delay warning (one wanted)"
py <<'EOF'
import re
from lib import *
from relay_lib import *
for path in maildir_files("example.test/alice"):
    d = parse_dsn(path)
    if re.search(r"(?m)^Subject: t-42 warn$", d["headers"]):
        break
else:
    fail("no DSN returns the headers of 't-42 warn'")
check_dsn(path, "alice@example.test", {"slow@remote.test": {
    "action": "delayed", "status": r"^4\.3\.0$", "remote_mta": "dns; mx.remote.test",
    "diagnostic": r"^smtp; ?451 4\.3\.0 <slow@remote\.test>"}})
EOF
[[ "$(queue_count)" -eq 2 ]] || fail "the delayed messages should still be queued: $(petrel queue list)"
petrel queue delete ALL >/dev/null
stop_petrel
stop_harness world
pass
