#!/usr/bin/env bash
# Personal Sieve scripts at delivery (issue 14): delivery.sieve.user_scripts as a table (an
# SQLite `sieve_scripts` table, Dovecot/PostfixAdmin-like: username, name, script, active),
# include :personal from that table, include :global from global_dir, then user_scripts as a
# directory after `petrel reload`. Mail sent with smtplib; the folders read back over IMAP
# from a real Dovecot (imaplib), and each of alice's filings compared with Pigeonhole's
# sieve-test (dovecot-sieve) on the same script and message.
# - alice's table script files "work" into Work, and includes :personal "lists" (the row
#   named lists) that files "[list]" into Lists; other mail stays in INBOX;
# - bob's table script does not compile: his mail is kept in INBOX and the log names the
#   table, the key and line:column;
# - a table row changed: the next message follows the new script;
# - the global script includes :global "spam" from global_dir; spam.sieve changed on disk
#   takes effect on the next message;
# - directory mode: carol's script changed on disk takes effect on the next message; broken,
#   her message is kept in INBOX;
# - a reload with a global script that does not compile is refused (the log names
#   file:line:column) and the running scripts stay.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/dovecot.sh"
need_tool sqlite3

cd "$T"
mkdir -p global users/example.test
sqlite3 "$T/sieve.db" <<'SQL'
CREATE TABLE sieve_scripts (username TEXT NOT NULL, name TEXT NOT NULL, script TEXT NOT NULL,
                            active INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (username, name));
