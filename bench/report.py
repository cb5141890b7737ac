#!/usr/bin/python3
"""Summarise the raw per-repetition lines that smtpbench.py appended for run-bench.sh.

  report.py rep-line RAW
      one human-readable line for the last repetition in RAW.
  report.py rep-ok RAW
      exit status 0 if the last repetition in RAW delivered every message, 1 if not.
  report.py final RAW --run-info FILE --out RESULTS.jsonl [--text TABLE.txt]
      prints one table per scenario (medians over the successful repetitions, Petrel/Postfix
      ratios) and writes RESULTS.jsonl:
        {"type": "run", ...}        host, versions, options (from --run-info)
        {"type": "rep", ...}        every measured repetition (smtpbench.py's fields + ours)
        {"type": "summary", ...}    per scenario and server
        {"type": "ratio", ...}      per scenario, petrel / postfix
      Exit status 1 if any repetition failed (smtp-source error or not all messages delivered).

smtpbench.py runs with --reps 1 each time and labels are "SERVER/SCENARIO/REP".
Scenarios named relay-* count deliveries at the relay sink (run-bench.sh's SC_KIND), not in
Maildirs; the run info then has the sink's address and its calibrated rate (sink_msgs_per_s).
"""
import argparse, json, statistics, sys

SERVERS = ("petrel", "postfix")


def load_reps(path):
    reps = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if r.get("summary"):
                continue  # smtpbench.py's own per-invocation summary; we compute ours
            parts = r["label"].split("/")
            if len(parts) != 3:
                continue
            r["server"], r["scenario"], r["rep"] = parts[0], parts[1], int(parts[2])
            r["ok"] = bool(r["rc"] == 0 and r.get("e2e_s") and
                           (r.get("delivered") or 0) >= r["expected"])
            r["peak_rss_mb"] = round(r["peak_rss_kb"] / 1024, 1)
            r["peak_pss_mb"] = round(r["peak_pss_kb"] / 1024, 1)
            if r.get("server_cpu_s") is not None:
                r["server_cpu_ms_per_msg"] = round(1000 * r["server_cpu_s"] / r["messages"], 3)
            reps.append(r)
    return reps


def is_relay(scenario):
    return scenario.startswith("relay")


def fmt_rep(r):
    where = " to the sink" if is_relay(r["scenario"]) else ""
    s = (f"{r['server']:<7} {r['scenario']:<13} rep {r['rep']}: "
         f"accepted {r['accept_msgs_per_s']:.0f} msgs/s in {r['accept_s']:.2f} s, ")
    if r.get("e2e_deliveries_per_s"):
        s += f"delivered{where} {r['e2e_deliveries_per_s']:.0f} msgs/s in {r['e2e_s']:.2f} s, "
        if (r.get("delivered") or 0) > r["expected"]:
            s += f"(counted {r['delivered']} for {r['expected']}: stray deliveries), "
    elif r["rc"] == 0:
        why = (f"no progress for the last {r.get('stall_s') or '?'} s" if r.get("stalled")
               else "time limit")
        s += (f"delivered{where} {r.get('delivered')}/{r['expected']} "
              f"(INCOMPLETE: {why}, gave up {r.get('e2e_wait_s', 0):.0f} s after the last accept), ")
    else:
        s += f"delivered{where} {r.get('delivered')}/{r['expected']} (INCOMPLETE), "
    s += f"peak RSS {r['peak_rss_mb']:.1f} MB (PSS {r['peak_pss_mb']:.1f} MB, {r['peak_nproc']} procs)"
    if r.get("server_cpu_s") is not None:
        s += f", server CPU {r['server_cpu_s']:.2f} s"
    if r["rc"] != 0:
        s += f", smtp-source rc={r['rc']}: {r.get('stderr_tail', '').strip()[-200:]}"
    return s


