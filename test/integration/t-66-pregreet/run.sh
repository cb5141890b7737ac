#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) with smtp.greet_pause: 2s, listener "mx" on
#   127.0.0.1:$SMTP_PORT (inherits it), listener "submission" on 127.0.0.1:$SUB_PORT (auth:
#   required, plaintext: does not inherit it) and "late" on 127.0.0.1:$LATE_PORT (its own
#   greet_pause: 0); the default restriction set's recipient list starts with
#   reject_unauth_pipelining and reject_multi_recipient_bounce; raw Python sockets and
#   smtplib bound to 127.0.0.2.
# postscreen's pregreet test: a client that talks before the greeting gets "554 5.5.1" and is
# disconnected, logged "PREGREET N after T from [ip]:port: ..."; a client that waits gets the
# 220 after the pause and is served. Submission listeners greet at once. Postfix's
# reject_unauth_pipelining: HELO, MAIL and RCPT in one write from 127.0.0.2 is logged as
# "improper command pipelining after HELO" and the RCPT gets 503 5.5.0; smtplib (no
# pipelining) from 127.0.0.2 is delivered. reject_multi_recipient_bounce: the null sender's
# second RCPT gets 550 5.5.3.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

pick_ports SUB_PORT LATE_PORT
write_config "
smtp: {greet_pause: 2s}
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: submission, address: '127.0.0.1:$SUB_PORT', auth: required, auth_plaintext: true,
     restrictions: submission}
  - {name: late, address: '127.0.0.1:$LATE_PORT', greet_pause: 0}
restrictions:
  default:
    recipient: [reject_unauth_pipelining, reject_multi_recipient_bounce, permit_mynetworks,
                reject_unauth_destination]
"
start_petrel
wait_for 10 "port $SUB_PORT" port_open "$SUB_PORT"
wait_for 10 "port $LATE_PORT" port_open "$LATE_PORT"

SUB_PORT=$SUB_PORT LATE_PORT=$LATE_PORT py <<'EOF'
import os, smtplib, socket, time
from lib import *

# An early talker: EHLO right after connecting, before any greeting.
s = socket.create_connection(("127.0.0.1", SMTP_PORT), timeout=15, source_address=("127.0.0.2", 0))
start = time.time()
s.sendall(b"EHLO bot.example\r\n")
c = Client.__new__(Client)
c.sock, c.buf = s, b""
r = c.read_reply()
expect_reply(r, 554, "5.5.1", "reply to a pregreet")
check(time.time() - start < 1.5, "the pregreet answer waited for the pause")
check(c.is_closed(), "the early talker was not disconnected")

# A client that waits gets the greeting once the pause is over, and is served.
start = time.time()
c = Client(source="127.0.0.2")
waited = time.time() - start
expect_reply(c.banner, 220, None, "greeting after the pause")
check(waited >= 1.8, "greeting came after %.2fs, before the 2s pause" % waited)
c.ehlo()
c.expect("QUIT", 221)

# Submission (auth: required) and a listener with greet_pause: 0 greet at once.
for port, what in [(int(os.environ["SUB_PORT"]), "submission"),
                   (int(os.environ["LATE_PORT"]), "greet_pause: 0 listener")]:
    start = time.time()
    c = Client(port=port, source="127.0.0.2")
    expect_reply(c.banner, 220, None, "greeting on the " + what)
    check(time.time() - start < 1.5, "the %s waited for a greet pause" % what)
    c.expect("QUIT", 221)

# reject_unauth_pipelining: HELO (no PIPELINING offered), MAIL and RCPT in one write.
c = Client(port=int(os.environ["LATE_PORT"]), source="127.0.0.2")
c.send(b"HELO bot.example\r\nMAIL FROM:<spam@example.net>\r\nRCPT TO:<alice@example.test>\r\n")
expect_reply(c.read_reply(), 250, None, "HELO")
expect_reply(c.read_reply(), 250, "2.1.0", "MAIL")
r = c.read_reply()
expect_reply(r, 503, "5.5.0", "RCPT after improper pipelining")
check(r.text == "5.5.0 <alice@example.test>: Recipient address rejected: Improper use of SMTP "
      "command pipelining", "503 text: %r" % r.text)
c.expect("QUIT", 221)

# A client that waits for each reply (smtplib) from the same address is delivered.
s = smtplib.SMTP("127.0.0.1", int(os.environ["LATE_PORT"]), source_address=("127.0.0.2", 0),
                 timeout=15)
s.ehlo("client.example.net")
s.sendmail("sender@example.net", ["alice@example.test"], make_message("waited", ["fine"]))
# A bounce (null sender) may have one recipient, not two.
s.mail("")
check(s.rcpt("alice@example.test")[0] == 250, "the bounce's first recipient")
code, text = s.rcpt("bob@example.test")
check((code, text) == (550, b"5.5.3 <bob@example.test>: Recipient address rejected: "
                            b"Multi-recipient bounce"), "the bounce's second RCPT: %r" % ((code, text),))
s.rset()
s.quit()
EOF

assert_log 'petrel/smtpd\[[0-9]+\]: PREGREET 18 after [0-9.e-]+ from \[127\.0\.0\.2\]:[0-9]+: EHLO bot\.example\\r\\n' \
  "the PREGREET line"
assert_eq 1 "$(log_count 'PREGREET ')" "PREGREET lines (only the early talker)"
assert_log 'improper command pipelining after HELO from unknown\[127\.0\.0\.2\]: MAIL FROM:<spam@example\.net>\\r\\nRCPT TO:<alice@example\.test>\\r\\n' \
  "the improper pipelining line"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 503 5\.5\.0 <alice@example\.test>: Recipient address rejected: Improper use of SMTP command pipelining; from=<spam@example\.net> to=<alice@example\.test> proto=SMTP helo=<bot\.example>' \
  "the reject line"
assert_eq 1 "$(log_count 'improper command pipelining')" "pipelining lines (smtplib is not one)"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 550 5\.5\.3 <bob@example\.test>: Recipient address rejected: Multi-recipient bounce; from=<> to=<bob@example\.test>' \
  "the multi-recipient bounce refusal"
wait_for 20 "the message that waited, for alice" maildir_at_least example.test/alice 1
pass
