#!/usr/bin/env bash
# Setup: no `petrel serve`; the CLI alone. `petrel user` maintains the credentials database and
#   the hidden `petrel auth-test USER [--client-ip IP]` runs the configured authenticator once
#   on a loop of its own (password on stdin; prints ok/fail/tempfail, exit 0/1/2).
#   One Dovecot (Debian dovecot-core, `dovecot -F`, as root) under $T/dovecot: passwd-file
#   passdb, no protocols and no TCP ports, its auth-client socket at $T/dovecot/run/auth-client.
#   Later a Python unix-socket server on the same path that accepts and never answers.
# Checks: table backend (add, duplicate, passwd, del, terminal prompts with echo off, missing
# database = tempfail), then the Dovecot client against the real Dovecot (ok, canonical user
# name, bad password, unknown user), Dovecot stopped = tempfail, Dovecot hung = tempfail after
# the 10 s timeout.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool dovecot doveadm
[[ "$(id -u)" -eq 0 ]] || skip "dovecot -F with its own users needs root"

# auth_test USER PASSWORD [IP]: runs petrel auth-test; sets OUT (stdout+stderr) and RC.
auth_test() {
  set +e
  OUT="$(printf '%s\n' "$2" | petrel auth-test "$1" --client-ip "${3:-127.0.0.1}" 2>&1)"
  RC=$?
  set -e
}

# expect RC REGEX WHAT: the last auth_test (or run) exited RC with output matching REGEX.
expect() {
  [[ "$RC" == "$1" ]] || fail "$3: exit status $RC (want $1); output: $OUT"
  [[ "$OUT" =~ $2 ]] || fail "$3: output '$OUT' does not match /$2/"
}

# run_petrel STDIN ARGS...: runs petrel with STDIN as its input; sets OUT and RC.
run_petrel() {
  local input="$1"
  shift
  set +e
  OUT="$(printf '%s' "$input" | petrel "$@" 2>&1)"
  RC=$?
  set -e
}

# ---- table backend ---------------------------------------------------------------------------

write_config 'auth: {backend: table}'
DB="$STATE_DIR/credentials.db"   # the default auth.credentials_db

run_petrel $'Secret pw\n' user add Alice
expect 0 'user Alice added' "user add Alice"
[[ -f "$DB" ]] || fail "user add did not create $DB"
assert_eq 600 "$(stat -c %a "$DB")" "mode of the credentials database"
grep -qF 'Secret pw' "$DB" && fail "the password is stored in clear in $DB"
py - "$DB" <<'PYEOF'
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute("SELECT name, hash FROM users").fetchall()
assert len(rows) == 1 and rows[0][0] == "alice" and rows[0][1].startswith("$y$"), rows
PYEOF

auth_test alice 'Secret pw'
expect 0 '^ok alice$' "table: right password"
auth_test ALICE 'Secret pw'
expect 0 '^ok alice$' "table: user name in upper case"
auth_test alice 'secret pw'
expect 1 '^fail bad password$' "table: wrong password"
auth_test mallory 'Secret pw'
expect 1 '^fail unknown user$' "table: unknown user"

run_petrel $'other\n' user add alice
expect 1 'already exists' "user add of an existing user"
run_petrel '' user add carol
expect 1 'no password' "user add with empty stdin"
run_petrel $'pw\n' user add
expect 2 'usage' "user add without a name"

run_petrel $'New pw\r\n' user passwd alice
expect 0 'password changed' "user passwd alice (CRLF stripped)"
auth_test alice 'Secret pw'
expect 1 '^fail bad password$' "table: old password after passwd"
auth_test alice 'New pw'
expect 0 '^ok alice$' "table: new password after passwd"
run_petrel $'pw\n' user passwd nobody
expect 1 'no such user' "user passwd of an unknown user"

# The terminal path: prompts on a pty, echo off, asked twice.
py - <<'PYEOF'
import os, pty, select, sys, time
petrel, conf = os.environ["PETREL"], os.environ["CONF"]

def run(args, answers):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(petrel, [petrel] + args + ["--config", conf])
    out, answered, deadline = b"", 0, time.time() + 30
    while True:
        if time.time() > deadline:
            os.kill(pid, 9)
            sys.exit("timed out waiting for petrel %s; it printed %r" % (args, out))
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        if answered < len(answers) and out.count(b"assword: ") > answered:
            os.write(fd, answers[answered].encode() + b"\n")
            answered += 1
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

rc, out = run(["user", "add", "bob"], ["Tty pw 1", "Tty pw 1"])
assert rc == 0, (rc, out)
assert "Password: " in out and "Retype password: " in out, out
assert "Tty pw" not in out, "password echoed: %r" % out
rc, out = run(["user", "passwd", "bob"], ["one", "two"])
assert rc == 1 and "do not match" in out, (rc, out)
PYEOF
auth_test bob 'Tty pw 1'
expect 0 '^ok bob$' "table: user added on a terminal"

run_petrel '' user del ALICE
expect 0 'deleted' "user del"
auth_test alice 'New pw'
expect 1 '^fail unknown user$' "table: deleted user"
run_petrel '' user del alice
expect 1 'no such user' "user del of a deleted user"

# An explicit credentials_db that does not exist: every check is a temporary failure.
write_config "auth: {backend: table, credentials_db: $T/missing.db}"
auth_test bob 'Tty pw 1'
expect 2 '^tempfail .*missing\.db' "table: missing database"

# ---- Dovecot ---------------------------------------------------------------------------------

