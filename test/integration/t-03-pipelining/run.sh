#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); a raw Python socket as the client (RFC 2920 batches).
# MAIL, three RCPTs (one unknown) and DATA go out in one write; the replies come back in
# order. The end of the message, RSET and a second MAIL/RCPT/DATA go out in a second write,
# and the last message and QUIT in a third. Both messages are delivered byte for byte.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

py <<'EOF'
from lib import *

c = Client()
r = c.ehlo()
check("PIPELINING" in r.lines, "EHLO does not announce PIPELINING: %r" % r)

msg1 = make_message("pipelined one", ["first"], msgid="<pipe-1@example.net>")
msg2 = make_message("pipelined two", ["second", ".dot"], msgid="<pipe-2@example.net>",
                    to="bob@example.test")

c.send("MAIL FROM:<sender@example.net>\r\n"
       "RCPT TO:<alice@example.test>\r\n"
       "RCPT TO:<nobody@example.test>\r\n"
       "RCPT TO:<bob@example.test>\r\n"
       "DATA\r\n")
expect_reply(c.read_reply(), 250, "2.1.0", "MAIL (batch 1)")
expect_reply(c.read_reply(), 250, "2.1.5", "RCPT alice (batch 1)")
r = expect_reply(c.read_reply(), 550, "5.1.1", "RCPT nobody (batch 1)")
check("<nobody@example.test>" in r.text, "550 reply does not name the address: %r" % r)
expect_reply(c.read_reply(), 250, "2.1.5", "RCPT bob (batch 1)")
expect_reply(c.read_reply(), 354, None, "DATA (batch 1)")

c.send(dot_stuff(msg1) +
       b"RSET\r\n"
       b"MAIL FROM:<other@example.net> BODY=7BIT\r\n"
       b"RCPT TO:<bob@example.test>\r\n"
       b"DATA\r\n")
id1 = queued_id(expect_reply(c.read_reply(), 250, "2.0.0", "end of message 1 (batch 2)"))
expect_reply(c.read_reply(), 250, "2.0.0", "RSET (batch 2)")
expect_reply(c.read_reply(), 250, "2.1.0", "MAIL (batch 2)")
expect_reply(c.read_reply(), 250, "2.1.5", "RCPT bob (batch 2)")
expect_reply(c.read_reply(), 354, None, "DATA (batch 2)")

c.send(dot_stuff(msg2) + b"QUIT\r\n")
id2 = queued_id(expect_reply(c.read_reply(), 250, "2.0.0", "end of message 2 (batch 3)"))
expect_reply(c.read_reply(), 221, "2.0.0", "QUIT (batch 3)")
check(c.is_closed(), "connection still open after 221")
check(c.buf == b"", "extra bytes after 221: %r" % c.buf)

a = wait_maildir("example.test/alice", 1)
b = wait_maildir("example.test/bob", 2)
check(len(a) == 1, "alice has %d messages, want 1" % len(a))
check_delivered(a[0], "sender@example.net", "alice@example.test", msg1, queue_id=id1)
fields = parse_delivered(a[0])[0]
check(fields["for"] is None, "a 2-recipient message names one recipient: for <%s>" % fields["for"])
for f in b:
    data = open(f, "rb").read()
    if b"<pipe-1@" in data:
        check_delivered(f, "sender@example.net", "bob@example.test", msg1, queue_id=id1)
    else:
        check_delivered(f, "other@example.net", "bob@example.test", msg2, queue_id=id2,
                        for_addr="bob@example.test")
EOF

assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.1\.1 <nobody@example\.test>: Recipient address rejected: .*; from=<sender@example\.net> to=<nobody@example\.test> proto=ESMTP helo=<client\.example\.net>' "reject log line"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
