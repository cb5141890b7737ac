#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are also called from the cleanup trap
# Petrel vs Postfix: SMTP accept and end-to-end Maildir delivery throughput and memory, measured
# in one run on this machine, alternating the two servers; the relay scenarios measure relaying
# to an SMTP sink (smtp-sink) on loopback instead. See docs/performance.md.
#
# Usage: bench/run-bench.sh [options]      (as root: it starts a private Postfix instance)
#   --reps N           measured repetitions per server and scenario (default 3; 1 with --quick)
#   --quick            smaller message counts, for a smoke run
#   --scenario NAME    run only this scenario (repeatable, or comma-separated); see --list
#   --only SERVER      petrel or postfix: run one server only (no ratios)
#   --no-build         do not (re)build Petrel; use build-bench/petrel as it is
#   --petrel-bin PATH  benchmark this Petrel binary (implies --no-build)
#   --out FILE         results, JSON lines (default bench/results/bench-DATE-TIME.jsonl);
#                      the tables also go to FILE with .txt instead of .jsonl
#   --timeout S        per-phase limit for the harness: accept, then delivery (default 300)
#   --postfix-port P   Postfix SMTP port on 127.0.0.1 (default 2626)
#   --sink HOST:PORT   the relay scenarios' sink, the next hop of both servers (default
#                      127.0.0.9:2828; HOST must be a 127.x address)
#   --stall S          end a repetition's delivery phase when the delivered count has not
#                      grown for S seconds (default 60): a server that defers fails fast
#   --petrel-port P    Petrel SMTP port on 127.0.0.1 (default 2727; status port: --status-port, 8727)
#   --no-warmup        skip the unmeasured warm-up batch each server gets first
#   --no-deps          do not run scripts/install-deps.sh bench
#   --no-cgroup        find server processes by pid instead of a cpuacct cgroup (no server CPU)
#   --settle S         pause before each repetition (default 31; 2 with --quick): on ext4
#                      without a journal, inodes freed in the last 30 s (vm.dirty_expire_
#                      centisecs) slow every file creation, so Postfix's deleted queue files
#                      would otherwise tax the Petrel repetition that follows it
#   --keep             keep the temporary directory (configs, logs, mail) at the end
#   --list             print the scenarios and exit
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
PY=/usr/bin/python3
SMTP_SOURCE=/usr/sbin/smtp-source
SMTP_SINK=/usr/sbin/smtp-sink

# ---- scenarios: sessions, messages (total), message size in bytes; quick: messages ----------
# Kind maildir: delivered = files in the Maildir new/ folders (RCPT). Kind relay: delivered =
# messages received by the sink (RELAY_RCPT, a domain neither server is final for; both relay
# it to the sink as their relayhost).
all_scenarios=(single-1k parallel-1k parallel-100k relay-1k)
declare -A SC_SESS=([single-1k]=1 [parallel-1k]=20 [parallel-100k]=20 [relay-1k]=20)
declare -A SC_MSGS=([single-1k]=1000 [parallel-1k]=5000 [parallel-100k]=1000 [relay-1k]=40000)
declare -A SC_QUICK=([single-1k]=200 [parallel-1k]=1000 [parallel-100k]=200 [relay-1k]=2000)
declare -A SC_SIZE=([single-1k]=1024 [parallel-1k]=1024 [parallel-100k]=102400 [relay-1k]=1024)
declare -A SC_KIND=([single-1k]=maildir [parallel-1k]=maildir [parallel-100k]=maildir [relay-1k]=relay)
RCPT=alice@example.test
RELAY_RCPT=user@relay.test

reps=""; quick=0; scenarios=(); only=""; build=1; petrel_bin=""; out=""; keep=0
settle=""; phase_timeout=300; stall=60; sink=127.0.0.9:2828; postfix_port=2626; petrel_port=2727; status_port=8727; warmup=1; deps=1; cgroup_ok=1
vmail_uid=${PETREL_BENCH_VMAIL_UID:-5000}   # owner of Postfix's virtual Maildirs (no passwd entry needed)

