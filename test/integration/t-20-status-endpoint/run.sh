#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status HTTP); Python urllib and smtplib as clients.
# GET /healthz answers 200 "ok"; /metrics is Prometheus text whose counters move by exactly
# what the test did (3 connections, 2 messages received and delivered, 1 RCPT rejected with
# 550 5.1.1, then one deferral); the queue gauges and /queue JSON show a deferred message and
# its age; an unknown path is 404.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config
start_petrel

py <<'EOF'
import json, smtplib, time, os
from lib import *

status, body = http_get("/healthz")
check(status == 200 and body.strip() == "ok", "/healthz: %d %r" % (status, body))
status, body = http_get("/no-such-page")
check(status == 404, "/no-such-page: %d" % status)

# Prometheus text format: every sample belongs to a family with HELP and TYPE.
status, text = http_get("/metrics")
check(status == 200, "/metrics: %d" % status)
families = {}
for line in text.splitlines():
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split(" ", 3)
        families[name] = typ
for line in text.splitlines():
    if line and not line.startswith("#"):
        name = line.split("{")[0].split(" ")[0]
        check(name in families, "sample %r has no # TYPE" % line)
for name, typ in [("petrel_connections_total", "counter"), ("petrel_messages_received_total", "counter"),
                  ("petrel_messages_delivered_total", "counter"), ("petrel_messages_deferred_total", "counter"),
                  ("petrel_messages_bounced_total", "counter"), ("petrel_rejections_total", "counter"),
                  ("petrel_queue_messages", "gauge"), ("petrel_queue_oldest_age_seconds", "gauge")]:
    check(families.get(name) == typ, "metric %s: type %r, want %s" % (name, families.get(name), typ))

before = metrics()
REJ = 'petrel_rejections_total{stage="RCPT",code="550",status="5.1.1"}'
for i in range(2):
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
        s.sendmail("sender@example.net", ["alice@example.test"], make_message("m%d" % i, ["x"]))
with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
    s.ehlo()
    s.mail("sender@example.net")
    code, _ = s.rcpt("nobody@example.test")
    check(code == 550, "RCPT nobody: %d" % code)
wait_maildir("example.test/alice", 2)

def settled(want_delivered):
    deadline = time.time() + 10
    while True:
        m = metrics()
        if m["petrel_messages_delivered_total"] - before["petrel_messages_delivered_total"] >= want_delivered \
                and m["petrel_queue_messages"] == 0 or time.time() > deadline:
            return m
        time.sleep(0.1)

after = settled(2)
def delta(name):
    return after.get(name, 0) - before.get(name, 0)
check(delta("petrel_connections_total") == 3, "connections_total moved by %s, want 3" % delta("petrel_connections_total"))
check(delta("petrel_messages_received_total") == 2, "messages_received_total moved by %s, want 2" % delta("petrel_messages_received_total"))
check(delta("petrel_messages_delivered_total") == 2, "messages_delivered_total moved by %s, want 2" % delta("petrel_messages_delivered_total"))
check(delta(REJ) == 1, "%s moved by %s, want 1" % (REJ, delta(REJ)))
check(delta("petrel_messages_deferred_total") == 0 and delta("petrel_messages_bounced_total") == 0,
      "deferred/bounced moved: %s %s" % (delta("petrel_messages_deferred_total"), delta("petrel_messages_bounced_total")))
check(after["petrel_queue_messages"] == 0, "queue gauge %s after delivery" % after["petrel_queue_messages"])
status, body = http_get("/queue")
check(status == 200, "/queue: %d" % status)
q = json.loads(body)
check(q["messages"] == 0 and q["deferred"] == 0, "/queue after delivery: %r" % q)

# A deferred message: bob's Maildir path is a regular file.
os.makedirs(os.path.join(MAIL_ROOT, "example.test"), exist_ok=True)
open(os.path.join(MAIL_ROOT, "example.test", "bob"), "w").write("obstacle\n")
send_message("sender@example.net", ["bob@example.test"], make_message("stuck", ["x"]))
deadline = time.time() + 10
while metrics()["petrel_messages_deferred_total"] - before["petrel_messages_deferred_total"] < 1:
    check(time.time() < deadline, "petrel_messages_deferred_total did not move within 10s")
    time.sleep(0.1)
time.sleep(1.2)
m = metrics()
check(m["petrel_queue_messages"] == 1, "queue gauge %s, want 1" % m["petrel_queue_messages"])
check(m['petrel_queue_messages_by_state{state="deferred"}'] == 1, "deferred gauge: %r" % m)
check(m["petrel_queue_oldest_age_seconds"] >= 1.0, "oldest age %s, want >= 1" % m["petrel_queue_oldest_age_seconds"])
status, body = http_get("/queue")
q = json.loads(body)
check(status == 200 and q["messages"] == 1 and q["deferred"] == 1 and q["oldest_age_seconds"] >= 1.0,
      "/queue with a deferred message: %d %r" % (status, q))
status, body = http_get("/healthz")
check(status == 200, "/healthz with a deferred message: %d" % status)
EOF
stop_petrel
pass
