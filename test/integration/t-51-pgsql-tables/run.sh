#!/usr/bin/env bash
# Setup: a private PostgreSQL (test/integration/postgresql.sh: the PostfixAdmin schema subset of
#   postfixadmin-pgsql.sql, database postfixadmin, user postfixadmin/skoleni) in $PGDIR on
#   127.0.0.1:$PG_PORT and the unix socket directory $PGDIR/sock; a Python socket on
#   127.0.0.1:$HOLE_PORT that accepts connections and never answers; one `petrel serve` on
#   127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status) with the config of
#   config-examples/postfixadmin-pgsql.yaml (domains, mailboxes and aliases in PostgreSQL),
#   pointed at that server; lib.py's raw SMTP client, connecting from 127.0.0.2 (an outside MX
#   client, not in mynetworks).
# `petrel table query` answers from PostgreSQL (over TCP and over the unix socket; several rows
# joined with ","). Mail to PostfixAdmin mailboxes, aliases and a catch-all is delivered; an
# unknown or inactive user gets 550 5.1.1, a backup-MX domain is relayed (250) and an inactive
# one is not ours (554 5.7.1 for an outsider), and `'; DROP TABLE mailbox; --@example.test` gets a 5xx
# while the table stays: 501 5.1.3 as written (not an RFC 5321 address), 550 5.1.1 quoted
# (`"'; DROP TABLE mailbox; --"@example.test`, which the table is asked about). With PostgreSQL stopped mid-run the next RCPT gets 451 4.3.0 (for known and
# unknown users alike: never a 5xx), the log names the table and the server's error, and a
# message accepted just before is kept in the queue, not bounced; after a restart delivery
# resumes (the stale pooled connections are replaced) and that message is delivered. A server
# that stops answering (SIGSTOP) or never answers gives 451 / exit 75 within the timeout, and a
# reload meanwhile checks the postmaster addresses on the thread pool: /healthz keeps answering.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PG_SH="$IT_DIR/postgresql.sh"
# Skip only when PostgreSQL is not installed (CI installs it: scripts/install-deps.sh test).
PG_BIN=/usr/lib/postgresql/15/bin
[[ -x "$PG_BIN/postgres" ]] ||
  PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
[[ -n "$PG_BIN" && -x "$PG_BIN/postgres" && -x "$PG_BIN/initdb" ]] ||
  skip "PostgreSQL is not installed (Debian package postgresql; scripts/install-deps.sh test)"
export PG_BIN
need_tool psql

# $T is private to root; the server runs as postgres, so its directory lives beside it.
PGDIR="$(mktemp -d /tmp/petrel-pg.XXXXXX)"
pick_ports PG_PORT HOLE_PORT
PG_FROZEN=()

# Runs before lib.sh's cleanup (which keeps the exit status): thaw and stop the server.
pg_cleanup() {
  local p
  for p in "${PG_FROZEN[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
  "$PG_SH" stop "$PGDIR" >/dev/null 2>&1 || true
  if [[ -n "${KEEP_TMP:-}" ]]; then log "keeping $PGDIR"; else rm -rf "$PGDIR"; fi
}
trap 'rc=$?; set +e; pg_cleanup; (exit $rc); _cleanup' EXIT

pg_start() {
  local out rc=0
  out="$("$PG_SH" start "$PGDIR" "$PG_PORT" 2>&1)" || rc=$?
  [[ $rc -eq 77 ]] && skip "$out"
  [[ $rc -eq 0 ]] || fail "starting PostgreSQL: $out"
  log "$out"
}
pg_stop() { "$PG_SH" stop "$PGDIR" >/dev/null || fail "stopping PostgreSQL failed"; }

# pg_sql SQL: runs SQL as postfixadmin over TCP; prints the unaligned result.
pg_sql() {
  PGPASSWORD=skoleni psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U postfixadmin -d postfixadmin -c "$1"
}

pg_start

# A server that completes the TCP handshake (the kernel does, from the backlog) and then says
# nothing: connecting must end at the table's timeout.
start_silent_server "$HOLE_PORT"

# The example config as shipped, pointed at this server, with this test's ports, a short
# timeout, quick retries, and three tables of our own for `petrel table query`.
PGDIR="$PGDIR" PG_PORT="$PG_PORT" HOLE_PORT="$HOLE_PORT" py - "$CONF" <<'EOF'
import os, sys, yaml
root = os.environ["PETREL_SOURCE_ROOT"]
with open(os.path.join(root, "config-examples", "postfixadmin-pgsql.yaml"), encoding="utf-8") as f:
    c = yaml.safe_load(f)
