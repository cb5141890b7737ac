#!/usr/bin/env bash
# Setup: zone_dns.py (start_zone_dns) on 127.0.0.1:$DNS_PORT serving PTR, A and MX data for
#   the clients 127.0.0.2..5 and the names below, with example.net and the 4.0.0.127 PTR name
#   silent (never answered); one `petrel serve` (quick-start config, relay.mynetworks
#   [127.0.0.1/32], dns.servers at that server, smtp.peername_lookup on) with three listeners:
#     mx    ($SMTP_PORT)  set default: helo [reject_unknown_helo_hostname], sender
#           [reject_unknown_sender_domain, reject_unlisted_sender], recipient
#           [reject_unlisted_recipient, reject_unknown_recipient_domain, permit_mx_backup,
#           reject_unauth_destination];
#     fcrdns ($NAMES_PORT) set names: client [reject_unknown_client_hostname];
#     ptr   ($PTR_PORT)   set ptr: client [reject_unknown_reverse_client_hostname].
#   Clients: swaks bound to 127.0.0.2 (PTR client.example.org, whose A leads back), 127.0.0.3
#   (PTR forged.example.org, whose A does not), 127.0.0.4 (PTR silent), 127.0.0.5 (no PTR).
# The client's name at connect is Postfix's forward-confirmed reverse DNS: "connect from
# client.example.org[127.0.0.2]" and "(client.example.org [127.0.0.2])" in Received; a name
# that does not lead back is logged as Postfix warns and the client is unknown. Each check
# answers with Postfix's code (postconf(5), smtpd_check.c): 450 4.7.1 unknown HELO name, 450
# 4.1.8 unknown sender domain, 550 5.7.27 / 556 5.1.10 null MX, 550 5.1.0 / 5.1.1 unlisted,
# 450 4.7.25 / 4.7.1 unknown client names; permit_mx_backup accepts a domain whose backup MX
# is us. A DNS server that does not answer gives 450, never 550, within the resolver's
# timeout; the greeting waits for a silent PTR no longer than the lookup's own bound (5 s); a
# drain during that wait greets, then answers 421. A second run with a 2 s idle timeout shows
# the session's limits hold while a check waits for a silent DNS.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks
"$PYTHON" -c 'import dnslib' 2>/dev/null || skip "missing Python module dnslib (python3-dnslib)"
"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.5", 0))' 2>/dev/null ||
  skip "cannot bind 127.0.0.5 (no 127.0.0.0/8 on lo)"

cat >"$T/zone.txt" <<'EOF'
example.org.                  300 IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 60
2.0.0.127.in-addr.arpa.       300 IN PTR client.example.org.
3.0.0.127.in-addr.arpa.       300 IN PTR forged.example.org.
client.example.org.           300 IN A   127.0.0.2
forged.example.org.           300 IN A   192.0.2.66
mx.example.org.               300 IN A   192.0.2.25
good.example.org.             300 IN MX  10 mx.example.org.
nullmx.example.org.           300 IN MX  0 .
backup.example.org.           300 IN MX  10 primary.example.org.
backup.example.org.           300 IN MX  20 backupmx.example.org.
primary.example.org.          300 IN A   192.0.2.10
backupmx.example.org.         300 IN A   127.0.0.1
foreign.example.org.          300 IN MX  10 primary.example.org.
;!silent example.net
;!silent 4.0.0.127.in-addr.arpa
EOF
start_zone_dns "$T/zone.txt"

pick_ports NAMES_PORT PTR_PORT
write_config "
relay: {mynetworks: ['127.0.0.1/32']}
dns: {servers: ['127.0.0.1:$DNS_PORT']}
smtp: {peername_lookup: true}
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: fcrdns, address: '127.0.0.1:$NAMES_PORT', restrictions: names}
  - {name: ptr, address: '127.0.0.1:$PTR_PORT', restrictions: ptr}
restrictions:
  default:
    helo: [reject_unknown_helo_hostname]
    sender: [reject_unknown_sender_domain, reject_unlisted_sender]
    recipient: [reject_unlisted_recipient, reject_unknown_recipient_domain, permit_mx_backup,
                reject_unauth_destination]
  names:
    client: [reject_unknown_client_hostname]
    recipient: [permit_mynetworks, reject_unauth_destination]
  ptr:
    client: [reject_unknown_reverse_client_hostname]
    recipient: [permit_mynetworks, reject_unauth_destination]
