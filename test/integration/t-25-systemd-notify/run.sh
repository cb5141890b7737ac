#!/usr/bin/env bash
# Setup: a Python datagram socket in $T stands where systemd's notify socket would be
#   (NOTIFY_SOCKET, WATCHDOG_USEC=400000 as a unit with WatchdogSec=0.4s sets them), recording
#   each datagram as one line with "\n" written as " | "; `petrel serve` (quick-start config)
#   started with those variables, as systemd starts a Type=notify service.
# Petrel says READY=1 (with a STATUS naming its listeners) once it listens, and not before:
# the SMTP port is open when it arrives. WATCHDOG=1 follows at half the interval. SIGHUP gives
# RELOADING=1 with MONOTONIC_USEC, then READY=1 again; so does a reload of a broken config (the
# running one is kept). SIGTERM gives STOPPING=1 before the process exits with status 0.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

NOTES="$T/notify.log"
export NOTIFY_SOCKET="$T/notify.sock"
py_bg - "$NOTIFY_SOCKET" "$NOTES" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        data = s.recv(4096).decode("utf-8", "replace")
        out.write(data.replace("\n", " | ") + "\n")
EOF
wait_for 5 "the notify socket" test -S "$NOTIFY_SOCKET"
export WATCHDOG_USEC=400000

notes_have() { grep -Eq -- "$1" "$NOTES" 2>/dev/null; }
notes_count() { grep -Ec -- "$1" "$NOTES" 2>/dev/null || true; }

write_config
start_petrel
wait_for 5 "READY=1" notes_have '^READY=1 \| STATUS=2 workers, listening on 127\.0\.0\.1:'
port_open "$SMTP_PORT" || fail "READY=1 came but the SMTP port is not open"
assert_eq 1 "$(notes_count '^READY=1')" "READY=1 datagrams before any reload"
wait_for 5 "a WATCHDOG=1 ping" notes_have '^WATCHDOG=1$'
sleep 1
pings="$(notes_count '^WATCHDOG=1$')"
((pings >= 3)) || fail "only $pings watchdog pings in over a second (want one per 0.2 s)"

# A reload: RELOADING=1 (with the monotonic clock), then READY=1.
kill -HUP "$PETREL_PID"
wait_for 10 "RELOADING=1" notes_have '^RELOADING=1 \| MONOTONIC_USEC=[0-9]+ \| STATUS='
wait_for 10 "READY=1 after the reload" notes_have '^READY=1 \| STATUS=running$'
wait_for 10 "the reload's log line" log_has 'petrel/master\[[0-9]+\]: reload -- version'

# A reload that fails keeps the running configuration, and still ends with READY=1.
cp "$CONF" "$T/good.yaml"
printf 'listeners: [\n' >>"$CONF"
kill -HUP "$PETREL_PID"
wait_for 10 "the failed reload's log line" log_has 'reload failed: keeping the running configuration'
wait_for 10 "READY=1 after the failed reload" \
  test "$(notes_count '^READY=1 \| STATUS=running$')" -eq 2
assert_eq 2 "$(notes_count '^RELOADING=1')" "RELOADING=1 datagrams"
cp "$T/good.yaml" "$CONF"

stop_petrel
notes_have '^STOPPING=1 \| STATUS=draining sessions$' || fail "no STOPPING=1 before the exit: $(cat "$NOTES")"
pass
