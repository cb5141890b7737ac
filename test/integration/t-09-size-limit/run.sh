#!/usr/bin/env bash
# Setup: one `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT
#   (status); quick-start config with limits.message_size: 100k; a raw Python socket as client.
# RFC 1870: EHLO announces SIZE 102400; MAIL FROM ... SIZE= above the limit gets 552 5.3.4;
# a message streamed past the limit without SIZE= (DATA and BDAT) is read to its end and then
# refused with 552 5.3.4, leaving nothing in the queue, the spool or a Maildir; the session
# goes on. A message of exactly 102400 octets is accepted.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config 'limits: {message_size: 100k}'
start_petrel

py <<'EOF'
from lib import *
LIMIT = 100 * 1024

def sized(n, tag):
    """A message of exactly n octets (CRLF form, before dot-stuffing)."""
    head = make_message("size " + tag, [], msgid="<size-%s@example.net>" % tag)
    line = b"x" * 78 + b"\r\n"
    body = line * ((n - len(head)) // len(line))
    rest = n - len(head) - len(body)
    if rest:
        body += b"y" * (rest - 2) + b"\r\n" if rest >= 2 else b""
        if rest == 1:  # cannot happen with the sizes used here
            raise SystemExit("bad size")
    m = head + body
    assert len(m) == n, (len(m), n)
    return m

c = Client()
r = c.ehlo()
check("SIZE %d" % LIMIT in r.lines, "EHLO does not announce SIZE %d: %r" % (LIMIT, r))

# Declared too big.
c.expect("MAIL FROM:<sender@example.net> SIZE=%d" % (LIMIT + 1), 552, "5.3.4")
c.expect("MAIL FROM:<sender@example.net> SIZE=99999999999", 552, "5.3.4")
# Not declared, streamed past the limit over DATA (8 MB, far past it).
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect("DATA", 354)
big = sized(8 * 1024 * 1024, "data-huge")
c.expect_raw(dot_stuff(big), 552, "5.3.4")
# One octet over, declared as fitting.
c.expect("MAIL FROM:<sender@example.net> SIZE=%d" % LIMIT, 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect("DATA", 354)
c.expect_raw(dot_stuff(sized(LIMIT + 1, "data-plus-one")), 552, "5.3.4")
# Over BDAT, in two chunks.
over = sized(LIMIT + 1000, "bdat")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
half = len(over) // 2
c.expect_raw(b"BDAT %d\r\n" % half + over[:half], 250, "2.0.0")
c.expect_raw(b"BDAT %d LAST\r\n" % (len(over) - half) + over[half:], 552, "5.3.4")
c.expect("NOOP", 250)
c.expect("QUIT", 221)
c.close()
check(maildir_files("example.test/alice") == [], "a refused message was delivered")
check(queue_list() == [], "a refused message is in the queue: %r" % queue_list())

# Exactly at the limit: accepted, delivered intact.
exact = sized(LIMIT, "exact")
qid = send_message("sender@example.net", ["alice@example.test"], exact,
                   mail_params=" SIZE=%d" % LIMIT)
files = wait_maildir("example.test/alice", 1)
check(len(files) == 1, "alice has %d messages, want 1" % len(files))
check_delivered(files[0], "sender@example.net", "alice@example.test", exact, queue_id=qid)
EOF

wait_for 10 "the queue to be empty" queue_empty
assert_eq 0 "$(spool_count)" "spool files left behind"
assert_log 'NOQUEUE: reject: MAIL from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 ' "MAIL SIZE= reject log line"
assert_eq 3 "$(log_count 'NOQUEUE: reject: END-OF-MESSAGE from unknown\[127\.0\.0\.1\]: 552 5\.3\.4 ')" "END-OF-MESSAGE 552 reject log lines"
assert_eq 1 "$(log_count 'petrel/qmgr\[[0-9]+\]: [0-9A-F]+: from=<')" "messages queued"
stop_petrel
pass
