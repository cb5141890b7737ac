#!/usr/bin/env bash
# Setup: one `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT
#   (status); quick-start config with limits idle_timeout 2s, data_timeout 2s,
#   session_timeout 4s, errors_per_session 3; raw Python sockets as clients.
# A silent client gets "421 4.4.2 ... timeout exceeded" after idle_timeout and is closed; one
# that stalls inside DATA gets the same after data_timeout and nothing is queued; a client that
# keeps talking is still cut off after session_timeout; the 3rd error gets its reply, then
# "421 4.7.0 ... too many errors" and the connection is closed.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config 'limits: {idle_timeout: 2s, data_timeout: 2s, session_timeout: 4s, errors_per_session: 3}'
start_petrel

py <<'EOF'
import threading, time
from lib import *

def timed_out(c, what):
    r = expect_reply(c.read_reply(), 421, "4.4.2", what)
    check("timeout exceeded" in r.text, "%s: %r" % (what, r))
    check(c.is_closed(), "%s: connection still open after 421" % what)

results = {}
def idle():
    c = Client(); c.ehlo()
    t0 = time.time()
    timed_out(c, "idle session")
    results["idle"] = time.time() - t0
def data():
    c = Client(); c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    c.send(b"Subject: stalled\r\n\r\nhalf a messa")
    t0 = time.time()
    timed_out(c, "stalled DATA")
    results["data"] = time.time() - t0
def chatty():
    c = Client(); c.ehlo()
    t0 = time.time()
    while True:
        c.send(b"NOOP\r\n")
        r = c.read_reply()
        if r.code != 250:
            break
        check(time.time() - t0 < 8, "session_timeout 4s: still served after 8s")
        time.sleep(0.5)
    expect_reply(r, 421, "4.4.2", "session past session_timeout")
    check(c.is_closed(), "chatty session not closed after 421")
    results["session"] = time.time() - t0
ts = [threading.Thread(target=f) for f in (idle, data, chatty)]
[t.start() for t in ts]; [t.join(20) for t in ts]
for k, lo, hi in (("idle", 1.8, 3.5), ("data", 1.8, 3.5), ("session", 3.5, 5.5)):
    check(k in results, "%s case did not finish (see its error above)" % k)
    check(lo <= results[k] <= hi, "%s timeout after %.1fs, want %.1f..%.1f" % (k, results[k], lo, hi))

c = Client(); c.ehlo()
c.expect("FOO", 502, "5.5.2")
c.expect("RCPT TO:<alice@example.test>", 503, "5.5.1")
c.expect("BAR", 502, "5.5.2")
r = expect_reply(c.read_reply(), 421, "4.7.0", "after the 3rd error")
check("too many errors" in r.text, "reply: %r" % r)
check(c.is_closed(), "connection still open after too many errors")
check(queue_list() == [], "something was queued")
EOF
assert_eq 1 "$(log_count 'petrel/smtpd\[[0-9]+\]: timeout after DATA from unknown\[127\.0\.0\.1\]')" "'timeout after DATA' lines"
assert_eq 0 "$(spool_count)" "spool files left by the stalled DATA"
stop_petrel
pass
