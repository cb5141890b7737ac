#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config, relay.mynetworks: [127.0.0.1/32]) on
#   127.0.0.1:$SMTP_PORT (tls: none, restrictions: default) and 127.0.0.1:$STATUS_PORT;
#   an aiosmtpd sink playing the "foreign" mail host on 127.0.0.3:2525 (and on 127.0.0.3:25 when
#   that can be bound, which is where mail to user@[127.0.0.3] would go); raw Python sockets
#   bound to 127.0.0.2 (outside mynetworks) and swaks --local-interface 127.0.0.2 as clients.
# Open-relay battery: from outside mynetworks and without AUTH, every trick to get mail for a
# foreign domain accepted (percent hack, bang path, source route, quoted local part, double @,
# address literals, trailing dot, upper case, a local user as sender) is refused with 5xx or
# accepted only for a local mailbox. Afterwards the queue and the log hold no recipient outside
# example.test and the sink received nothing. Control: the same foreign RCPT from 127.0.0.1
# (inside mynetworks) is accepted, so the battery would notice an open relay.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks
"$PYTHON" -c 'import aiosmtpd' 2>/dev/null || skip "missing Python module aiosmtpd (python3-aiosmtpd)"
"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  skip "cannot bind 127.0.0.2 (no 127.0.0.0/8 on lo)"

write_config "
relay: {mynetworks: ['127.0.0.1/32']}
"

# The foreign host: records every RCPT and DATA it sees in $T/sink.log.
py_bg - <<'EOF'
import os, time
from aiosmtpd.controller import Controller
T = os.environ["T"]
LOG = os.path.join(T, "sink.log")

class Sink:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with open(LOG, "a") as f:
            f.write("RCPT %s from %s\n" % (address, session.peer))
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with open(LOG, "a") as f:
            f.write("DATA from=%s to=%s\n" % (envelope.mail_from, envelope.rcpt_tos))
        return "250 OK"

controllers, controllers_objs = [], []
for port in (2525, 25):
    try:
        c = Controller(Sink(), hostname="127.0.0.3", port=port)
        c.start()
        controllers.append(port)
        controllers_objs.append(c)
    except Exception:  # port 25 may be taken or need privileges
        if port == 2525:
            raise
with open(os.path.join(T, "sink.ready"), "w") as f:
    f.write(" ".join(map(str, controllers)))
deadline = time.time() + 120
while not os.path.exists(os.path.join(T, "sink.stop")) and time.time() < deadline:
    time.sleep(0.1)
for c in controllers_objs:
    c.stop()
EOF
SINK_PID=$PY_BG_PID
wait_for 15 "the aiosmtpd sink on 127.0.0.3:2525" test -e "$T/sink.ready"
log "sink listening on 127.0.0.3 port(s) $(cat "$T/sink.ready")"

start_petrel

py <<'EOF'
import os
from lib import *

OUTSIDE = "127.0.0.2"
battery = [
    "someone@foreign.example",
    "user%foreign.example@example.test",
    "foreign.example!user@example.test",
    "@example.test:user@foreign.example",
    '"user@foreign.example"@example.test',
    "user@foreign.example@example.test",
    "user@[192.0.2.1]",
    "user@[127.0.0.3]",
    "user@[IPv6:2001:db8::1]",
    "user@foreign.example.",
    "USER@FOREIGN.EXAMPLE",
    "user@sub.example.test",
    "user@example.test.foreign.example",
    "alice@example.test@foreign.example",
    "alice%example.test@foreign.example",
]
accepted = []
for i, rcpt in enumerate(battery):
    c = Client(source=OUTSIDE)
    c.ehlo("relay-probe.example.net")
    c.expect("MAIL FROM:<probe@example.net>", 250)
    r = c.cmd("RCPT TO:<%s>" % rcpt)
    check(r.code == 250 or 500 <= r.code < 600,
          "RCPT TO:<%s> from %s: %r (want 5xx, or 250 for a local mailbox)" % (rcpt, OUTSIDE, r))
    if r.code == 250:
        accepted.append(rcpt)
        c.expect("DATA", 354)
        msg = make_message("probe %d" % i, ["relay probe to %s" % rcpt],
                           msgid="<t33-probe-%d@example.net>" % i, sender="probe@example.net",
                           to="alice@example.test")
        c.expect_raw(dot_stuff(msg), 250, "2.0.0")
    c.expect("QUIT", 221)
    c.close()

