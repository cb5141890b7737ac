#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); Python smtplib and a raw socket as clients.
# RFC 6152: a body with every octet from 0x80 to 0xFF (raw, Latin-1 and UTF-8 text) sent
# with MAIL ... BODY=8BITMIME over DATA (smtplib) and over BDAT (raw socket) arrives with
# every octet unchanged.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

py <<'EOF'
import smtplib
from lib import *

high = bytes(range(0x80, 0x100))
head = (b"From: <sender@example.net>\r\nTo: <alice@example.test>\r\nSubject: 8bit\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n")
body = (b"UTF-8: Gr\xc3\xbc\xc3\x9fe, \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e, \xf0\x9f\x93\xa8\r\n"
        b"Latin-1: Gr\xfc\xdfe \xe9\xe8\xe0\r\n"
        b"all high octets: " + high[:64] + b"\r\n" + high[64:] + b"\r\n"
        b"\xff\xfe\r\n.\xa0dot then nbsp\r\n")
msg_data = head + b"Message-ID: <8bit-data@example.net>\r\n\r\n" + body
msg_bdat = head + b"Message-ID: <8bit-bdat@example.net>\r\n\r\n" + body

with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
    s.ehlo()
    check(s.has_extn("8bitmime"), "8BITMIME not announced")
    refused = s.sendmail("sender@example.net", ["alice@example.test"], msg_data,
                         mail_options=["BODY=8BITMIME"])
    check(refused == {}, "refused: %r" % refused)

c = Client()
c.ehlo()
c.expect("MAIL FROM:<sender@example.net> BODY=8BITMIME", 250, "2.1.0")
c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5")
bdat_id = queued_id(c.expect_raw(b"BDAT %d LAST\r\n" % len(msg_bdat) + msg_bdat, 250, "2.0.0"))
c.expect("QUIT", 221)

files = wait_maildir("example.test/alice", 2)
check(len(files) == 2, "alice has %d messages, want 2" % len(files))
for f in files:
    data = open(f, "rb").read()
    if b"<8bit-data@" in data:
        check_delivered(f, "sender@example.net", "alice@example.test", msg_data)
    else:
        check_delivered(f, "sender@example.net", "alice@example.test", msg_bdat, queue_id=bdat_id)
    check(high[:64] in data and high[64:] in data, "%s: high octets changed" % f)
EOF
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
