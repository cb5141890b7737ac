#!/usr/bin/env bash
# Setup: one `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT
#   (status); quick-start config plus a `file:` alias table; raw Python sockets as clients,
#   one of them in the background across the reload.
# Reload: carol@example.test is unknown (550); the config gains a mailbox for carol and petrel
# gets SIGHUP ("reload --" in the log); a new session may now send to carol. A session opened
# before the reload, in the middle of a transaction, keeps working and its message is
# delivered. A broken config on SIGHUP is refused ("reload failed") and the running one stays.
# `petrel reload` does the same as SIGHUP. A `file:` table edit is seen without any reload.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

echo "sales@example.test bob@example.test" >"$T/aliases.txt"
# config_with [YAML]: the test's config; YAML goes under tables: (indented two spaces).
config_with() {
  write_config "
aliases: [aliases, filealiases]
tables:
  filealiases: {type: file, path: aliases.txt}
${1:-}"
}
config_with
start_petrel

# A session opened before the reload sits mid-transaction until $T/go exists.
py_bg - <<'EOF'
import os, time
from lib import *
T = os.environ["T"]
c = Client()
c.ehlo("early.example.net")
c.expect("MAIL FROM:<early@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
open(os.path.join(T, "ready"), "w").close()
deadline = time.time() + 60
while not os.path.exists(os.path.join(T, "go")):
    check(time.time() < deadline, "early session: no go signal within 60s")
    time.sleep(0.05)
c.expect("RCPT TO:<bob@example.test>", 250, "2.1.5")
c.expect("DATA", 354)
msg = make_message("early", ["opened before the reload"], msgid="<early@example.net>")
qid = queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0"))
c.expect("QUIT", 221)
open(os.path.join(T, "early-id.tmp"), "w").write(qid)
os.rename(os.path.join(T, "early-id.tmp"), os.path.join(T, "early-id"))
EOF
SESSION_PID=$PY_BG_PID
wait_for 15 "the early session to be mid-transaction" test -e "$T/ready"

py <<'EOF'
from lib import *
c = Client()
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<carol@example.test>", 550, "5.1.1")
c.expect("QUIT", 221)
EOF

config_with "
  mailboxes:
    map:
      carol@example.test: example.test/carol/
"
kill -HUP "$PETREL_PID"
wait_for 10 "the 'reload --' log line after SIGHUP" log_has 'petrel/master\[[0-9]+\]: reload -- version [^,]+, configuration '"$CONF"
py <<'EOF'
from lib import *
msg = make_message("carol", ["after the reload"], msgid="<carol@example.net>", to="carol@example.test")
qid = send_message("sender@example.net", ["carol@example.test"], msg)
files = wait_maildir("example.test/carol", 1)
check_delivered(files[0], "sender@example.net", "carol@example.test", msg, queue_id=qid)
EOF

touch "$T/go"
wait_for 15 "the early session to finish its transaction" test -e "$T/early-id"
wait "$SESSION_PID" || fail "the session opened before the reload failed (see above)"
early_id="$(cat "$T/early-id")"
wait_for 10 "the early message in alice's and bob's Maildirs" eval \
  'maildir_has example.test/alice 1 && maildir_has example.test/bob 1'
grep -q "id $early_id" "$MAIL_ROOT"/example.test/bob/new/* || fail "bob's message is not $early_id"

# A broken config is refused on SIGHUP; carol still works.
printf 'hostname: mail.example.test\nlimits: {message_size: huge}\n' >"$CONF"
kill -HUP "$PETREL_PID"
wait_for 10 "'reload failed' in the log" log_has 'petrel/master\[[0-9]+\]: warning: reload failed: keeping the running configuration'
assert_log 'warning: reload: '"$CONF"':2:[0-9]+: limits\.message_size: ' "the reload error names file:line:column"
py <<'EOF'
from lib import *
c = Client()
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<carol@example.test>", 250)
c.expect("QUIT", 221)
EOF

# `petrel reload` over the control socket; a file table needs no reload at all.
config_with "
  mailboxes:
    map:
      dave@example.test: example.test/dave/
"
petrel reload >/dev/null || fail "petrel reload failed"
assert_eq 2 "$(log_count 'petrel/master\[[0-9]+\]: reload -- ')" "'reload --' lines"
{ cat "$T/aliases.txt"; echo "support@example.test dave@example.test"; } >"$T/aliases.tmp"
mv "$T/aliases.tmp" "$T/aliases.txt"
py <<'EOF'
import time
from lib import *
deadline = time.time() + 10
while True:
    c = Client()
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    c.expect("RCPT TO:<dave@example.test>", 250)
    r = c.cmd("RCPT TO:<support@example.test>")
    c.close()
    if r.code == 250:
        break
    check(r.code == 550 and time.time() < deadline,
          "support@ (added to a file table) still refused after 10s: %r" % r)
    time.sleep(0.2)
EOF
stop_petrel
pass
