#!/usr/bin/env bash
# Setup (docs/scaling.md): two Petrel MX hosts for one domain, as a small office runs a primary
#   and a backup: mx1 on 127.0.0.11:25 and mx2 on 127.0.0.12:25, each with its own state_dir
#   (its own queue journal), both reading domains, mailboxes and aliases from one PostfixAdmin
#   database in a private PostgreSQL (test/integration/postgresql.sh) and delivering into one
#   mail store (mail_root, as a shared file system would be). relay_lib.py serves DNS:
#   example.test has MX 10 mx1.example.test and MX 20 mx2.example.test. The sending side is a
#   third Petrel (lib.sh's instance, hostname sender.test) relaying by MX through that DNS.
# Both hosts are up: mail to example.test goes to mx1 (the lower preference). mx1 stopped
# (SIGTERM, its port closed): the sender's next messages go to mx2 in the same attempt, none is
# deferred, and they are delivered into the same Maildirs. A mailbox added to PostgreSQL while
# mx1 is down is known to mx2 at once (no reload: the tables are read at each lookup); an
# unknown user gets 550 5.1.1 from mx2 as from mx1. mx1 started again takes the mail again. In
# the end every message is in its Maildir exactly once, and each MX logged the ones it took.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/relay_lib.sh"
need_relay_harness 127.0.0.11:25 127.0.0.12:25

