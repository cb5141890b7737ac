#!/usr/bin/env python3
"""Summarises a lookup_bench JSON file (Google Benchmark --benchmark_out) as a Markdown table:
lookups per second per backend, cache off / on, 1 and 4 threads. With repetitions, the
median is shown; without, the single run. Errors (a backend answering TempFail) show as such.

Usage: bench/lookup/summary.py RESULTS.json
"""
import json
import sys


def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.0f} k"
    return f"{v:.0f}"


def main(path):
    with open(path) as f:
        data = json.load(f)
    rates = {}   # (backend, cache, threads) -> lookups/s
    errors = {}
    order = []
    for b in data.get("benchmarks", []):
        parts = b.get("run_name", b["name"]).split("/")
        backend, cache = parts[0], parts[1]
        threads = int(b.get("threads", 1))
        key = (backend, cache, threads)
        if backend not in order:
            order.append(backend)
        if b.get("error_occurred"):
            errors[key] = b.get("error_message", "error")
            continue
        kind = b.get("run_type", "iteration")
        if kind == "aggregate":
            if b.get("aggregate_name") == "median":
                rates[key] = b.get("items_per_second")
        else:
            rates.setdefault(key, b.get("items_per_second"))  # the median replaces it
    ctx = data.get("context", {})
    print()
    print(f"lookups/s ({ctx.get('num_cpus', '?')} CPUs; median of repetitions when repeated)")
    print()
    print("| backend | no cache, 1 thread | no cache, 4 threads | cache, 1 thread | cache, 4 threads |")
    print("|---|---:|---:|---:|---:|")
    for backend in order:
        cells = []
        for cache in ("nocache", "cache"):
            for threads in (1, 4):
                key = (backend, cache, threads)
                cells.append("error" if key in errors else fmt_rate(rates.get(key)))
        print(f"| {backend} | " + " | ".join(cells) + " |")
    for key, msg in errors.items():
        print(f"error: {key[0]}/{key[1]} threads:{key[2]}: {msg}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