log() { printf '[run-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
indent() { sed 's/^/    /'; }
need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $1 needs a value"; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    --reps) need_arg "$@"; reps=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --scenario) need_arg "$@"; IFS=, read -ra s <<<"$2"; scenarios+=("${s[@]}"); shift 2 ;;
    --only) need_arg "$@"; only=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --petrel-bin) need_arg "$@"; petrel_bin=$2; build=0; shift 2 ;;
    --out) need_arg "$@"; out=$2; shift 2 ;;
    --timeout) need_arg "$@"; phase_timeout=$2; shift 2 ;;
    --postfix-port) need_arg "$@"; postfix_port=$2; shift 2 ;;
    --sink) need_arg "$@"; sink=$2; shift 2 ;;
    --stall) need_arg "$@"; stall=$2; shift 2 ;;
    --petrel-port) need_arg "$@"; petrel_port=$2; shift 2 ;;
    --status-port) need_arg "$@"; status_port=$2; shift 2 ;;
    --no-warmup) warmup=0; shift ;;
    --no-deps) deps=0; shift ;;
    --no-cgroup) cgroup_ok=0; shift ;;
    --settle) need_arg "$@"; settle=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --list)
      for s in "${all_scenarios[@]}"; do
        printf '%-14s %2d session(s) x %5d msgs (quick: %4d) x %6d bytes, %s\n' "$s" \
          "${SC_SESS[$s]}" "${SC_MSGS[$s]}" "${SC_QUICK[$s]}" "${SC_SIZE[$s]}" \
          "$(if [ "${SC_KIND[$s]}" = relay ]; then echo "relayed to the sink"; else echo "into Maildirs"; fi)"
      done; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[ -n "$reps" ] || { if ((quick)); then reps=1; else reps=3; fi; }
