#!/usr/bin/env bash
# Lookup-table micro-benchmark (bench/lookup/lookup_bench.cc, Google Benchmark): lookups per
# second of each backend (inline, file, regexp, cidr, sqlite; pgsql and mysql when configured)
# with the cache off and on, on 1 and 4 threads. See docs/performance.md, "Lookup tables".
#
# Usage: bench/run-lookup-bench.sh [options] [-- BENCHMARK_ARGS...]
#   --build-dir DIR  release build to use (default build-bench-lookup; created with
#                    `meson setup DIR -Dbuildtype=release -Dtests=false` when missing)
#   --no-build       do not (re)build; run DIR/bench/petrel-lookup-bench as it is
#   --reps N         repetitions of each benchmark (default 3); the console shows their
#                    mean/median/stddev, the JSON keeps every repetition too
#   --min-time S     minimum seconds per repetition (default 0.5)
#   --filter REGEX   only the benchmarks whose name matches (e.g. 'cidr|regexp', '/cache/')
#   --out FILE       JSON results (default bench/results/lookup-DATE-TIME.json); the console
#                    output goes to FILE with .txt instead of .json
#   BENCHMARK_ARGS   passed on to the program (any --benchmark_* flag)
# Remote backends: set PETREL_BENCH_PGSQL_CONN and/or PETREL_BENCH_MYSQL (key=value pairs,
# e.g. "host=127.0.0.1 port=5432 user=postfixadmin password=skoleni database=postfixadmin");
# without them those backends are skipped. Needs Google Benchmark (Debian libbenchmark-dev:
# scripts/install-deps.sh bench). Unlike bench/run-bench.sh it needs no root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

build_dir="build-bench-lookup"; build=1; reps=3; min_time=0.5; filter=""; out=""

log() { printf '[run-lookup-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
need_arg() { if [ $# -lt 2 ] || [ -z "$2" ]; then die "option $1 needs a value"; fi; }

while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) need_arg "$@"; build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --reps) need_arg "$@"; reps=$2; shift 2 ;;
    --min-time) need_arg "$@"; min_time=$2; shift 2 ;;
    --filter) need_arg "$@"; filter=$2; shift 2 ;;
    --out) need_arg "$@"; out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

# --out and --build-dir are relative to where the script was started; the defaults to the repo.
case "$out" in ""|/*) ;; *) out="$PWD/$out" ;; esac
case "$build_dir" in build-bench-lookup|/*) ;; *) build_dir="$PWD/$build_dir" ;; esac
cd "$repo"
exe="$build_dir/bench/petrel-lookup-bench"

if [ "$build" = 1 ]; then
  pkg-config --exists benchmark ||
    die "Google Benchmark not found (pkg-config benchmark): run scripts/install-deps.sh bench"
  if [ ! -f "$build_dir/build.ninja" ]; then
    log "meson setup $build_dir (release)"
    timeout 300 meson setup "$build_dir" -Dbuildtype=release -Dtests=false >/dev/null ||
      die "meson setup $build_dir failed"
  fi
  # A build directory configured before libbenchmark-dev was installed has no such target.
  if ! ninja -C "$build_dir" -t targets all 2>/dev/null | grep -q '^bench/petrel-lookup-bench:'; then
    log "meson setup --reconfigure $build_dir (no benchmark target yet)"
    timeout 300 meson setup --reconfigure "$build_dir" >/dev/null ||
      die "meson setup --reconfigure $build_dir failed"
  fi
  log "building $exe"
  timeout 1800 ninja -C "$build_dir" bench/petrel-lookup-bench >/dev/null ||
    die "build failed: ninja -C $build_dir bench/petrel-lookup-bench"
fi
[ -x "$exe" ] || die "$exe not found (build it, or drop --no-build)"

if [ -z "$out" ]; then
  mkdir -p bench/results
  out="bench/results/lookup-$(date +%Y%m%d-%H%M%S).json"
fi
txt="${out%.json}.txt"
args=(--benchmark_format=console --benchmark_out="$out" --benchmark_out_format=json
      --benchmark_min_time="$min_time" --benchmark_counters_tabular=true)
if [ "$reps" -gt 1 ]; then
  args+=(--benchmark_repetitions="$reps" --benchmark_display_aggregates_only=true)
fi
[ -n "$filter" ] && args+=(--benchmark_filter="$filter")

log "git $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
log "running $exe ${args[*]} $*"
status=0
"$exe" "${args[@]}" "$@" | tee "$txt" || status=$?
if [ -s "$out" ]; then
  python3 "$here/lookup/summary.py" "$out" | tee -a "$txt"
fi
log "results: $out (console: $txt)"
exit "$status"
