#!/usr/bin/env bash
# Setup: `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status),
#   started 51 times; quick-start config; a raw Python socket as the client.
# 50 rounds of: start petrel, send one message, SIGKILL it the moment the 250 arrives (while
# earlier messages may be in the middle of their delivery). After a last restart every one of
# the 50 messages is delivered: the set of Message-IDs in alice's Maildir is exactly the 50
# sent, each exactly once (a kill between the Maildir rename and the queue update leaves a
# copy that recovery finds by its delivery key, docs/architecture.md "Exactly once after a
# crash"), each copy byte for byte; queue and spool end up empty.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
mkdir -p "$T/sent"
for i in $(seq 1 50); do
  start_petrel
  PETREL_PID="$PETREL_PID" ROUND="$i" py <<'EOF'
import os, signal
from lib import *
i = int(os.environ["ROUND"])
msg = make_message("round %d" % i, ["message %d of 50" % i] + ["x" * 70] * i,
                   msgid="<kill9-%02d@example.net>" % i)
c = Client()
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect("DATA", 354)
c.send(dot_stuff(msg))
r = c.read_reply()
os.kill(int(os.environ["PETREL_PID"]), signal.SIGKILL)
expect_reply(r, 250, "2.0.0", "end of message %d" % i)
open(os.path.join(os.environ["T"], "sent", "%02d" % i), "wb").write(msg)
EOF
  kill9_petrel
done

start_petrel
wait_for 30 "the queue to be empty after the last restart" queue_empty
py <<'EOF'
import collections, os, re
from lib import *
sent_dir = os.path.join(os.environ["T"], "sent")
sent = {}
for name in os.listdir(sent_dir):
    msg = open(os.path.join(sent_dir, name), "rb").read()
    sent[re.search(rb"Message-ID: (<[^>]+>)", msg).group(1)] = msg
check(len(sent) == 50, "test bug: %d messages recorded" % len(sent))
count = collections.Counter()
for f in maildir_files("example.test/alice"):
    fields, rest, _ = parse_delivered(f)
    m = re.search(rb"\nMessage-ID: (<[^>]+>)\n", rest)
    check(m is not None and m.group(1) in sent, "%s: unexpected message %r" % (f, rest[:200]))
    check_delivered(f, "sender@example.net", "alice@example.test", sent[m.group(1)])
    count[m.group(1)] += 1
missing = sorted(k.decode() for k in sent if count[k] == 0)
check(not missing, "%d of 50 messages never delivered: %s" % (len(missing), " ".join(missing)))
dups = {k.decode(): n for k, n in count.items() if n > 1}
check(not dups, "%d of 50 messages delivered more than once: %r" % (len(dups), dups))
print("t-16-kill9-loop: 50 messages delivered, each once")
EOF
assert_eq 0 "$(spool_count)" "spool files after delivery"
stop_petrel
pass
