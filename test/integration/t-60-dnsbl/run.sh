#!/usr/bin/env bash
# Setup: zone_dns.py (Debian's python3-dnslib) on loopback serving a DNSBL bl.test (127.0.0.2
#   listed with 127.0.0.2 and a TXT reason, 127.0.0.4 listed with 127.0.0.10, 127.0.0.5 with
#   the "query refused" code 127.255.255.254), an RHSBL dbl.test listing the domain
#   spam.example, and a DNS list silent.test that never answers; one `petrel serve` (quick-start
#   config) whose default set has client [reject_rbl_client bl.test=127.0.0.[2..9],
#   reject_rbl_client silent.test], sender [reject_rhsbl_sender dbl.test]; relay.mynetworks is
#   127.0.0.1/32, and swaks connects from 127.0.0.2 .. 127.0.0.5 (outside it).
# Postfix's behaviour and texts: a listed client gets 554 5.7.1 "Service unavailable; Client
# host [ip] blocked using bl.test; <TXT>" at RCPT (delay_reject), logged as Postfix's NOQUEUE
# reject line; a code outside the filter, the list's error code and a list that does not answer
# never refuse (the last within the resolver's timeouts, logged as a warning); a listed sender
# domain gets "Sender address [spam.example] blocked using dbl.test"; /metrics counts refusals
# by check and by list; the resolver's cache answers a repeated query.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks

cat >"$T/zone.txt" <<'ZONE'
bl.test.                  60 IN SOA ns.bl.test. h.bl.test. 1 7200 900 1209600 60
2.0.0.127.bl.test.        60 IN A   127.0.0.2
2.0.0.127.bl.test.        60 IN TXT "Listed in bl.test, see http://bl.test/q?127.0.0.2"
4.0.0.127.bl.test.        60 IN A   127.0.0.10
5.0.0.127.bl.test.        60 IN A   127.255.255.254
dbl.test.                 60 IN SOA ns.dbl.test. h.dbl.test. 1 7200 900 1209600 60
spam.example.dbl.test.    60 IN A   127.0.1.2
;!silent silent.test
ZONE
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
relay: {mynetworks: [127.0.0.1/32]}
restrictions:
  default:
    client: ['reject_rbl_client bl.test=127.0.0.[2..9]', 'reject_rbl_client silent.test']
    sender: ['reject_rhsbl_sender dbl.test']
    recipient: [permit_mynetworks, reject_unauth_destination]
"
start_petrel

# send FROM_IP SENDER: swaks to alice; RC is its exit status (24: RCPT refused).
send() {
  RC=0
  swaks --server "127.0.0.1:$SMTP_PORT" --local-interface "$1" --timeout 30 \
    --ehlo client.example.test --from "$2" --to alice@example.test >"$T/swaks.out" 2>&1 || RC=$?
}
refused() {  # TEXT: the RCPT got exactly this reply
  [[ "$RC" -eq 24 ]] || fail "expected RCPT refused (swaks 24), got $RC: $(tail -n 8 "$T/swaks.out")"
  grep -qF "<** $1" "$T/swaks.out" || fail "expected '$1' in: $(tail -n 8 "$T/swaks.out")"
}
accepted() {  # WHAT
  [[ "$RC" -eq 0 ]] || fail "$1: swaks $RC: $(tail -n 8 "$T/swaks.out")"
}

send 127.0.0.2 someone@good.example
refused '554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using bl.test; Listed in bl.test, see http://bl.test/q?127.0.0.2'
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.2\] blocked using bl\.test; Listed in bl\.test, see http://bl\.test/q\?127\.0\.0\.2; from=<someone@good\.example> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>' \
  "Postfix's reject line for a listed client"

start=$(date +%s)
send 127.0.0.3 someone@good.example
accepted "a client no list names (one list silent)"
took=$(( $(date +%s) - start ))
(( took < 20 )) || fail "the silent list held the session for $took s"
assert_log "warning: .*reject_rbl_client silent\.test: DNS lookup of 3\.0\.0\.127\.silent\.test failed" \
  "the silent list logged as a warning"

send 127.0.0.4 someone@good.example
accepted "a code outside the filter 127.0.0.[2..9]"
send 127.0.0.5 someone@good.example
accepted "the list's error code 127.255.255.254"
assert_log "warning: .*5\.0\.0\.127\.bl\.test answered 127\.255\.255\.254, an error code" \
  "the error code logged"

send 127.0.0.3 someone@spam.example
refused '554 5.7.1 Service unavailable; Sender address [spam.example] blocked using dbl.test'
wait_for 10 "three messages for alice" maildir_at_least example.test/alice 3

metrics="$(curl -fsS "http://127.0.0.1:$STATUS_PORT/metrics")"
grep -q '^petrel_rejections_by_check_total{check="reject_rbl_client"} 1$' <<<"$metrics" \
  || fail "no reject_rbl_client count in /metrics: $(grep by_check <<<"$metrics")"
grep -q '^petrel_rejections_by_check_total{check="reject_rhsbl_sender"} 1$' <<<"$metrics" \
  || fail "no reject_rhsbl_sender count in /metrics"
grep -q '^petrel_dnsbl_rejections_total{list="bl.test"} 1$' <<<"$metrics" \
  || fail "no bl.test count in /metrics: $(grep dnsbl <<<"$metrics")"
grep -q '^petrel_dnsbl_rejections_total{list="dbl.test"} 1$' <<<"$metrics" \
  || fail "no dbl.test count in /metrics"

# The DNS server saw each client's query once per list (the resolver caches the answers).
q=$(grep -c '^2\.0\.0\.127\.bl\.test A$' "$DNS_QUERY_LOG" || true)
assert_eq 1 "$q" "queries for 2.0.0.127.bl.test A"
pass