DC="$T/dovecot"
mkdir -p "$DC/run" "$DC/state"
chmod 755 "$T" "$DC"
printf 'alice:%s\n' "$(doveadm pw -s SHA512-CRYPT -p 'Dove pw')" >"$DC/users"
printf 'bob:%s\n' "$(doveadm pw -s BLF-CRYPT -p 'Bob pw')" >>"$DC/users"
cat >"$DC/dovecot.conf" <<DCEOF
# Written by t-30-dovecot-auth: an auth service only.
protocols =
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/dovecot.log
ssl = no
auth_mechanisms = plain login
auth_verbose = yes
passdb {
  driver = passwd-file
  args = scheme=SHA512-CRYPT $DC/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
DCEOF
dovecot -F -c "$DC/dovecot.conf" >>"$DC/stdout.log" 2>&1 &
DOVECOT_PID=$!
EXTRA_PIDS+=("$DOVECOT_PID")
SOCK="$DC/run/auth-client"
dovecot_up() { kill -0 "$DOVECOT_PID" 2>/dev/null || fail "dovecot exited: $(cat "$DC/stdout.log" "$DC/dovecot.log" 2>/dev/null)"; [[ -S "$SOCK" ]]; }
wait_for 20 "Dovecot's auth-client socket $SOCK" dovecot_up

write_config "auth: {backend: dovecot, dovecot_socket: $SOCK}"
# One client address per check: Dovecot delays answers to an address after failures from it
# (auth penalty), which is what a real client gets and not what this test measures.
auth_test alice 'Dove pw' 127.0.0.11
expect 0 '^ok alice$' "dovecot: right password"
auth_test ALICE 'Dove pw' 127.0.0.12
expect 0 '^ok alice$' "dovecot: canonical name from user= (auth_username_format %Lu)"
auth_test bob 'Bob pw' 127.0.0.13
expect 0 '^ok bob$' "dovecot: bcrypt user"
auth_test alice 'dove pw' 127.0.0.14
expect 1 '^fail ' "dovecot: wrong password"
auth_test mallory 'Dove pw' 127.0.0.15
expect 1 '^fail ' "dovecot: unknown user"
grep -q 'passwd-file(alice.*Password mismatch' "$DC/dovecot.log" ||
  fail "Dovecot did not log the password mismatch: $(cat "$DC/dovecot.log")"
grep -q 'passwd-file(mallory.*unknown user' "$DC/dovecot.log" ||
  fail "Dovecot did not log the unknown user: $(cat "$DC/dovecot.log")"
grep -qF 'Dove pw' "$DC/dovecot.log" && fail "a password reached Dovecot's log"

# The same Dovecot behind SMTP AUTH: a real server session on an implicit-TLS listener,
# Python's smtplib as the mail client.
SUB_PORT="$(pick_port)"
write_config "auth: {backend: dovecot, dovecot_socket: $SOCK}
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: submissions, address: '127.0.0.1:$SUB_PORT', tls: implicit, auth: required}"
start_petrel
SUB_PORT="$SUB_PORT" py <<'PYEOF'
import os, smtplib, ssl
from lib import *
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
port = int(os.environ["SUB_PORT"])
s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, source_address=("127.0.0.21", 0))
code, _ = s.login("alice", "Dove pw")
check(code == 235, "AUTH through Dovecot: %r" % code)
s.sendmail("alice@example.test", ["bob@example.test"], b"Subject: via dovecot\r\n\r\nhello\r\n")
s.quit()
s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, source_address=("127.0.0.22", 0))
try:
    s.login("alice", "not the password")
    check(False, "a wrong password was accepted through Dovecot")
except smtplib.SMTPAuthenticationError as e:
    check(e.smtp_code == 535, "wrong password through Dovecot: %r" % (e.smtp_code,))
PYEOF
wait_for 10 "the message authenticated through Dovecot in bob's Maildir" maildir_at_least example.test/bob 1
assert_log 'client=unknown\[127\.0\.0\.21\], sasl_method=PLAIN, sasl_username=alice' "queue line with the Dovecot user"
stop_petrel

# Dovecot stopped: its socket refuses (or is gone); the check is temporary, at once.
kill -TERM "$DOVECOT_PID"
wait_for 20 "dovecot (pid $DOVECOT_PID) to exit" not_running "$DOVECOT_PID"
wait "$DOVECOT_PID" 2>/dev/null || true
refuses() {
  py - "$SOCK" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except (ConnectionRefusedError, FileNotFoundError):
    sys.exit(0)
sys.exit(1)
PYEOF
}
wait_for 20 "Dovecot's auth processes to let go of $SOCK" refuses
auth_test alice 'Dove pw'
expect 2 '^tempfail ' "dovecot stopped"
rm -f "$SOCK"
auth_test alice 'Dove pw'
expect 2 '^tempfail cannot connect.*auth-client' "dovecot socket missing"

# Dovecot hung: connections are accepted and never answered; 10 s later, a temporary failure.
py_bg - "$SOCK" <<'PYEOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
PYEOF
wait_for 10 "the silent server's socket" test -S "$SOCK"
start=$SECONDS
auth_test alice 'Dove pw'
elapsed=$((SECONDS - start))
expect 2 '^tempfail .*no answer' "dovecot hung"
((elapsed >= 9 && elapsed <= 15)) || fail "dovecot hung: answered after ${elapsed}s (want about 10)"
kill "$PY_BG_PID"
wait "$PY_BG_PID" 2>/dev/null || true

pass