"
start_petrel

# send PORT CLIENT_IP EHLO FROM TO [SWAKS_ARGS...]: swaks from CLIENT_IP; RC its exit status
# (23: MAIL refused, 24: RCPT refused), $T/swaks.out the dialog, ELAPSED its seconds.
send() {
  local port="$1" ip="$2" ehlo="$3" from="$4" to="$5" start
  shift 5
  RC=0
  start=$(date +%s)
  swaks --server "127.0.0.1:$port" --local-interface "$ip" --timeout 30 --ehlo "$ehlo" \
    --from "$from" --to "$to" "$@" >"$T/swaks.out" 2>&1 || RC=$?
  ELAPSED=$(($(date +%s) - start))
}
refused() {  # CODE_AND_TEXT: the RCPT got exactly this reply
  [[ "$RC" -eq 24 ]] || fail "expected RCPT refused (swaks 24), got $RC: $(tail -n 8 "$T/swaks.out")"
  grep -qF "<** $1" "$T/swaks.out" || fail "expected '$1' in: $(tail -n 8 "$T/swaks.out")"
}
accepted() {  # WHAT
  [[ "$RC" -eq 0 ]] || fail "$1: swaks $RC: $(tail -n 8 "$T/swaks.out")"
}

# ---- the client's name -------------------------------------------------------------------
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@good.example.org alice@example.test
accepted "a good message from client.example.org"
wait_for 10 "alice's message" maildir_at_least example.test/alice 1
assert_log 'petrel/smtpd\[[0-9]+\]: connect from client\.example\.org\[127\.0\.0\.2\]' \
  "connect line with the confirmed name"
assert_log ': client=client\.example\.org\[127\.0\.0\.2\]' "client= line with the name"
msg="$(find "$MAIL_ROOT/example.test/alice/new" -type f | head -n 1)"
assert_file_contains "$msg" '^Received: from client\.example\.org \(client\.example\.org \[127\.0\.0\.2\]\)' \
  "Received field with the name"

# ---- HELO, sender and recipient domains -------------------------------------------------
send "$SMTP_PORT" 127.0.0.2 nohost.example.org alice@good.example.org alice@example.test
refused '450 4.7.1 <nohost.example.org>: Helo command rejected: Host not found'
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@gone.example.org alice@example.test
refused '450 4.1.8 <alice@gone.example.org>: Sender address rejected: Domain not found'
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@nullmx.example.org alice@example.test
refused '550 5.7.27 <alice@nullmx.example.org>: Sender address rejected: Domain nullmx.example.org does not accept mail (nullMX)'
send "$SMTP_PORT" 127.0.0.2 client.example.org mallory@example.test alice@example.test
refused '550 5.1.0 <mallory@example.test>: Sender address rejected: User unknown in virtual mailbox table'
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@good.example.org ghost@example.test
refused '550 5.1.1 <ghost@example.test>: Recipient address rejected: User unknown in virtual mailbox table'
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@good.example.org bob@nullmx.example.org
refused '556 5.1.10 <bob@nullmx.example.org>: Recipient address rejected: Domain nullmx.example.org does not accept mail (nullMX)'
# permit_mx_backup: we (127.0.0.1) are backup MX for backup.example.org, not for foreign.
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@good.example.org bob@backup.example.org \
  --quit-after RCPT
accepted "RCPT for a domain we are backup MX for"
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@good.example.org bob@foreign.example.org
refused '554 5.7.1 <bob@foreign.example.org>: Relay access denied'
assert_log 'NOQUEUE: reject: RCPT from client\.example\.org\[127\.0\.0\.2\]: 550 5\.7\.27 <alice@nullmx\.example\.org>: Sender address rejected: Domain nullmx\.example\.org does not accept mail \(nullMX\); from=<alice@nullmx\.example\.org> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.org>' \
  "the null MX refusal in Postfix's reject format"

# ---- a DNS server that does not answer: 450, within the resolver's timeout (2 x 2 s) ------
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@silent.example.net alice@example.test
refused '450 4.1.8 <alice@silent.example.net>: Sender address rejected: Domain not found'
((ELAPSED < 15)) || fail "the silent sender domain took ${ELAPSED}s"
send "$SMTP_PORT" 127.0.0.2 silent.example.net alice@good.example.org alice@example.test
refused '450 4.7.1 <silent.example.net>: Helo command rejected: Host not found'
assert_no_log 'reject: RCPT from .*: 5[0-9][0-9] [^ ]+ <[^>]*silent\.example\.net>' "a 5xx for a silent name"

