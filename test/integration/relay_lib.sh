# Shell side of the outbound relay harness; t-41.. source it after lib.sh:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#   source "$IT_DIR/relay_lib.sh"
#
# The world petrel relays to is relay_lib.py (see its docstring for the spec format): a DNS
# server on 127.0.0.1:$DNS_PORT and aiosmtpd peers on 127.0.0.3..:25 (outbound SMTP always
# goes to port 25), recording into $RELAY_DIR ($T/relay). Several harness processes may run at
# once (say, DNS in one and peers in another, so each can be stopped on its own).

RELAY_DIR="$T/relay"
mkdir -p "$RELAY_DIR"
declare -A HARNESS_PIDS=()
export RELAY_DIR

# need_relay_harness [ADDR...]: skip unless aiosmtpd and dnslib are there and we may bind each
# ADDR (like 127.0.0.3:25: port 25 needs root; 127.0.0.3 needs 127.0.0.0/8 on lo).
need_relay_harness() {
  "$PYTHON" -c 'import aiosmtpd' 2>/dev/null || skip "missing Python module aiosmtpd (python3-aiosmtpd)"
  "$PYTHON" -c 'import dnslib' 2>/dev/null || skip "missing Python module dnslib (python3-dnslib)"
  need_tool openssl
  local a out
  for a in "$@"; do
    out="$("$PYTHON" - "$a" 2>&1 <<'EOF'
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.close()
EOF
)" || skip "cannot bind $a for a relay peer: $out"
  done
}

# can_bind ADDR: true when a TCP socket can bind ADDR ("127.0.0.3:25", "[::1]:25"); for a part
# of a test that can be skipped on its own (need_relay_harness skips the whole test).
can_bind() {
  "$PYTHON" - "$1" 2>/dev/null <<'EOF'
import socket, sys
host, _, port = sys.argv[1].rpartition(":")
host = host.strip("[]")
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.close()
EOF
}

# start_harness NAME SPEC_YAML: starts `relay_lib.py serve` with SPEC_YAML (written to
# $RELAY_DIR/NAME.yaml) and waits until every socket listens.
start_harness() {
  local name="$1" spec="$2"
  printf '%s\n' "$spec" >"$RELAY_DIR/$name.yaml"
  rm -f "$RELAY_DIR/$name.ready"
  PYTHONPATH="$IT_DIR" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$IT_DIR/relay_lib.py" serve \
    "$RELAY_DIR/$name.yaml" "$RELAY_DIR" "$name" >>"$RELAY_DIR/$name.out" 2>&1 &
  local pid=$!
  HARNESS_PIDS[$name]=$pid
  EXTRA_PIDS+=("$pid")
  disown "$pid"  # killed by lib.sh on exit; no "Killed" notice from bash
  local deadline=$((SECONDS + 15))
  until [[ -e "$RELAY_DIR/$name.ready" ]]; do
    kill -0 "$pid" 2>/dev/null || fail "relay harness '$name' exited: $(cat "$RELAY_DIR/$name.out")"
    ((SECONDS < deadline)) || fail "relay harness '$name' not ready after 15s: $(cat "$RELAY_DIR/$name.out")"
    sleep 0.05
  done
}

# stop_harness NAME: SIGTERM, and wait until its sockets are closed.
stop_harness() {
  local pid="${HARNESS_PIDS[$1]:-}"
  [[ -n "$pid" ]] || fail "stop_harness: no harness '$1'"
  kill -TERM "$pid" 2>/dev/null || true
  wait_for 10 "relay harness '$1' (pid $pid) to exit" not_running "$pid"
  unset "HARNESS_PIDS[$1]"
}

# peer_count PEER: messages PEER has received completely.
peer_count() {
  local d="$RELAY_DIR/$1"
  if [[ -d "$d" ]]; then find "$d" -maxdepth 1 -name '*.json' | wc -l; else echo 0; fi
}
peer_has() { [[ "$(peer_count "$1")" -eq "$2" ]]; }
peer_at_least() { [[ "$(peer_count "$1")" -ge "$2" ]]; }

# peer_events PEER: its events.log (commands, replies, connections, TLS, AUTH).
peer_events() { cat "$RELAY_DIR/$1/events.log" 2>/dev/null || true; }

# dns_queries: the DNS server's question log ("udp NAME TYPE" lines).
dns_queries() { cat "$RELAY_DIR/dns-queries.log" 2>/dev/null || true; }

# check_config: `petrel check-config` must accept $CONF (its errors make the failure message).
check_config() {
  local out
  out="$(petrel check-config 2>&1)" || fail "petrel check-config refused the test's config:
$out
config:
$(cat "$CONF")"
}

# recipient_line ID RCPT: the regex (log_has / assert_log) of petrel's delivery line for RCPT
# of message ID, up to and including "relay=".
recipient_line() {
  local rcpt="${2//./\\.}"
  printf '%s: to=<%s>, (orig_to=<[^>]*>, )?relay=' "$1" "$rcpt"
}
