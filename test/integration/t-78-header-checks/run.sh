#!/usr/bin/env bash
# Header and body checks (checks:, Postfix header_checks(5)) on the real SMTP path.
# Setup: petrel serve on $SMTP_PORT/$STATUS_PORT with regexp: tables for checks.header,
# checks.mime_header and checks.body (the course's lines as written); smtplib from
# /usr/bin/python3 as the client (127.0.0.1, in mynetworks); swaks for the attachment.
# - "Subject: ... Make Money Fast!" (folded) is refused at end of data with 550 5.7.1 and
#   cleanup's "reject: header Subject: ..." line;
# - a multipart message with an attachment named .exe is refused by mime_header;
# - PREPEND, REPLACE and IGNORE show in the delivered Maildir file;
# - a body line that says HOLD leaves the message held (`petrel queue list --json`);
# - PREPEND, REPLACE and IGNORE on MIME part headers (mime_header) and on an attached
#   message's header (nested_header, which defaults to header) show in the delivered Maildir
#   file, the rest of the message byte for byte as sent;
# - `petrel checks test FILE` prints the action and exits 1 for a refused message.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cd "$T"
cat >header_checks <<'TABLE'
/^Subject: .*Make Money Fast!/ REJECT
/^Subject: (replace me.*)/ REPLACE Subject: [replaced] $1
/^X-Mailer: / PREPEND X-Checked: yes
/^X-Spam-Level: / IGNORE
/^X-Warn-Me: / WARN suspicious
TABLE
cat >mime_header_checks <<'TABLE'
/name=[^>]*\.(bat|com|exe|dll)/ REJECT
/^Content-Description: (.*)/ REPLACE Content-Description: [checked] $1
/^Content-Disposition: attachment; filename="(.*)\.doc"/ PREPEND X-Attachment-Was: $1
/^Content-ID: / IGNORE
TABLE
cat >body_checks <<'TABLE'
/^hold this message$/ HOLD held by body check
TABLE
write_config "
checks:
  header: regexp:$T/header_checks
  mime_header: regexp:$T/mime_header_checks
  body: regexp:$T/body_checks
"
start_petrel

# send FILE: sends the message in FILE (LF line ends) to alice; prints the DATA reply.
send() {
  py - "$1" <<'PY'
import smtplib, sys, os
msg = open(sys.argv[1], 'rb').read().replace(b'\n', b'\r\n')
s = smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30)
s.ehlo('client.example.test')
s.mail('sender@example.net')
s.rcpt('alice@example.test')
try:
    code, text = s.data(msg)
except smtplib.SMTPDataError as e:
    code, text = e.smtp_code, e.smtp_error
print(code, text.decode())
s.quit()
PY
}

cat >spam.eml <<'MSG'
From: spammer@example.net
To: alice@example.test
Subject: Please read:
 Make Money Fast!

Buy now.
MSG
reply=$(send spam.eml)
[[ "$reply" == "550 5.7.1 message content rejected" ]] || fail "Make Money Fast answered: $reply"
assert_log ': reject: header Subject: Please read: Make Money Fast! from unknown\[127\.0\.0\.1\]; from=<sender@example\.net> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>: 5\.7\.1 message content rejected' \
  "cleanup's reject line for the Subject"

# The course's mime_header_checks line, through swaks's attachment (a MIME part named .exe).
if command -v swaks >/dev/null; then
  printf 'MZ not really a program\n' >invoice.exe
  out=$(swaks --server 127.0.0.1:"$SMTP_PORT" --helo client.example.test \
          --from sender@example.net --to alice@example.test --header 'Subject: invoice' \
          --attach-type application/octet-stream --attach-name invoice.exe --attach @invoice.exe 2>&1 || true)
  grep -q '<\*\* 550 5.7.1 message content rejected' <<<"$out" || fail "the .exe attachment was not refused: $out"
  assert_log ': reject: header Content-Type: application/octet-stream.*invoice\.exe.* 5\.7\.1 message content rejected' \
    "cleanup's reject line for the MIME part"
else
  log "swaks not installed: the attachment case is sent by smtplib"
fi
cat >attach.eml <<'MSG'
From: sender@example.net
To: alice@example.test
Subject: invoice
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain

see attachment
--b
Content-Type: application/x-msdownload
Content-Disposition: attachment; filename="setup.exe"

TVqQAAMAAAAEAAAA
--b--
MSG
reply=$(send attach.eml)
[[ "$reply" == "550 5.7.1 message content rejected" ]] || fail "the setup.exe part answered: $reply"
assert_log ': reject: header Content-Disposition: attachment; filename="setup\.exe"' \
  "the reject line for Content-Disposition"

cat >edit.eml <<'MSG'
From: sender@example.net
To: alice@example.test
Subject: replace me please
X-Mailer: Mutt
X-Spam-Level: ****
X-Warn-Me: yes

