# Helpers for the integration scenarios; every t-NN-name/run.sh sources this file first.
#
# It owns the per-test scratch directory ($T, removed on exit), the petrel process started by
# start_petrel (killed on exit if the test did not stop it), free loopback ports, the config
# derived from config-examples/quickstart.yaml, and the assert/wait helpers. It deliberately
# does not talk SMTP: scenarios do that with real clients (swaks, Python smtplib) or with the
# raw-socket client in lib.py, which `py` puts on PYTHONPATH.
#
# Exit codes follow meson: 0 pass, 1 fail, 77 skip (a tool is missing).
#
# Typical use:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#   write_config 'limits: {connections_per_client: 3}'
#   start_petrel
#   py <<'EOF' ... EOF
#   stop_petrel
#   pass

set -euo pipefail

IT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PETREL_SOURCE_ROOT="${PETREL_SOURCE_ROOT:-$(cd "$IT_DIR/../.." && pwd)}"
PETREL="${PETREL:-$PETREL_SOURCE_ROOT/build/petrel}"
PYTHON=/usr/bin/python3
TEST_NAME="$(basename "$(cd "$(dirname "${BASH_SOURCE[1]:-$0}")" && pwd)")"

# ---- reporting -------------------------------------------------------------------------------

log() { printf '%s: %s\n' "$TEST_NAME" "$*" >&2; }

fail() {
  printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
  exit 1
}

skip() {
  printf '%s: SKIP: %s\n' "$TEST_NAME" "$*" >&2
  exit 77
}

pass() {
  printf '%s: PASS\n' "$TEST_NAME" >&2
  exit 0
}

# need_tool NAME...: skip the test when a program is missing.
need_tool() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || skip "missing tool: $t"
  done
}

[[ -x "$PETREL" ]] || skip "petrel binary not found at $PETREL (build first or set PETREL)"
[[ -x "$PYTHON" ]] || skip "missing tool: $PYTHON"
"$PYTHON" -c 'import yaml' 2>/dev/null || skip "missing Python module yaml (python3-yaml)"

# ---- scratch directory and cleanup -----------------------------------------------------------

T="$(mktemp -d /tmp/petrel-it.XXXXXX)"
CONF="$T/petrel.yaml"
MAIL_ROOT="$T/var/mail"
STATE_DIR="$T/var/state"
PETREL_LOG="$T/petrel.log"   # stderr of the current petrel serve (appended across restarts)
PETREL_PID=""
PETREL_EXIT=""
EXTRA_PIDS=()

