#!/usr/bin/env bash
# DKIM verification benchmark (issue 12), two parts (no root needed):
#
# 1. micro: bench/dkim/dkim_bench.cc, one thread, no DNS: verifications per second of a 1 KB
#    and a 100 KB message with one signature (rsa-sha256 2048 bits and ed25519-sha256,
#    relaxed/relaxed), the median of --runs timed runs; then each case once more under
#    valgrind's callgrind, counting only the verification loop (--iterations verifications):
#    instructions per verification, the number that is stable on a busy machine.
# 2. smtp: the parallel-100k scenario (20 sessions x 1,000 messages of 100 KB) with dkim.verify
#    on and off. Two Petrel processes with the same quick-start config but for dkim.verify, on
#    their own ports and Maildirs, measured alternately (off, on, off, on, ...). Every message
#    is the same file, signed once by `petrel dkim sign` (rsa-sha256 2048, or --algorithm
#    ed25519) and sent by `smtp-source -F`; the key record is served by
#    test/integration/zone_dns.py on loopback (the resolver's cache answers after the first
#    message). Before measuring, a warm-up checks that "on" delivers with dkim=pass and "off"
#    without a dkim result. smtp-source connects from 127.0.0.1, in relay.mynetworks, so DMARC
#    and SPF do not run: the difference is DKIM alone. Target: on >= 0.85 x off in delivered
#    messages per second (median of the repetitions); server CPU ms/msg from /proc as well.
#
# Usage: bench/run-dkim-bench.sh [options]
#   --micro-only | --smtp-only   one part only (default: both)
#   --build-dir DIR   release build (default build-bench; `meson setup DIR --buildtype=release
#                     -Dtests=false` when missing); builds petrel and bench/petrel-dkim-bench
#   --no-build        use what DIR holds
#   --runs N          micro: timed runs per case (default 5)
#   --iterations N    micro: verifications counted under callgrind (default 20); 0 skips callgrind
#   --reps N          smtp: repetitions of each of off and on (default 5)
#   --sessions N      smtp: parallel sessions (default 20)
#   --messages N      smtp: messages per repetition, all sessions together (default 1000)
#   --size BYTES      smtp: message size (default 102400)
#   --algorithm A     smtp: rsa (default) or ed25519
#   --out FILE        also write the result tables to FILE
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
PY=/usr/bin/python3
SMTP_SOURCE=/usr/sbin/smtp-source
build_dir="build-bench"; build=1; micro=1; smtp=1; runs=5; iterations=20
reps=5; sessions=20; messages=1000; size=102400; algorithm=rsa; out=""

log() { printf '[run-dkim-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --micro-only) smtp=0; shift ;;
    --smtp-only) micro=0; shift ;;
    --build-dir) need_arg "$@"; build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --runs) need_arg "$@"; runs=$2; shift 2 ;;
    --iterations) need_arg "$@"; iterations=$2; shift 2 ;;
    --reps) need_arg "$@"; reps=$2; shift 2 ;;
    --sessions) need_arg "$@"; sessions=$2; shift 2 ;;
    --messages) need_arg "$@"; messages=$2; shift 2 ;;
    --size) need_arg "$@"; size=$2; shift 2 ;;
    --algorithm) need_arg "$@"; algorithm=$2; shift 2 ;;
    --out) need_arg "$@"; out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case "$algorithm" in rsa|ed25519) ;; *) die "--algorithm is rsa or ed25519" ;; esac