c["listeners"] = [{"name": "mx", "address": "127.0.0.1:%s" % os.environ["SMTP_PORT"]}]
c["status"] = {"address": "127.0.0.1:%s" % os.environ["STATUS_PORT"]}
c["workers"] = 2
c["smtp"] = dict(c.get("smtp") or {}, peername_lookup=False)  # as lib.sh's write_config
c["queue"] = {"min_backoff": "1s", "max_backoff": "2s"}
for t in c["tables"].values():
    assert t["type"] == "pgsql" and t["port"] == 5432, t
    t["port"] = int(os.environ["PG_PORT"])
    t["timeout"] = "2s"
base = dict(c["tables"]["pfa_mailboxes"])
c["tables"]["pfa_mailboxes_socket"] = dict(base, host=os.environ["PGDIR"] + "/sock")
c["tables"]["pfa_domain_users"] = dict(
    base, query="SELECT username FROM mailbox WHERE domain=%d AND active=true ORDER BY username")
c["tables"]["silent"] = dict(base, port=int(os.environ["HOLE_PORT"]))
# TLS: the query answers the TLS version of its own connection (nothing when it has none).
tls_query = ("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl "
             "AND %s <> ''")
ca = os.environ["PGDIR"] + "/data/server.crt"
c["tables"]["tls_verified"] = dict(base, query=tls_query, sslmode="verify-full", sslrootcert=ca)
c["tables"]["tls_untrusted"] = dict(base, query=tls_query, sslmode="verify-full")
c["tables"]["tls_off"] = dict(base, query=tls_query, sslmode="disable")
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("# Written by t-51-pgsql-tables from config-examples/postfixadmin-pgsql.yaml\n")
    yaml.safe_dump(c, f, sort_keys=False, default_flow_style=False)
EOF

out="$(petrel check-config 2>&1)" || fail "check-config of the pgsql example failed: $out"


INJECTION="'; DROP TABLE mailbox; --@example.test"

# ---- petrel table query answers from PostgreSQL ------------------------------------------------
expect_table pfa_mailboxes alice@example.test 0 "example.test/alice/"
expect_table pfa_mailboxes gone@example.test 1 ""            # inactive
expect_table pfa_mailboxes nobody@example.test 1 ""
expect_table pfa_mailboxes "$INJECTION" 1 ""
expect_table pfa_mailboxes_socket bob@example.test 0 "example.test/bob/"
expect_table pfa_aliases sales@example.test 0 "alice@example.test,bob@example.test"
expect_table pfa_aliases @other.test 0 "carol@other.test"
expect_table pfa_aliases old@example.test 1 ""                # inactive alias
expect_table pfa_domains example.test 0 "example.test"
expect_table pfa_domains backup.test 1 ""                     # backup MX: not local
expect_table pfa_domains disabled.test 1 ""
expect_table pfa_backup_domains backup.test 0 "backup.test"
expect_table pfa_domain_users x@example.test 0 "alice@example.test,bob@example.test"
expect_table pfa_domain_users example.test 1 ""                # %d and no domain: not asked
assert_eq 4 "$(pg_sql 'SELECT count(*) FROM mailbox')" "mailbox rows after the injection key"

# ---- TLS to the server: verified against sslrootcert, refused without it, off when disabled --
table_query tls_verified x@example.test
assert_eq 0 "$RC" "exit status over verified TLS (stderr: $ERR)"
[[ "$OUT" == TLSv1.[23] ]] || fail "the connection's TLS version: '$OUT'"
table_query tls_untrusted x@example.test
assert_eq 75 "$RC" "exit status of verify-full without the server's CA (stdout: $OUT)"
[[ "$ERR" == *"table pgsql:tls_untrusted"*"root certificate"* ]] ||
  fail "the error does not name the missing root certificate: $ERR"
expect_table tls_off x@example.test 1 ""   # sslmode disable: a connection without TLS

# A server that never answers: a temporary failure when the timeout (2s) ends.
start=$SECONDS
table_query silent alice@example.test
assert_eq 75 "$RC" "exit status for a server that never answers (stderr: $ERR)"
[[ "$ERR" == "petrel: temporary failure: table pgsql:silent: "* ]] ||
  fail "stderr for a server that never answers: $ERR"
((SECONDS - start <= 8)) || fail "a server that never answers held the query $((SECONDS - start))s"

# ---- mail through the tables -------------------------------------------------------------------
start_petrel

