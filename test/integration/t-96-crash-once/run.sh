#!/usr/bin/env bash
# Exactly once after a crash (issue 16).
# Setup: `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status),
#   quick-start config plus a global Sieve script (Subject "[list]": a :copy into "Lists");
#   crash_load.py with $CRASH_SESSIONS smtplib sessions (default 15) sending in a loop.
# While the sessions send, petrel is killed with SIGKILL every 1.5-3.5 s and restarted at once,
# $CRASH_KILLS times (default 5) and, for the soak (test/soak/crash-soak.sh), until
# $CRASH_MIN_ACKED messages were answered 250 and $CRASH_MIN_SECONDS have passed. Then the load
# stops, the queue drains, and crash_load.py counts every Maildir file (new/ and cur/, INBOX and
# Lists, alice and bob) by Message-ID, Delivered-To and folder: each message answered 250 is
# there exactly once in each place it was meant for (0 lost), no message is there twice (0
# duplicated; before issue 16 a kill between the Maildir rename and the journal commit delivered
# it again). The queue and the spool end empty; the counts and how many recipients recovery found
# already stored ("stored by an earlier attempt") are printed.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

SESSIONS="${CRASH_SESSIONS:-15}"
KILLS="${CRASH_KILLS:-5}"
MIN_ACKED="${CRASH_MIN_ACKED:-0}"
MIN_SECONDS="${CRASH_MIN_SECONDS:-0}"
PAUSE="${CRASH_PAUSE:-0.1}"  # after each message, per session; the soak sends flat out (0)
LOAD="$T/load"
mkdir -p "$LOAD"
cat >"$T/crash.sieve" <<'SIEVE'
require ["fileinto", "copy"];
if header :contains "Subject" "[list]" {
  fileinto :copy "Lists";
}
SIEVE
write_config "
delivery:
  sieve: {global_before: $T/crash.sieve}
"

acked() { cat "$LOAD"/session-*.log 2>/dev/null | grep -c '^ok ' || true; }

start_petrel
py_bg "$IT_DIR/crash_load.py" send "$LOAD" "$SESSIONS" "$PAUSE" </dev/null
LOAD_PID="$PY_BG_PID"
kills=0
started=$SECONDS
while ((kills < KILLS)) || (($(acked) < MIN_ACKED)) || ((SECONDS - started < MIN_SECONDS)); do
  sleep "$(printf '%d.%03d' $((1 + RANDOM % 3)) $((RANDOM % 1000)))"
  kill -0 "$LOAD_PID" 2>/dev/null || fail "crash_load.py send exited early"
  kill9_petrel
  kills=$((kills + 1))
  start_petrel 60
  if ((kills % 10 == 0)); then
    log "$kills kills, $(acked) messages answered 250 so far ($((SECONDS - started)) s)"
  fi
done
sleep 1
touch "$LOAD/stop"
wait_for 60 "the load sessions to stop" not_running "$LOAD_PID"
load_end=$SECONDS
# From the journal itself: `petrel queue list --json` of a queue this size can take long.
queue_drained() { [[ "$(db_count messages)" == 0 ]]; }
wait_for 600 "the queue to be empty after $kills kills" queue_drained
drained=$((SECONDS - load_end))

counts="$(py "$IT_DIR/crash_load.py" count "$LOAD")" || {
  echo "$counts" >&2
  fail "lost or duplicated copies after $kills kills"
}
found_again="$(log_count 'status=sent \(delivered to maildir \(stored by an earlier attempt\)\)')"
recovered="$(log_count 'recovered [0-9]+ queued messages')"
log "$kills kills in $((load_end - started)) s, $SESSIONS sessions, drained in $drained s:" \
  "$counts;" \
  "recipients found stored by an earlier attempt: $found_again; restarts with a queue: $recovered"
py - "$counts" <<'PY'
import json, sys
from lib import check
c = json.loads(sys.argv[1])
check(c["acked"] >= 100, "only %d messages answered 250: the load did not run" % c["acked"])
PY
assert_eq 0 "$(spool_count)" "spool files after the queue drained"
stop_petrel
pass