PG_SH="$IT_DIR/postgresql.sh"
PG_BIN=/usr/lib/postgresql/15/bin
[[ -x "$PG_BIN/postgres" ]] ||
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
[[ -n "$PG_BIN" && -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" ]] ||
  skip "PostgreSQL is not installed (Debian package postgresql; scripts/install-deps.sh test)"
export PG_BIN
need_tool psql

# $T is private to root; the PostgreSQL server runs as postgres, so its directory lives beside it.
PGDIR="$(mktemp -d /tmp/petrel-pg.XXXXXX)"
pick_ports PG_PORT DNS_PORT MX1_STATUS MX2_STATUS
declare -A MX_PID=()

mx_cleanup() {
  local p
  for p in "${MX_PID[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  "$PG_SH" stop "$PGDIR" >/dev/null 2>&1 || true
  if [[ -n "${KEEP_TMP:-}" ]]; then log "keeping $PGDIR"; else rm -rf "$PGDIR"; fi
}
trap 'rc=$?; set +e; mx_cleanup; (exit $rc); _cleanup' EXIT

out="$("$PG_SH" start "$PGDIR" "$PG_PORT" 2>&1)" || {
  rc=$?
  [[ $rc -eq 77 ]] && skip "$out"
  fail "starting PostgreSQL: $out"
}
pg_sql() {
  PGPASSWORD=skoleni psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U postfixadmin -d postfixadmin -c "$1"
}

start_harness dns "
dns:
  address: 127.0.0.1:$DNS_PORT
  zones:
    example.test: {MX: ['10 mx1.example.test', '20 mx2.example.test']}
    mx1.example.test: {A: [127.0.0.11]}
    mx2.example.test: {A: [127.0.0.12]}
"

# mx_config N: config-examples/postfixadmin-pgsql.yaml as shipped, for host mxN: its listener
# and status port, its own state_dir, the shared mail_root, the test's PostgreSQL.
mx_config() {
  local n="$1" status_var="MX${1}_STATUS"
  MX_N="$n" MX_STATUS="${!status_var}" PG_PORT="$PG_PORT" py - "$T/mx$n.yaml" <<'EOF'
import os, sys, yaml
root = os.environ["PETREL_SOURCE_ROOT"]
with open(os.path.join(root, "config-examples", "postfixadmin-pgsql.yaml"), encoding="utf-8") as f:
    c = yaml.safe_load(f)
n = os.environ["MX_N"]
c["hostname"] = "mx%s.example.test" % n
c["listeners"] = [{"name": "mx", "address": "127.0.0.1%s:25" % n}]
c["status"] = {"address": "127.0.0.1:%s" % os.environ["MX_STATUS"]}
c["state_dir"] = os.path.join(os.environ["T"], "mx%s-state" % n)
c["mail_root"] = os.environ["MAIL_ROOT"]
c["workers"] = 2
c["smtp"] = dict(c.get("smtp") or {}, peername_lookup=False)
c.setdefault("dkim", {})["verify"] = False
c.setdefault("dmarc", {})["verify"] = False
c["queue"] = {"min_backoff": "1s", "max_backoff": "2s"}
for t in c["tables"].values():
    t["port"] = int(os.environ["PG_PORT"])
with open(sys.argv[1], "w", encoding="utf-8") as f:
    yaml.safe_dump(c, f, sort_keys=False)
EOF
  "$PETREL" check-config --config "$T/mx$n.yaml" >/dev/null 2>&1 ||
    fail "check-config refused mx$n's config: $("$PETREL" check-config --config "$T/mx$n.yaml" 2>&1)"
}

# start_mx N: `petrel serve` for mxN, its log in $T/mxN.log; waits for its SMTP port.
start_mx() {
  local n="$1"
  "$PETREL" serve --config "$T/mx$n.yaml" >>"$T/mx$n.log" 2>&1 &
  MX_PID[$n]=$!
  wait_for 15 "mx$n to accept connections" mx_port_open "$n"
}
mx_port_open() {
  "$PYTHON" -c 'import socket, sys
socket.create_connection(("127.0.0.1" + sys.argv[1], 25), timeout=1).close()' "$1" 2>/dev/null
}
stop_mx() {
  local n="$1" pid="${MX_PID[$1]}"
  kill -TERM "$pid"
  wait_for 40 "mx$n (pid $pid) to exit after SIGTERM" not_running "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [[ $rc -eq 0 ]] || fail "mx$n exited with status $rc after SIGTERM (want 0)"
  unset "MX_PID[$n]"
}
mx_log_count() { grep -Ec -- "$2" "$T/mx$1.log" || true; }

mx_config 1
mx_config 2
start_mx 1
start_mx 2

# The sender: a third Petrel whose own domain is sender.test, relaying everything else by MX.
write_config "
hostname: sender.test
dns: {servers: ['127.0.0.1:$DNS_PORT']}
domains!: {local: [sender.test]}
tables:
  mailboxes!: {type: inline, map: {ann@sender.test: sender.test/ann/}}
  aliases!: {type: inline, map: {postmaster@sender.test: ann@sender.test}}
relay:
  connection_cache_time: 1s
  timeouts: {connect: 3s, greeting: 5s, command: 5s, data_init: 5s, data_block: 5s, data_done: 5s}
queue: {min_backoff: 1s, max_backoff: 2s}
"
check_config
start_petrel

# send KEY RCPT...: one message from ann@sender.test through the sender (127.0.0.1: mynetworks).
send() {
  local key="$1"
  shift
  KEY="$key" py - "$@" <<'EOF'
import os, sys
from lib import *
key = os.environ["KEY"]
msg = make_message("t-97 " + key, ["message " + key], msgid="<t97-%s@sender.test>" % key,
                   sender="ann@sender.test", to=sys.argv[1])
send_message("ann@sender.test", sys.argv[1:], msg)
EOF
}
delivered() { grep -l "^Message-ID: <t97-$2@sender.test>" "$MAIL_ROOT/$1/new/"* 2>/dev/null | wc -l; }
all_delivered() {  # BOX KEY...: each KEY in BOX exactly once
  local box="$1" k
  shift
  for k in "$@"; do [[ "$(delivered "$box" "$k")" -eq 1 ]] || return 1; done
}

# 1. Both up: the primary takes the mail.
send up1 alice@example.test
send up2 bob@example.test alice@example.test
wait_for 20 "up1, up2 in alice's Maildir" all_delivered example.test/alice up1 up2
wait_for 20 "up2 in bob's Maildir" all_delivered example.test/bob up2
[[ "$(mx_log_count 1 'to=<alice@example.test>.*status=sent')" -eq 2 ]] ||
  fail "mx1 should have delivered both messages to alice; its log: $(tail -n 20 "$T/mx1.log")"
[[ "$(mx_log_count 2 'status=sent')" -eq 0 ]] || fail "mx2 took mail while mx1 was up"

# 2. The primary goes down; a new mailbox appears in the shared database meanwhile.
stop_mx 1
pg_sql "INSERT INTO mailbox (username, password, name, maildir, local_part, domain, active)
        VALUES ('dave@example.test', 'x', 'Dave', 'example.test/dave/', 'dave', 'example.test', true);
        INSERT INTO alias (address, goto, domain, active)
        VALUES ('dave@example.test', 'dave@example.test', 'example.test', true);"
for k in down1 down2 down3; do send "$k" alice@example.test; done
send newbox dave@example.test
wait_for 30 "down1..3 in alice's Maildir" all_delivered example.test/alice down1 down2 down3
wait_for 30 "newbox in dave's Maildir" all_delivered example.test/dave newbox
[[ "$(mx_log_count 2 'to=<alice@example.test>.*status=sent')" -eq 3 ]] ||
  fail "mx2 should have delivered down1..3; its log: $(tail -n 20 "$T/mx2.log")"
assert_no_log 'status=deferred' "the sender deferred a message: the backup MX should have taken it"
assert_log 'relay=mx2\.example\.test\[127\.0\.0\.12\]:25.*status=sent' \
  "the sender's log shows the backup MX took the mail"

# An unknown user is refused by the backup as by the primary (both read the same tables).
code="$(py - <<'EOF'
import smtplib
s = smtplib.SMTP("127.0.0.12", 25, local_hostname="client.test")
s.ehlo()
s.mail("x@outside.test")
print(s.rcpt("nobody@example.test")[0])
s.quit()
EOF
)"
assert_eq 550 "$code" "RCPT of an unknown user at the backup MX"

# 3. The primary is back: it takes the mail again.
start_mx 1
sleep 1.5  # the sender's cached connection to mx2 (connection_cache_time 1s) is gone
send back1 alice@example.test
wait_for 20 "back1 in alice's Maildir" all_delivered example.test/alice back1
[[ "$(mx_log_count 1 'to=<alice@example.test>.*status=sent')" -eq 3 ]] ||
  fail "mx1 should have taken back1 after its restart; its log: $(tail -n 20 "$T/mx1.log")"

# Exactly once each, nothing left in any queue.
for k in up1 up2 down1 down2 down3 back1; do
  assert_eq 1 "$(delivered example.test/alice "$k")" "copies of $k in alice's Maildir"
done
assert_eq 1 "$(delivered example.test/bob up2)" "copies of up2 in bob's Maildir"
assert_eq 1 "$(delivered example.test/dave newbox)" "copies of newbox in dave's Maildir"
wait_for 20 "the sender's queue to be empty" queue_empty
for n in 1 2; do
  c="$(sqlite3 -readonly "$T/mx$n-state/queue.db" "SELECT count(*) FROM messages")"
  assert_eq 0 "$c" "messages left in mx$n's queue"
done
stop_mx 1
stop_mx 2
stop_petrel
pass
