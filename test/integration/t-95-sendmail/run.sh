#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config; dave's Maildir path blocked by a file so that
#   his mail stays queued) on 127.0.0.1:$SMTP_PORT; $T/bin/{sendmail,mailq,newaliases} are
#   symlinks to the petrel binary, found through PETREL_CONFIG=$CONF; the callers are real
#   ones: Python's subprocess with `sendmail -t -i` (PHP's mail()), bsd-mailx's mail(1) (its
#   `sendmail` variable from $MAILRC), `git send-email --sendmail-cmd` (skipped without
#   git-email), cron's flags; sqlite3 reads queue.db.
# Server down: sendmail exits 0 and leaves one file in var/state/maildrop; a file already
#   recorded in the journal (a crash between commit and removal) and a malformed file sit
#   there too. Server started: the first is delivered to alice once, the recorded one only
#   removed, the malformed one moved to maildrop-corrupt with a warning. Server up: -t -i with
#   To/Cc/Bcc, bsd-mailx, git send-email, -bs, mailq, too big (exit 69), usage error (64).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool sqlite3

write_config '
limits: {message_size: 200000}
tables:
  mailboxes:
    map:
      dave@example.test: example.test/dave/
'
mkdir -p "$T/bin" "$MAIL_ROOT/example.test"
echo obstacle >"$MAIL_ROOT/example.test/dave"
for n in sendmail mailq newaliases; do ln -s "$PETREL" "$T/bin/$n"; done
export PETREL_CONFIG="$CONF"
SENDMAIL="$T/bin/sendmail"
DROP="$STATE_DIR/maildrop"
ME_UID="$(id -u)"
ME="$(id -un)"
drop_count() { find "$DROP" -maxdepth 1 -type f ! -name '.*' | wc -l; }

# ---- server down: the maildrop keeps the mail ----------------------------------------------
start_petrel
stop_petrel
[[ "$(stat -c %a "$DROP")" == 1733 ]] || fail "maildrop mode $(stat -c %a "$DROP"), want 1733"
printf 'Subject: while down\n\nwritten while the server was down\n.\nnot part of it\n' |
  "$SENDMAIL" alice || fail "sendmail with the server down exited $?"
assert_eq 1 "$(drop_count)" "maildrop files after one offline submission"
printf 'Subject: recorded\n\nalready queued before a crash\n' | "$SENDMAIL" bob@example.test ||
  fail "second offline sendmail exited $?"
RECORDED="$(grep -l 'already queued' "$DROP"/[0-9]* | xargs -n1 basename)"
[[ -n "$RECORDED" ]] || fail "cannot find the second maildrop file"
sqlite3 "$STATE_DIR/queue.db" "INSERT INTO meta (key, value) VALUES ('pickup:$RECORDED', 'X')"
printf 'PETREL-MAILDROP 1\nsender: x\nsize: 0\n\n' >"$DROP/0000.bad"
assert_eq 3 "$(drop_count)" "maildrop files before the start"

start_petrel
wait_for 15 "the offline message in alice's Maildir" maildir_has example.test/alice 1
wait_for 10 "the maildrop to be empty" eval '[[ $(drop_count) -eq 0 ]]'
wait_for 10 "the corrupt file to be moved" test -f "$STATE_DIR/maildrop-corrupt/0000.bad"
assert_log "warning: maildrop file 0000.bad \(uid $ME_UID\): no recipients: moved to" \
  "the warning for the malformed maildrop file"
assert_eq 0 "$(db_count "meta WHERE key LIKE 'pickup:%'")" "pickup names left in the journal"
sleep 1
assert_eq 0 "$(count_maildir example.test/bob)" "bob's messages (his was recorded as queued)"
assert_eq 1 "$(count_maildir example.test/alice)" "alice's messages after the pickup"
F="$(find "$MAIL_ROOT/example.test/alice/new" -type f | head -1)"
grep -q "^Received: by mail.example.test (Petrel, from userid $ME_UID)" "$F" ||
  fail "no pickup Received: field in $(head -20 "$F")"
grep -q "^From: .*<\?$ME@example.test>\?" "$F" || fail "no From: added: $(head -20 "$F")"
grep -q "^Date: " "$F" || fail "no Date: added"
grep -q "^Message-ID: <[0-9]\{14\}\.[0-9]*\.[0-9A-F]*@example.test>" "$F" ||
  fail "no Message-ID: added"
grep -q "not part of it" "$F" && fail "the lone dot did not end the message without -i"
assert_log "client=local" "the client= line of the picked-up message"
assert_log "from=<$ME@example.test>, size=[0-9]+, nrcpt=1" "the from= line of the picked-up message"

# ---- server up: PHP's mail() (sendmail -t -i) through Python's subprocess -------------------
py <<'EOF'
import os, subprocess
from lib import *
msg = (b"To: Bob <bob@example.test>\nCc: alice@example.test\nBcc: postmaster@example.test\n"
       b"Subject: php\n\nfirst\n.\nafter the dot\n")
p = subprocess.run([os.path.join(os.environ["T"], "bin", "sendmail"), "-t", "-i",
                    "-fwebmaster@example.test"], input=msg, capture_output=True)