# ---- client names: forward-confirmed, reverse only, silent PTR ---------------------------
send "$NAMES_PORT" 127.0.0.2 client.example.org alice@good.example.org alice@example.test
accepted "confirmed client on the fcrdns listener"
send "$NAMES_PORT" 127.0.0.3 client.example.org alice@good.example.org alice@example.test
refused '450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.3]'
assert_log 'warning: hostname forged\.example\.org does not resolve to address 127\.0\.0\.3$' \
  "Postfix's warning for a name that does not lead back"
assert_log 'connect from unknown\[127\.0\.0\.3\]' "the forged name is not used"
# The reverse-only check accepts the same client: it has a PTR name.
send "$PTR_PORT" 127.0.0.3 client.example.org alice@good.example.org alice@example.test
accepted "client with a PTR name on the ptr listener"
send "$PTR_PORT" 127.0.0.5 client.example.org alice@good.example.org alice@example.test
refused '450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.5]'
# A silent PTR: the greeting waits for the resolver (about 4 s) or the lookup's bound (5 s),
# not more; the refusal is the temporary one.
send "$PTR_PORT" 127.0.0.4 client.example.org alice@good.example.org alice@example.test
refused '450 4.7.1 Client host rejected: cannot find your reverse hostname, [127.0.0.4]'
((ELAPSED >= 3 && ELAPSED < 12)) || fail "the silent PTR lookup took ${ELAPSED}s (want 3..11)"
assert_log 'connect from unknown\[127\.0\.0\.4\]' "the silent client is unknown"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.5\]: 450 4\.7\.1 Client host rejected: cannot find your reverse hostname, \[127\.0\.0\.5\]' \
  "the reverse hostname refusal logged"
grep -q '^2\.0\.0\.127\.in-addr\.arpa PTR' "$DNS_QUERY_LOG" || fail "no PTR query in $DNS_QUERY_LOG"

# A drain (SIGTERM) while a client waits for its name: it is greeted, then told 421 4.3.2, and
# the daemon exits cleanly.
PTR_PORT="$PTR_PORT" py_bg - <<'EOF'
import os, socket
s = socket.socket()
s.settimeout(30)
s.bind(("127.0.0.4", 0))
s.connect(("127.0.0.1", int(os.environ["PTR_PORT"])))
got = b""
while True:
    data = s.recv(4096)
    if not data:
        break
    got += data
open(os.path.join(os.environ["T"], "drained.out"), "wb").write(got)
EOF
waiter=$PY_BG_PID
sleep 1
stop_petrel
wait_for 10 "the waiting client to see the connection end" not_running "$waiter"
grep -q '^220 ' "$T/drained.out" || fail "no greeting for the client waiting for its name: $(cat "$T/drained.out")"
grep -q '^421 4\.3\.2 ' "$T/drained.out" || fail "no 421 for the client waiting for its name: $(cat "$T/drained.out")"

# ---- the session's own time limits hold while a check waits for a silent DNS -------------
# With a 2 s idle timeout the session ends at that limit (421), not when the resolver gives up
# (4 s); the lookup still in flight is dropped with the connection.
write_config "
relay: {mynetworks: ['127.0.0.1/32']}
dns: {servers: ['127.0.0.1:$DNS_PORT']}
smtp: {peername_lookup: true}
limits: {idle_timeout: 2s}
restrictions:
  default:
    sender: [reject_unknown_sender_domain]
"
start_petrel
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@silent.example.net alice@example.test
[[ "$RC" -ne 0 ]] || fail "the session outlived its idle timeout: $(tail -n 8 "$T/swaks.out")"
grep -qF '<** 421 4.4.2' "$T/swaks.out" || fail "expected a 421 4.4.2 timeout in: $(tail -n 8 "$T/swaks.out")"
((ELAPSED < 4)) || fail "the idle timeout fired after ${ELAPSED}s (want 2)"
assert_log 'timeout after command from client\.example\.org\[127\.0\.0\.2\]' "the timeout log line"
sleep 3  # the resolver gives up meanwhile: its late answer must find nothing to call
send "$SMTP_PORT" 127.0.0.2 client.example.org alice@good.example.org alice@example.test
accepted "a message after the timed-out session"
stop_petrel
pass