case "$out" in ""|/*) ;; *) out="$PWD/$out" ;; esac
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
petrel_bin="$build_dir/petrel"
bench_bin="$build_dir/bench/petrel-dkim-bench"

if [ "$build" = 1 ]; then
  if [ ! -f "$build_dir/build.ninja" ]; then
    log "meson setup $build_dir (release)"
    timeout 600 meson setup "$build_dir" --buildtype=release -Dtests=false >/dev/null ||
      die "meson setup $build_dir failed"
  fi
  if ! ninja -C "$build_dir" -t targets all 2>/dev/null | grep -q '^bench/petrel-dkim-bench:'; then
    timeout 300 meson setup --reconfigure "$build_dir" >/dev/null || die "meson setup --reconfigure failed"
  fi
  log "building petrel and bench/petrel-dkim-bench in $build_dir"
  timeout 3600 ninja -C "$build_dir" petrel bench/petrel-dkim-bench >/dev/null ||
    die "build failed: ninja -C $build_dir petrel bench/petrel-dkim-bench"
fi

tmp="$(mktemp -d /tmp/petrel-dkbench.XXXXXX)"
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

# ---- part 1: single-thread verification ------------------------------------------------------
if [ "$micro" = 1 ]; then
  [ -x "$bench_bin" ] || die "no $bench_bin (build it, or drop --no-build)"
  log "micro: wall-clock rates, median of $runs runs per case"
  "$bench_bin" --runs "$runs" >"$tmp/micro.txt" || { cat "$tmp/micro.txt" >&2; die "petrel-dkim-bench failed"; }
  declare -A ir=()
  if [ "$iterations" -gt 0 ]; then
    command -v valgrind >/dev/null || die "valgrind not installed (or give --iterations 0)"
    for c in rsa-1k rsa-100k ed25519-1k ed25519-100k; do
      log "micro: callgrind, $c, $iterations verifications"
      valgrind --tool=callgrind --collect-atstart=no \
        --toggle-collect=petrel_dkim_bench_verify_loop --callgrind-out-file="$tmp/cg-$c.out" -q \
        "$bench_bin" --case "$c" --iterations "$iterations" --runs 1 >/dev/null ||
        die "callgrind run of $c failed"
      total=$(sed -n 's/^summary: //p' "$tmp/cg-$c.out" | head -n 1)
      ir[$c]=$((total / iterations))
    done
  fi
  say "DKIM verification, one thread, one signature, relaxed/relaxed, key record parsed every time (its DER key memoized)"
  say "$(printf '%-14s %8s %12s %16s  %s' case bytes 'verif/s' 'Ir/verification' 'runs (verif/s)')"
  while read -r name bytes _n rate rest; do
    [ "$name" = case ] && continue
    say "$(printf '%-14s %8s %12s %16s  %s' "$name" "$bytes" "$rate" "${ir[$name]:--}" "$rest")"
  done <"$tmp/micro.txt"
  say ""
fi

# ---- part 2: parallel-100k with dkim.verify on and off ---------------------------------------
if [ "$smtp" = 1 ]; then
  [ -x "$petrel_bin" ] || die "no Petrel binary at $petrel_bin"
  [ -x "$SMTP_SOURCE" ] || die "smtp-source missing: scripts/install-deps.sh bench"
  free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  dns_port=$(free_port)

  # The key, its record, the zone and the signed message.
  keygen_args=(--domain perfanchor.test --selector bench --out "$tmp/bench.key")
  [ "$algorithm" = ed25519 ] && keygen_args+=(--algorithm ed25519)
  "$petrel_bin" dkim keygen "${keygen_args[@]}" >"$tmp/key.zone"
  "$PY" - "$tmp/key.zone" "$tmp/zone.txt" <<'PYEOF'
import re, sys
text = "".join(re.findall(r'"([^"]*)"', open(sys.argv[1]).read()))
parts = " ".join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))
with open(sys.argv[2], "w") as z:
    z.write("perfanchor.test. 3600 IN SOA ns.perfanchor.test. h.perfanchor.test. 1 7200 900 1209600 3600\n")
    z.write("perfanchor.test. 3600 IN MX 10 mx.perfanchor.test.\n")
    z.write("mx.perfanchor.test. 3600 IN A 192.0.2.25\n")
    z.write("bench._domainkey.perfanchor.test. 3600 IN TXT %s\n" % parts)
PYEOF
  "$PY" - "$tmp/message.eml" "$size" <<'PYEOF'
import sys
path, size = sys.argv[1], int(sys.argv[2])
head = ("From: Bench <bench@perfanchor.test>\nTo: Alice <alice@example.test>\n"
        "Subject: DKIM benchmark\nDate: Mon, 1 Jun 2026 12:00:00 +0000\n"
        "Message-ID: <dkim-bench@perfanchor.test>\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=us-ascii\n\n")
lines, n = [head], len(head)
i = 0
while n + 78 <= size:  # 76 octets and CRLF on the wire
    line = "%05d The quick brown fox jumps over the lazy dog, then rests a while.\n" % i
    lines.append(line); n += len(line) + 1; i += 1
open(path, "w").write("".join(lines))
PYEOF
  sign_alg=rsa-sha256; [ "$algorithm" = ed25519 ] && sign_alg=ed25519-sha256
  "$petrel_bin" dkim sign "$tmp/message.eml" --domain perfanchor.test --selector bench \
    --key "$tmp/bench.key" --algorithm "$sign_alg" >"$tmp/signed.eml"

  "$PY" "$root/test/integration/zone_dns.py" "$dns_port" "$tmp/zone.txt" "$tmp/queries.log" "$tmp/dns.ready" &
  pids+=($!)
  for _ in $(seq 50); do [ -e "$tmp/dns.ready" ] && break; sleep 0.1; done
  [ -e "$tmp/dns.ready" ] || die "zone_dns.py did not start"

  declare -A port=() pid=()
  for set in off on; do
    d="$tmp/$set"; mkdir -p "$d"
    port[$set]=$(free_port); status_port=$(free_port)
    "$PY" "$here/petrel_config.py" "$root/config-examples/quickstart.yaml" "$d/base.yaml" \
      --dir "$d" --smtp "127.0.0.1:${port[$set]}" --status "127.0.0.1:$status_port"
    VERIFY=$set DNS=$dns_port "$PY" - "$d/base.yaml" "$d/petrel.yaml" <<'PYEOF'
import os, sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
cfg["dns"] = {"servers": ["127.0.0.1:" + os.environ["DNS"]]}
cfg.setdefault("dkim", {})["verify"] = os.environ["VERIFY"] == "on"
yaml.safe_dump(cfg, open(sys.argv[2], "w"), sort_keys=False)
PYEOF
    "$petrel_bin" serve --config "$d/petrel.yaml" >"$d/petrel.out" 2>&1 &
    pid[$set]=$!
    pids+=("${pid[$set]}")
    "$PY" "$here/wait_smtp.py" "127.0.0.1:${port[$set]}" --timeout 60 --what "Petrel ($set)" \
      --pid "${pid[$set]}" >/dev/null || { cat "$d/petrel.out" >&2; die "Petrel ($set) did not start"; }
  done

  source_args=(-f bench@perfanchor.test -t alice@example.test -M bench.perfanchor.test -F "$tmp/signed.eml")
  log "smtp: warm-up, 2 x 50 messages per server, and the dkim= check"
  for set in off on; do
    "$SMTP_SOURCE" -s 2 -m 100 "${source_args[@]}" "127.0.0.1:${port[$set]}" >/dev/null 2>&1 ||
      die "warm-up of $set failed"
  done
  for _ in $(seq 100); do
    a=$("$PY" "$here/count_maildir.py" "$tmp/off/mail"); b=$("$PY" "$here/count_maildir.py" "$tmp/on/mail")
    [ "$a" -ge 100 ] && [ "$b" -ge 100 ] && break
    sleep 0.2
  done
  on_file=$(find "$tmp/on/mail" -path '*/new/*' -type f -print -quit)
  off_file=$(find "$tmp/off/mail" -path '*/new/*' -type f -print -quit)
  [ -n "$on_file" ] && [ -n "$off_file" ] || die "warm-up messages not delivered"
  grep -q 'dkim=pass' "$on_file" || { sed -n '1,12p' "$on_file" >&2; die "verify on: no dkim=pass in the delivered message"; }
  if grep -q 'dkim=' "$off_file"; then die "verify off: the delivered message has a dkim result"; fi
  pass_line=$(grep -m1 -o 'dkim=pass[^;]*' "$on_file" | tr -d '\r\n\t' | cut -c1-100)
  log "on: $pass_line"

  raw="$tmp/raw.jsonl"
  cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  hz=$(getconf CLK_TCK)
  for rep in $(seq "$reps"); do
    for set in off on; do
      mail="$tmp/$set/mail"
      count_cmd="$(printf '%q ' "$PY" "$here/count_maildir.py" "$mail")"
      reset_cmd="$(printf '%q ' "$PY" "$here/count_maildir.py" --trash "$tmp/$set/trash" "$mail")"
      sync
      before=$(cpu_ticks "${pid[$set]}")
      "$PY" "$here/smtpbench.py" --target "127.0.0.1:${port[$set]}" --label "$set/$rep" \
        --sessions "$sessions" --messages "$messages" --size 0 --reps 1 \
        --to alice@example.test --extra "-F $tmp/signed.eml" \
        --count-cmd "$count_cmd" --reset-cmd "$reset_cmd" --smtp-source "$SMTP_SOURCE" \
        --pid-cmd "echo ${pid[$set]}" --stall 30 --out "$raw" >/dev/null
      after=$(cpu_ticks "${pid[$set]}")
      # Petrel's user + system CPU over the repetition (all its threads), per message.
      printf '{"cpu": "%s/%s", "ms_per_msg": %s}\n' "$set" "$rep" \
        "$(awk -v t=$((after - before)) -v hz="$hz" -v n="$messages" 'BEGIN{printf "%.3f", t*1000/hz/n}')" >>"$raw"
      log "$set rep $rep: $(grep '"rep"' "$raw" | tail -n 1 | "$PY" -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r["e2e_deliveries_per_s"], "msgs/s delivered,", r["delivered"], "of", r["expected"], "stalled" if r["stalled"] else "", "" if r["rc"] == 0 else "smtp-source failed: " + r["stderr_tail"])')"
    done
  done
  "$PY" - "$raw" "$tmp/queries.log" "$sessions" "$messages" "$size" "$algorithm" <<'PYEOF' | tee -a "$report"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rate, cpu = {"off": [], "on": []}, {"off": [], "on": []}
failed = []
for r in rows:
    if "cpu" in r:
        cpu[r["cpu"].split("/")[0]].append(r["ms_per_msg"])
    elif "label" in r and "/" in r["label"] and "rep" in r:
        if r.get("e2e_deliveries_per_s") and not r.get("stalled") and r.get("delivered") == r.get("expected"):
            rate[r["label"].split("/")[0]].append(r["e2e_deliveries_per_s"])
        else:
            failed.append(r["label"])
s, m, size, alg = sys.argv[3:7]
print(f"parallel-100k with DKIM: {s} sessions x {m} messages of {size} bytes, one {alg} signature")
med = {k: statistics.median(v) if v else 0 for k, v in rate.items()}
for k in ("off", "on"):
    c = statistics.median(cpu[k]) if cpu[k] else 0
    print(f"verify {k:<3} {med[k]:8.0f} msgs/s delivered, {c:.3f} CPU ms/msg  (medians of {len(rate[k])}: {rate[k]}; CPU {cpu[k]})")
if med["off"]:
    print(f"on/off = {med['on'] / med['off']:.3f} (target >= 0.85)")
print("DNS queries reaching the server:", sum(1 for _ in open(sys.argv[2])))
if failed:
    print("FAILED repetitions (left out):", failed)
    sys.exit(1)
PYEOF
fi
[ -z "$out" ] || cp "$report" "$out"