Hello.
MSG
reply=$(send edit.eml)
[[ "$reply" == 250* ]] || fail "the message to edit answered: $reply"
wait_for 20 "the edited message in alice's Maildir" maildir_has example.test/alice 1
f=$(ls "$MAIL_ROOT"/example.test/alice/new/*)
assert_file_contains "$f" '^Subject: \[replaced\] replace me please' "REPLACE"
grep -q '^Subject: replace me please' "$f" && fail "the replaced Subject is still there"
grep -B0 -A1 '^X-Checked: yes' "$f" | grep -q '^X-Mailer: Mutt' || fail "PREPEND did not put X-Checked right before X-Mailer: $(cat "$f")"
grep -q '^X-Spam-Level' "$f" && fail "IGNORE left X-Spam-Level in: $(cat "$f")"
assert_log ': warning: header X-Warn-Me: yes from .*: suspicious' "the WARN line"

cat >hold.eml <<'MSG'
From: sender@example.net
To: alice@example.test
Subject: keep

first line
hold this message
MSG
reply=$(send hold.eml)
[[ "$reply" == 250* ]] || fail "the message to hold answered: $reply"
wait_for 10 "the hold line" log_has ': hold: body hold this message from .*: held by body check'
petrel queue list --json | py -c '
import json, sys
q = json.load(sys.stdin)
held = [m for m in q if m["held"]]
assert len(held) == 1 and held[0]["sender"] == "sender@example.net", q
' || fail "the message is not held"
maildir_has example.test/alice 1 || fail "the held message was delivered"

# Part headers are edited too (Postfix applies mime_header_checks and nested_header_checks
# edits): the stored message is the sent one with exactly these edits.
cat >parts.eml <<'MSG'
From: sender@example.net
To: alice@example.test
Subject: parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b"

--b
Content-Type: text/plain
Content-Description: the letter
Content-ID: <letter@example.net>

Content-ID: a body line, kept
--b
Content-Type: application/msword
Content-Disposition: attachment; filename="report.doc"

0M8R4KGxGuEAAAAA
--b
Content-Type: message/rfc822

From: carol@example.com
Subject: forwarded
X-Mailer: Mutt
X-Spam-Level: ***

inner text
--b--
MSG
sed -e 's/^Content-Description: the letter$/Content-Description: [checked] the letter/' \
    -e '/^Content-ID: <letter@example.net>$/d' \
    -e 's/^\(Content-Disposition: attachment; filename="report.doc"\)$/X-Attachment-Was: report\n&/' \
    -e 's/^\(X-Mailer: Mutt\)$/X-Checked: yes\n\1/' \
    -e '/^X-Spam-Level: \*\*\*$/d' parts.eml >parts.expected
reply=$(send parts.eml)
[[ "$reply" == 250* ]] || fail "the message with parts answered: $reply"
wait_for 20 "the message with parts in alice's Maildir" maildir_has example.test/alice 2
f=$(grep -l '^Subject: parts' "$MAIL_ROOT"/example.test/alice/new/*)
# The delivered file: our Received field, then the message as sent with the edits.
py - "$f" parts.expected <<'PY' || fail "the part headers were not edited as expected: $(cat "$f")"
import sys
got = open(sys.argv[1], 'rb').read().replace(b'\r\n', b'\n')
want = open(sys.argv[2], 'rb').read()
body = got[got.index(b'\nFrom: sender@example.net\n') + 1:]
assert body == want, (body, want)
PY
assert_log \
  ': replace: header Content-Description: the letter from .*: Content-Description: \[checked\] the letter' \
  "the replace line of a part header"
assert_log ': prepend: header X-Mailer: Mutt from .*: X-Checked: yes' \
  "the prepend line of the attached message"
log_has 'not applied here' &&
  fail "a part header edit was not applied: $(grep 'not applied' "$PETREL_LOG")"

# An edited table file is read again within a second or two, without a reload.
printf '/^Subject: .*Make Money Fast!/ REJECT 5.7.0 edited rule\n' >header_checks.new
mv header_checks.new header_checks
deadline=$((SECONDS + 10))
while :; do
  reply=$(send spam.eml)
  [[ "$reply" == "550 5.7.0 edited rule" ]] && break
  ((SECONDS < deadline)) || fail "the edited header_checks file was not read again: $reply"
  sleep 0.5
done
printf '/^Subject: .*Make Money Fast!/ REJECT\n/^Subject: (replace me.*)/ REPLACE Subject: [replaced] $1\n' >header_checks

# The CLI over the same files.
out=$(petrel checks test spam.eml) && fail "checks test accepted the spam: $out"
grep -q 'header_checks: Subject: Please read: Make Money Fast!' <<<"$out" || fail "checks test: $out"
grep -q 'result: refused at end of data: 550 5.7.1 message content rejected' <<<"$out" || fail "checks test: $out"
out=$(petrel checks test edit.eml) || fail "checks test refused the edit message: $out"
grep -q 'replace Subject: \[replaced\] replace me please' <<<"$out" || fail "checks test: $out"

# Each refusal and hold is one log line, cleanup's (pflogsumm counts lines): the session adds
# no "NOQUEUE: reject: END-OF-MESSAGE" and smtpd no second "hold:" for what a header check did.
assert_eq 0 "$(log_count 'NOQUEUE: reject: END-OF-MESSAGE')" "session reject lines for refused messages"
assert_eq 1 "$(log_count ': hold: ')" "hold lines"
pass
