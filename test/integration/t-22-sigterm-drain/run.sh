#!/usr/bin/env bash
# Setup: `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status), stopped with SIGTERM and started again; raw Python
#   sockets as clients, three sessions open across the SIGTERM.
# Drain: at SIGTERM one session is half-way through DATA, one has MAIL and RCPT done, one is
# idle after EHLO. The idle one gets 421 4.3.2 and is closed at once. The other two finish
# their transactions (250 queued as ...) and get 421 4.3.2 for the next command. New
# connections are not served. petrel exits 0 once they are done, and after a restart each of
# the two messages is in the Maildir exactly once, byte for byte.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

PETREL_PID="$PETREL_PID" py <<'EOF'
import os, signal, socket, time
from lib import *

m1 = make_message("drain data", ["half before SIGTERM"] + ["line %d" % i for i in range(200)],
                  msgid="<drain-1@example.net>")
m2 = make_message("drain rcpt", ["after SIGTERM"], msgid="<drain-2@example.net>", to="bob@example.test")

s1 = Client(); s1.ehlo("one.example.net")
s1.expect("MAIL FROM:<sender@example.net>", 250)
s1.expect("RCPT TO:<alice@example.test>", 250)
s1.expect("DATA", 354)
wire = dot_stuff(m1)
s1.send(wire[:len(wire) // 2])
s2 = Client(); s2.ehlo("two.example.net")
s2.expect("MAIL FROM:<sender@example.net>", 250)
s2.expect("RCPT TO:<bob@example.test>", 250)
s3 = Client(); s3.ehlo("three.example.net")
time.sleep(0.3)

os.kill(int(os.environ["PETREL_PID"]), signal.SIGTERM)

r = expect_reply(s3.read_reply(), 421, "4.3.2", "idle session after SIGTERM")
check(s3.is_closed(), "idle session not closed after 421")

# New connections are not served.
time.sleep(0.5)
try:
    c = socket.create_connection(("127.0.0.1", SMTP_PORT), timeout=5)
    c.settimeout(5)
    data = c.recv(1024)
    check(data == b"" or data.startswith(b"421"), "a new connection during the drain got %r" % data)
except (ConnectionRefusedError, ConnectionResetError):
    pass

time.sleep(0.5)
id1 = queued_id(s1.expect_raw(wire[len(wire) // 2:], 250, "2.0.0"))
s1.expect("MAIL FROM:<sender@example.net>", 421, "4.3.2")
check(s1.is_closed(), "session 1 not closed after 421")
s2.expect("DATA", 354)
id2 = queued_id(s2.expect_raw(dot_stuff(m2), 250, "2.0.0"))
s2.expect("RSET", 421, "4.3.2")
check(s2.is_closed(), "session 2 not closed after 421")
open(os.path.join(os.environ["T"], "drain.py"), "w").write("IDS = %r\nM1 = %r\nM2 = %r\n" % ([id1, id2], m1, m2))
EOF

stop_start=$SECONDS
# petrel was already sent SIGTERM by the client above; wait for it and check the status.
wait_for 40 "petrel to exit after the drain" not_running "$PETREL_PID"
wait "$PETREL_PID" && PETREL_EXIT=0 || PETREL_EXIT=$?
PETREL_PID=""
assert_eq 0 "$PETREL_EXIT" "petrel exit status after SIGTERM"
assert_log 'petrel/master\[[0-9]+\]: terminating on signal: draining sessions' "drain log line"
assert_log 'petrel/master\[[0-9]+\]: daemon stopped' "stop log line"
assert_no_log 'drain deadline passed' "the drain hit its deadline"

start_petrel
wait_for 15 "both messages delivered after the restart" eval \
  'maildir_has example.test/alice 1 && maildir_has example.test/bob 1'
wait_for 10 "the queue to be empty" queue_empty
py - "$T" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from lib import *
from drain import IDS, M1, M2
a, b = maildir_files("example.test/alice"), maildir_files("example.test/bob")
check(len(a) == 1 and len(b) == 1, "alice %d, bob %d (want 1 each)" % (len(a), len(b)))
check_delivered(a[0], "sender@example.net", "alice@example.test", M1, helo="one.example.net", queue_id=IDS[0])
check_delivered(b[0], "sender@example.net", "bob@example.test", M2, helo="two.example.net", queue_id=IDS[1])
EOF
stop_petrel
pass
