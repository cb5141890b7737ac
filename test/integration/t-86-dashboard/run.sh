#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status HTTP, the dashboard); swaks as the SMTP client (from
#   127.0.0.1 and, outside mynetworks, 127.0.0.2); headless Chromium loads the pages.
# Known traffic (2 delivered, 1 unknown user, 1 relay attempt, 1 deferred) shows on the
# Traffic page and /api/traffic with the numbers /metrics has; the Queue page and
# `petrel queue shape` show qshape's table with the deferred message; a POST without the CSRF
# token is 403, with the page's token it holds the message; Activity finds the refusal by
# client IP; values from the Internet are escaped; the history survives a restart; a
# non-loopback status.address is refused. Screenshots go to $OUT_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

need_tool swaks
CHROMIUM="$(command -v chromium || command -v chromium-headless-shell || true)"
[[ -n "$CHROMIUM" ]] || skip "missing tool: chromium (Debian package chromium)"
OUT_DIR="${PETREL_TEST_OUTPUT:-$T/out}"
mkdir -p "$OUT_DIR"
export CHROMIUM OUT_DIR

# A status endpoint on another address than loopback is refused at load.
write_config '{"status": {"address": "0.0.0.0:8025"}}'
if petrel check-config >"$T/check.out" 2>&1; then fail "check-config accepted status 0.0.0.0"; fi
grep -q "is not a loopback address" "$T/check.out" || fail "no loopback error: $(cat "$T/check.out")"

write_config
start_petrel

send() {  # EXPECTED_CODE SWAKS_ARGS...
  local want="$1"; shift
  swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo client.example.net --timeout 15 \
    --from sender@example.net "$@" >"$T/swaks.out" 2>&1 || true
  grep -Eq "^<[-~*]+ +$want " "$T/swaks.out" || fail "swaks $*: no $want reply: $(tail -5 "$T/swaks.out")"
}
send 250 --to alice@example.test
send 250 --to alice@example.test --header "Subject: second"
send 550 --to nobody@example.test
send 554 --to someone@elsewhere.example --local-interface 127.0.0.2 \
  --from '"<i>evil</i>"@example.net'
# A deferred message: bob's Maildir path is a regular file.
mkdir -p "$MAIL_ROOT/example.test"
echo obstacle >"$MAIL_ROOT/example.test/bob"
send 250 --to bob@example.test
wait_for 20 "two messages in alice's Maildir" maildir_has example.test/alice 2
wait_for 20 "a deferral in the log" log_has 'to=<bob@example.test>.*status=deferred'

py <<'PYEOF'
import json, os, re, subprocess, time, urllib.request, urllib.error
from lib import *

CHROMIUM, OUT = os.environ["CHROMIUM"], os.environ["OUT_DIR"]
BASE = "http://127.0.0.1:%d" % STATUS_PORT

def chromium(path, shot):
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--window-size=1280,900", "--virtual-time-budget=3000", "--user-data-dir=" +
            os.path.join(os.environ["T"], "chromium")]
    if CHROMIUM.endswith("headless-shell"):
        args.remove("--headless")
    dom = subprocess.run(args + ["--dump-dom", BASE + path], capture_output=True, text=True,
                         timeout=120).stdout
    subprocess.run(args + ["--screenshot=" + os.path.join(OUT, shot), BASE + path],
                   capture_output=True, timeout=120)
    check(os.path.getsize(os.path.join(OUT, shot)) > 1000, "screenshot %s is empty" % shot)
    check("<h1>" in dom, "chromium gave no page for %s: %r" % (path, dom[:300]))
    return dom

def cell(dom, ident):
    m = re.search(r'id="%s">(\d+)<' % re.escape(ident), dom)
    check(m, "no cell %s on the page" % ident)
    return int(m.group(1))

def api(path):
    status, body = http_get(path)
    check(status == 200, "%s: %d %s" % (path, status, body[:200]))
    return json.loads(body)

def post(path, headers={}):
    req = urllib.request.Request(BASE + path, data=b"", method="POST", headers=headers)
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k): return None
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

m = metrics()
rejected = sum(v for k, v in m.items() if k.startswith("petrel_rejections_total{"))
check(m["petrel_messages_received_total"] == 3, "received %r" % m["petrel_messages_received_total"])
check(m["petrel_messages_delivered_total"] == 2, "delivered %r" % m["petrel_messages_delivered_total"])
check(rejected == 2, "rejections %r" % rejected)

# Traffic: /api/traffic, the page and /metrics agree.
t = api("/api/traffic")
hour = t["archives"][0]
check(hour["name"] == "hour", "first archive %r" % hour["name"])
tot = hour["totals"]
check(tot["received"] == m["petrel_messages_received_total"], "api received %r" % tot)
check(tot["delivered"] + tot["relayed"] == m["petrel_messages_delivered_total"], "api sent %r" % tot)
check(tot["deferred"] == m["petrel_messages_deferred_total"] >= 1, "api deferred %r" % tot)
check(tot["rejected_unknown_user"] == 1 and tot["rejected_relay"] == 1 and tot["rejected"] == 2,
      "api rejections %r" % tot)