def med(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def summarise(reps):
    ok = [r for r in reps if r["ok"]]
    r0 = reps[0]
    return {
        "type": "summary", "scenario": r0["scenario"], "server": r0["server"],
        "sessions": r0["sessions"], "messages": r0["messages"], "size": r0["size"],
        "reps": len(reps), "ok_reps": len(ok),
        "median_accept_msgs_per_s": med(r["accept_msgs_per_s"] for r in ok),
        "median_delivered_msgs_per_s": med(r["e2e_deliveries_per_s"] for r in ok),
        "median_accept_s": med(r["accept_s"] for r in ok),
        "median_e2e_s": med(r["e2e_s"] for r in ok),
        "max_peak_rss_mb": max((r["peak_rss_mb"] for r in reps), default=None),
        "max_peak_pss_mb": max((r["peak_pss_mb"] for r in reps), default=None),
        "max_peak_nproc": max((r["peak_nproc"] for r in reps), default=None),
        "median_server_cpu_ms_per_msg": med(r.get("server_cpu_ms_per_msg") for r in ok),
        "idle_rss_mb": round(r0["idle_rss_kb"] / 1024, 1),
        "accept_msgs_per_s_all": [r["accept_msgs_per_s"] for r in reps],
        "delivered_msgs_per_s_all": [r["e2e_deliveries_per_s"] for r in reps],
    }


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def size_str(n):
    return f"{n // 1024} KB" if n % 1024 == 0 else f"{n} B"


def table(scenario, sums, info):
    any_s = next(iter(sums.values()))
    lines = [f"== {scenario}: {any_s['sessions']} session(s) x {any_s['messages']} msgs x "
             f"{size_str(any_s['size'])}, medians over {max(s['reps'] for s in sums.values())} rep(s)"]
    if is_relay(scenario):
        sink_rate = info.get("sink_msgs_per_s")
        lines.append(f"   relayed to the sink {info.get('relay_sink') or '?'}; delivered = messages the "
                     f"sink received; the sink alone took "
                     f"{f'{sink_rate:.0f}' if sink_rate else '?'} msgs/s")
    hdr = f"{'':<26}{'petrel':>12}{'postfix':>12}{'petrel/postfix':>17}"
    lines.append(hdr)
    rows = [("accepted msgs/s", "median_accept_msgs_per_s", "{:.0f}", "higher is better"),
            ("delivered msgs/s", "median_delivered_msgs_per_s", "{:.0f}", "higher is better"),
            ("peak RSS MB (sum)", "max_peak_rss_mb", "{:.1f}", "lower is better"),
            ("peak PSS MB (sum)", "max_peak_pss_mb", "{:.1f}", "lower is better"),
            ("server CPU ms/msg", "median_server_cpu_ms_per_msg", "{:.2f}", "lower is better"),
            ("peak processes", "max_peak_nproc", "{:d}", "")]
    for name, key, f, note in rows:
        vals = [sums[s][key] if s in sums else None for s in SERVERS]
        cells = [f.format(v) if v is not None else "-" for v in vals]
        rt = ratio(vals[0], vals[1])
        rcell = f"{rt:.2f}" if rt is not None and note else "-"
        lines.append(f"{name:<26}{cells[0]:>12}{cells[1]:>12}{rcell:>17}  {note}")
    okc = [f"{sums[s]['ok_reps']}/{sums[s]['reps']}" if s in sums else "-" for s in SERVERS]
    lines.append(f"{'successful reps':<26}{okc[0]:>12}{okc[1]:>12}")
    if is_relay(scenario):
        sink_rate = info.get("sink_msgs_per_s")
        fastest = max((s["median_delivered_msgs_per_s"] or 0 for s in sums.values()), default=0)
        if sink_rate and fastest > sink_rate / 2:
            lines.append(f"WARNING: a server delivered {fastest:.0f} msgs/s, more than half of what the "
                         f"sink alone takes ({sink_rate:.0f}): the sink may be the bottleneck")
        if "petrel" in sums and info.get("petrel_relay_config") is False:
            lines.append("NOTE: this Petrel binary rejected the relay settings (no outbound relay): "
                         "its relay repetitions cannot succeed")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["rep-line", "rep-ok", "final"])
    ap.add_argument("raw")
    ap.add_argument("--run-info", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--text", default="")
    a = ap.parse_args()
    reps = load_reps(a.raw)

    if a.mode == "rep-line":
        if reps:
            print(fmt_rep(reps[-1]))
        return 0
    if a.mode == "rep-ok":
        return 0 if reps and reps[-1]["ok"] else 1

    out_lines = []
    info = {}
    if a.run_info:
        with open(a.run_info) as f:
            info = json.load(f)
        out_lines.append({"type": "run", **info})
    for r in reps:
        out_lines.append({"type": "rep", **r})

    scenarios = []
    for r in reps:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    texts = []
    for sc in scenarios:
        sums = {}
        for srv in SERVERS:
            rs = [r for r in reps if r["scenario"] == sc and r["server"] == srv]
            if rs:
                sums[srv] = summarise(rs)
                out_lines.append(sums[srv])
        if "petrel" in sums and "postfix" in sums:
            p, q = sums["petrel"], sums["postfix"]
            out_lines.append({
                "type": "ratio", "scenario": sc, "of": "petrel/postfix",
                "accept": ratio(p["median_accept_msgs_per_s"], q["median_accept_msgs_per_s"]),
                "delivered": ratio(p["median_delivered_msgs_per_s"], q["median_delivered_msgs_per_s"]),
                "peak_rss": ratio(p["max_peak_rss_mb"], q["max_peak_rss_mb"]),
                "peak_pss": ratio(p["max_peak_pss_mb"], q["max_peak_pss_mb"]),
                "server_cpu_per_msg": ratio(p["median_server_cpu_ms_per_msg"],
                                            q["median_server_cpu_ms_per_msg"]),
            })
        texts.append(table(sc, sums, info))

    failed = [r for r in reps if not r["ok"]]
    text = "\n\n".join(texts)
    if failed:
        text += "\n\nFAILED repetitions (left out of the medians):\n" + \
                "\n".join("  " + fmt_rep(r) for r in failed)
    print(text)
    if a.text:
        with open(a.text, "w") as f:
            f.write(text + "\n")
    if a.out:
        with open(a.out, "w") as f:
            for l in out_lines:
                f.write(json.dumps(l) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
