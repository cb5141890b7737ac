#!/usr/bin/env bash
# The pipe transport (issue 14, docs/pipe.md; Postfix's pipe(8)).
# Setup: petrel serve on a free SMTP port (running as root, as here: the programs run as
# `nobody`), started with a stray fd 7 open that no program may inherit. The transport table
# sends bob@example.test to `piper` (a script this test writes: it records its argv,
# environment, open fds and stdin under $T/rec and exits with the code in $T/code), and
# carol@example.test (an extra mailbox) to `slow` (a script that sleeps past time_limit: 2s).
# alice (a Maildir) is the sender, so the bounce is read from her INBOX:
# - code 0: delivered, argv as expanded, the clean environment, only fds 0-2, stdin = the
#   flags' Return-Path / Delivered-To / X-Original-To lines then the message with LF lines,
#   From_-escaped and dot-stuffed as flags > and . say;
# - code 75: deferred (queue list shows it, the log gives the reply); code 0 and `petrel
#   queue flush`: delivered;
# - code 67: bounced 5.1.1 with the script's output in the DSN alice receives;
# - the log names the program pipe (petrel/pipe[pid]: ..., as pipe(8)'s lines for pflogsumm);
# - the sleeper is killed at its time limit and bounced 5.3.0 (as pipe(8)); a missing program
#   defers;
#   a message with Delivered-To: for the recipient bounces 5.4.6 (flag D's loop check);
# - a stop while a program runs kills it and defers the mail (4.3.2);
# - with /usr/lib/dovecot/dovecot-lda: one message delivered through it into a Maildir (the
#   course's `deliver -d ${recipient}` with `-a ${recipient}`: -d asks a running Dovecot's
#   auth service for the user; -a names the recipient and the Maildir comes from -c).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cd "$T"
chmod 755 "$T"  # the programs run as nobody and must reach their scripts
mkdir -p rec && chmod 777 rec
echo 0 >code && chmod 644 code
cat >piper.py <<'PY'
#!/usr/bin/python3
import os, sys, json, time
rec = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rec")
n = "%d-%d" % (time.time_ns(), os.getpid())
data = sys.stdin.buffer.read()
fds = sorted(int(x) for x in os.listdir("/proc/self/fd"))
json.dump({"argv": sys.argv, "env": dict(os.environ), "fds": fds, "cwd": os.getcwd(),
           "uid": os.getuid(), "pgid_is_pid": os.getpgid(0) == os.getpid()},
          open(os.path.join(rec, n + ".json"), "w"))
open(os.path.join(rec, n + ".stdin"), "wb").write(data)
code = int(open(os.path.join(os.path.dirname(rec), "code")).read().strip())
print("script output for %s: code %d\tend" % (sys.argv[-1], code))
sys.exit(code)
PY
cat >slow.sh <<'SH'
#!/bin/sh
echo $$ >>"$(dirname "$0")/rec/slow.pgids"  # a group leader (setsid): its pid is the group
echo "sleeping"
sleep 60
SH
chmod 755 piper.py slow.sh

write_config "
tables:
  mailboxes:
    map: {carol@example.test: example.test/carol/, dave@example.test: example.test/dave/,
          erin@example.test: example.test/erin/, frank@example.test: example.test/frank/}
  transport_map:
    type: inline
    map: {bob@example.test: 'piper:', carol@example.test: 'slow:', dave@example.test: 'lda:',
          erin@example.test: 'hang:', frank@example.test: 'broken:'}
relay:
  transport: transport_map
transports:
  piper:
    type: pipe
    argv: [$T/piper.py, -f, '\${sender}', -x, 'ext=\${extension};id=\${queue_id}', -d, '\${recipient}']
    user: nobody
    flags: DRO.>
    directory: $T
    env: {LANG: C.UTF-8, PATH: "/usr/bin:/bin:/usr/local/bin"}
  slow:
    type: pipe
    argv: [$T/slow.sh, '\${recipient}']
    user: nobody
    time_limit: 2s
  broken:
    type: pipe
    argv: [$T/no-such-program, '\${recipient}']
    user: nobody
  hang:
    type: pipe
    argv: [$T/slow.sh]
    user: nobody
    time_limit: 300s
  lda:
    type: pipe
    argv: [/usr/lib/dovecot/dovecot-lda, -c, $T/lda/dovecot.conf, -f, '\${sender}', -a, '\${recipient}']
    user: nobody
    flags: DRhu
"
exec 7</etc/hostname  # not O_CLOEXEC: petrel has it, the programs must not
start_petrel
exec 7<&-

send() {  # send FROM TO SUBJECT
  py - "$@" <<'PY'
import smtplib, sys, os
frm, to, subject = sys.argv[1:4]
msg = ('From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\nFrom the start\r\n.single dot\r\n'
       'line; $(rm -rf /) `id`\r\n' % (frm, to, subject))
with smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30) as s:
    s.sendmail(frm, [to], msg)
