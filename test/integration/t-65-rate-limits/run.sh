#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (listener "mx",
#   STARTTLS offered, AUTH in plaintext with the table backend) and 127.0.0.1:$STATUS_PORT
#   (status), with limits.rate {connections: 3, messages: 2, recipients: 3, auth: 1,
#   new_tls_sessions: 1} per minute and the default exceptions (relay.mynetworks =
#   127.0.0.1/32); Python smtplib and raw-socket clients bound to 127.0.0.1 .. 127.0.0.6.
# Postfix's anvil limits (postconf(5) smtpd_client_*_rate_limit): the 4th connection within a
# minute from 127.0.0.2 gets "421 4.7.0 <host> Error: too many connections from 127.0.0.2";
# the 3rd MAIL from 127.0.0.3 gets "450 4.7.1 Error: too much mail from 127.0.0.3"; the 4th
# RCPT from 127.0.0.4 "450 4.7.1 Error: too many recipients from 127.0.0.4"; the 2nd AUTH
# from 127.0.0.5 "450 4.7.1 Error: too many AUTH commands from 127.0.0.5"; the 2nd new TLS
# session from 127.0.0.6 ends with 421 4.7.0 after its handshake, and its next STARTTLS gets
# 454 4.7.0 before any. Each refusal logs Postfix's warning and counts in
# petrel_rate_limit_refusals_total by kind; 127.0.0.1 (mynetworks) is exempt from all of them.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT', tls: optional, auth: optional, auth_plaintext: true}
limits:
  rate: {connections: 3, messages: 2, recipients: 3, auth: 1, new_tls_sessions: 1}
"
add_user alice@example.test secret
start_petrel

py <<'EOF'
import smtplib, socket, ssl
from lib import *

def connect(src):
    return Client(source=src)

# Connections: three within the minute are served, the fourth is refused and closed.
first = [connect("127.0.0.2") for _ in range(3)]
for c in first:
    expect_reply(c.banner, 220, None, "banner of connections 1-3 from 127.0.0.2")
fourth = connect("127.0.0.2")
r = expect_reply(fourth.banner, 421, "4.7.0", "banner of the 4th connection from 127.0.0.2")
check(r.text == "4.7.0 mail.example.test Error: too many connections from 127.0.0.2",
      "421 text: %r" % r.text)
check(fourth.is_closed(), "4th connection not closed after 421")
for c in first:
    c.expect("QUIT", 221)
# The limit is on connections made, not open ones: closing them frees nothing this minute.
again = connect("127.0.0.2")
expect_reply(again.banner, 421, "4.7.0", "5th connection from 127.0.0.2 (rate, not count)")

# Messages: two MAIL commands within the minute, the third refused (the session goes on).
s = smtplib.SMTP("127.0.0.1", SMTP_PORT, source_address=("127.0.0.3", 0), timeout=15)
s.ehlo("client.example.net")
for i in range(2):
    s.sendmail("sender@example.net", ["alice@example.test"], make_message("m%d" % i, ["x"]))
code, text = s.mail("sender@example.net")
check((code, text) == (450, b"4.7.1 Error: too much mail from 127.0.0.3"),
      "3rd MAIL from 127.0.0.3: %r" % ((code, text),))
check(s.noop()[0] == 250, "the session goes on after a rate refusal")
s.quit()

# Recipients: the 4th RCPT within the minute is refused, the others stay accepted.
s = smtplib.SMTP("127.0.0.1", SMTP_PORT, source_address=("127.0.0.4", 0), timeout=15)
s.ehlo("client.example.net")
s.mail("sender@example.net")
for i in range(3):
    check(s.rcpt("alice@example.test")[0] == 250, "RCPT %d from 127.0.0.4" % (i + 1))
code, text = s.rcpt("bob@example.test")
check((code, text) == (450, b"4.7.1 Error: too many recipients from 127.0.0.4"),
      "4th RCPT from 127.0.0.4: %r" % ((code, text),))
