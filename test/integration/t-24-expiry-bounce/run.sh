#!/usr/bin/env bash
# Setup: `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status),
#   quick-start config with a 2 s queue lifetime and 1 s backoff; swaks and a raw Python
#   socket as clients.
# Bob's Maildir path is a regular file, so delivery to bob defers. After max_lifetime the
# recipient is bounced (dsn=4.4.7): an RFC 3464 report from <> reaches the sender (alice,
# a local mailbox) naming bob and quoting the original headers. A message from the null
# sender and one with NOTIFY=NEVER expire too, but produce no bounce (RFC 5321 6.1, RFC 3461).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks

write_config 'queue: {max_lifetime: 2s, min_backoff: 1s, max_backoff: 1s}'
mkdir -p "$MAIL_ROOT/example.test"
echo "not a maildir" >"$MAIL_ROOT/example.test/bob"   # the obstacle
start_petrel

send() {  # send FROM
  swaks --server "127.0.0.1:$SMTP_PORT" --from "$1" --to bob@example.test \
    --header "Subject: expiry test from $1" >"$T/swaks.out" 2>&1 \
    || fail "swaks failed: $(tail -5 "$T/swaks.out")"
  grep -q '<-  250 2.0.0 Ok: queued as' "$T/swaks.out" || fail "no 250 queued: $(cat "$T/swaks.out")"
}
send alice@example.test
send '<>'
# swaks has no NOTIFY option: a raw client sends RCPT with NOTIFY=NEVER.
py <<'EOF'
from lib import *
c = Client()
c.ehlo()
c.expect("MAIL FROM:<alice@example.test>", 250)
c.expect("RCPT TO:<bob@example.test> NOTIFY=NEVER", 250)
c.expect("DATA", 354)
c.expect_raw(dot_stuff(make_message("never notify", ["no bounce wanted"], msgid="<never@example.test>")), 250, "2.0.0")
c.expect("QUIT", 221)
EOF

wait_for 20 "three bounced recipients in the log" eval \
  '[[ $(log_count "to=<bob@example\.test>, relay=none, .*dsn=4\.4\.7, status=bounced") -ge 3 ]]'
wait_for 10 "the bounce in alice's Maildir" maildir_at_least example.test/alice 1
wait_for 10 "the queue to be empty" queue_empty
sleep 2  # a second bounce, if one were (wrongly) made, would have arrived by now
assert_eq 1 "$(count_maildir example.test/alice)" "bounces delivered to alice (only the first message asks for one)"
assert_eq 1 "$(log_count 'sender non-delivery notification')" "bounce log lines"

bounce="$(find "$MAIL_ROOT/example.test/alice/new" -type f | head -1)"
grep -q '^Return-Path: <>$' "$bounce" || fail "bounce is not from the null sender: $(head -3 "$bounce")"
grep -q '^Content-Type: multipart/report; report-type=delivery-status;' "$bounce" || fail "not a DSN: $(cat "$bounce")"
grep -q '^Final-Recipient: rfc822; bob@example.test$' "$bounce" || fail "no Final-Recipient for bob"
grep -q '^Action: failed$' "$bounce" || fail "no Action: failed"
grep -q '^Status: 4.4.7$' "$bounce" || fail "no Status: 4.4.7"
grep -q '^Subject: expiry test from alice@example.test$' "$bounce" || fail "original headers not quoted"
stop_petrel
pass