py <<'EOF'
from lib import *

def session():
    c = Client(source="127.0.0.2")
    c.ehlo()
    c.expect("MAIL FROM:<sender@example.net>", 250)
    return c

def deliver(rcpts, subject):
    c = session()
    for r in rcpts:
        c.expect("RCPT TO:<%s>" % r, 250, "2.1.5")
    c.expect("DATA", 354)
    msg = make_message(subject, ["through PostgreSQL"])
    c.expect_raw(dot_stuff(msg), 250, "2.0.0")
    c.expect("QUIT", 221)
    return msg

m1 = deliver(["alice@example.test"], "mailbox")
m2 = deliver(["sales@example.test"], "alias")          # alice and bob
m3 = deliver(["postmaster@example.test"], "postmaster")  # alice
m4 = deliver(["someone@other.test"], "catch-all")     # carol
def subjects(box, n):
    files = wait_maildir(box, n)
    out = []
    want = "Delivered-To: %s@%s" % (box.split("/")[1], box.split("/")[0])
    for path in files:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        check(want in lines, "%s: no %r line" % (path, want))
        out += [l[len("Subject: "):] for l in lines if l.startswith("Subject: ")]
    return sorted(out)

check(subjects("example.test/alice", 3) == ["alias", "mailbox", "postmaster"],
      "alice's messages: %r" % subjects("example.test/alice", 3))
check(subjects("example.test/bob", 1) == ["alias"], "bob's messages")
check(subjects("other.test/carol", 1) == ["catch-all"], "carol's messages")

c = session()
c.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
c.expect("RCPT TO:<gone@example.test>", 550, "5.1.1")        # inactive mailbox
c.expect("RCPT TO:<old@example.test>", 550, "5.1.1")         # inactive alias
# Unquoted, the address is not RFC 5321 syntax (blanks, ';'): refused before any lookup.
c.expect("RCPT TO:<'; DROP TABLE mailbox; --@example.test>", 501, "5.1.3")
# Quoted, it is an address: the table is asked (the key bound as a parameter) and finds nothing.
c.expect("RCPT TO:<\"'; DROP TABLE mailbox; --\"@example.test>", 550, "5.1.1")
# We are backup MX for backup.test (domains.relay from the table): accepted from anyone, as
# Postfix's relay_domains (to be sent on; this transaction ends before DATA).
c.expect("RCPT TO:<x@backup.test>", 250, "2.1.5")
c.expect("RCPT TO:<x@disabled.test>", 554, "5.7.1")          # inactive: not ours
c.expect("QUIT", 221)
EOF
assert_eq 4 "$(pg_sql 'SELECT count(*) FROM mailbox')" "mailbox rows after the injection RCPT"
wait_for 15 "an empty queue after the first deliveries" queue_empty
rejects_5xx="$(log_count 'reject: RCPT from .*: 5[0-9][0-9] ')"
((rejects_5xx >= 5)) || fail "only $rejects_5xx 5xx RCPT rejects logged while PostgreSQL is up"

# ---- PostgreSQL stopped mid-run ----------------------------------------------------------------
# A transaction opened while the database is up; its recipient was checked. Then the server
# goes away: the message is still accepted (the client was told 250 for the recipient), its
# delivery is deferred (not bounced), and new recipients get 451 4.3.0.
py <<'EOF' &
from lib import *
import os, time
c = Client(source="127.0.0.2")
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<bob@example.test>", 250, "2.1.5")
open(os.environ["T"] + "/rcpt-done", "w").close()
deadline = time.time() + 30
while not os.path.exists(os.environ["T"] + "/pg-stopped"):
    check(time.time() < deadline, "PostgreSQL was not stopped")
    time.sleep(0.05)
c.expect("DATA", 354)
c.expect_raw(dot_stuff(make_message("in flight", ["accepted while the database went away"])),
             250, "2.0.0")
c.expect("QUIT", 221)
EOF
inflight=$!
wait_for 15 "the in-flight transaction's RCPT" test -e "$T/rcpt-done"
pg_stop
touch "$T/pg-stopped"
wait "$inflight" || fail "the in-flight transaction failed"

py <<'EOF'
from lib import *
c = Client(source="127.0.0.2")
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
for rcpt in ["alice@example.test", "nobody@example.test", "x@other.test", "x@backup.test",
             "\"'; DROP TABLE mailbox; --\"@example.test"]:
    c.expect("RCPT TO:<%s>" % rcpt, 451, "4.3.0")
