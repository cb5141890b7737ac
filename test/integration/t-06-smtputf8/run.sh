#!/usr/bin/env bash
# Setup: one `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT
#   (status); quick-start config plus the alias jösé@example.test -> alice and the mailbox
#   zoë@example.test; Python smtplib (mail_options=['SMTPUTF8']) and a raw socket as clients.
# RFC 6531: with SMTPUTF8, a UTF-8 sender and UTF-8 recipients (alias and mailbox) are
# accepted and delivered, the trace block says "with UTF8SMTP". Without SMTPUTF8 the same
# addresses get 553 5.6.7 at MAIL and at RCPT.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config '
tables:
  aliases:
    map:
      jösé@example.test: alice@example.test
  mailboxes:
    map:
      zoë@example.test: example.test/zoe/
'
start_petrel

py <<'EOF'
import smtplib
from lib import *

sender = "sëndér@exämple.net"
msg1 = ("From: <%s>\r\nTo: <jösé@example.test>\r\nSubject: =?utf-8?q?h=C3=A9llo?=\r\n"
        "Message-ID: <utf8-1@example.net>\r\n\r\nBonjour José ✉\r\n" % sender).encode("utf-8")
msg2 = ("From: <%s>\r\nTo: <zoë@example.test>\r\nSubject: hi\r\n"
        "Message-ID: <utf8-2@example.net>\r\n\r\nHallo Zoë\r\n" % sender).encode("utf-8")

with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
    s.ehlo()
    check(s.has_extn("smtputf8"), "SMTPUTF8 not announced")
    refused = s.sendmail(sender, ["jösé@example.test"], msg1, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    check(refused == {}, "refused: %r" % refused)
    refused = s.sendmail(sender, ["zoë@example.test"], msg2, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    check(refused == {}, "refused: %r" % refused)

a = wait_maildir("example.test/alice", 1)
z = wait_maildir("example.test/zoe", 1)
check(len(a) == 1 and len(z) == 1, "alice %d, zoe %d (want 1 each)" % (len(a), len(z)))
check_delivered(a[0], sender, "alice@example.test", msg1, proto="UTF8SMTP", for_addr="jösé@example.test")
check_delivered(z[0], sender, "zoë@example.test", msg2, proto="UTF8SMTP", for_addr="zoë@example.test")

# Without SMTPUTF8: non-ASCII addresses are refused with 553 5.6.7, the session goes on.
c = Client()
c.ehlo()
c.expect("MAIL FROM:<%s>" % sender, 553, "5.6.7")
c.expect("MAIL FROM:<sender@example.net>", 250, "2.1.0")
c.expect("RCPT TO:<jösé@example.test>", 553, "5.6.7")
c.expect("RCPT TO:<zoë@example.test>", 553, "5.6.7")
c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5")
c.expect("RSET", 250)
# SMTPUTF8 on MAIL makes the same RCPT fine.
c.expect("MAIL FROM:<%s> SMTPUTF8" % sender, 250, "2.1.0")
c.expect("RCPT TO:<jösé@example.test>", 250, "2.1.5")
c.expect("QUIT", 221)
check(len(maildir_files("example.test/alice")) == 1, "the refused transaction was delivered")
EOF
wait_for 10 "the queue to be empty" queue_empty
assert_log 'petrel/virtual\[[0-9]+\]: [0-9A-F]+: to=<alice@example\.test>, orig_to=<jösé@example\.test>, relay=virtual, .*status=sent' "alias delivery log line"
assert_log 'petrel/virtual\[[0-9]+\]: [0-9A-F]+: to=<zoë@example\.test>, relay=virtual, .*status=sent' "UTF-8 mailbox delivery log line"
stop_petrel
pass
