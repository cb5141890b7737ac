#!/usr/bin/env bash
# Crash soak (issue 16), outside CI: test/integration/t-96-crash-once with a long run.
#
#   test/soak/crash-soak.sh [PETREL_BIN]     # default build/petrel
#
# 20 smtplib sessions send in a loop (CRASH_PAUSE: 0.3 s after each message, so that the queue
# can drain at the end) while petrel is killed with SIGKILL every 1.5-3.5 s and restarted,
# until at least 10,000 messages were answered 250 and 5 minutes have passed (at least 20
# kills); then the queue drains and every Maildir copy is counted (0 lost and 0 duplicated, or
# it fails). Override with CRASH_SESSIONS, CRASH_MIN_ACKED, CRASH_MIN_SECONDS, CRASH_KILLS,
# CRASH_PAUSE (0: as fast as the sessions can send; the queue then grows faster than it
# drains). Prints the counts line of t-96; the last run's numbers are in docs/architecture.md
# ("Exactly once after a crash").
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PETREL="${1:-${PETREL:-$repo/build/petrel}}"
export PETREL_SOURCE_ROOT="$repo"
export CRASH_SESSIONS="${CRASH_SESSIONS:-20}"
export CRASH_MIN_ACKED="${CRASH_MIN_ACKED:-10000}"
export CRASH_MIN_SECONDS="${CRASH_MIN_SECONDS:-300}"
export CRASH_KILLS="${CRASH_KILLS:-20}"
export CRASH_PAUSE="${CRASH_PAUSE:-0.3}"
exec bash "$repo/test/integration/t-96-crash-once/run.sh"