_cleanup() {
  local rc=$?
  set +e
  local p
  for p in "${EXTRA_PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null
  done
  if [[ -n "$PETREL_PID" ]] && kill -0 "$PETREL_PID" 2>/dev/null; then
    kill -9 "$PETREL_PID" 2>/dev/null
    wait "$PETREL_PID" 2>/dev/null
  fi
  if [[ $rc -ne 0 && $rc -ne 77 && -f "$PETREL_LOG" ]]; then
    printf '%s: ---- last lines of the petrel log (%s) ----\n' "$TEST_NAME" "$PETREL_LOG" >&2
    tail -n 60 "$PETREL_LOG" >&2
    printf '%s: ----\n' "$TEST_NAME" >&2
  fi
  if [[ -n "${KEEP_TMP:-}" ]]; then
    printf '%s: keeping %s\n' "$TEST_NAME" "$T" >&2
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# ---- ports -----------------------------------------------------------------------------------

# pick_port: prints a loopback TCP port that was free a moment ago.
pick_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

SMTP_PORT="$(pick_port)"
STATUS_PORT="$(pick_port)"
while [[ "$STATUS_PORT" == "$SMTP_PORT" ]]; do STATUS_PORT="$(pick_port)"; done
export SMTP_PORT STATUS_PORT MAIL_ROOT STATE_DIR CONF T PETREL PETREL_SOURCE_ROOT

# ---- python ----------------------------------------------------------------------------------

# py [ARGS]: runs /usr/bin/python3 with lib.py importable; the script usually comes on stdin.
py() {
  PYTHONPATH="$IT_DIR${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$@"
}

# py_bg ARGS...: like py, in the background; sets PY_BG_PID (killed on exit if still running).
py_bg() {
  PYTHONPATH="$IT_DIR${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$@" <&0 &
  PY_BG_PID=$!
  EXTRA_PIDS+=("$PY_BG_PID")
}

# ---- config ----------------------------------------------------------------------------------

# write_config [EXTRA_YAML]: writes $CONF from config-examples/quickstart.yaml (example.test,
# alice, bob, postmaster -> alice, mail_root var/mail, state_dir var/state, delimiter "+")
# listening on $SMTP_PORT / $STATUS_PORT with 2 workers, smtp.peername_lookup, dkim.verify and dmarc.verify
# off, then
# deep-merges EXTRA_YAML into it
# (mappings merge key by key; anything else, null included, replaces; a key written with a
# trailing "!", like "mailboxes!:", replaces the whole value instead of merging into it).
write_config() {
  local extra="${1:-}"
  EXTRA_YAML="$extra" py - "$CONF" <<'EOF'
import os, sys, yaml
# The quick-start file itself, with this test's ports, two workers and nothing else changed.
with open(os.path.join(os.environ["PETREL_SOURCE_ROOT"], "config-examples", "quickstart.yaml"),
          encoding="utf-8") as f:
    base = yaml.safe_load(f)
base["listeners"] = [{"name": "mx", "address": "127.0.0.1:%s" % os.environ["SMTP_PORT"]}]
base["status"] = {"address": "127.0.0.1:%s" % os.environ["STATUS_PORT"]}
base["workers"] = 2
# No client name lookup (smtp.peername_lookup): with it, each connection would first ask
# whatever /etc/resolv.conf names for the PTR of 127.0.0.1, so the log's "unknown[127.0.0.1]"
# and the greeting's delay would depend on the machine. Tests of the lookup turn it on.
base.setdefault("smtp", {})["peername_lookup"] = False
# No DKIM verification (dkim.verify): it would put an Authentication-Results field on top of
# every message and look up keys of signed messages. Tests of it turn it on.
base.setdefault("dkim", {})["verify"] = False
# No DMARC (dmarc.verify) either: it would evaluate SPF and look up _dmarc records for every
# message from outside mynetworks. Tests of it turn it on.
base.setdefault("dmarc", {})["verify"] = False
def merge(a, b):
    for k, v in b.items():
        if k.endswith("!"):
            a[k[:-1]] = v
        elif isinstance(v, dict) and isinstance(a.get(k), dict):
            merge(a[k], v)
        else:
            a[k] = v
extra = yaml.safe_load(os.environ.get("EXTRA_YAML") or "") or {}
merge(base, extra)
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write("# Written by test/integration/lib.sh write_config\n")
    yaml.safe_dump(base, f, allow_unicode=True, sort_keys=False, default_flow_style=False)
EOF
}

# ---- the petrel process ----------------------------------------------------------------------

# petrel ARGS...: runs the CLI against $CONF (petrel queue list --json ...).
petrel() { "$PETREL" "$@" --config "$CONF"; }

# start_petrel [TIMEOUT]: starts `petrel serve` in the background and waits until it logged
# "daemon started" (or died: then the test fails with its log).
start_petrel() {
  local timeout="${1:-15}"
  local before=0
  [[ -f "$PETREL_LOG" ]] && before="$(wc -l <"$PETREL_LOG")"
  : >>"$PETREL_LOG"
  "$PETREL" serve --config "$CONF" >>"$PETREL_LOG" 2>&1 &
  PETREL_PID=$!
  PETREL_EXIT=""
  local deadline=$((SECONDS + timeout))
  while :; do
    if tail -n +"$((before + 1))" "$PETREL_LOG" | grep 'petrel/master\[[0-9]*\]: daemon started' >/dev/null; then
      break
    fi
    if ! kill -0 "$PETREL_PID" 2>/dev/null; then
      wait "$PETREL_PID" && PETREL_EXIT=0 || PETREL_EXIT=$?
      PETREL_PID=""
      fail "petrel serve exited with status $PETREL_EXIT before logging 'daemon started'"
    fi
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for petrel to log 'daemon started'"
    sleep 0.05
  done
  wait_for 10 "SMTP port $SMTP_PORT to accept connections" port_open "$SMTP_PORT"
}

port_open() {
  "$PYTHON" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.close()' "$1" 2>/dev/null
}

# stop_petrel [TIMEOUT]: SIGTERM, wait for the exit, assert status 0.
stop_petrel() {
  local timeout="${1:-40}"
  [[ -n "$PETREL_PID" ]] || fail "stop_petrel: petrel is not running"
  kill -TERM "$PETREL_PID"
  wait_for "$timeout" "petrel (pid $PETREL_PID) to exit after SIGTERM" not_running "$PETREL_PID"
  wait "$PETREL_PID" && PETREL_EXIT=0 || PETREL_EXIT=$?
  PETREL_PID=""
  [[ "$PETREL_EXIT" == 0 ]] || fail "petrel exited with status $PETREL_EXIT after SIGTERM (want 0)"
}

# kill9_petrel: SIGKILL, as a crash would.
kill9_petrel() {
  [[ -n "$PETREL_PID" ]] || fail "kill9_petrel: petrel is not running"
  kill -9 "$PETREL_PID" 2>/dev/null || true
  wait "$PETREL_PID" 2>/dev/null || true
  PETREL_PID=""
}

not_running() { ! kill -0 "$1" 2>/dev/null || [[ "$(ps -o stat= -p "$1" 2>/dev/null)" == Z* ]]; }

# ---- waiting ---------------------------------------------------------------------------------

# wait_for TIMEOUT WHAT CMD...: polls CMD every 0.1s until it succeeds; fails saying WHAT.
wait_for() {
  local timeout="$1" what="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for $what"
    sleep 0.1
  done
}

# ---- mailboxes and queue ---------------------------------------------------------------------

# count_maildir BOX: number of delivered files in $MAIL_ROOT/BOX/new (BOX like example.test/alice).
count_maildir() {
  local dir="$MAIL_ROOT/$1/new"
  if [[ -d "$dir" ]]; then
    find "$dir" -maxdepth 1 -type f | wc -l
  else
    echo 0
  fi
}

# maildir_has BOX N: true when BOX holds exactly N messages (for wait_for).
maildir_has() { [[ "$(count_maildir "$1")" -eq "$2" ]]; }
maildir_at_least() { [[ "$(count_maildir "$1")" -ge "$2" ]]; }

# log_has PATTERN: true when the petrel log has a line matching the extended regex.
log_has() { grep -Eq -- "$1" "$PETREL_LOG"; }
log_count() { grep -Ec -- "$1" "$PETREL_LOG" || true; }

# queue_count: messages in `petrel queue list --json`.
queue_count() {
  petrel queue list --json | py -c 'import json, sys; print(len(json.load(sys.stdin)))'
}
queue_empty() { [[ "$(queue_count)" -eq 0 ]]; }

# spool_count: spool slots in use by queued messages. Free slots stay on disk to be reused
# (they are never unlinked), so "nothing left behind" means no queue row names a slot.
spool_count() { db_count "messages WHERE spool_path IS NOT NULL"; }
# spool_file_count: files in the spool directory, free slots included.
spool_file_count() { find "$STATE_DIR/spool" -mindepth 1 | wc -l; }

# db_count TABLE: rows in queue.db (read-only; the server may be running).
db_count() { sqlite3 -readonly "$STATE_DIR/queue.db" "SELECT count(*) FROM $1"; }

# ---- assertions ------------------------------------------------------------------------------

# table_query NAME KEY: runs `petrel table query`; sets OUT, ERR and RC.
table_query() {
  RC=0
  petrel table query "$1" "$2" >"$T/table-query.out" 2>"$T/table-query.err" || RC=$?
  OUT="$(cat "$T/table-query.out")"
  ERR="$(cat "$T/table-query.err")"
}

# expect_table NAME KEY RC STDOUT: one table query with its exit status and output, and
# nothing on stderr.
expect_table() {
  table_query "$1" "$2"
  assert_eq "$3" "$RC" "exit status of table query $1 '$2' (stderr: $ERR)"
  assert_eq "$4" "$OUT" "stdout of table query $1 '$2'"
  assert_eq "" "$ERR" "stderr of table query $1 '$2'"
}

assert_eq() {  # EXPECTED ACTUAL WHAT
  [[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

assert_log() {  # PATTERN WHAT
  log_has "$1" || fail "$2: no log line matches /$1/"
}

assert_no_log() {  # PATTERN WHAT
  if log_has "$1"; then
    fail "$2: unexpected log line: $(grep -E -m1 -- "$1" "$PETREL_LOG")"
  fi
}

assert_file_contains() {  # FILE PATTERN WHAT
  grep -Eq -- "$2" "$1" || fail "$3: $1 does not match /$2/; it holds: $(head -c 2000 "$1")"
}

# ---- extra listeners, users, certificates (TLS / AUTH / relay scenarios) --------------------

PICKED_PORTS=()

# pick_ports VAR...: sets (and exports) each VAR to a free loopback port that differs from
# $SMTP_PORT, $STATUS_PORT and every port handed out before. Write the whole `listeners:` list
# in write_config's EXTRA_YAML (a list replaces the default one).
pick_ports() {
  local name p taken=" $SMTP_PORT $STATUS_PORT ${PICKED_PORTS[*]:-} "
  for name in "$@"; do
    p="$(pick_port)"
    while [[ "$taken" == *" $p "* ]]; do p="$(pick_port)"; done
    taken+="$p "
    PICKED_PORTS+=("$p")
    printf -v "$name" '%s' "$p"
    export "${name?}"
  done
}

# start_silent_server PORT: a server on 127.0.0.1:PORT that completes the TCP handshake (the
# kernel does, from the backlog) and then never sends a byte nor reads one; killed on exit.
start_silent_server() {
  SILENT_PORT="$1" py_bg - <<'EOF'
import os, socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["SILENT_PORT"])))
s.listen(64)
time.sleep(3600)
EOF
  disown "$PY_BG_PID"
  wait_for 10 "the silent server on port $1" port_open "$1"
}

# start_zone_dns ZONE_FILE: zone_dns.py serving ZONE_FILE on 127.0.0.1:$DNS_PORT (UDP and TCP;
# picked and exported here), logging "NAME TYPE" per query to $DNS_QUERY_LOG; killed on exit.
# Point Petrel at it with `dns: {servers: ['127.0.0.1:$DNS_PORT']}` in write_config.
start_zone_dns() {
  pick_ports DNS_PORT
  DNS_QUERY_LOG="$T/dns-queries.log"
  : >"$DNS_QUERY_LOG"
  py_bg "$IT_DIR/zone_dns.py" "$DNS_PORT" "$1" "$DNS_QUERY_LOG" "$T/dns.ready" </dev/null \
    >"$T/zone_dns.out" 2>&1
  wait_for 10 "zone_dns.py on 127.0.0.1:$DNS_PORT" test -e "$T/dns.ready"
}

# add_user NAME PASSWORD: `petrel user add NAME` with the password on stdin (not a terminal).
add_user() {
  local out
  out="$(printf '%s\n' "$2" | petrel user add "$1" 2>&1)" || fail "petrel user add $1 failed: $out"
}

# need_swaks_tls: skip unless swaks can speak TLS (it needs Net::SSLeay: libnet-ssleay-perl).
need_swaks_tls() {
  need_tool swaks
  swaks --support 2>&1 | grep -q '=== TLS supported' ||
    skip "swaks lacks TLS support (install libnet-ssleay-perl and libio-socket-ssl-perl)"
}

# make_cert PREFIX CN SERIAL [SAN...]: a self-signed EC P-256 certificate for CN (subjectAltName
# DNS:CN plus any SANs) with a chosen serial (like 0x1001), written to PREFIX.crt and PREFIX.key.
make_cert() {
  local prefix="$1" cn="$2" serial="$3" san s
  shift 3
  san="DNS:$cn"
  for s in "$@"; do san+=",DNS:$s"; done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=$cn" -addext "subjectAltName=$san" -set_serial "$serial" \
    -keyout "$prefix.key" -out "$prefix.crt" >/dev/null 2>&1 || fail "openssl req for $cn failed"
}

# starttls_cert PORT [S_CLIENT_ARGS...]: the leaf certificate (PEM) the server on 127.0.0.1:PORT
# presents after STARTTLS; empty when the handshake fails. Pass -servername NAME for SNI,
# -noservername for none.
starttls_cert() {
  local port="$1"
  shift
  timeout 15 openssl s_client -starttls smtp -connect "127.0.0.1:$port" "$@" </dev/null 2>/dev/null |
    openssl x509 2>/dev/null || true
}

# cert_serial / cert_subject / cert_sans: fields of the PEM certificate on stdin
# ("1001", "CN = mail.example.test", "DNS:mail.example.test").
cert_serial() { openssl x509 -noout -serial | sed 's/^serial=//'; }
cert_subject() { openssl x509 -noout -subject | sed 's/^subject=//'; }
cert_sans() { openssl x509 -noout -ext subjectAltName | sed -n '2,$p' | tr -d ' '; }