c.expect("QUIT", 221)
EOF
assert_log 'table pgsql:pfa_[a-z_]+: .*(Connection refused|No such file|terminating connection|server closed the connection)' \
  "the log names the table and the server's error"
assert_eq "$rejects_5xx" "$(log_count 'reject: RCPT from .*: 5[0-9][0-9] ')" \
  "5xx RCPT rejects logged (none may come from the time PostgreSQL was down)"
# The in-flight message waits in the queue (deferred), nothing bounced.
assert_eq 1 "$(queue_count)" "messages queued while PostgreSQL is down"
assert_eq 1 "$(count_maildir example.test/bob)" "messages in bob's Maildir while PostgreSQL is down"
table_query pfa_mailboxes alice@example.test
assert_eq 75 "$RC" "exit status of table query with PostgreSQL down (stderr: $ERR)"
[[ "$ERR" == "petrel: temporary failure: table pgsql:pfa_mailboxes: cannot connect: "* ]] ||
  fail "stderr of table query with PostgreSQL down: $ERR"

# ---- restarted: delivery resumes ---------------------------------------------------------------
pg_start
py <<'EOF'
from lib import *
c = Client(source="127.0.0.2")
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250, "2.1.5")
c.expect("DATA", 354)
c.expect_raw(dot_stuff(make_message("after restart", ["the database is back"])), 250, "2.0.0")
c.expect("QUIT", 221)
wait_maildir("example.test/alice", 4)
wait_maildir("example.test/bob", 2)   # the in-flight message, retried
EOF
wait_for 30 "an empty queue after the restart" queue_empty
assert_no_log 'status=bounced' "a bounce"
expect_table pfa_mailboxes alice@example.test 0 "example.test/alice/"

# ---- a server that stops answering (SIGSTOP): 451 within the timeout -------------------------
pm="$(head -n 1 "$PGDIR/data/postmaster.pid")"
mapfile -t PG_FROZEN < <(echo "$pm"; ps -o pid= --ppid "$pm" | tr -d ' ')
kill -STOP "${PG_FROZEN[@]}"
py <<'EOF'
from lib import *
import time
c = Client(source="127.0.0.2", timeout=30)
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
start = time.time()
c.expect("RCPT TO:<alice@example.test>", 451, "4.3.0")
took = time.time() - start
check(took < 12, "RCPT waited %.1fs for a frozen database (timeout 2s)" % took)
c.expect("QUIT", 221)
EOF
# A reload while it is frozen, with example.test now a listed domain: the postmaster check asks
# the frozen tables about postmaster@example.test (2s timeouts) on the thread pool, and the main
# loop keeps serving (/healthz answers) until the reload finishes.
reloads_before="$(log_count 'reload -- ')"
LISTED_CONF="$CONF" py - <<'EOF'
import os, yaml
path = os.environ["LISTED_CONF"]
c = yaml.safe_load(open(path, encoding="utf-8"))
c["domains"]["local"] = ["example.test"]
yaml.safe_dump(c, open(path, "w", encoding="utf-8"), sort_keys=False, default_flow_style=False)
EOF
kill -HUP "$PETREL_PID"
PETREL_LOG="$PETREL_LOG" RELOADS_BEFORE="$reloads_before" py <<'EOF'
import os, re, time, urllib.request
from lib import check
time.sleep(0.3)
start = time.time()
body = urllib.request.urlopen("http://127.0.0.1:%s/healthz" % os.environ["STATUS_PORT"],
                              timeout=20).read()
took = time.time() - start
done = len(re.findall(r"reload -- ", open(os.environ["PETREL_LOG"]).read()))
check(done == int(os.environ["RELOADS_BEFORE"]),
      "/healthz answered only after the reload: the postmaster check held the main loop")
check(took < 1.5, "/healthz took %.1fs while a reload waited on the frozen database" % took)
EOF
wait_for 30 "the reload against the frozen database to finish" \
  eval '[[ "$(log_count "reload -- ")" -gt "$reloads_before" ]]'
kill -CONT "${PG_FROZEN[@]}"
PG_FROZEN=()
assert_log 'table pgsql:pfa_[a-z_]+: (no answer from the server within 2s|cannot connect: .*timeout)' \
  "the log says the server did not answer in time"
py <<'EOF'
from lib import *
c = Client(source="127.0.0.2")
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<bob@example.test>", 250, "2.1.5")
c.expect("QUIT", 221)
EOF

stop_petrel
assert_eq 4 "$(pg_sql 'SELECT count(*) FROM mailbox')" "mailbox rows at the end"
pg_stop
pass