check(t["since_start"]["received"] == 3 and t["since_start"]["rejected"] == rejected, "since_start %r" % t)
dom = chromium("/", "traffic.png")
check(cell(dom, "since-received") == m["petrel_messages_received_total"], "page since-received")
check(cell(dom, "since-delivered") == m["petrel_messages_delivered_total"], "page since-delivered")
check(cell(dom, "since-rejected") == rejected, "page since-rejected")
check(cell(dom, "hour-received") == tot["received"], "page hour-received")
check(cell(dom, "hour-rejected_unknown_user") == 1, "page hour unknown user")
check(cell(dom, "day-rejected_relay") == 1, "page day relay")
check(dom.count("<svg") == 5, "five charts, got %d" % dom.count("<svg"))
check("<script" not in dom, "a script on the page")

# Queue: qshape's table and the message with its last reply.
q = api("/api/queue")
check(len(q["messages"]) == 1, "api queue %r" % q)
msg = q["messages"][0]
qid = msg["id"]
check(msg["queue"] == "deferred" and msg["recipients"][0]["last_reply"], "queued message %r" % msg)
shape = {t["queue"]: t["rows"] for t in q["shape"]["queues"]}
check(shape["deferred"][0]["total"] == 1 and shape["deferred"][1]["domain"] == "example.test"
      and shape["deferred"][1]["buckets"][0] == 1, "deferred shape %r" % shape["deferred"])
dom = chromium("/dash/queue", "queue.png")
check(qid in dom and 'id="shape-deferred"' in dom, "queue page lacks %s or the shape" % qid)
text = petrel("queue", "shape")
check(re.search(r"queue: deferred\n +T +5 +10 +20 .* 1280\+\n +TOTAL +1 +1 ", text), "queue shape:\n" + text)
check(re.search(r"\nexample.test +1 +1 +0", text), "queue shape row:\n" + text)
js = json.loads(petrel("queue", "shape", "--json"))
check(js["buckets"][-1] == "1280+" and js == q["shape"], "queue shape --json %r" % js)

# Actions: POST only, and only with the page's token.
status, _ = post("/dash/queue/hold?id=" + qid)
check(status == 403, "POST without a token: %d" % status)
status, _ = post("/dash/queue/hold?id=%s&csrf=%s" % (qid, "0" * 32))
check(status == 403, "POST with a wrong token: %d" % status)
status, _ = http_get("/dash/queue/hold?id=" + qid)
check(status == 405, "GET of an action: %d" % status)
token = re.search(r'/dash/queue/hold\?id=%s&amp;csrf=([0-9a-f]{32})' % qid, dom)
check(token, "no hold button with a token on the queue page")
status, _ = post("/dash/queue/hold?id=%s&csrf=%s" % (qid, token.group(1)))
check(status == 303, "POST with the token: %d" % status)
check(queue_list()[0]["held"], "message not held after the button")
q = api("/api/queue")
check(q["messages"][0]["queue"] == "hold", "queue after hold %r" % q["messages"][0])
status, body = post("/api/queue/release?id=" + qid, {"X-CSRF-Token": token.group(1)})
check(status == 200 and json.loads(body)["ok"], "API release: %d %s" % (status, body))
check(not queue_list()[0]["held"], "message still held after release")

# Activity: the latest events, searchable; Internet text escaped.
a = api("/api/activity?q=127.0.0.2")
check(len(a["events"]) == 1 and a["events"][0]["reason"] == "rejected_relay", "activity search %r" % a)
a = api("/api/activity")
kinds = sorted(e["kind"] for e in a["events"])
check(kinds.count("delivered") == 2 and kinds.count("rejected") == 2 and "deferred" in kinds,
      "activity kinds %r" % kinds)
status, raw = http_get("/dash/activity?q=evil")
check(status == 200 and "&lt;i&gt;evil&lt;/i&gt;" in raw and "<i>evil" not in raw,
      "activity page does not escape the sender: %r" % raw[-800:])
dom = chromium("/dash/activity?q=127.0.0.2", "activity.png")
check("Relay access denied" in dom and "rejected_relay" in dom, "activity page search")

# Health: listeners and disks.
h = api("/api/health")
check(h["listeners"][0]["address"] == "127.0.0.1:%d" % SMTP_PORT, "health listeners %r" % h)
check(all(d["known"] and d["free_bytes"] > 0 for d in h["disks"]), "health disks %r" % h["disks"])
dom = chromium("/dash/health", "health.png")
check("state_dir" in dom and "mail_root" in dom and 'id="listeners"' in dom, "health page")
with open(os.path.join(os.environ["T"], "received"), "w") as f:
    f.write(str(tot["received"]))
PYEOF

# The history is kept across a restart (state_dir/traffic.db).
stop_petrel
[[ -s "$STATE_DIR/traffic.db" ]] || fail "no traffic.db after stop"
start_petrel
py <<'PYEOF'
import json, os
from lib import *
want = int(open(os.path.join(os.environ["T"], "received")).read())
status, body = http_get("/api/traffic")
tot = json.loads(body)["archives"][0]["totals"]
check(tot["received"] == want and tot["rejected_relay"] == 1, "after restart: %r (want received %d)" % (tot, want))
check(metrics()["petrel_messages_received_total"] == 0, "/metrics counters restart at 0")
PYEOF
stop_petrel
pass