# A local user's address as the sender changes nothing.
c = Client(source=OUTSIDE)
c.ehlo("relay-probe.example.net")
c.expect("MAIL FROM:<alice@example.test>", 250)
r = c.expect("RCPT TO:<someone@foreign.example>", 554, "5.7.1")
check("<someone@foreign.example>: Relay access denied" in r.text, "reply: %r" % r)
c.expect("RSET", 250)
# The same session can still mail a local user (the refusals are about relaying only).
c.expect("MAIL FROM:<probe@example.net>", 250)
c.expect("RCPT TO:<bob@example.test>", 250)
c.expect("DATA", 354)
msg = make_message("local from outside", ["for bob"], msgid="<t33-local@example.net>",
                   sender="probe@example.net", to="bob@example.test")
c.expect_raw(dot_stuff(msg), 250, "2.0.0")
c.expect("QUIT", 221)
c.close()
wait_maildir("example.test/bob", 1)
with open(os.path.join(os.environ["T"], "accepted"), "w") as f:
    f.write("\n".join(accepted))
EOF
[[ -s "$T/accepted" ]] && log "accepted for local delivery: $(tr '\n' ' ' <"$T/accepted")"

# swaks from outside mynetworks: refused at RCPT (swaks exits 24).
rc=0
swaks --local-interface 127.0.0.2 --server 127.0.0.1 --port "$SMTP_PORT" --helo swaks.example.net \
  --from probe@example.net --to someone@foreign.example >"$T/swaks.out" 2>&1 || rc=$?
assert_eq 24 "$rc" "swaks exit status (24: RCPT refused); transcript: $(tail -n 8 "$T/swaks.out")"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <someone@foreign\.example>: Relay access denied' "swaks transcript"

# Nothing for a foreign domain is queued or was handed to any relay; the sink saw nothing.
sleep 1
py <<'EOF'
import os, re
from lib import *
for m in queue_list():
    for r in m["recipients"]:
        check(r["address"].lower().endswith("@example.test"),
              "queued recipient outside example.test: %r in %s" % (r, m["id"]))
log = petrel_log()
for line in re.findall(r"^.*: to=<[^>]*>.*$", log, re.M):
    m = re.search(r": to=<([^>]*)>, (?:orig_to=<[^>]*>, )?relay=([^,]+),", line)
    check(m is not None, "unparsed delivery line: %r" % line)
    addr, relay = m.groups()
    check(addr.lower().endswith("@example.test") and relay in ("virtual", "none"),
          "delivery outside the local domain: %r" % line)
sink = os.path.join(os.environ["T"], "sink.log")
check(not os.path.exists(sink), "the foreign host received: %r" % (open(sink).read() if os.path.exists(sink) else ""))
EOF
assert_log 'connect from unknown\[127\.0\.0\.2\]' "connections came from 127.0.0.2"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <someone@foreign\.example>: Relay access denied; from=<probe@example\.net> to=<someone@foreign\.example> proto=ESMTP helo=<relay-probe\.example\.net>' "relay reject line"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <someone@foreign\.example>: Relay access denied; from=<alice@example\.test>' "relay reject line with a local sender"

# Control: inside mynetworks the same recipient is accepted (then dropped with RSET).
py <<'EOF'
from lib import *
c = Client()
c.ehlo("inside.example.net")
c.expect("MAIL FROM:<probe@example.net>", 250)
c.expect("RCPT TO:<someone@foreign.example>", 250)
c.expect("RSET", 250)
c.expect("QUIT", 221)
EOF
stop_petrel
touch "$T/sink.stop"
wait "$SINK_PID" || fail "the aiosmtpd sink failed (see above)"
[[ ! -e "$T/sink.log" ]] || fail "the foreign host received: $(cat "$T/sink.log")"
pass
