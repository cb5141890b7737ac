#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); a raw Python socket as the client (smtplib has no BDAT).
# RFC 3030 CHUNKING: a message in three chunks (a CRLF split across two chunks, a lone "."
# line that BDAT must not treat as an end marker), a pipelined MAIL/RCPT/BDAT LAST batch, a
# message ending in "BDAT 0 LAST", BDAT out of sequence (refused, its octets skipped, the
# session goes on) and DATA after BDAT (503). Every accepted message arrives byte for byte.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

py <<'EOF'
from lib import *

c = Client()
r = c.ehlo()
check("CHUNKING" in r.lines, "EHLO does not announce CHUNKING: %r" % r)

# 1: three chunks; chunk 1 ends between CR and LF; "." and ".." lines are content, not markers.
msg1 = make_message("bdat one", ["line one", ".", "..", "line four"], msgid="<bdat-1@example.net>")
cut1 = msg1.index(b"line one\r\n") + len(b"line one\r")
cut2 = msg1.index(b"..\r\n") + 2
chunks = [msg1[:cut1], msg1[cut1:cut2], msg1[cut2:]]
c.expect("MAIL FROM:<sender@example.net>", 250, "2.1.0")
c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5")
total = 0
for i, ch in enumerate(chunks[:-1]):
    total += len(ch)
    r = c.expect_raw(b"BDAT %d\r\n" % len(ch) + ch, 250, "2.0.0")
    check("%d octets received" % total in r.text, "chunk %d: %r" % (i, r))
id1 = queued_id(c.expect_raw(b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1], 250, "2.0.0"))

# 2: the whole transaction pipelined, one chunk with LAST.
msg2 = make_message("bdat two", ["pipelined chunk"], msgid="<bdat-2@example.net>", to="bob@example.test")
c.send(b"MAIL FROM:<other@example.net>\r\nRCPT TO:<bob@example.test>\r\n"
       b"BDAT %d LAST\r\n" % len(msg2) + msg2)
expect_reply(c.read_reply(), 250, "2.1.0", "MAIL (pipelined)")
expect_reply(c.read_reply(), 250, "2.1.5", "RCPT (pipelined)")
id2 = queued_id(expect_reply(c.read_reply(), 250, "2.0.0", "BDAT LAST (pipelined)"))

# 3: a chunk, then "BDAT 0 LAST" ends the message; DATA in the middle is refused.
msg3 = make_message("bdat three", ["zero-length last chunk"], msgid="<bdat-3@example.net>")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect_raw(b"BDAT %d\r\n" % len(msg3) + msg3, 250, "2.0.0")
c.expect("DATA", 503, "5.5.1")
id3 = queued_id(c.expect_raw(b"BDAT 0 LAST\r\n", 250, "2.0.0"))

# 4: BDAT without MAIL, and without a valid recipient: refused after the chunk is read; the
#    chunk's bytes (which look like commands) are not executed.
junk = b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<alice@example.test>\r\n"
c.expect_raw(b"BDAT %d LAST\r\n" % len(junk) + junk, 503, "5.5.1")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
c.expect_raw(b"BDAT %d LAST\r\n" % len(junk) + junk, 554, "5.5.1")
c.expect("RSET", 250)
c.expect("NOOP", 250)
c.expect("QUIT", 221)
c.close()

a = wait_maildir("example.test/alice", 2)
b = wait_maildir("example.test/bob", 1)
check(len(a) == 2 and len(b) == 1, "alice %d (want 2), bob %d (want 1)" % (len(a), len(b)))
for f in a:
    data = open(f, "rb").read()
    if b"<bdat-1@" in data:
        check_delivered(f, "sender@example.net", "alice@example.test", msg1, queue_id=id1,
                        for_addr="alice@example.test")
    else:
        check_delivered(f, "sender@example.net", "alice@example.test", msg3, queue_id=id3)
check_delivered(b[0], "other@example.net", "bob@example.test", msg2, queue_id=id2)
EOF

assert_no_log 'from=<evil@example\.net>' "a BDAT chunk was read as commands"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
