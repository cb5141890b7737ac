#!/usr/bin/env bash
# Setup: `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status),
#   run twice: first with smtp.bare_line_endings: reject (the default), then with normalize;
#   a raw Python socket as the client.
# SMTP smuggling: in reject mode a bare LF or CR in DATA gets 554 5.6.0 and the connection is
# closed, so a payload like "\n.\nMAIL FROM:<smuggled@...>..." never becomes a second
# message; over BDAT (unambiguous framing) the message is refused and the session goes on.
# In normalize mode the same payloads are one message, delivered with every line end made
# CRLF (LF in the Maildir), the would-be commands as content.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cat >"$T/payloads.py" <<'EOF'
SEPARATORS = [b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r", b"\n"]
def payload(i, sep):
    return (b"From: <sender@example.net>\r\nSubject: smuggle %d\r\nMessage-ID: <smuggle-%d@example.net>\r\n"
            b"\r\nhello" % (i, i) + sep +
            b"MAIL FROM:<smuggled@example.net>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"Subject: smuggled\r\n\r\nsmuggled\r\n")
EOF

# ---- reject mode ----
write_config
start_petrel
py - "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from lib import *
from payloads import SEPARATORS, payload

for i, sep in enumerate(SEPARATORS):
    c = Client()
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    c.send(payload(i, sep) + b".\r\n")
    r = expect_reply(c.read_reply(), 554, "5.6.0", "payload %d (%r)" % (i, sep))
    check(c.is_closed(), "payload %d (%r): connection still open after 554" % (i, sep))
    check(c.buf == b"", "payload %d (%r): more replies after 554: %r" % (i, sep, c.buf))
    c.close()

# BDAT: refused, but the session goes on.
c = Client()
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
p = payload(99, b"\n.\n")
c.expect_raw(b"BDAT %d LAST\r\n" % len(p) + p, 554, "5.6.0")
c.expect("NOOP", 250)
c.expect("QUIT", 221)

check(queue_list() == [], "something was queued: %r" % queue_list())
check(maildir_files("example.test/alice") == [] and maildir_files("example.test/bob") == [],
      "something was delivered")
EOF
assert_no_log 'smuggled@example\.net' "the smuggled MAIL FROM was read as a command"
assert_eq 7 "$(log_count 'NOQUEUE: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 554 5\.6\.0 ')" "554 5.6.0 reject log lines"
assert_eq 0 "$(spool_count)" "spool files left behind"
stop_petrel

# ---- normalize mode ----
write_config 'smtp: {bare_line_endings: normalize}'
start_petrel
py - "$T" <<'EOF'
import re, sys
sys.path.insert(0, sys.argv[1])
from lib import *
from payloads import SEPARATORS, payload

def unstuff(data):
    """RFC 5321 4.5.2 on wire lines (which end at LF): a leading '.' on a line with more
    octets is dropped. ".<CR>MAIL..." is such a line."""
    lines = data.split(b"\n")
    return b"\n".join(l[1:] if l.startswith(b".") and l.rstrip(b"\r") != b"." else l
                      for l in lines)

ids = {}
c = Client()
c.ehlo()
for i, sep in enumerate(SEPARATORS):
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    ids[queued_id(c.expect_raw(payload(i, sep) + b".\r\n", 250, "2.0.0"))] = unstuff(payload(i, sep))
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
p = payload(99, b"\n.\n")
ids[queued_id(c.expect_raw(b"BDAT %d LAST\r\n" % len(p) + p, 250, "2.0.0"))] = p
c.expect("QUIT", 221)

files = wait_maildir("example.test/alice", len(ids))
check(len(files) == len(ids), "alice has %d messages, want %d" % (len(files), len(ids)))
for f in files:
    fields, rest, _ = parse_delivered(f)
    sent = ids[fields["id"]]
    # Every line end (CRLF, bare LF, bare CR) becomes CRLF in the queue, LF in the Maildir.
    want = re.sub(rb"\r\n|\r|\n", b"\n", sent)
    check(rest == want, "%s: have %r, want %r" % (f, rest, want))
check(maildir_files("example.test/bob") == [], "bob got the smuggled message")
EOF
assert_no_log 'from=<smuggled@example\.net>' "the smuggled MAIL FROM was read as a command"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
