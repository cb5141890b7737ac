#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); Python smtplib and a raw socket as clients.
# An unknown local recipient gets 550 5.1.1 at RCPT and a Postfix-style NOQUEUE reject line;
# an extension of an unknown user too; a non-local domain gets 554 5.7.1 (no relaying).
# DATA without a valid recipient gets 554 5.5.1. A message to a known and an unknown recipient
# reaches only the known one.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config 'relay: {mynetworks: []}'  # 127.0.0.1 is an outsider here: relaying is refused
start_petrel

py <<'EOF'
import smtplib
from lib import *

c = Client()
c.ehlo("unknown.example.net")
c.expect("MAIL FROM:<sender@example.net>", 250)
r = c.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
check("<nobody@example.test>" in r.text and "Recipient address rejected" in r.text, "reply: %r" % r)
c.expect("RCPT TO:<nobody+tag@example.test>", 550, "5.1.1")
r = c.expect("RCPT TO:<someone@elsewhere.example>", 554, "5.7.1")
check("Relay access denied" in r.text, "reply: %r" % r)
c.expect("DATA", 554, "5.5.1")
c.expect("RSET", 250)
c.expect("QUIT", 221)

msg = make_message("partly", ["to bob only"], msgid="<partly@example.net>", to="bob@example.test")
with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
    refused = s.sendmail("sender@example.net", ["ghost@example.test", "bob@example.test"], msg)
    check(set(refused) == {"ghost@example.test"} and refused["ghost@example.test"][0] == 550,
          "refused: %r" % refused)
    try:
        s.sendmail("sender@example.net", ["ghost@example.test"], msg)
        fail("a message with only unknown recipients was accepted")
    except smtplib.SMTPRecipientsRefused as e:
        check(e.recipients["ghost@example.test"][0] == 550, "refusal: %r" % e.recipients)

files = wait_maildir("example.test/bob", 1)
check_delivered(files[0], "sender@example.net", "bob@example.test", msg, for_addr="bob@example.test")
check(maildir_files("example.test/alice") == [], "alice got mail")
EOF

assert_log '^[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} [^ ]+ petrel/smtpd\[[0-9]+\]: NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.1\.1 <nobody@example\.test>: Recipient address rejected: [^;]+; from=<sender@example\.net> to=<nobody@example\.test> proto=ESMTP helo=<unknown\.example\.net>$' "NOQUEUE reject line for nobody"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.1\.1 <nobody\+tag@example\.test>: .*to=<nobody\+tag@example\.test>' "NOQUEUE reject line for nobody+tag"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 554 5\.7\.1 <someone@elsewhere\.example>: Relay access denied; from=<sender@example\.net> to=<someone@elsewhere\.example> proto=ESMTP helo=<unknown\.example\.net>' "NOQUEUE reject line for relaying"
assert_eq 2 "$(log_count 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 550 5\.1\.1 <ghost@example\.test>: .*helo=<client\.example\.net>')" "NOQUEUE reject lines for ghost"
assert_eq 1 "$(log_count 'petrel/qmgr\[[0-9]+\]: [0-9A-F]+: from=<sender@example\.net>, size=[0-9]+, nrcpt=1 ')" "queued messages"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