[ -n "$settle" ] || { if ((quick)); then settle=2; else settle=31; fi; }
[[ "$reps" =~ ^[1-9][0-9]*$ ]] || die "--reps must be a positive integer"
[[ "$phase_timeout" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer (seconds)"
[[ "$stall" =~ ^[1-9][0-9]*$ ]] || die "--stall must be a positive integer (seconds)"
[[ "$sink" =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+:[0-9]+$ ]] || die "--sink must be 127.x.y.z:PORT (loopback)"
sink_host=${sink%:*}; sink_port=${sink##*:}
for p in "$postfix_port" "$petrel_port" "$status_port" "$sink_port"; do
  if ! [[ "$p" =~ ^[1-9][0-9]*$ ]] || ((p > 65535)); then die "bad port: $p"; fi
done
[ ${#scenarios[@]} -gt 0 ] || scenarios=("${all_scenarios[@]}")
for s in "${scenarios[@]}"; do
  [ -n "${SC_SESS[$s]:-}" ] || die "unknown scenario '$s' (known: ${all_scenarios[*]})"
done
case "$only" in
  "") servers=(petrel postfix) ;;
  petrel|postfix) servers=("$only") ;;
  *) die "--only takes petrel or postfix" ;;
esac
want() { [[ " ${servers[*]} " == *" $1 "* ]]; }
relay_run=0     # a relay scenario is in this run: start the sink, give both servers a relayhost
for s in "${scenarios[@]}"; do if [ "${SC_KIND[$s]}" = relay ]; then relay_run=1; fi; done

if want postfix && [ "$(id -u)" -ne 0 ]; then
  die "run as root: the Postfix instance is started with 'postfix -c DIR start' (or use --only petrel)"
fi

# ---- state used by the cleanup trap -------------------------------------------------------
tmp=""; petrel_pid=""; postfix_started=0; cgroups=(); child_pid=""; sink_pid=""
cg_root=/sys/fs/cgroup/cpuacct      # cgroup v1 cpuacct, as smtpbench.py --cgroup expects
use_cg=0

pid_alive() {   # running and not a zombie
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }; [ "${st%% *}" != Z ]
}
pid_gone() { ! pid_alive "$1"; }

# wait_for TIMEOUT WHAT CMD...: poll CMD every 0.2 s until it succeeds or TIMEOUT seconds pass.
wait_for() {
  local timeout=$1 what=$2; shift 2
  local deadline=$((SECONDS + timeout))
  log "waiting up to ${timeout}s for $what"
  until "$@"; do
    if ((SECONDS >= deadline)); then log "timed out after ${timeout}s waiting for $what"; return 1; fi
    sleep 0.2
  done
}

all_gone() { local p; for p in "$@"; do pid_alive "$p" && return 1; done; return 0; }
descendants() { local c; for c in $(pgrep -P "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done; }

# run_tracked [--log FILE] CMD...: run CMD in the background (its output appended to FILE) and
# wait for it, so that a signal to this script is handled at once (not only after CMD ends) and
# the cleanup can stop CMD and its children. (No redirection on the call itself: the traps would
# inherit it.)
run_tracked() {
  if [ "$1" = --log ]; then
    local logf=$2; shift 2
    "$@" >>"$logf" 2>&1 &
  else
    "$@" >&2 &
  fi
  child_pid=$!
  local rc=0
  wait "$child_pid" || rc=$?
  child_pid=""
  return "$rc"
}

stop_child() {
  [ -n "$child_pid" ] || return 0
  local pids
  # shellcheck disable=SC2207
  pids=("$child_pid" $(descendants "$child_pid"))
  log "stopping the running command (pids ${pids[*]})"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  if ! wait_for 15 "the running command (pids ${pids[*]}) to exit" all_gone "${pids[@]}"; then
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  wait "$child_pid" 2>/dev/null || true
  child_pid=""
}

cg_procs() { cat "$cg_root/$1/cgroup.procs" 2>/dev/null || true; }
cg_empty() { [ -z "$(cg_procs "$1")" ]; }

stop_petrel() {
  [ -n "$petrel_pid" ] || return 0
  if pid_alive "$petrel_pid"; then
    log "stopping Petrel (pid $petrel_pid) with SIGTERM"
    kill -TERM "$petrel_pid" 2>/dev/null || true
    if ! wait_for 30 "Petrel (pid $petrel_pid) to exit after SIGTERM" pid_gone "$petrel_pid"; then
      log "Petrel did not exit: SIGKILL to pid $petrel_pid"
      kill -KILL "$petrel_pid" 2>/dev/null || true
      wait_for 10 "Petrel (pid $petrel_pid) to die after SIGKILL" pid_gone "$petrel_pid" || true
    fi
  fi
  wait "$petrel_pid" 2>/dev/null || true
  petrel_pid=""
}

stop_sink() {
  [ -n "$sink_pid" ] || return 0
  if pid_alive "$sink_pid"; then
    log "stopping the sink (smtp-sink, pid $sink_pid)"
    kill -TERM "$sink_pid" 2>/dev/null || true
    if ! wait_for 10 "the sink (pid $sink_pid) to exit" pid_gone "$sink_pid"; then
      kill -KILL "$sink_pid" 2>/dev/null || true
    fi
  fi
  wait "$sink_pid" 2>/dev/null || true
  sink_pid=""
}

postfix_master_pid() { tr -d ' \n' <"$tmp/postfix/queue/pid/master.pid" 2>/dev/null || true; }

stop_postfix() {
  ((postfix_started)) || return 0
  local conf=$tmp/postfix/conf master
  master=$(postfix_master_pid)
  log "stopping the private Postfix instance ($conf)"
  timeout 60 postfix -c "$conf" stop >/dev/null 2>&1 || true
  if [ -n "$master" ] &&
     ! wait_for 30 "Postfix master (pid $master) to exit" pid_gone "$master"; then
    log "Postfix master still running: 'postfix abort'"
    timeout 30 postfix -c "$conf" abort >/dev/null 2>&1 || true
    wait_for 10 "Postfix master (pid $master) to exit after abort" pid_gone "$master" || true
  fi
  # Children of this instance only (our cgroup, or the master's children), never others.
  local left=""
  if ((use_cg)); then
    wait_for 10 "Postfix child processes to exit" cg_empty "$cg_postfix" || true
    left=$(cg_procs "$cg_postfix")
  elif [ -n "$master" ]; then
    left=$(pgrep -P "$master" 2>/dev/null || true)
  fi
  if [ -n "$left" ]; then
    log "killing leftover Postfix processes of this instance: ${left//$'\n'/ }"
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
  fi
  postfix_started=0
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  stop_child
  stop_petrel
  stop_postfix
  stop_sink
  local cg
  for cg in "${cgroups[@]}"; do
    if [ -d "$cg_root/$cg" ]; then
      wait_for 10 "cgroup $cg to become empty" cg_empty "$cg" || true
      rmdir "$cg_root/$cg" 2>/dev/null || log "could not remove cgroup $cg_root/$cg"
    fi
  done
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then
    if ((rc != 0)); then
      for f in "$tmp/postfix/postfix.log" "$tmp/petrel/petrel.log" "$tmp/petrel/stderr.log" "$tmp/sink/stderr.log"; do
        [ -s "$f" ] && { log "last lines of $f:"; tail -n 15 "$f" >&2; }
      done
    fi
    if ((keep)); then
      log "kept $tmp"
    elif ((rc != 0)); then
      rm -rf "$tmp/postfix/mail" "$tmp/petrel/mail" "$tmp/trash"
      log "failed: kept configs and logs in $tmp (mailboxes removed)"
    else
      rm -rf "$tmp"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM

# ---- dependencies and build ---------------------------------------------------------------
if ((deps)); then
  log "checking packages: scripts/install-deps.sh bench"
  timeout 1800 "$repo/scripts/install-deps.sh" bench || die "scripts/install-deps.sh bench failed"
fi
[ -x "$SMTP_SOURCE" ] || die "$SMTP_SOURCE missing (Debian package postfix)"
if ((relay_run)); then [ -x "$SMTP_SINK" ] || die "$SMTP_SINK missing (Debian package postfix)"; fi

if want petrel; then
  [ -n "$petrel_bin" ] || petrel_bin=$repo/build-bench/petrel
  if ((build)); then
    cd "$repo"
    if [ -f build-bench/build.ninja ]; then
      log "reconfiguring build-bench/ (release, no tests)"
      run_tracked timeout 600 meson configure build-bench -Dbuildtype=release -Dtests=false \
        || die "meson configure failed"
    else
      log "configuring build-bench/ (release, no tests)"
      run_tracked timeout 600 meson setup build-bench --buildtype=release -Dtests=false \
        || die "meson setup failed"
    fi
    log "building Petrel (limit 60 min)"
    run_tracked timeout 3600 ninja -C build-bench || die "build failed (or took over 60 min)"
    cd - >/dev/null
  fi
  [ -x "$petrel_bin" ] || die "no Petrel binary at $petrel_bin (build it, or use --only postfix)"
  petrel_bin=$(cd "$(dirname "$petrel_bin")" && pwd)/$(basename "$petrel_bin")
fi

# ---- temporary tree and cgroups -----------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/petrel-bench.XXXXXX")
chmod 755 "$tmp"          # Postfix daemons (user postfix) and the vmail uid must traverse it
log "temporary directory: $tmp"

run_id=$(date +%Y%m%d-%H%M%S)
[ -n "$out" ] || out=$repo/bench/results/bench-$run_id.jsonl
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
text_out=${out%.jsonl}.txt
raw=$tmp/raw.jsonl; : >"$raw"

cg_postfix=petrel-bench-$$-postfix
cg_petrel=petrel-bench-$$-petrel
if ((cgroup_ok)) && [ -d "$cg_root" ] && mkdir "$cg_root/$cg_postfix" 2>/dev/null; then
  cgroups+=("$cg_postfix")
  mkdir "$cg_root/$cg_petrel"; cgroups+=("$cg_petrel")
  use_cg=1
  log "measuring through cpuacct cgroups $cg_postfix and $cg_petrel (all processes, server CPU)"
else
  log "no cgroup (--no-cgroup, or no writable cgroup v1 cpuacct): finding server processes by pid, no server CPU time"
fi

port_free() { "$PY" "$here/wait_smtp.py" "127.0.0.1:$1" --free --what "$2"; }

# ---- Postfix: private instance ------------------------------------------------------------
start_postfix() {
  local d=$tmp/postfix
  mkdir -p "$d/conf" "$d/mail"
  mkdir -m 755 "$d/queue"              # post-install creates the subdirectories with owners
  chown "$vmail_uid:$vmail_uid" "$d/mail"
  cat >"$d/conf/main.cf" <<EOF
# Private benchmark instance made by bench/run-bench.sh; not the system's /etc/postfix.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
myhostname = bench-postfix.example.test
mydomain = example.test
myorigin = \$myhostname
mydestination =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtpd_banner = \$myhostname ESMTP
virtual_mailbox_domains = example.test
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = hash:$d/conf/vmailbox
virtual_uid_maps = static:$vmail_uid
virtual_gid_maps = static:$vmail_uid
EOF
  if ((relay_run)); then
    cat >>"$d/conf/main.cf" <<EOF
# Relay scenarios: every domain other than example.test goes to the sink, no MX lookup, no TLS.
# 127.0.0.0/8 is in mynetworks, so smtpd lets smtp-source relay (smtpd_relay_restrictions
# default: permit_mynetworks); the smtp client runs at most default_destination_concurrency_limit
# (20) connections to the sink and reuses them (connection cache on demand).
relayhost = [$sink_host]:$sink_port
smtp_tls_security_level = none
EOF
  fi
  # Debian's master.cf with the SMTP listener moved to loopback and no chroot (no content filters).
  cat >"$d/conf/master.cf" <<EOF
127.0.0.1:$postfix_port inet n -  n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
  printf '%s\n' "alice@example.test example.test/alice/" "bob@example.test example.test/bob/" \
    >"$d/conf/vmailbox"
  timeout 60 postmap -c "$d/conf" "hash:$d/conf/vmailbox"
  port_free "$postfix_port" "Postfix's port" || die "127.0.0.1:$postfix_port is in use (--postfix-port)"
  timeout 60 postfix -c "$d/conf" check || die "postfix check failed for $d/conf"
  log "starting the private Postfix instance on 127.0.0.1:$postfix_port ($d/conf)"
  postfix_started=1
  (
    if ((use_cg)); then echo "$BASHPID" >"$cg_root/$cg_postfix/cgroup.procs"; fi
    exec timeout 60 postfix -c "$d/conf" start
  ) || die "postfix start failed"
  "$PY" "$here/wait_smtp.py" "127.0.0.1:$postfix_port" --timeout 30 --what "Postfix (private instance)" \
    || die "Postfix did not come up"
  postfix_version=$(postconf -c "$d/conf" -h mail_version 2>/dev/null || echo unknown)
}

# ---- the relay scenarios' sink ------------------------------------------------------------
sink_count_cmd() { printf '%q ' "$PY" "$here/count_sink.py" "$tmp/sink/counter"; }
sink_count() { "$PY" "$here/count_sink.py" "$tmp/sink/counter"; }
sink_up() {
  pid_alive "$sink_pid" || die "the sink (smtp-sink, pid $sink_pid) is no longer running; see $tmp/sink/stderr.log"
}

# start_sink: Postfix's smtp-sink on $sink takes every message and throws it away; -c writes
# its running counters (sess= quit= mesg=) to $tmp/sink/counter, read by count_sink.py. It runs
# in neither server's cgroup. -a: no AUTH offered; -h: a greeting name that is neither server's.
start_sink() {
  local d=$tmp/sink args=(-c -a -h sink.relay.test)
  mkdir -p "$d"
  if [ "$(id -u)" -eq 0 ]; then args+=(-u nobody); fi    # required when started as root
  "$PY" "$here/wait_smtp.py" "$sink" --free --what "the sink" || die "$sink is in use (--sink)"
  log "starting the sink: $SMTP_SINK ${args[*]} $sink 1000"
  "$SMTP_SINK" "${args[@]}" "$sink" 1000 >"$d/counter" 2>"$d/stderr.log" </dev/null &
  sink_pid=$!
  "$PY" "$here/wait_smtp.py" "$sink" --timeout 30 --pid "$sink_pid" --what "the sink (pid $sink_pid)" \
    || die "the sink did not come up (see $d/stderr.log)"
}

# calibrate_sink: smtp-source straight to the sink (connections reused, as both servers do), to
# show that the sink takes far more than the servers deliver. Not a server measurement.
sink_rate=""
calibrate_sink() {
  local n=20000 f=$tmp/sink-calibration.jsonl
  if ((quick)); then n=5000; fi
  log "sink calibration (not measured): smtp-source -d straight to the sink, 20 sessions x $n msgs x 1 KB"
  run_tracked --log "$tmp/harness.log" timeout $((2 * phase_timeout + 120)) "$PY" "$here/smtpbench.py" \
    --target "$sink" --label sink/calibration/1 --sessions 20 --messages "$n" --size 1024 \
    --to "$RELAY_RCPT" --reps 1 --timeout "$phase_timeout" --stall "$stall" --extra=-d \
    --smtp-source "$SMTP_SOURCE" --out "$f" --count-cmd "$(sink_count_cmd)" \
    || die "smtpbench.py failed or hung calibrating the sink (see $tmp/harness.log)"
  sink_rate=$("$PY" -c 'import json, sys
r = [r for r in map(json.loads, filter(str.strip, open(sys.argv[1]))) if not r.get("summary")]
print(r[-1].get("e2e_deliveries_per_s") or "" if r else "")' "$f" || true)
  [ -n "$sink_rate" ] || die "the sink did not count all calibration messages (see $tmp/sink/, $f)"
  log "the sink alone takes $sink_rate msgs/s (smtp-source and the sink sharing this machine)"
}

# ---- Petrel -------------------------------------------------------------------------------
petrel_relay=""    # 1: Petrel accepted the relay keys; 0: it did not (no outbound relay yet)
start_petrel() {
  local d=$tmp/petrel out relay_args=()
  mkdir -p "$d/mail" "$d/state"
  if ((relay_run)); then relay_args=(--relayhost "[$sink_host]:$sink_port"); fi
  "$PY" "$here/petrel_config.py" "$repo/config-examples/quickstart.yaml" "$d/petrel.yaml" \
    --dir "$d" --smtp "127.0.0.1:$petrel_port" --status "127.0.0.1:$status_port" "${relay_args[@]}"
  port_free "$petrel_port" "Petrel's port" || die "127.0.0.1:$petrel_port is in use (--petrel-port)"
  port_free "$status_port" "Petrel's status port" || die "127.0.0.1:$status_port is in use (--status-port)"
  if ((relay_run)); then
    if out=$(timeout 30 "$petrel_bin" check-config --config "$d/petrel.yaml" </dev/null 2>&1); then
      petrel_relay=1
    else
      petrel_relay=0
      log "Petrel's check-config rejected the relay settings (relay.relayhost, relay.tls, relay.destination_concurrency; docs/relay.md):"
      indent <<<"$out" >&2
      log "=> this Petrel binary has no outbound relay: it runs without those keys, nothing it accepts for $RELAY_RCPT can reach the sink, and its relay repetitions will fail after --stall ${stall}s"
      "$PY" "$here/petrel_config.py" "$repo/config-examples/quickstart.yaml" "$d/petrel.yaml" \
        --dir "$d" --smtp "127.0.0.1:$petrel_port" --status "127.0.0.1:$status_port"
    fi
  fi
  timeout 30 "$petrel_bin" check-config --config "$d/petrel.yaml" </dev/null >&2 \
    || die "petrel check-config rejected the benchmark config $d/petrel.yaml"
  log "starting Petrel: $petrel_bin serve --config $d/petrel.yaml"
  (
    if ((use_cg)); then echo "$BASHPID" >"$cg_root/$cg_petrel/cgroup.procs"; fi
    exec "$petrel_bin" serve --config "$d/petrel.yaml"
  ) >"$d/stdout.log" 2>"$d/stderr.log" </dev/null &
  petrel_pid=$!
  "$PY" "$here/wait_smtp.py" "127.0.0.1:$petrel_port" --timeout 30 --pid "$petrel_pid" \
    --what "Petrel (pid $petrel_pid)" || die "Petrel did not come up (see $d/stderr.log)"
  petrel_version=$(timeout 10 "$petrel_bin" version 2>/dev/null </dev/null | head -n 1 || true)
  [ -n "$petrel_version" ] || petrel_version=unknown
}

postfix_version=""; petrel_version=""
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
load1=${loadavg_start%% *}
if (( ${load1%%.*} >= $(nproc) / 2 )); then
  log "warning: load average $loadavg_start on $(nproc) CPUs: other work on this machine will disturb the numbers"
fi
if ((relay_run)); then start_sink; calibrate_sink; fi
if want postfix; then start_postfix; fi
if want petrel; then start_petrel; fi

# ---- measuring ----------------------------------------------------------------------------
mail_root() { if [ "$1" = petrel ]; then echo "$tmp/petrel/mail"; else echo "$tmp/postfix/mail"; fi; }
port_of() { if [ "$1" = petrel ]; then echo "$petrel_port"; else echo "$postfix_port"; fi; }

# server_up SERVER: fail loudly if the server died (e.g. a stray "pkill petrel" elsewhere).
server_up() {
  local m
  if [ "$1" = petrel ]; then
    pid_alive "$petrel_pid" || die "Petrel (pid $petrel_pid) is no longer running; see $tmp/petrel/petrel.log"
  else
    m=$(postfix_master_pid)
    if [ -z "$m" ] || ! pid_alive "$m"; then
      die "the Postfix master is no longer running; see $tmp/postfix/postfix.log"
    fi
  fi
}

# report_rep SERVER KIND FILE: print the last repetition in FILE; after a relay repetition that
# did not deliver everything to the sink, say why, from the server's log (both log Postfix-style
# "to=<rcpt>, relay=..., status=..." lines).
report_rep() {
  local server=$1 kind=$2 file=$3 f lines
  "$PY" "$here/report.py" rep-line "$file" >&2
  [ "$kind" = relay ] || return 0
  "$PY" "$here/report.py" rep-ok "$file" && return 0
  if [ "$server" = petrel ]; then
    f=$tmp/petrel/petrel.log
    if [ "$petrel_relay" = 0 ]; then
      log "=> Petrel cannot relay: this binary rejected the relay settings of docs/relay.md (see above), so the sink got nothing from it"
    else
      log "=> Petrel did not relay every message to the sink $sink in time (outbound relay missing, or deferring?)"
    fi
  else
    f=$tmp/postfix/postfix.log
    log "=> Postfix did not relay every message to the sink $sink in time"
  fi
  lines=$(grep -E "to=<[^>]*@${RELAY_RCPT#*@}>" "$f" 2>/dev/null | grep -v 'status=sent' | tail -n 3 || true)
  if [ -n "$lines" ]; then
    log "   its last delivery attempts for ${RELAY_RCPT#*@} that were not status=sent ($f):"
    indent <<<"$lines" >&2
  else
    log "   $f has no failed delivery attempt for ${RELAY_RCPT#*@}"
  fi
}

# bench SERVER LABEL SESSIONS MESSAGES SIZE OUTFILE [KIND]: one smtpbench.py repetition; KIND
# maildir (default) counts Maildir files, relay counts the messages the sink received.
bench() {
  local server=$1 label=$2 sessions=$3 messages=$4 size=$5 outfile=$6 kind=${7:-maildir}
  local root args before after
  server_up "$server"
  if [ "$kind" = relay ]; then sink_up; fi
  root=$(mail_root "$server")
  # Empty the mailboxes by moving them to the trash (deleting thousands of files here would make
  # the next repetition's file creations crawl, see count_maildir.py), flush the page cache's
  # dirty data so one server's writeback does not land in the other's measurement, and let the
  # disk settle.
  timeout 300 "$PY" "$here/count_maildir.py" --trash "$tmp/trash" "$root" >/dev/null || die "resetting $root timed out"
  timeout 120 sync || log "warning: sync took over 120 s"
  if [ "$kind" = relay ]; then before=$(sink_count); fi
  sleep "$settle"
  args=(--target "127.0.0.1:$(port_of "$server")" --label "$label" --sessions "$sessions"
        --messages "$messages" --size "$size" --reps 1 --timeout "$phase_timeout" --stall "$stall"
        --smtp-source "$SMTP_SOURCE" --out "$outfile" --pss-every 1)
  if [ "$kind" = relay ]; then
    # The sink's counter only grows: smtpbench.py counts from its value at the start.
    after=$(sink_count)
    if [ "$after" != "$before" ]; then
      log "warning: the sink received $((after - before)) message(s) while idle before $label: a server still relays earlier mail; this repetition's count may include some"
    fi
    args+=(--to "$RELAY_RCPT" --count-cmd "$(sink_count_cmd)")
  else
    args+=(--to "$RCPT"
           --count-cmd "$(printf '%q ' "$PY" "$here/count_maildir.py" "$root")"
           --reset-cmd "$(printf '%q ' "$PY" "$here/count_maildir.py" --trash "$tmp/trash" "$root")")
  fi
  if ((use_cg)); then
    if [ "$server" = petrel ]; then args+=(--cgroup "$cg_petrel"); else args+=(--cgroup "$cg_postfix"); fi
  elif [ "$server" = petrel ]; then
    args+=(--pid-cmd "echo $petrel_pid; pgrep -P $petrel_pid")
  else
    args+=(--pid-cmd "m=\$(tr -d ' ' < $(printf '%q' "$tmp/postfix/queue/pid/master.pid")); echo \$m; pgrep -P \$m")
  fi
  # smtpbench.py bounds each phase by --timeout; this outer limit only catches a hung harness.
  run_tracked --log "$tmp/harness.log" timeout $((3 * phase_timeout + 300)) "$PY" "$here/smtpbench.py" "${args[@]}" \
    || die "smtpbench.py failed or hung for $label (see $tmp/harness.log)"
  server_up "$server"
  if [ "$kind" = relay ]; then sink_up; fi
}

if ((warmup)); then
  for server in "${servers[@]}"; do
    log "warm-up (not measured): $server, 2 sessions x 100 msgs x 1 KB"
    bench "$server" "$server/warmup/0" 2 100 1024 "$tmp/warmup.jsonl"
    report_rep "$server" maildir "$tmp/warmup.jsonl"
    if ((relay_run)); then
      if [ "$server" = petrel ] && [ "$petrel_relay" = 0 ]; then
        log "warm-up: no relay warm-up for Petrel (this binary has no outbound relay, see above)"
        continue
      fi
      log "warm-up (not measured): $server, 2 sessions x 100 msgs x 1 KB relayed to the sink"
      bench "$server" "$server/warmup-relay/0" 2 100 1024 "$tmp/warmup.jsonl" relay
      report_rep "$server" relay "$tmp/warmup.jsonl"
    fi
  done
fi

for sc in "${scenarios[@]}"; do
  sessions=${SC_SESS[$sc]}; size=${SC_SIZE[$sc]}
  if ((quick)); then messages=${SC_QUICK[$sc]}; else messages=${SC_MSGS[$sc]}; fi
  kind=${SC_KIND[$sc]}
  where="into Maildirs"; if [ "$kind" = relay ]; then where="relayed to the sink $sink"; fi
  log "scenario $sc: $sessions session(s) x $messages msgs x $size bytes $where, $reps rep(s), order: ${servers[*]}"
  for ((rep = 1; rep <= reps; rep++)); do
    for server in "${servers[@]}"; do
      bench "$server" "$server/$sc/$rep" "$sessions" "$messages" "$size" "$raw" "$kind"
      report_rep "$server" "$kind" "$raw"
    done
  done
done

# ---- results ------------------------------------------------------------------------------
pf_problems=""
if want postfix; then
  pf_problems=$(grep -cE 'status=(deferred|bounced)|fatal:|panic:' "$tmp/postfix/postfix.log" || true)
fi
git_rev=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
RUN_ID=$run_id GIT_REV=$git_rev PETREL_VERSION=$petrel_version POSTFIX_VERSION=$postfix_version \
REPS=$reps QUICK=$quick SERVERS="${servers[*]}" SCENARIOS="${scenarios[*]}" USE_CG=$use_cg \
PF_PROBLEMS=$pf_problems LOADAVG_START=$loadavg_start PETREL_BIN=$petrel_bin \
SINK=$(if ((relay_run)); then echo "$sink"; fi) SINK_RATE=$sink_rate PETREL_RELAY=$petrel_relay \
"$PY" - >"$tmp/run-info.json" <<'EOF'
import json, os, platform
e = os.environ
cpu = ""
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
print(json.dumps({
    "run_id": e["RUN_ID"], "git": e["GIT_REV"], "petrel_version": e["PETREL_VERSION"] or None,
    "petrel_bin": e["PETREL_BIN"] or None, "postfix_version": e["POSTFIX_VERSION"] or None,
    "reps": int(e["REPS"]), "quick": e["QUICK"] == "1", "servers": e["SERVERS"].split(),
    "scenarios": e["SCENARIOS"].split(), "cgroup": e["USE_CG"] == "1",
    "postfix_log_problems": int(e["PF_PROBLEMS"]) if e["PF_PROBLEMS"] else None,
    "relay_sink": e["SINK"] or None,
    "sink_msgs_per_s": float(e["SINK_RATE"]) if e["SINK_RATE"] else None,
    "petrel_relay_config": {"1": True, "0": False}.get(e["PETREL_RELAY"]),
    "host": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count(), "cpu": cpu,
    "loadavg_start": e["LOADAVG_START"].split(), "loadavg_end": open("/proc/loadavg").read().split()[:3],
}))
EOF

echo
rc=0
"$PY" "$here/report.py" final "$raw" --run-info "$tmp/run-info.json" --out "$out" --text "$text_out" || rc=$?
echo
log "results: $out (tables: $text_out)"
if [ -n "$pf_problems" ] && [ "$pf_problems" != 0 ]; then
  log "warning: the Postfix log has $pf_problems deferred/bounced/fatal lines"
  rc=1
fi
((rc == 0)) || log "some repetitions failed"
exit "$rc"
