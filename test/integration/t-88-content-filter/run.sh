#!/usr/bin/env bash
# After-queue content filter (issue 13; Postfix FILTER_README, content_filter,
# receive_override_options, smtp_send_xforward_command; the course's amavis set-up).
# Setup: one `petrel serve` with
#   mx        ($SMTP_PORT)      the usual listener: filters.content_filter
#                               amavis:[127.0.0.1]:$FILTER_PORT, and check_sender_access
#                               whose special@example.net -> FILTER scanner:[127.0.0.1]:$FILTER2_PORT
#   reinject  ($REINJECT_PORT)  content_filter: false, receive_override_options (all four),
#                               restrictions permit_mynetworks, reject (the course's 10025)
#   transports amavis {type: smtp, concurrency: 2, xforward: true, data_timeout: 1200s} and
#   scanner {type: smtp, xforward: true}.
# Peers: filter.py twice (aiosmtpd; records XFORWARD and each message, adds X-Filtered: NAME,
# re-injects by smtplib into the reinjection listener and answers 250 only after that),
# clients by smtplib bound to 127.0.0.2 (outside mynetworks).
# Checks:
# - 8 messages sent at once each arrive in alice's Maildir with X-Filtered exactly once (no
#   loop), the filter saw XFORWARD ADDR=127.0.0.2, PORT = each client's own source port and
#   IDENT = the queue id, and never had more
#   than 2 sessions open (and had 2: concurrency is the transport's own);
# - the filter down: the message is deferred (petrel queue list shows it, nothing lost, also
#   across a restart of petrel); with the filter back, `petrel queue flush` delivers it once;
# - a FILTER action from check_sender_access sends one message to the second filter instead;
# - a header check on the mx listener does not run on the reinjected mail (no_header_body_checks).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
"$PYTHON" -c 'import aiosmtpd' 2>/dev/null || skip "missing Python module aiosmtpd (python3-aiosmtpd)"
"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  skip "cannot bind 127.0.0.2 (no 127.0.0.0/8 on lo)"

pick_ports REINJECT_PORT FILTER_PORT FILTER2_PORT
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cat >"$T/header_checks" <<'EOF2'
/^Subject: tagged/	PREPEND X-Checked: on-receipt
EOF2
write_config "
relay: {mynetworks: ['127.0.0.1/32']}
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - name: reinject
    address: '127.0.0.1:$REINJECT_PORT'
    content_filter: false
    receive_override_options: [no_header_body_checks, no_milters, no_unknown_recipient_checks,
                               no_address_mappings]
    restrictions: reinject
transports:
  amavis: {type: smtp, concurrency: 2, xforward: true, data_timeout: 1200s}
  scanner: {type: smtp, xforward: true}
filters:
  content_filter: 'amavis:[127.0.0.1]:$FILTER_PORT'
checks:
  header: 'regexp:$T/header_checks'
tables:
  sender_filters: {type: inline, map: {special@example.net: 'FILTER scanner:[127.0.0.1]:$FILTER2_PORT'}}
restrictions:
  default:
    sender: ['check_sender_access sender_filters']
    recipient: [permit_mynetworks, reject_unauth_destination]
  reinject:
    recipient: [permit_mynetworks, reject]
"
"$PETREL" check-config --config "$CONF" >"$T/check-config.out" 2>&1 ||
  fail "check-config: $(cat "$T/check-config.out")"

start_filter() {  # start_filter PORT NAME
  rm -f "$T/$2/ready"
  py_bg "$HERE/filter.py" "$1" "$REINJECT_PORT" "$T/$2" "$2" </dev/null
  eval "FILTER_PID_$2=$PY_BG_PID"
  wait_for 15 "filter $2" eval "[[ -f '$T/$2/ready' ]] && port_open $1" || fail "filter $2 did not start"
}
start_filter "$FILTER_PORT" one
start_filter "$FILTER2_PORT" two
start_petrel

send() {  # send SENDER SUBJECT [COUNT]: COUNT messages at once from 127.0.0.2 to alice
  T="$T" py - "$@" <<'PY'
import os, smtplib, sys, threading
sender, subject = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 1
errors = []
def one(i):
    msg = ('From: %s\r\nTo: alice@example.test\r\nSubject: %s %d\r\n\r\nHello %d.\r\n'
           % (sender, subject, i, i))
    try:
        with smtplib.SMTP('127.0.0.1', int(os.environ['SMTP_PORT']), timeout=30,
                          source_address=('127.0.0.2', 0)) as s:
            s.sendmail(sender, ['alice@example.test'], msg)
            ports.append(s.sock.getsockname()[1])
    except Exception as e:
        errors.append(repr(e))
ports = []  # the client ports, which XFORWARD PORT must name
threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
for t in threads: t.start()
for t in threads: t.join()
with open(os.path.join(os.environ['T'], 'client_ports'), 'a') as f:
    f.writelines('%d\n' % p for p in ports)
if errors: sys.exit('send failed: %s' % errors)
PY
}
A=example.test/alice
AD="$MAIL_ROOT/$A"
jsonl_count() { [[ -f "$T/$1/messages.jsonl" ]] && wc -l <"$T/$1/messages.jsonl" || echo 0; }