code, _ = s.data(make_message("rcpt", ["x"]))
check(code == 250, "the message with the accepted recipients: %r" % code)
s.quit()

# AUTH: one attempt within the minute (this one fails: a wrong password), the second refused
# before any credentials are looked at.
c = connect("127.0.0.5")
c.ehlo()
c.expect("AUTH PLAIN " + auth_plain("alice@example.test", "wrong"), 535, "5.7.8")
r = c.expect("AUTH PLAIN " + auth_plain("nobody@example.test", "wrong"), 450, "4.7.1")
check(r.text == "4.7.1 Error: too many AUTH commands from 127.0.0.5", "AUTH text: %r" % r.text)
c.expect("QUIT", 221)

# New TLS sessions: the first is fine, the second is ended after its handshake, the third
# STARTTLS is refused before one.
c = connect("127.0.0.6")
c.ehlo()
c.starttls()
c.ehlo()
c.expect("QUIT", 221)
c = connect("127.0.0.6")
c.ehlo()
c.starttls()
r = c.read_reply()
expect_reply(r, 421, "4.7.0", "after the 2nd new TLS session from 127.0.0.6")
check(r.text == "4.7.0 mail.example.test Error: too many new TLS sessions from unknown[127.0.0.6]",
      "421 text: %r" % r.text)
check(c.is_closed(), "2nd TLS session not closed after 421")
c = connect("127.0.0.6")
c.ehlo()
r = c.expect("STARTTLS", 454, "4.7.0")
check(r.text == "4.7.0 Error: too many new TLS sessions from unknown[127.0.0.6]",
      "454 text: %r" % r.text)
c.expect("QUIT", 221)

# mynetworks is exempt: more of everything from 127.0.0.1.
local = [connect("127.0.0.1") for _ in range(5)]
for c in local:
    expect_reply(c.banner, 220, None, "connections from 127.0.0.1")
    c.close()
s = smtplib.SMTP("127.0.0.1", SMTP_PORT, source_address=("127.0.0.1", 0), timeout=15)
s.ehlo("client.example.net")
for i in range(3):
    s.sendmail("sender@example.net", ["alice@example.test", "bob@example.test"],
               make_message("local%d" % i, ["x"]))
s.quit()
for i in range(3):
    c = connect("127.0.0.1")
    c.ehlo()
    c.starttls()
    c.ehlo()
    c.expect("QUIT", 221)

m = metrics()
for kind, n in [("connection", 2), ("message", 1), ("recipient", 1), ("auth", 1),
                ("new_tls_session", 2)]:
    got = m.get('petrel_rate_limit_refusals_total{kind="%s"}' % kind)
    check(got == n, "petrel_rate_limit_refusals_total{kind=%s}: %r, expected %d" % (kind, got, n))
EOF

assert_log 'petrel/smtpd\[[0-9]+\]: warning: Connection rate limit exceeded: 4 from unknown\[127\.0\.0\.2\] for service mx' \
  "the connection rate warning"
assert_log 'warning: Message delivery request rate limit exceeded: 3 from unknown\[127\.0\.0\.3\] for service mx' \
  "the message rate warning"
assert_log 'warning: Recipient address rate limit exceeded: 4 from unknown\[127\.0\.0\.4\] for service mx' \
  "the recipient rate warning"
assert_log 'warning: AUTH command rate limit exceeded: 2 from unknown\[127\.0\.0\.5\] for service mx' \
  "the AUTH rate warning"
assert_log 'warning: New TLS session rate limit exceeded: 2 from unknown\[127\.0\.0\.6\] for service mx' \
  "the new TLS session warning"
assert_log 'warning: Refusing STARTTLS request from unknown\[127\.0\.0\.6\] for service mx' \
  "the refused STARTTLS warning"
assert_no_log 'rate limit exceeded: .* from unknown\[127\.0\.0\.1\]' "mynetworks is exempt"
wait_for 20 "the 2 + 1 messages from outside and 3 from 127.0.0.1 for alice" \
  maildir_at_least example.test/alice 6
pass
