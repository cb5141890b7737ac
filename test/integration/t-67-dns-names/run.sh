#!/usr/bin/env bash
# Setup: zone_dns.py on loopback serving good.test (MX and A), nullmx.test (null MX, RFC 7505),
#   PTR 2.0.0.127.in-addr.arpa -> mail.good.test whose A is 127.0.0.2, PTR 3.0.0.127 -> liar.test
#   whose A is elsewhere, and a silent zone slow.test; one `petrel serve` whose default set has
#   client [reject_unknown_client_hostname], sender [reject_unknown_sender_domain], recipient
#   [permit_mynetworks, reject_unauth_destination]; relay.mynetworks 127.0.0.1/32 and swaks
#   connecting from 127.0.0.2 / 127.0.0.3; and from 127.0.0.1, which /etc/hosts names.
# Postfix's codes: a client whose PTR name does not lead back to it gets 450 4.7.25; an unknown
# sender domain 450 4.1.8 (a retry is allowed, as Postfix's unknown_address_reject_code); a
# null-MX sender 550 5.7.27, final; a sender domain whose DNS does not answer 450 (never 5xx),
# within the resolver's timeouts; a good client and sender are delivered.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks

cat >"$T/zone.txt" <<'ZONE'
test.                    60 IN SOA ns.test. h.test. 1 7200 900 1209600 60
good.test.               60 IN MX  10 mail.good.test.
mail.good.test.          60 IN A   127.0.0.2
liar.test.               60 IN A   192.0.2.99
nullmx.test.             60 IN MX  0 .
2.0.0.127.in-addr.arpa.  60 IN PTR mail.good.test.
3.0.0.127.in-addr.arpa.  60 IN PTR liar.test.
;!silent slow.test
ZONE
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
smtp: {peername_lookup: true}
relay: {mynetworks: [127.0.0.1/32]}
restrictions:
  default:
    client: [reject_unknown_client_hostname]
    sender: [reject_unknown_sender_domain]
    recipient: [permit_mynetworks, reject_unauth_destination]
"
start_petrel

send() {  # FROM_IP SENDER
  RC=0
  swaks --server "127.0.0.1:$SMTP_PORT" --local-interface "$1" --timeout 30 \
    --ehlo mail.good.test --from "$2" --to alice@example.test >"$T/swaks.out" 2>&1 || RC=$?
}
refused() {  # TEXT
  [[ "$RC" -eq 24 ]] || fail "expected RCPT refused (swaks 24), got $RC: $(tail -n 8 "$T/swaks.out")"
  grep -qF "<** $1" "$T/swaks.out" || fail "expected '$1' in: $(tail -n 8 "$T/swaks.out")"
}

send 127.0.0.2 someone@good.test
[[ "$RC" -eq 0 ]] || fail "a confirmed client with a good sender: swaks $RC: $(tail -n 8 "$T/swaks.out")"
wait_for 10 "the message for alice" maildir_at_least example.test/alice 1

send 127.0.0.3 someone@good.test
refused '450 4.7.25 Client host rejected: cannot find your hostname, [127.0.0.3]'
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.3\]: 450 4\.7\.25 Client host rejected: cannot find your hostname, \[127\.0\.0\.3\]; from=<someone@good\.test> to=<alice@example\.test>' \
  "the client refusal logged as Postfix's"

send 127.0.0.2 someone@gone.test
refused '450 4.1.8 <someone@gone.test>: Sender address rejected: Domain not found'
send 127.0.0.2 someone@nullmx.test
refused '550 5.7.27 <someone@nullmx.test>: Sender address rejected: Domain nullmx.test does not accept mail (nullMX)'

start=$(date +%s)
send 127.0.0.2 someone@slow.test
refused '450 4.1.8 <someone@slow.test>: Sender address rejected: Domain not found'
took=$(( $(date +%s) - start ))
(( took < 20 )) || fail "a silent DNS held the RCPT for $took s"

# A client the hosts file names (Debian's /etc/hosts always has 127.0.0.1 localhost) is named
# from it, as the C library's resolver names it for Postfix: no PTR query reaches DNS.
if grep -Eq '^127\.0\.0\.1[[:space:]]+localhost([[:space:]]|$)' /etc/hosts; then
  send 127.0.0.1 someone@good.test
  [[ "$RC" -eq 0 ]] || fail "the client 127.0.0.1: swaks $RC: $(tail -n 8 "$T/swaks.out")"
  assert_log 'connect from localhost\[127\.0\.0\.1\]' "127.0.0.1 named localhost from /etc/hosts"
  if grep -q '^1\.0\.0\.127\.in-addr\.arpa' "$DNS_QUERY_LOG"; then
    fail "127.0.0.1's PTR was asked of DNS although /etc/hosts names it"
  fi
else
  log "/etc/hosts does not name 127.0.0.1 localhost: its part of the test is skipped"
fi
pass
