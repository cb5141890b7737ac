#!/usr/bin/env bash
# Setup: `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status),
#   started, killed with SIGKILL and started again; quick-start config; a raw Python socket as
#   the client; sqlite3 reads queue.db.
# Durability of the 250: alice's Maildir path is a regular file, so delivery defers. Two
# messages (one small, kept in queue.db; one of 1 MB, kept in the spool) get their 250, and
# petrel is killed with SIGKILL right after the second 250. After a restart both are still
# queued (CLI, queue.db, spool); once the obstacle is gone, `petrel queue flush` delivers each
# exactly once, byte for byte, and the queue and spool end up empty. A third message, 5 MB
# and half-sent (spooled, never acknowledged) when the SIGKILL hits, leaves nothing behind:
# its spool slot is free after the restart and it is never queued or delivered.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool sqlite3

write_config
mkdir -p "$MAIL_ROOT/example.test"
echo "not a maildir" >"$MAIL_ROOT/example.test/alice"   # the obstacle
start_petrel
export PETREL_PID

py <<'EOF'
import os, signal, time
from lib import *

small = make_message("durable small", ["kept in the queue database"], msgid="<durable-small@example.net>")
big = make_message("durable big", ["%06d %s" % (i, "x" * 90) for i in range(11000)],
                   msgid="<durable-big@example.net>")
ids = []
partial = Client()
partial.ehlo()
partial.expect("MAIL FROM:<partial@example.net>", 250)
partial.expect("RCPT TO:<alice@example.test>", 250)
partial.expect("DATA", 354)
partial.send(make_message("never finished", ["p" * 900] * 5500, msgid="<partial@example.net>"))
spool = os.path.join(STATE_DIR, "spool")
deadline = time.time() + 10
while not os.listdir(spool):
    check(time.time() < deadline, "the half-sent message never reached the spool")
    time.sleep(0.05)
c = Client()
c.ehlo()
for msg in (small, big):
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<alice@example.test>", 250)
    c.expect("DATA", 354)
    ids.append(queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0")))
os.kill(int(os.environ["PETREL_PID"]), signal.SIGKILL)
open(os.path.join(os.environ["T"], "sent.py"), "w").write(
    "IDS = %r\nSMALL = %r\nBIG = %r\n" % (ids, small, big))
EOF
kill9_petrel

assert_eq 2 "$(db_count messages)" "rows in queue.db messages after SIGKILL"
assert_eq 2 "$(spool_file_count)" "spool files after SIGKILL (the 1 MB message and the half-sent one)"
assert_eq 1 "$(spool_count)" "spool slots named by the queue after SIGKILL (the 1 MB message)"
start_petrel
assert_eq 1 "$(spool_count)" "spool slots in use after the restart (only the 1 MB message)"
assert_eq 2 "$(spool_file_count)" "spool files after the restart (the half-sent one is a free slot)"
assert_log 'petrel/qmgr\[[0-9]+\]: recovered 2 queued messages' "recovery log line"
wait_for 15 "both messages to be deferred after the restart" eval \
  '[[ $(log_count "to=<alice@example\.test>, relay=virtual, .*status=deferred") -ge 2 ]]'

py - "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from lib import *
from sent import IDS
q = queue_list()
check(sorted(m["id"] for m in q) == sorted(IDS), "queue after restart: %r, want ids %r" % (q, IDS))
for m in q:
    check(m["sender"] == "sender@example.net" and not m["held"], "message: %r" % m)
    check(len(m["recipients"]) == 1, "recipients: %r" % m["recipients"])
    r = m["recipients"][0]
    check(r["address"] == "alice@example.test" and r["status"] == "deferred" and r["attempts"] >= 1,
          "recipient: %r" % r)
    check(r["last_error"] != "", "deferred recipient without last_error: %r" % r)
EOF

rm "$MAIL_ROOT/example.test/alice"
petrel queue flush >/dev/null
wait_for 15 "2 messages in alice's Maildir" maildir_at_least example.test/alice 2
wait_for 10 "the queue to be empty" queue_empty
py - "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from lib import *
from sent import IDS, SMALL, BIG
files = maildir_files("example.test/alice")
check(len(files) == 2, "alice has %d messages, want 2 (each exactly once)" % len(files))
seen = {}
for f in files:
    fields = parse_delivered(f)[0]
    seen[fields["id"]] = f
check(sorted(seen) == sorted(IDS), "delivered ids %r, want %r" % (sorted(seen), sorted(IDS)))
check_delivered(seen[IDS[0]], "sender@example.net", "alice@example.test", SMALL, queue_id=IDS[0])
check_delivered(seen[IDS[1]], "sender@example.net", "alice@example.test", BIG, queue_id=IDS[1])
EOF
assert_eq 0 "$(spool_count)" "spool files after delivery"
assert_eq 0 "$(db_count messages)" "rows in queue.db messages after delivery"
assert_no_log 'from=<partial@example\.net>' "the half-sent message was queued"
stop_petrel
pass