check(p.returncode == 0, "sendmail -t -i exited %d: %r" % (p.returncode, p.stderr))
wait_maildir("example.test/bob", 1)
wait_maildir("example.test/alice", 2)   # Cc and Bcc (postmaster -> alice) are one copy
bob = open(maildir_files("example.test/bob")[0], "rb").read()
check(b"Bcc" not in bob and b"postmaster" not in bob, "Bcc shown: %r" % bob)
check(b"\n.\nafter the dot\n" in crlf_to_lf(bob), "-i lost the dot line: %r" % bob)
check(b"Return-Path: <webmaster@example.test>" in bob, "envelope sender: %r" % bob[:300])
EOF
sleep 1
assert_eq 2 "$(count_maildir example.test/alice)" "alice's copies of the -t message (no duplicate)"

# ---- bsd-mailx ------------------------------------------------------------------------------
if command -v bsd-mailx >/dev/null; then
  printf 'set sendmail=%s\n' "$SENDMAIL" >"$T/mailrc"
  echo "hello from mailx" | HOME="$T" MAILRC="$T/mailrc" bsd-mailx -s "mailx test" \
    bob@example.test || fail "bsd-mailx exited $?"
  wait_for 15 "the mailx message in bob's Maildir" maildir_has example.test/bob 2
  grep -l "^Subject: mailx test" "$MAIL_ROOT"/example.test/bob/new/* >/dev/null ||
    fail "no mailx message for bob"
else
  log "bsd-mailx not installed: its part is skipped"
fi

# ---- git send-email (sendmail -i -f sender rcpt) --------------------------------------------
if git send-email --help >/dev/null 2>&1 && perl -MMail::Address -e 1 2>/dev/null; then
  R="$T/repo"
  export HOME="$T" GIT_CONFIG_NOSYSTEM=1
  git init -q "$R"
  git -C "$R" -c user.name=Dev -c user.email=dev@example.test commit -q --allow-empty -m base
  echo change >"$R/file"
  git -C "$R" add file
  git -C "$R" -c user.name=Dev -c user.email=dev@example.test commit -q -m "add a file"
  git -C "$R" format-patch -q -1 -o "$T/patches"
  git -C "$R" -c user.name=Dev -c user.email=dev@example.test send-email --quiet \
    --sendmail-cmd="$SENDMAIL" --to=bob@example.test --from="Dev <dev@example.test>" \
    --envelope-sender=dev@example.test --suppress-cc=all --confirm=never --no-validate \
    "$T"/patches/*.patch >/dev/null ||
    fail "git send-email exited $?"
  wait_for 15 "the patch in bob's Maildir" eval \
    'grep -l "^Subject: \[PATCH\] add a file" "$MAIL_ROOT"/example.test/bob/new/* >/dev/null'
  grep -l "^Return-Path: <dev@example.test>" "$MAIL_ROOT"/example.test/bob/new/* >/dev/null ||
    fail "git send-email's -f sender is not the envelope sender"
else
  log "git send-email not installed: its part is skipped"
fi

# ---- cron's flags, -bs, mailq, errors -------------------------------------------------------
echo "cron output" | "$SENDMAIL" -i -FCronDaemon -B8BITMIME -oem -odi dave ||
  fail "cron-style sendmail exited $?"
wait_for 15 "dave's message to be deferred" log_has "to=<dave@example.test>.*status=deferred"
"$T/bin/mailq" >"$T/mailq.out" || fail "mailq exited $?"
grep -q "dave@example.test" "$T/mailq.out" ||
  fail "mailq does not list dave's message: $(cat "$T/mailq.out")"
grep -q "^-- [0-9]* Kbytes in 1 Request\.$" "$T/mailq.out" ||
  fail "mailq footer: $(cat "$T/mailq.out")"
"$SENDMAIL" -bp | grep -q "dave@example.test" || fail "sendmail -bp differs from mailq"
DAVE_ID="$(petrel queue list --json |
  py -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
petrel queue show "$DAVE_ID" | grep -q "^From: CronDaemon <$ME@example.test>" ||
  fail "cron's -F full name is not in From:"

printf 'EHLO me\r\nMAIL FROM:<bs@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n%s\r\n' \
  'Subject: bs' | { cat; printf '\r\n..dotted\r\n.\r\nQUIT\r\n'; } |
  "$SENDMAIL" -bs >"$T/bs.out" || fail "sendmail -bs exited $?"
grep -q "^250 2.0.0 Ok: queued as [0-9A-F]\{12\}" "$T/bs.out" ||
  fail "sendmail -bs: $(cat "$T/bs.out")"
wait_for 15 "the -bs message in alice's Maildir" maildir_has example.test/alice 3

head -c 300000 /dev/zero | tr '\0' 'x' | fold -w 70 | "$SENDMAIL" alice 2>"$T/big.err" &&
  rc=0 || rc=$?
assert_eq 69 "$rc" "exit status of a message over limits.message_size"
grep -q "limits.message_size" "$T/big.err" || fail "too big message error: $(cat "$T/big.err")"
"$SENDMAIL" -k alice </dev/null 2>/dev/null && rc=0 || rc=$?
assert_eq 64 "$rc" "exit status of an unknown option"
echo x | "$SENDMAIL" 2>/dev/null && rc=0 || rc=$?
assert_eq 64 "$rc" "exit status without recipients"
"$T/bin/newaliases" 2>/dev/null || fail "newaliases exited $?"
assert_eq 0 "$(drop_count)" "maildrop files while the server is up"

stop_petrel
pass