PY
}
records() { ls rec/*.json 2>/dev/null | wc -l; }

# 1. Delivered, with everything the program sees.
send alice@example.test bob+tag@example.test "first"
wait_for 20 "the first delivery" log_has 'to=<bob\+tag@example\.test>, relay=piper, .*status=sent' ||
  fail "not delivered through piper"
assert_log 'to=<bob\+tag@example\.test>, relay=piper, .*dsn=2\.0\.0, status=sent \(delivered via piper service \(script output for bob\+tag@example\.test: code 0 end\)\)' \
  "the delivery line with the program's output"
assert_log 'petrel/pipe\[[0-9]+\]: [0-9A-F]+: to=<bob\+tag@example\.test>, relay=piper, ' \
  "the delivery line under the program name pipe"
REC="$(ls rec/*.json | head -1)"
STDIN="${REC%.json}.stdin"
REC="$REC" py <<'PY'
import json, os, sys
r = json.load(open(os.environ["REC"]))
def check(cond, what):
    if not cond:
        print("t-90-pipe: " + what, file=sys.stderr); sys.exit(1)
a = r["argv"]
check(a[1:5] == ["-f", "alice@example.test", "-x", a[4]], "argv %r" % a)
check(a[4].startswith("ext=tag;id=") and len(a[4]) > len("ext=tag;id="), "argv[4] %r" % a[4])
check(a[5:] == ["-d", "bob+tag@example.test"], "argv %r" % a)
env = r["env"]
check(env.get("LANG") == "C.UTF-8", "env: LANG %r" % env.get("LANG"))
check(env.get("USER") == "nobody" and env.get("LOGNAME") == "nobody", "env: user %r" % env)
check(env.get("PATH") == "/usr/bin:/bin:/usr/local/bin", "env: PATH %r (env: replaces it)" % env.get("PATH"))
check("HOME" in env and "SHELL" in env, "env: no HOME/SHELL: %r" % env)
extra = set(env) - {"PATH", "SHELL", "HOME", "LOGNAME", "USER", "LANG", "LC_CTYPE", "PWD"}
check(not extra, "env: inherited variables %r" % sorted(extra))
check(r["fds"] in ([0, 1, 2], [0, 1, 2, 3]), "open fds %r (fd 3 is listdir's own)" % r["fds"])
check(r["uid"] != 0, "ran as root")
check(r["cwd"] == os.environ["T"], "cwd %r" % r["cwd"])
check(r["pgid_is_pid"], "not a process group of its own")
PY
[[ $? -eq 0 ]] || fail "the recorded run is wrong: $(cat "$REC")"
head -3 "$STDIN" >head3
printf 'Return-Path: <alice@example.test>\nDelivered-To: bob+tag@example.test\nX-Original-To: bob+tag@example.test\n' >want3
cmp -s head3 want3 || fail "flag lines: $(cat -A head3)"
grep -q $'\r' "$STDIN" && fail "stdin has CR bytes"
grep -qx '>From the start' "$STDIN" || fail "no From_ escaping: $(cat "$STDIN")"
grep -qx '\.\.single dot' "$STDIN" || fail "no dot-stuffing: $(cat "$STDIN")"
grep -qxF 'line; $(rm -rf /) `id`' "$STDIN" || fail "body bytes changed: $(cat "$STDIN")"
grep -qx 'Subject: first' "$STDIN" || fail "no header: $(cat "$STDIN")"

# 2. Exit 75: deferred and kept; then 0 and a flush: delivered.
echo 75 >code
send alice@example.test bob@example.test "second"
wait_for 20 "the deferral" log_has 'to=<bob@example\.test>, relay=piper, .*dsn=4\.3\.0, status=deferred \(temporary failure\. Command output: script output for bob@example\.test: code 75 end\)' ||
  fail "exit 75 was not deferred with the program's output"
petrel queue list | grep -q 'bob@example.test' || fail "queue list does not show the deferred mail: $(petrel queue list)"
echo 0 >code
petrel queue flush >/dev/null
wait_for 20 "the retried delivery" log_has 'to=<bob@example\.test>, relay=piper, .*status=sent' ||
  fail "not delivered after the flush"
wait_for 10 "an empty queue" queue_empty || fail "queue: $(petrel queue list)"

# 3. Exit 67: bounced with the output in the DSN that alice receives.
echo 67 >code
before=$(count_maildir example.test/alice)
send alice@example.test bob@example.test "third"
wait_for 20 "the bounce" log_has 'to=<bob@example\.test>, relay=piper, .*dsn=5\.1\.1, status=bounced \(user unknown\. Command output: script output for bob@example\.test: code 67 end\)' ||
  fail "exit 67 was not bounced"
wait_for 20 "the DSN in alice's INBOX" maildir_has example.test/alice $((before + 1)) ||
  fail "no DSN for alice"
dsn=$(ls -t "$MAIL_ROOT/example.test/alice/new/" | head -1)
grep -q 'script output for bob@example.test: code 67 end' "$MAIL_ROOT/example.test/alice/new/$dsn" ||
  fail "the DSN lacks the program's output: $(cat "$MAIL_ROOT/example.test/alice/new/$dsn")"
grep -q 'Status: 5.1.1' "$MAIL_ROOT/example.test/alice/new/$dsn" || fail "the DSN lacks Status: 5.1.1"

# 4. A program past its time limit: killed, bounced 5.3.0 as pipe(8) does.
send alice@example.test carol@example.test "slow"
wait_for 20 "the time limit" log_has 'petrel/pipe\[[0-9]+\]: [0-9A-F]+: to=<carol@example\.test>, '\
'relay=slow, .*dsn=5\.3\.0, status=bounced \(Command time limit exceeded: "'"$T"'/slow.sh"\. '\
'Command output: sleeping\)' ||
  fail "the slow program was not bounced at its time limit"
wait_for 10 "carol's bounced recipient to leave the queue" \
  eval '[[ $(db_count "recipients WHERE address = '"'carol@example.test'"'") -eq 0 ]]' ||
  fail "carol's recipient is still queued after the bounce"
alive_sleepers() {  # processes of the slow programs' groups that are not zombies
  local g
  for g in $(cat rec/slow.pgids 2>/dev/null); do
    ps -o stat= -g "$g" 2>/dev/null | grep -qv '^Z' && return 0
  done
  return 1
}
wait_for 5 "the slow program's group to die" eval '! alive_sleepers' ||
  fail "the slow program's group is still running: $(ps -o pid,stat,args -g "$(tr '\n' , <rec/slow.pgids)")"

# 4b. A program that cannot be started defers (4.3.0) with the reason; flag D's loop check
# bounces a message that was already delivered to the recipient (5.4.6).
send alice@example.test frank@example.test "broken"
wait_for 20 "the failed start" log_has 'to=<frank@example\.test>, relay=broken, .*dsn=4\.3\.0, status=deferred \(cannot execute "'"$T"'/no-such-program": No such file or directory\)' ||
  fail "a missing program was not deferred with its reason"
echo 0 >code
py <<'PY'
import smtplib, os
msg = ('From: alice@example.test\r\nTo: bob@example.test\r\nDelivered-To: Bob@example.test\r\n'
       'Subject: looped\r\n\r\nagain\r\n')
with smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30) as s:
    s.sendmail('alice@example.test', ['bob@example.test'], msg)
PY
wait_for 20 "the loop bounce" log_has 'to=<bob@example\.test>, relay=piper, .*dsn=5\.4\.6, status=bounced \(mail forwarding loop for bob@example\.test\)' ||
  fail "flag D did not catch the loop"

# 5. The course's "dovecot deliver" line, through Dovecot's LDA.
if [[ ! -x /usr/lib/dovecot/dovecot-lda ]]; then
  log "skipping the dovecot-lda part: /usr/lib/dovecot/dovecot-lda is missing (dovecot-core)"
else
  mkdir -p lda/run lda/Maildir && chown -R nobody lda
  cat >lda/dovecot.conf <<CONF
protocols =
ssl = no
base_dir = $T/lda/run
log_path = $T/lda/lda.log
mail_location = maildir:$T/lda/Maildir
CONF
  chmod 644 lda/dovecot.conf
  send alice@example.test Dave@example.test "via lda"
  wait_for 20 "the LDA delivery" log_has 'to=<[Dd]ave@example\.test>, (orig_to=<[^>]*>, )?relay=lda, .*status=(sent|deferred|bounced)' ||
    fail "no delivery through dovecot-lda"
  log_has 'relay=lda, .*status=sent' || fail "dovecot-lda did not deliver: $(grep relay=lda "$PETREL_LOG"; cat lda/lda.log 2>/dev/null)"
  f=$(ls lda/Maildir/new/* | head -1)
  [[ -n "$f" ]] || fail "nothing in the LDA's Maildir"
  grep -q '^Subject: via lda' "$f" || fail "the LDA's message: $(cat "$f")"
  grep -q '^Delivered-To: dave@example.test' "$f" || fail "no Delivered-To from flag D (u folds): $(head -5 "$f")"
  grep -q '^Return-Path: <alice@example.test>' "$f" || fail "no Return-Path: $(head -5 "$f")"
  log "dovecot-lda delivered the message into its Maildir"
fi

# 6. A stop while a program runs (time_limit 300s): the group is killed, the mail deferred
# (4.3.2) and kept, and petrel exits at once instead of waiting for the program.
send alice@example.test erin@example.test "hang"
wait_for 20 "the hanging program" eval '[[ $(wc -l <rec/slow.pgids) -ge 2 ]]' || fail "slow.sh never ran"
start=$SECONDS
stop_petrel 20
((SECONDS - start < 10)) || fail "petrel took $((SECONDS - start))s to stop"
assert_log 'to=<erin@example\.test>, relay=hang, .*dsn=4\.3\.2, status=deferred \(delivery interrupted: mail system shutting down\)' \
  "the interrupted run's deferral"
[[ "$(db_count "recipients WHERE address = 'erin@example.test'")" -eq 1 ]] || fail "erin's recipient left the queue"
wait_for 5 "the hanging group to die" eval '! alive_sleepers' ||
  fail "the hanging program outlived petrel: $(ps -o pid,stat,args -g "$(tr '\n' , <rec/slow.pgids)")"
pass
