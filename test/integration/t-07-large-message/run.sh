#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); Python smtplib (DATA) and a raw socket (BDAT, 1 MB chunks).
# A 10 MB message (random text lines, some starting with '.') is delivered intact: the sha256
# of the delivered message equals that of what was sent with CRLF turned into LF. The spool
# file is gone once the message is delivered.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

py <<'EOF'
import hashlib, random, smtplib
from lib import *

def big(tag, size=10 * 1024 * 1024):
    # Lines stay below 990 octets: t-10-long-lines covers the 1000-octet edge.
    rnd = random.Random(tag)
    alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-"
    pool = bytes(rnd.choice(alphabet) for _ in range(1 << 16))
    head = make_message("large " + tag, [], msgid="<large-%s@example.net>" % tag)
    parts = [head]
    n = len(head)
    while n < size:
        start = rnd.randrange(len(pool) - 1000)
        line = pool[start:start + rnd.randint(0, 988)]
        if rnd.random() < 0.05:
            line = b"." + line
        b = line + b"\r\n"
        parts.append(b)
        n += len(b)
    return b"".join(parts)

msg_data = big("data")
msg_bdat = big("bdat")
with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=60) as s:
    refused = s.sendmail("sender@example.net", ["alice@example.test"], msg_data)
    check(refused == {}, "refused: %r" % refused)

c = Client(timeout=60)
c.ehlo()
c.expect("MAIL FROM:<sender@example.net> SIZE=%d" % len(msg_bdat), 250)
c.expect("RCPT TO:<alice@example.test>", 250)
step = 1024 * 1024
for off in range(0, len(msg_bdat), step):
    chunk = msg_bdat[off:off + step]
    last = off + step >= len(msg_bdat)
    c.expect_raw(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk, 250, "2.0.0")
c.expect("QUIT", 221)

files = wait_maildir("example.test/alice", 2, timeout=60)
check(len(files) == 2, "alice has %d messages, want 2" % len(files))
for f in files:
    fields, rest, _ = parse_delivered(f)
    sent = msg_data if b"<large-data@" in rest[:400] else msg_bdat
    want = hashlib.sha256(crlf_to_lf(sent)).hexdigest()
    have = hashlib.sha256(rest).hexdigest()
    check(have == want, "%s: sha256 %s, want %s (have %d bytes, want %d)"
          % (f, have, want, len(rest), len(crlf_to_lf(sent))))
    check_delivered(f, "sender@example.net", "alice@example.test", sent)
EOF
wait_for 20 "the queue to be empty" queue_empty
assert_eq 0 "$(spool_count)" "spool files left after delivery"
assert_log 'from=<sender@example\.net>, size=1048[0-9]{4}, nrcpt=1' "qmgr logs a 10 MB size"
stop_petrel
pass
