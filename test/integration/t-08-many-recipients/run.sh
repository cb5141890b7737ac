#!/usr/bin/env bash
# Setup: one `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT
#   (status); the mailbox table is a `file:` table written by this test (alice, bob and
#   user0001..user1000), plus a `file:` alias table list0001..list1000 -> alice; a raw Python
#   socket as the client.
# 1000 recipients in one transaction, three ways, each sent as one pipelined write:
#   - alice+1 .. alice+1000 (recipient_delimiter "+"): 1000 "250 2.1.5" replies, the 1001st
#     RCPT gets 452 4.5.3 (limits.recipients_per_message 1000). An address with an extension
#     is a final address of its own (router.h; router_test.cc expects
#     expand("alice+lists@...") == {"alice+lists@..."}, as in Postfix), so alice's Maildir gets
#     1000 copies, Delivered-To alice+1 .. alice+1000.
#   - list0001 .. list1000, all aliases of alice: duplicates collapse to one queue recipient per
#     final address, so alice gets exactly one more copy.
#   - user0001 .. user1000: 1000 deliveries, one per Maildir, each byte for byte.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

{
  echo "# address  maildir"
  echo "alice@example.test example.test/alice/"
  echo "bob@example.test example.test/bob/"
  for i in $(seq -f '%04g' 1 1000); do echo "user$i@example.test example.test/user$i/"; done
} >"$T/mailboxes.txt"
for i in $(seq -f '%04g' 1 1000); do echo "list$i@example.test alice@example.test"; done >"$T/lists.txt"
write_config '
tables:
  mailboxes!:
    type: file
    path: mailboxes.txt
  lists:
    type: file
    path: lists.txt
aliases: [aliases, lists]
'
start_petrel

py <<'EOF'
import os
from lib import *

c = Client(timeout=60)
c.ehlo()

def transaction(rcpts, msg, extra=None):
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.send("".join("RCPT TO:<%s>\r\n" % r for r in rcpts + ([extra] if extra else [])))
    for r in rcpts:
        expect_reply(c.read_reply(), 250, "2.1.5", "RCPT %s" % r)
    if extra:
        expect_reply(c.read_reply(), 452, "4.5.3", "RCPT number %d (%s)" % (len(rcpts) + 1, extra))
    c.expect("DATA", 354)
    return queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0"))

msg1 = make_message("extensions", ["one copy per extension"], msgid="<many-ext@example.net>")
id1 = transaction(["alice+%d@example.test" % i for i in range(1, 1001)], msg1,
                  extra="alice+1001@example.test")
msg2 = make_message("aliases", ["one copy"], msgid="<many-alias@example.net>")
id2 = transaction(["list%04d@example.test" % i for i in range(1, 1001)], msg2)
msg3 = make_message("mailboxes", ["one copy each"], msgid="<many-box@example.net>",
                    to="undisclosed-recipients:;")
id3 = transaction(["user%04d@example.test" % i for i in range(1, 1001)], msg3)
c.expect("QUIT", 221)

for i in range(1, 1001):
    files = wait_maildir("example.test/user%04d" % i, 1, timeout=60)
    check(len(files) == 1, "user%04d has %d messages, want 1" % (i, len(files)))
    check_delivered(files[0], "sender@example.net", "user%04d@example.test" % i, msg3, queue_id=id3)

files = wait_maildir("example.test/alice", 1001, timeout=60)
check(len(files) == 1001, "alice has %d messages, want 1001" % len(files))
ext_rcpts = []
alias_copies = 0
for f in files:
    fields, rest, _ = parse_delivered(f)
    if fields["id"] == id2:
        alias_copies += 1
        check_delivered(f, "sender@example.net", "alice@example.test", msg2, queue_id=id2)
    else:
        check_delivered(f, "sender@example.net", fields["rcpt"], msg1, queue_id=id1)
        ext_rcpts.append(fields["rcpt"])
check(alias_copies == 1, "the 1000-alias message arrived %d times, want once" % alias_copies)
want = sorted("alice+%d@example.test" % i for i in range(1, 1001))
check(sorted(ext_rcpts) == want,
      "Delivered-To of the extension copies is not alice+1..alice+1000 (%d copies, first %r)"
      % (len(ext_rcpts), sorted(ext_rcpts)[:3]))
EOF

wait_for 30 "the queue to be empty" queue_empty
assert_eq 2 "$(log_count 'from=<sender@example\.net>, size=[0-9]+, nrcpt=1000 \(queue active\)')" "qmgr lines with nrcpt=1000 (extensions, mailboxes)"
assert_eq 1 "$(log_count 'from=<sender@example\.net>, size=[0-9]+, nrcpt=1 \(queue active\)')" "qmgr lines with nrcpt=1 (1000 aliases collapsed)"
assert_eq 1000 "$(log_count 'petrel/virtual\[[0-9]+\]: [0-9A-F]+: to=<user[0-9]{4}@example\.test>, relay=virtual, .*status=sent')" "delivery lines for user0001..user1000"
assert_eq 1 "$(log_count 'to=<alice@example\.test>, orig_to=<list[0-9]{4}@example\.test>, relay=virtual, .*status=sent')" "delivery lines for the alias message"
stop_petrel
pass
