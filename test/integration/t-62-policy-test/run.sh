#!/usr/bin/env bash
# Setup: zone_dns.py on loopback serving a DNSBL bl.test that lists 192.0.2.2 (with a TXT
#   reason) and the sender domain good.test with an MX; a config (not served) whose default set
#   has client [reject_rbl_client bl.test], sender [reject_unknown_sender_domain] and recipient
#   [permit_mynetworks, reject_unauth_destination], dns.servers the zone server.
# `petrel policy test` runs the server's own checks for each stage of a simulated session with
# live DNS: it names the check that decided with its file:line:column, prints every DNS query
# with its answer, and exits 0 when DATA would be accepted, 1 when the session is refused; a
# listed client is refused at RCPT (delay_reject) with the DNSBL's reply.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

cat >"$T/zone.txt" <<'ZONE'
test.                    60 IN SOA ns.test. h.test. 1 7200 900 1209600 60
2.2.0.192.bl.test.       60 IN A   127.0.0.2
2.2.0.192.bl.test.       60 IN TXT "spam source"
good.test.               60 IN MX  10 mx.good.test.
ZONE
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
relay: {mynetworks: [127.0.0.1/32]}
restrictions:
  default:
    client: ['reject_rbl_client bl.test']
    sender: [reject_unknown_sender_domain]
    recipient: [permit_mynetworks, reject_unauth_destination]
"

RC=0
petrel policy test --client 192.0.2.2 --helo mx.good.test --from a@good.test \
  --to alice@example.test >"$T/listed.out" 2>&1 || RC=$?
assert_eq 1 "$RC" "exit status for a listed client"
assert_file_contains "$T/listed.out" 'dns: 2\.2\.0\.192\.bl\.test A -> Found 127\.0\.0\.2' "the DNSBL's A answer"
assert_file_contains "$T/listed.out" 'dns: 2\.2\.0\.192\.bl\.test TXT -> Found "spam source"' "the DNSBL's TXT answer"
assert_file_contains "$T/listed.out" "client stage, $CONF:[0-9]+:[0-9]+\): reject_rbl_client bl\.test \($CONF:[0-9]+:[0-9]+\) decided reject" \
  "the deciding check with its file:line:column"
assert_file_contains "$T/listed.out" '=> refused at RCPT: 554 5\.7\.1 Service unavailable; Client host \[192\.0\.2\.2\] blocked using bl\.test; spam source' \
  "the outcome"

RC=0
petrel policy test --client 192.0.2.3 --helo mx.good.test --from a@good.test \
  --to alice@example.test --to x@elsewhere.test >"$T/clean.out" 2>&1 || RC=$?
assert_eq 0 "$RC" "exit status for a clean client"
assert_file_contains "$T/clean.out" 'dns: 3\.2\.0\.192\.bl\.test A -> NxDomain' "the DNSBL's negative answer"
assert_file_contains "$T/clean.out" 'dns: good\.test MX -> Found 10 mx\.good\.test' "the sender domain's MX"
assert_file_contains "$T/clean.out" 'RCPT TO:<x@elsewhere\.test>: 554 5\.7\.1 <x@elsewhere\.test>: Relay access denied' \
  "the relay refusal of the second recipient"
assert_file_contains "$T/clean.out" '=> the message would be accepted' "the outcome"
pass
