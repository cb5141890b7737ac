#!/usr/bin/env bash
# Content inspection benchmark (issue 13): what header/body checks and a milter cost on the
# parallel scenarios. No root needed.
#
# Three Petrel processes with the benchmark's quick-start config (bench/petrel_config.py),
# on their own ports and Maildirs, differing only in:
#   base     no checks, no milter
#   checks   checks.header: a regexp table of 50 patterns (mime_header and nested_header use it
#            too, as in Postfix) and checks.body: one of 20 patterns; none matches, so every
#            header field is tried against all 50 and every body line against all 20 (the
#            worst case for a table that lets the mail through)
#   milter   filters.milters: one pymilter milter (bench/milter/continue_milter.py) that
#            answers CONTINUE to every step and ACCEPT at the end: the protocol's round trips
#            per message (connect, HELO, MAIL, RCPT, each field, the body, end of message)
# measured alternately (base, checks, milter, base, ...) on parallel-1k (20 sessions, 1 KB
# messages) and parallel-100k (20 sessions, 100 KB). Every message is the same file (a
# plain-text mail with the usual header fields) sent with `smtp-source -F`. A warm-up checks
# that each server delivers. Reported: delivered msgs/s (median of the repetitions), Petrel's
# CPU ms/msg from /proc, and the ratios to base. Target: checks >= 0.85 x base.
#
# Usage: bench/run-milter-bench.sh [options]
#   --build-dir DIR   the build whose petrel runs (default build-bench; `meson setup DIR
#                     --buildtype=release -Dtests=false` when missing)
#   --no-build        use what DIR holds
#   --reps N          repetitions of each set per scenario (default 3)
#   --scenario S      parallel-1k or parallel-100k (default: both)
#   --sessions N      parallel sessions (default 20)
#   --messages-1k N   messages per repetition of parallel-1k (default 5000)
#   --messages-100k N messages per repetition of parallel-100k (default 1000)
#   --quick           1000 and 200 messages
#   --out FILE        also write the result table to FILE
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
PY=/usr/bin/python3
SMTP_SOURCE=/usr/sbin/smtp-source
build_dir="build-bench"; build=1; reps=3; sessions=20; m1k=5000; m100k=1000; out=""
scenarios=(parallel-1k parallel-100k)

log() { printf '[run-milter-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) need_arg "$@"; build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --reps) need_arg "$@"; reps=$2; shift 2 ;;
    --scenario) need_arg "$@"; scenarios=("$2"); shift 2 ;;
    --sessions) need_arg "$@"; sessions=$2; shift 2 ;;
    --messages-1k) need_arg "$@"; m1k=$2; shift 2 ;;
    --messages-100k) need_arg "$@"; m100k=$2; shift 2 ;;
    --quick) m1k=1000; m100k=200; shift ;;
    --out) need_arg "$@"; out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
for s in "${scenarios[@]}"; do
  case "$s" in parallel-1k|parallel-100k) ;; *) die "--scenario is parallel-1k or parallel-100k" ;; esac