# ---- 8 at once through the filter, concurrency 2 ------------------------------------------
send s@example.net "batch" 8
wait_for 40 "8 filtered messages" maildir_has "$A" 8 || fail "Maildir: $(count_maildir "$A") of 8"
for f in "$AD"/new/*; do
  n=$(grep -c '^X-Filtered: ' "$f" || true)
  [[ "$n" -eq 1 ]] || fail "$(basename "$f") has $n X-Filtered fields"
  grep -q '^X-Filtered: one' "$f" || fail "$(basename "$f") was not filtered by filter one"
done
sleep 1  # nothing more may come: the reinjected mail is not filtered again
assert_eq 8 "$(count_maildir "$A")" "messages in alice's Maildir after the filter (no loop)"
assert_eq 8 "$(jsonl_count one)" "messages the filter saw"
assert_eq 2 "$(cat "$T/one/max_sessions")" "sessions open at once at the filter (concurrency 2)"
py - "$T/one/messages.jsonl" "$PETREL_LOG" "$T/client_ports" <<'PY' || fail "XFORWARD attributes"
import json, re, sys
log = open(sys.argv[2]).read()
ports = sorted(open(sys.argv[3]).read().split())
assert len(ports) == 8, ports
seen = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    x = r["xforward"]
    assert x.get("ADDR") == "127.0.0.2", x
    assert x.get("NAME") == "unknown", x
    assert x.get("PROTO") == "ESMTP", x
    assert x.get("HELO"), x
    assert x.get("SOURCE") == "REMOTE", x
    seen.append(x.get("PORT"))  # the client's real port, kept with the queued message
    # IDENT: our queue id, whose line says it came from 127.0.0.2
    assert re.search(r"\b%s: client=unknown\[127\.0\.0\.2\]" % re.escape(x["IDENT"]), log), x
    assert r["to"] == ["alice@example.test"], r
assert sorted(seen) == ports, (sorted(seen), ports)
PY
assert_log 'relay=127\.0\.0\.1\[127\.0\.0\.1\]:'"$FILTER_PORT"'.*status=sent \(250 2\.0\.0 Ok: queued by one\)' \
  "the original entry is done when the filter took it"
queue_empty || fail "queue not empty: $(petrel queue list)"

# ---- the receipt's header checks run once, not on the reinjected copy -----------------------
send s@example.net "tagged" 1
wait_for 20 "the tagged message" maildir_has "$A" 9 || fail "tagged message not delivered"
f=$(grep -l '^Subject: tagged' "$AD"/new/*)
assert_eq 1 "$(grep -c '^X-Checked: on-receipt' "$f")" "X-Checked fields (header checks once)"

# ---- the filter down: deferred, kept across a restart, delivered after a flush --------------
kill "$FILTER_PID_one"; wait "$FILTER_PID_one" 2>/dev/null || true
wait_for 10 "filter one to stop" eval "! port_open $FILTER_PORT" || fail "filter one still up"
send s@example.net "while down" 1
wait_for 20 "the deferral" log_has "status=deferred.*$FILTER_PORT" || fail "no deferral"
petrel queue list >"$T/queue.out"
grep -q 's@example.net' "$T/queue.out" || fail "queue list: $(cat "$T/queue.out")"
assert_eq 1 "$(queue_count)" "messages queued while the filter is down"
assert_eq 9 "$(count_maildir "$A")" "nothing delivered around the filter"
stop_petrel
start_petrel
assert_eq 1 "$(queue_count)" "messages queued after the restart"
start_filter "$FILTER_PORT" one
petrel queue flush >/dev/null
wait_for 30 "the deferred message" maildir_has "$A" 10 || fail "not delivered after the flush"
f=$(grep -l '^Subject: while down' "$AD"/new/*)
assert_eq 1 "$(grep -c '^X-Filtered: one' "$f")" "X-Filtered of the deferred message"
wait_for 10 "an empty queue" queue_empty || fail "queue: $(petrel queue list)"

# ---- FILTER from check_sender_access: the second filter -------------------------------------
send special@example.net "special" 1
wait_for 20 "the special message" maildir_has "$A" 11 || fail "special message not delivered"
f=$(grep -l '^Subject: special' "$AD"/new/*)
assert_eq 1 "$(grep -c '^X-Filtered: ' "$f")" "X-Filtered fields of the special message"
grep -q '^X-Filtered: two' "$f" || fail "the special message did not go through filter two"
assert_eq 1 "$(jsonl_count two)" "messages filter two saw"
grep -q 'special@example.net' "$T/one/messages.jsonl" && fail "filter one saw the special message"
assert_log 'filter: unknown\[127\.0\.0\.2\]: <special@example.net>: Sender address triggers FILTER scanner:' \
  "the FILTER action's log line"
stop_petrel
pass
