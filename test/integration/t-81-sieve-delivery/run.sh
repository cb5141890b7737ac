#!/usr/bin/env bash
# Sieve at Maildir delivery (issue 14): delivery.sieve with the course handout's global script
# (/srv/mail/globalsieverc: X-Spam-Flag YES -> fileinto "spam"; stop) before every user's
# own, and alice's personal script in user_scripts. Messages sent with smtplib; the Maildir
# files are the assertions:
# - spam for alice and for bob (who has no script) lands in .spam/ of each Maildir, with the
#   maildirfolder file and "spam" in subscriptions (Dovecot's layout); alice's script does
#   not run on it (the global script filed and stopped);
# - alice's "[list]" mail goes to .Lists.Work/cur/ with the \Seen flag (":2,S");
# - "drop" is discarded: in no folder, logged "discarded by sieve";
# - other mail lands in INBOX; a redirect (to a foreign address) is queued as a copy and not
#   kept (t-82-vacation checks where such copies arrive);
# - a global script with a syntax error refuses the config with file:line:column.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cd "$T"
mkdir -p sieve/users/example.test
cat > globalsieverc <<'SIEVE'
require "fileinto";
if header :contains "X-Spam-Flag" "YES" {
  fileinto "spam";
  stop;
}
SIEVE
cat > sieve/users/example.test/alice.sieve <<'SIEVE'
require ["fileinto", "imap4flags"];
if header :contains "Subject" "[list]" {
  fileinto :flags "\\Seen" "Lists/Work";
} elsif header :contains "Subject" "drop" {
  discard;
} elsif header :contains "Subject" "forward" {
  redirect "someone@elsewhere.example";
} elsif header :contains "X-Spam-Flag" "YES" {
  fileinto "never-reached";
}
SIEVE
write_config "
delivery:
  sieve: {global_before: $T/globalsieverc, user_scripts: $T/sieve/users}
"
start_petrel

send() {  # send TO SUBJECT [SPAMFLAG]
  py - "$@" <<'PY'
import smtplib, sys, os
to, subject = sys.argv[1], sys.argv[2]
spam = 'X-Spam-Flag: YES\r\n' if len(sys.argv) > 3 else ''
msg = ('From: s@example.net\r\nTo: %s\r\nSubject: %s\r\n%s\r\nHello.\r\n' % (to, subject, spam))
with smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30) as s:
    s.sendmail('s@example.net', [to], msg)
PY
}
send alice@example.test "buy now" spam
send bob@example.test "buy now too" spam
send alice@example.test "[list] weekly"
send alice@example.test "drop me"
send alice@example.test "plain hello"
send alice@example.test "forward this"

A="$MAIL_ROOT/example.test/alice"
B="$MAIL_ROOT/example.test/bob"
wait_for 20 "alice's spam" eval '[[ -n "$(ls "$A/.spam/new" 2>/dev/null)" ]]' || fail "no spam folder for alice"
wait_for 20 "the list mail" eval '[[ -n "$(ls "$A/.Lists.Work/cur" 2>/dev/null)" ]]' ||
  fail "no Lists.Work mail"
wait_for 20 "INBOX mail" maildir_has example.test/alice 1 || fail "INBOX: $(ls "$A/new")"
wait_for 20 "bob's spam" eval '[[ -n "$(ls "$B/.spam/new" 2>/dev/null)" ]]' || fail "no spam folder for bob"
wait_for 20 "the discard" log_has 'status=sent \(discarded by sieve\)' || fail "no discard line"

grep -q '^Subject: buy now$' "$A"/.spam/new/* || fail "alice's spam is not in .spam"
[[ -f "$A/.spam/maildirfolder" ]] || fail "no maildirfolder file"
grep -qx 'spam' "$A/subscriptions" || fail "spam not subscribed: $(cat "$A/subscriptions")"
grep -qx 'Lists.Work' "$A/subscriptions" || fail "Lists.Work not subscribed"
[[ ! -e "$A/.never-reached" ]] || fail "alice's script ran after the global script stopped"
f=$(ls "$A"/.Lists.Work/cur/)
[[ "$f" == *":2,S" ]] || fail "the list mail's flags: $f"
inbox=$(cat "$A"/new/*)
[[ "$inbox" == *"Subject: plain hello"* && "$inbox" != *"Subject: forward this"* ]] ||
  fail "INBOX holds: $inbox"
if grep -rqs '^Subject: drop me' "$A"; then fail "the dropped message was stored"; fi
wait_for 20 "the redirect" log_has 'status=sent \(redirected by sieve to someone@elsewhere.example\)' ||
  fail "no line for the redirect"
log_has ': sieve redirect: [0-9A-F]+' || fail "the redirect's copy was not queued"
grep -q '^Subject: buy now too$' "$B"/.spam/new/* || fail "bob's spam is not in .spam"

# A global script that does not compile refuses the config, naming the script's position.
stop_petrel
printf 'require "fileinto";\nif header :contains "X" {\n' > "$T/globalsieverc"
if out=$(petrel check-config 2>&1); then fail "a broken global script was accepted: $out"; fi
[[ "$out" == *"globalsieverc:"[0-9]*:[0-9]* ]] || fail "the error does not name the script: $out"
pass
