#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config: example.test, alice, bob, postmaster -> alice)
#   on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status); Python smtplib as the
#   client. Both ports are picked free at start.
# A plain message to alice and one to postmaster (an alias of alice) arrive in alice's Maildir
# byte for byte: the trace block, then the message as sent with CRLF turned into LF and the
# dot-stuffing undone. The queue is empty afterwards and the log has Postfix's lines.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

py <<'EOF'
import smtplib
from lib import *

body_lines = ["Hello Alice,", "", ".a line that starts with a dot", "..two dots", ".",
              "trailing spaces   ", "\ttab", "last line"]
msg1 = make_message("plain one", body_lines, msgid="<plain-1@example.net>")
msg2 = make_message("to postmaster", ["hi postmaster"], msgid="<plain-2@example.net>",
                    to="postmaster@example.test")
with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
    code, _ = s.ehlo()
    check(code == 250, "EHLO: %d" % code)
    for ext in ("pipelining", "size", "8bitmime", "smtputf8", "chunking", "enhancedstatuscodes"):
        check(s.has_extn(ext), "EHLO does not announce %s: %r" % (ext, s.esmtp_features))
    refused = s.sendmail("sender@example.net", ["alice@example.test"], msg1)
    check(refused == {}, "refused: %r" % refused)
    refused = s.sendmail("sender@example.net", ["postmaster@example.test"], msg2)
    check(refused == {}, "refused: %r" % refused)

files = wait_maildir("example.test/alice", 2)
check(len(files) == 2, "alice has %d files, want 2" % len(files))
by_id = {}
for f in files:
    data = open(f, "rb").read()
    by_id["plain-1" if b"<plain-1@" in data else "plain-2"] = f
check_delivered(by_id["plain-1"], "sender@example.net", "alice@example.test", msg1,
                for_addr="alice@example.test")
check_delivered(by_id["plain-2"], "sender@example.net", "alice@example.test", msg2,
                for_addr="postmaster@example.test")
check(maildir_files("example.test/bob") == [], "bob got mail")
EOF

wait_for 10 "the queue to be empty" queue_empty
assert_eq 0 "$(spool_count)" "spool files left after delivery"
assert_log 'petrel/smtpd\[[0-9]+\]: [0-9A-F]+: client=unknown\[127\.0\.0\.1\]' "smtpd client line"
assert_log 'petrel/qmgr\[[0-9]+\]: [0-9A-F]+: from=<sender@example\.net>, size=[0-9]+, nrcpt=1 \(queue active\)' "qmgr from line"
assert_log 'petrel/virtual\[[0-9]+\]: [0-9A-F]+: to=<alice@example\.test>, relay=virtual, delay=[0-9.]+, delays=[0-9./]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)' "delivery line"
assert_log 'to=<alice@example\.test>, orig_to=<postmaster@example\.test>, relay=virtual' "alias delivery names orig_to"
assert_eq 2 "$(log_count 'petrel/qmgr\[[0-9]+\]: [0-9A-F]+: removed')" "qmgr removed lines"
stop_petrel
pass