INSERT INTO sieve_scripts VALUES ('alice@example.test', 'main', 'require ["fileinto", "include"];
if header :contains "Subject" "work" { fileinto "Work"; stop; }
include :personal "lists";
', 1);
INSERT INTO sieve_scripts VALUES ('alice@example.test', 'lists', 'require "fileinto";
if header :contains "Subject" "[list]" { fileinto "Lists"; }
', 0);
INSERT INTO sieve_scripts VALUES ('bob@example.test', 'main', 'require "fileinto";
if header :contains "Subject" "work" {
  fileinto "Work" "Other";
}
', 1);
SQL
cat > global/before.sieve <<'SIEVE'
require "include";
include :global :optional "spam";
SIEVE
cat > global/spam.sieve <<'SIEVE'
require "fileinto";
if header :contains "X-Spam-Flag" "YES" { fileinto "Junk"; stop; }
SIEVE

QUERY="SELECT script FROM sieve_scripts WHERE (username = %s AND active = 1)"
QUERY+=" OR username || '/' || name = %s"
config() {  # USER_SCRIPTS
  write_config "
tables:
  mailboxes: {map: {carol@example.test: example.test/carol/}}
  sieve_scripts: {type: sqlite, path: $T/sieve.db, query: \"$QUERY\"}
delivery:
  sieve: {global_before: $T/global/before.sieve, global_dir: $T/global, user_scripts: $1}
"
}
config sieve_scripts
start_petrel

send() {  # send TO SUBJECT [SPAMFLAG]: prints the file it sent
  py - "$@" <<'PY'
import os, smtplib, sys
to, subject = sys.argv[1], sys.argv[2]
spam = 'X-Spam-Flag: YES\r\n' if len(sys.argv) > 3 else ''
msg = ('From: s@example.net\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.net>\r\n%s'
       '\r\nHello.\r\n' % (to, subject, abs(hash(subject + to)), spam))
name = os.path.join(os.environ['T'], 'sent-%d.eml' % len(os.listdir(os.environ['T'])))
open(name, 'w', newline='').write(msg)
with smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30) as s:
    s.sendmail('s@example.net', [to], msg)
print(name)
PY
}
delivered() { log_count "to=<$1>, .*status=sent"; }
A="$MAIL_ROOT/example.test/alice"
B="$MAIL_ROOT/example.test/bob"
C="$MAIL_ROOT/example.test/carol"

# ---- scripts from the table ----------------------------------------------------------------
W=$(send alice@example.test "work report")
L=$(send alice@example.test "[list] digest")
H=$(send alice@example.test "hello alice")
send bob@example.test "work for bob" >/dev/null
wait_for 20 "three deliveries to alice" eval '[[ $(delivered alice@example.test) -ge 3 ]]' ||
  fail "alice: $(grep alice "$PETREL_LOG" | tail -3)"
wait_for 20 "bob's delivery" eval '[[ $(delivered bob@example.test) -ge 1 ]]'
assert_log 'to=<bob@example.test>: sieve: sqlite:.*: bob@example.test:3:3: .*\(script skipped\)' \
  "the warning for bob's broken script names the table, the key and line:column"
maildir_has example.test/bob 1 || fail "bob's message is not in his INBOX: $(ls -R "$B")"

# A changed row: the next message follows it.
sqlite3 "$T/sieve.db" "UPDATE sieve_scripts SET script = replace(script, '\"Work\"', '\"Archive\"')
                       WHERE username = 'alice@example.test' AND name = 'main'"
W2=$(send alice@example.test "work again")
# The global script's include :global, changed on disk between two messages.
S1=$(send alice@example.test "buy now" spam)
wait_for 20 "five deliveries to alice" eval '[[ $(delivered alice@example.test) -ge 5 ]]'
sed -i 's/"Junk"/"Spam"/' global/spam.sieve
S2=$(send alice@example.test "buy again" spam)
wait_for 20 "six deliveries to alice" eval '[[ $(delivered alice@example.test) -ge 6 ]]'

# ---- what Dovecot shows ----------------------------------------------------------------------
start_dovecot "alice:{PLAIN}pw::::$A::
bob:{PLAIN}pw::::$B::"
export DOVECOT_IMAP_PORT
dovecot_own "$MAIL_ROOT"
# folders USER: "FOLDER: subject|subject" lines, one per folder with mail, sorted.
folders() {
  py - "$1" <<'PY'
import imaplib, os, re, sys
m = imaplib.IMAP4('127.0.0.1', int(os.environ['DOVECOT_IMAP_PORT']), timeout=20)
m.login(sys.argv[1], 'pw')
typ, boxes = m.list()
assert typ == 'OK', boxes
out = []
for line in boxes:
    name = re.search(rb'"([^"]*)"$|(\S+)$', line)
    name = (name.group(1) or name.group(2)).decode()
    typ, n = m.select('"%s"' % name, readonly=True)
    if int(n[0]) == 0:
        continue
    typ, data = m.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    subjects = sorted(d[1].decode().strip()[len('Subject: '):]
                      for d in data if isinstance(d, tuple))
    out.append('%s: %s' % (name, '|'.join(subjects)))
m.logout()
print('\n'.join(sorted(out)))
PY
}
GOT="$(folders alice)" || fail "IMAP for alice failed: $(dovecot_log)"
WANT="Archive: work again
INBOX: hello alice
Junk: buy now
Lists: [list] digest
Spam: buy again
Work: work report"
assert_eq "$WANT" "$GOT" "alice's folders over IMAP"
assert_eq "INBOX: work for bob" "$(folders bob)" "bob's folders over IMAP"

# ---- Pigeonhole's sieve-test on the same scripts and messages --------------------------------
if command -v sieve-test >/dev/null; then
  mkdir -p oracle/personal oracle/global oracle/mail
  row() { sqlite3 "$T/sieve.db" "SELECT script FROM sieve_scripts WHERE name = '$1'
                                   AND username = 'alice@example.test'"; }
  row main >oracle/main.sieve
  row lists >oracle/personal/lists.sieve
  cp global/*.sieve oracle/global/
  if [ "$(id -u)" -eq 0 ]; then uid=65534 gid=65534; else uid=$(id -u) gid=$(id -g); fi
  chmod -R a+rwX oracle
  cat >oracle/dovecot.conf <<CONF
mail_uid = $uid
mail_gid = $gid
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:$T/oracle/mail
plugin {
  sieve = file:$T/oracle/personal;active=$T/oracle/main.sieve
  sieve_global = $T/oracle/global
}
CONF
  # oracle MESSAGE: the folders sieve-test stores MESSAGE in (the global script, then alice's).
  oracle() {
    local f out
    for f in oracle/global/before.sieve oracle/main.sieve; do
      out=$(timeout 20 sieve-test -c oracle/dovecot.conf -f s@example.net -r alice@example.test \
        "$f" "$1" 2>>oracle.err) || fail "sieve-test $f failed: $(tail -3 oracle.err)"
      out=$(sed -n 's/^ \* store message in folder: //p' <<<"$out")
      if [[ "$out" != INBOX ]]; then echo "$out"; return; fi
    done
    echo INBOX
  }
  # Junk and Work are what the scripts said before they changed: the oracle sees the scripts
  # as they are now (Archive, Spam).
  assert_eq "Archive" "$(oracle "$W")" "sieve-test on 'work report' (now)"
  assert_eq "Archive" "$(oracle "$W2")" "sieve-test on 'work again'"
  assert_eq "Lists" "$(oracle "$L")" "sieve-test on '[list] digest'"
  assert_eq "INBOX" "$(oracle "$H")" "sieve-test on 'hello alice'"
  assert_eq "Spam" "$(oracle "$S1")" "sieve-test on 'buy now' (now)"
  assert_eq "Spam" "$(oracle "$S2")" "sieve-test on 'buy again'"
else
  log "sieve-test (dovecot-sieve) is not installed: no comparison with Pigeonhole"
fi

# ---- user_scripts as a directory, after a reload --------------------------------------------
mkdir -p users/example.test
printf 'require "fileinto";\nfileinto "First";\n' > users/example.test/carol.sieve
config "$T/users"
petrel reload >/dev/null || fail "petrel reload failed"
wait_for 10 "the reload" eval '[[ $(log_count "petrel/master\[[0-9]+\]: reload -- ") -ge 1 ]]'
send carol@example.test "one" >/dev/null
wait_for 20 "carol's first delivery" eval '[[ $(delivered carol@example.test) -ge 1 ]]'
printf 'require "fileinto";\nfileinto "Second-folder";\n' > users/example.test/carol.sieve
send carol@example.test "two" >/dev/null
wait_for 20 "carol's second delivery" eval '[[ $(delivered carol@example.test) -ge 2 ]]'
printf 'require "fileinto";\nfileinto "Third" "x";\n' > users/example.test/carol.sieve
send carol@example.test "three" >/dev/null
wait_for 20 "carol's third delivery" eval '[[ $(delivered carol@example.test) -ge 3 ]]'
grep -q '^Subject: one$' "$C"/.First/new/* || fail "carol's first message is not in First"
grep -q '^Subject: two$' "$C"/.Second-folder/new/* ||
  fail "the changed script was not used: $(ls -R "$C")"
grep -q '^Subject: three$' "$C"/new/* || fail "the broken script's message is not in INBOX"
assert_log 'to=<carol@example.test>: sieve: .*/carol.sieve:2:[0-9]+: .*\(script skipped\)' \
  "the warning for carol's broken script names file:line:column"

# A global script that does not compile: the reload is refused, naming it; the old one runs.
printf 'require "include";\ninclude :global "spam"\n' > global/before.sieve
# `petrel reload` checks the file first and says where; SIGHUP makes the server try.
if out=$(petrel reload 2>&1); then fail "petrel reload accepted a broken global script"; fi
[[ "$out" == *"global/before.sieve:3:"[0-9]* ]] || fail "petrel reload's error: $out"
kill -HUP "$PETREL_PID"
wait_for 10 "'reload failed'" log_has 'warning: reload failed: keeping the running configuration'
assert_log 'reload: .*global/before.sieve:[0-9]+:[0-9]+: ' "the reload error names the script"
S3=$(send carol@example.test "buy for carol" spam)
wait_for 20 "carol's spam" eval '[[ $(delivered carol@example.test) -ge 4 ]]'
grep -q '^Subject: buy for carol$' "$C"/.Spam/new/* ||
  fail "the running global script did not file carol's spam: $(ls -R "$C")"
if petrel check-config >/dev/null 2>&1; then fail "check-config accepted the broken script"; fi
pass
