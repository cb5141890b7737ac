#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config, default limits: text lines 1000 octets,
#   command lines 512) on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status);
#   a raw Python socket as the client.
# RFC 5321 4.5.3.1.4 and 4.5.3.1.6:
#   - a command line of 512 octets (CRLF included) is fine, 513 gets 500 5.5.2, and so does a
#     64 KB one; the session goes on;
#   - a text line of 1000 octets (CRLF included) is accepted; 1001 octets (DATA and BDAT) and a
#     100 KB line get 554 5.6.0 after the end of the message, nothing is queued, the session
#     goes on;
#   - the 1000 octets do not count the dot duplicated for transparency: a 1000-octet line that
#     starts with '.' (1001 octets on the wire) is accepted and delivered without the extra dot.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

py <<'EOF'
from lib import *

c = Client()
c.ehlo()

# Command lines.
c.expect_raw(b"NOOP " + b"x" * (512 - 7) + b"\r\n", 250, "2.0.0")
c.expect_raw(b"NOOP " + b"x" * (513 - 7) + b"\r\n", 500, "5.5.2")
c.expect_raw(b"RCPT TO:<" + b"a" * 600 + b"@example.test>\r\n", 500, "5.5.2")
c.expect_raw(b"NOOP " + b"y" * 65536 + b"\r\n", 500, "5.5.2")
c.expect("NOOP", 250)

def transaction_data(msg, code, enhanced):
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    return c.expect_raw(dot_stuff(msg), code, enhanced)

# Text lines over the limit: refused at the end of the message, session goes on.
too_long = make_message("long 1001", ["z" * 999])
transaction_data(too_long, 554, "5.6.0")
huge_line = make_message("long 100k", ["short", "h" * 100000, "short"])
transaction_data(huge_line, 554, "5.6.0")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect_raw(b"BDAT %d LAST\r\n" % len(too_long) + too_long, 554, "5.6.0")
c.expect("NOOP", 250)
check(queue_list() == [], "a refused message is in the queue")

# Exactly 1000 octets with CRLF: accepted.
fits = make_message("long 1000", ["f" * 998], msgid="<long-1000@example.net>")
id_fits = queued_id(transaction_data(fits, 250, "2.0.0"))
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
fits_bdat = make_message("long 1000 bdat", ["b" * 998], msgid="<long-1000-bdat@example.net>")
id_bdat = queued_id(c.expect_raw(b"BDAT %d LAST\r\n" % len(fits_bdat) + fits_bdat, 250, "2.0.0"))

files = wait_maildir("example.test/alice", 2)
for f in files:
    fields = parse_delivered(f)[0]
    check_delivered(f, "sender@example.net", "alice@example.test",
                    fits if fields["id"] == id_fits else fits_bdat)

# 1000 octets starting with '.', 1001 on the wire after dot-stuffing: still fits.
dotted = make_message("long 1000 dot", ["." + "d" * 997], msgid="<long-1000-dot@example.net>")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect("DATA", 354)
wire = dot_stuff(dotted)
check(b"\r\n.." + b"d" * 997 + b"\r\n" in wire, "test bug: the line is not stuffed")
c.send(wire)
r = expect_reply(c.read_reply(), 250, "2.0.0",
                 "a 1000-octet line starting with '.' (1001 octets dot-stuffed, RFC 5321 "
                 "4.5.3.1.6 does not count the extra dot)")
id_dot = queued_id(r)
c.expect("QUIT", 221)
files = wait_maildir("example.test/alice", 3)
f = [f for f in files if parse_delivered(f)[0]["id"] == id_dot][0]
check_delivered(f, "sender@example.net", "alice@example.test", dotted)
EOF

assert_eq 3 "$(log_count 'NOQUEUE: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 554 5\.6\.0 Error: message has a line longer than 1000 octets')" "554 5.6.0 reject log lines"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
