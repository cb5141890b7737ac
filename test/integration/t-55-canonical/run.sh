#!/usr/bin/env bash
# Setup: `petrel serve` on 127.0.0.1:$SMTP_PORT with the quick-start config plus canonical maps
#   (canonical.recipient from an inline table, canonical.sender from a regexp file); Python
#   smtplib as the client.
# canonical.recipient rewrites RCPT addresses before routing: info@ lands in bob's Maildir and
# a whole old domain maps to example.test keeping the user part; the restrictions still see the
# address as given. canonical.sender rewrites the envelope sender as delivered: the Maildir
# file's Return-Path names the canonical sender. `petrel route` shows the rewrite step.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cat >"$T/sender.regexp" <<'EOF2'
/^alice@example\.test$/   alice.smith@example.test
EOF2
write_config "
tables:
  rcanon: {type: inline, map: {info@example.test: bob@example.test, '@old.test': '@example.test'}}
  aliases: {type: inline, map: {postmaster@example.test: alice@example.test,
                                alice.smith@example.test: alice@example.test}}
canonical:
  recipient: rcanon
  sender: 'regexp:$T/sender.regexp'
"
start_petrel

py <<'PY'
import smtplib, os
s = smtplib.SMTP("127.0.0.1", int(os.environ["SMTP_PORT"]))
s.ehlo("client.test")
for rcpt, subject in (("info@example.test", "to info"), ("alice@old.test", "to old domain")):
    msg = "From: alice@example.test\r\nTo: %s\r\nSubject: %s\r\n\r\nhello\r\n" % (rcpt, subject)
    refused = s.sendmail("alice@example.test", [rcpt], msg)
    assert not refused, refused
s.quit()
PY

wait_for 10 "bob's message" maildir_at_least example.test/bob 1
wait_for 10 "alice's message" maildir_at_least example.test/alice 1
bob_file=$(ls "$MAIL_ROOT/example.test/bob/new/" | head -1)
alice_file=$(ls "$MAIL_ROOT/example.test/alice/new/" | head -1)
grep -q '^Subject: to info' "$MAIL_ROOT/example.test/bob/new/$bob_file" || fail "bob got the wrong message"
grep -q '^Subject: to old domain' "$MAIL_ROOT/example.test/alice/new/$alice_file" || fail "alice got the wrong message"
head -1 "$MAIL_ROOT/example.test/bob/new/$bob_file" | grep -q '^Return-Path: <alice.smith@example.test>' ||
  fail "Return-Path is not the canonical sender: $(head -2 "$MAIL_ROOT/example.test/bob/new/$bob_file")"
grep -q '^Delivered-To: bob@example.test' "$MAIL_ROOT/example.test/bob/new/$bob_file" || fail "Delivered-To"
assert_log "to=<bob@example\\.test>, orig_to=<info@example\\.test>, relay=virtual, .*status=sent" "log names both addresses"

"$PETREL" route --config "$CONF" info@example.test >"$T/route.out" || fail "route: $(cat "$T/route.out")"
grep -q "canonical.recipient: info@example.test -> bob@example.test" "$T/route.out" ||
  fail "route does not show the rewrite: $(cat "$T/route.out")"
stop_petrel
pass
