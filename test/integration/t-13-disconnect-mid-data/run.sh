#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); a raw Python socket as the client; sqlite3 reads queue.db.
# A client that goes away before the end of the message leaves nothing behind: after a close
# mid-DATA (small and 5 MB messages), a reset (RST) mid-DATA, a close after the whole body but
# before the final ".", and a close after a non-LAST BDAT chunk, the queue is empty (CLI and
# queue.db), the spool directory is empty and no Maildir has a file. The server then still
# accepts and delivers a message.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool sqlite3

write_config
start_petrel

py <<'EOF'
import socket, struct, time
from lib import *

def start(c):
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)

big = make_message("big", ["b" * 900] * 6000)  # ~5.4 MB
small = make_message("small", ["s"] * 20)

# 1. close mid-DATA, small and big.
for body in (small, big):
    c = Client(); start(c)
    c.expect("DATA", 354)
    c.send(body[: len(body) // 2])
    time.sleep(0.2)
    c.close()

# 2. RST mid-DATA.
c = Client(); start(c)
c.expect("DATA", 354)
c.send(big[: len(big) // 3])
time.sleep(0.2)
c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()

# 3. The whole body, but no final "." line.
c = Client(); start(c)
c.expect("DATA", 354)
c.send(small)
time.sleep(0.2)
c.close()

# 4. BDAT: one chunk acknowledged, then gone.
c = Client(); start(c)
c.expect_raw(b"BDAT %d\r\n" % len(big) + big, 250, "2.0.0")
c.close()
EOF

wait_for 10 "the spool directory to be empty" eval '[[ $(spool_count) -eq 0 ]]'
assert_eq 0 "$(queue_count)" "messages in petrel queue list"
assert_eq 0 "$(db_count messages)" "rows in queue.db messages"
assert_eq 0 "$(db_count recipients)" "rows in queue.db recipients"
assert_eq 0 "$(find "$MAIL_ROOT" -type f | wc -l)" "files under mail_root"
assert_no_log 'petrel/qmgr\[[0-9]+\]: [0-9A-F]+: from=' "a message was queued"
assert_eq 4 "$(log_count 'petrel/smtpd\[[0-9]+\]: lost connection after DATA from unknown\[127\.0\.0\.1\]')" "'lost connection after DATA' lines (4 DATA cases)"

py <<'EOF'
from lib import *
msg = make_message("after", ["still works"])
qid = send_message("sender@example.net", ["alice@example.test"], msg)
files = wait_maildir("example.test/alice", 1)
check_delivered(files[0], "sender@example.net", "alice@example.test", msg, queue_id=qid)
EOF
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