done
case "$out" in ""|/*) ;; *) out="$PWD/$out" ;; esac
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
petrel_bin="$build_dir/petrel"

if [ "$build" = 1 ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    log "meson setup $build_dir (release)"
    timeout 600 meson setup "$build_dir" --buildtype=release -Dtests=false >/dev/null ||
      die "meson setup $build_dir failed"
  fi
  log "building petrel in $build_dir"
  timeout 3600 ninja -C "$build_dir" petrel >/dev/null || die "build failed: ninja -C $build_dir petrel"
fi
[ -x "$petrel_bin" ] || die "no Petrel binary at $petrel_bin"
[ -x "$SMTP_SOURCE" ] || die "smtp-source missing: scripts/install-deps.sh bench"
"$PY" -c 'import Milter' 2>/dev/null || die "python3-milter missing: scripts/install-deps.sh test"

tmp="$(mktemp -d /tmp/petrel-mlbench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
report="$tmp/report.txt"
: >"$report"
say() { printf '%s\n' "$*" | tee -a "$report"; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The tables: 50 header patterns and 20 body patterns of the kind a course's header_checks
# holds, none of which matches the benchmark's message.
"$PY" - "$tmp/header_checks" "$tmp/body_checks" <<'PYEOF'
import sys
words = ["viagra", "casino", "lottery", "winner", "bitcoin", "loan", "pharmacy", "replica",
         "diploma", "weight"]
with open(sys.argv[1], "w") as h:
    for i in range(50):
        w = words[i % len(words)]
        kind = i % 5
        if kind == 0:
            h.write("/^Subject: .*%s-%d/ REJECT spam %d\n" % (w, i, i))
        elif kind == 1:
            h.write("/^From: .*@%s%d\\.example\\b/ REJECT sender %d\n" % (w, i, i))
        elif kind == 2:
            h.write("/^X-Mailer: %s mailer %d/ DISCARD\n" % (w, i))
        elif kind == 3:
            h.write("/^Content-(Type|Disposition): .*name=.*\\.%s%d/ REJECT attachment\n" % (w[:3], i))
        else:
            h.write("/^Received: from .*\\.%s%d\\.test/ HOLD\n" % (w, i))
with open(sys.argv[2], "w") as b:
    for i in range(20):
        b.write("/%s offer number %d/ REJECT body %d\n" % (words[i % len(words)], i, i))
PYEOF
for size in 1024 102400; do
  "$PY" - "$tmp/message-$size.eml" "$size" <<'PYEOF'
import sys
path, size = sys.argv[1], int(sys.argv[2])
head = ("From: Bench <bench@perfanchor.test>\nTo: Alice <alice@example.test>\n"
        "Subject: content inspection benchmark\nDate: Mon, 1 Jun 2026 12:00:00 +0000\n"
        "Message-ID: <milter-bench@perfanchor.test>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\nX-Mailer: bench 1.0\n\n")
lines, n = [head], len(head)
i = 0
while n + 78 <= size:  # 76 octets and CRLF on the wire
    line = "%05d The quick brown fox jumps over the lazy dog, then rests a while.\n" % i
    lines.append(line); n += len(line) + 1; i += 1
open(path, "w").write("".join(lines))
PYEOF
done

milter_port=$(free_port)
"$PY" "$here/milter/continue_milter.py" "$milter_port" "$tmp/milter.ready" >"$tmp/milter.out" 2>&1 &
pids+=($!)
milter_up() {
  "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
    "$milter_port" 2>/dev/null
}
for _ in $(seq 100); do milter_up && break; sleep 0.1; done
milter_up || die "continue_milter.py did not start: $(cat "$tmp/milter.out")"

sets=(base checks milter)
declare -A port=() pid=()
for set in "${sets[@]}"; do
  d="$tmp/$set"; mkdir -p "$d"
  port[$set]=$(free_port); status_port=$(free_port)
  "$PY" "$here/petrel_config.py" "$root/config-examples/quickstart.yaml" "$d/base.yaml" \
    --dir "$d" --smtp "127.0.0.1:${port[$set]}" --status "127.0.0.1:$status_port"
  SET=$set T=$tmp MILTER=$milter_port "$PY" - "$d/base.yaml" "$d/petrel.yaml" <<'PYEOF'
import os, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
t = os.environ["T"]
if os.environ["SET"] == "checks":
    cfg["checks"] = {"header": "regexp:" + t + "/header_checks",
                     "body": "regexp:" + t + "/body_checks"}
if os.environ["SET"] == "milter":
    cfg.setdefault("filters", {})["milters"] = ["inet:127.0.0.1:" + os.environ["MILTER"]]
yaml.safe_dump(cfg, open(sys.argv[2], "w"), sort_keys=False)
PYEOF
  "$petrel_bin" serve --config "$d/petrel.yaml" >"$d/petrel.out" 2>&1 &
  pid[$set]=$!
  pids+=("${pid[$set]}")
  "$PY" "$here/wait_smtp.py" "127.0.0.1:${port[$set]}" --timeout 60 --what "Petrel ($set)" \
    --pid "${pid[$set]}" >/dev/null || { cat "$d/petrel.out" >&2; die "Petrel ($set) did not start"; }
done

log "warm-up: 100 messages per server"
for set in "${sets[@]}"; do
  "$SMTP_SOURCE" -s 2 -m 100 -f bench@perfanchor.test -t alice@example.test -M bench.perfanchor.test \
    -F "$tmp/message-1024.eml" "127.0.0.1:${port[$set]}" >/dev/null 2>&1 || die "warm-up of $set failed"
done
for set in "${sets[@]}"; do
  for _ in $(seq 150); do
    [ "$("$PY" "$here/count_maildir.py" "$tmp/$set/mail")" -ge 100 ] && break
    sleep 0.2
  done
  [ "$("$PY" "$here/count_maildir.py" "$tmp/$set/mail")" -ge 100 ] ||
    die "warm-up of $set: not delivered ($(tail -n 3 "$tmp/$set/petrel.log" 2>/dev/null))"
done
if grep -q 'warning: .*milter' "$tmp/milter/petrel.log"; then
  grep 'warning: .*milter' "$tmp/milter/petrel.log" | head -n 3 >&2
  die "the milter server logged milter warnings"
fi

raw="$tmp/raw.jsonl"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for scenario in "${scenarios[@]}"; do
  if [ "$scenario" = parallel-1k ]; then size=1024; messages=$m1k; else size=102400; messages=$m100k; fi
  for rep in $(seq "$reps"); do
    for set in "${sets[@]}"; do
      mail="$tmp/$set/mail"
      count_cmd="$(printf '%q ' "$PY" "$here/count_maildir.py" "$mail")"
      reset_cmd="$(printf '%q ' "$PY" "$here/count_maildir.py" --trash "$tmp/$set/trash" "$mail")"
      sync
      before=$(cpu_ticks "${pid[$set]}")
      "$PY" "$here/smtpbench.py" --target "127.0.0.1:${port[$set]}" --label "$scenario/$set/$rep" \
        --sessions "$sessions" --messages "$messages" --size 0 --reps 1 \
        --to alice@example.test --extra "-F $tmp/message-$size.eml" \
        --count-cmd "$count_cmd" --reset-cmd "$reset_cmd" --smtp-source "$SMTP_SOURCE" \
        --pid-cmd "echo ${pid[$set]}" --stall 30 --out "$raw" >/dev/null
      after=$(cpu_ticks "${pid[$set]}")
      printf '{"cpu": "%s/%s/%s", "ms_per_msg": %s}\n' "$scenario" "$set" "$rep" \
        "$(awk -v t=$((after - before)) -v hz="$hz" -v n="$messages" 'BEGIN{printf "%.3f", t*1000/hz/n}')" >>"$raw"
      log "$scenario $set rep $rep: $(grep '"rep"' "$raw" | tail -n 1 | "$PY" -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r["e2e_deliveries_per_s"], "msgs/s delivered,", r["delivered"], "of", r["expected"], "stalled" if r["stalled"] else "", "" if r["rc"] == 0 else "smtp-source failed: " + r["stderr_tail"])')"
    done
  done
done
"$PY" - "$raw" "$sessions" "$m1k" "$m100k" <<'PYEOF' | tee -a "$report"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rate, cpu, failed = {}, {}, []
for r in rows:
    if "cpu" in r:
        sc, s, _ = r["cpu"].split("/")
        cpu.setdefault((sc, s), []).append(r["ms_per_msg"])
    elif "label" in r and r["label"].count("/") == 2 and "rep" in r:
        sc, s, _ = r["label"].split("/")
        if r.get("e2e_deliveries_per_s") and not r.get("stalled") and r.get("delivered") == r.get("expected"):
            rate.setdefault((sc, s), []).append(r["e2e_deliveries_per_s"])
        else:
            failed.append(r["label"])
sessions, m1k, m100k = sys.argv[2:5]
print(f"{sessions} sessions; parallel-1k {m1k} x 1 KB, parallel-100k {m100k} x 100 KB per repetition")
print(f"{'scenario':<14} {'set':<7} {'msgs/s':>8} {'ratio':>6} {'CPU ms/msg':>10}  repetitions (msgs/s)")
for sc in ("parallel-1k", "parallel-100k"):
    base = statistics.median(rate.get((sc, "base"), [0])) or 0
    for s in ("base", "checks", "milter"):
        if (sc, s) not in rate and (sc, s) not in cpu:
            continue
        v = rate.get((sc, s), [])
        med = statistics.median(v) if v else 0
        c = statistics.median(cpu.get((sc, s), [0]))
        ratio = f"{med / base:.3f}" if base else "-"
        print(f"{sc:<14} {s:<7} {med:8.0f} {ratio:>6} {c:10.3f}  {v}")
print("target: checks/base >= 0.85")
if failed:
    print("FAILED repetitions (left out):", failed)
    sys.exit(1)
PYEOF
[ -z "$out" ] || cp "$report" "$out"
