#!/usr/bin/env bash
# Instructions per message on the accept + deliver path, counted by valgrind's callgrind:
# repeatable for the same binary and inputs whatever else the machine does, so two builds can
# be compared where msgs/s are too noisy (docs/performance.md).
#
# Usage: bench/callgrind-path.sh PETREL_BIN [SIZE ...]     (sizes in bytes; default 1024 102400)
# For each size it runs `petrel serve` (the benchmark's quick-start config, 127.0.0.1:2737)
# under callgrind twice, with smtp-source sending 1 session x N1 and then x N2 messages to
# alice@example.test, waits until all are in the Maildir, stops the server with SIGTERM and
# reads the total instruction count (all threads). Instructions per message are
# (total(N2) - total(N1)) / (N2 - N1): start-up and shutdown cancel out.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
bin=${1:?usage: callgrind-path.sh PETREL_BIN [SIZE ...]}
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1024 102400)
command -v valgrind >/dev/null || { echo "callgrind-path.sh: valgrind not installed" >&2; exit 1; }
[ -x /usr/sbin/smtp-source ] || { echo "callgrind-path.sh: smtp-source missing (postfix)" >&2; exit 1; }
port=2737
tmp=$(mktemp -d /tmp/petrel-callgrind.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# total_ir MESSAGES SIZE: prints the instructions of one serve run that takes MESSAGES messages.
total_ir() {
  local n=$1 size=$2 d=$tmp/run-$1-$2
  mkdir -p "$d/mail" "$d/state"
  /usr/bin/python3 "$here/petrel_config.py" "$repo/config-examples/quickstart.yaml" \
    "$d/petrel.yaml" --dir "$d" --smtp "127.0.0.1:$port" --status "127.0.0.1:$((port + 1))"
  valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" -q \
    "$bin" serve --config "$d/petrel.yaml" >"$d/serve.log" 2>&1 &
  local pid=$!
  /usr/bin/python3 "$here/wait_smtp.py" "127.0.0.1:$port" --timeout 120 --what "petrel under callgrind" \
    --pid "$pid" >/dev/null
  /usr/sbin/smtp-source -s 1 -m "$n" -l "$size" -f bench@perfanchor.test -t alice@example.test \
    "127.0.0.1:$port"
  local waited=0
  until [ "$(find "$d/mail" -path '*/new/*' -type f | wc -l)" -ge "$n" ]; do
    sleep 1
    waited=$((waited + 1))
    [ "$waited" -lt 300 ] || { echo "callgrind-path.sh: $n messages not delivered in 300 s" >&2; exit 1; }
  done
  kill -TERM "$pid"
  wait "$pid" || true
  sed -n 's/^summary: //p; s/^totals: //p' "$d/cg.out" | head -n 1
}

printf '%-8s %-10s %14s %14s %12s\n' size messages "Ir(N1)" "Ir(N2)" Ir/message
for size in "${sizes[@]}"; do
  n1=100 n2=400
  a=$(total_ir "$n1" "$size")
  b=$(total_ir "$n2" "$size")
  printf '%-8s %-10s %14s %14s %12s\n' "$size" "$n1/$n2" "$a" "$b" $(((b - a) / (n2 - n1)))
done
