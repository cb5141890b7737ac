#!/usr/bin/env bash
# Setup: zone_dns.py on loopback serving SPF records for pass.spf.test (192.0.2.0/24 and
#   127.0.0.2), fail.spf.test (-all with exp=), down.spf.test (SERVFAIL); one `petrel serve`
#   (quick-start config) whose default set has sender [check_spf, reject_spf_fail,
#   defer_spf_temperror]; relay.mynetworks is 127.0.0.1/32 and swaks connects from 127.0.0.2
#   (outside it) or 127.0.0.1 (inside).
# Over the real SMTP path: a sender whose domain's SPF fails gets 550 5.7.23 with the domain's
# explanation (at RCPT: delay_reject), logged as Postfix's NOQUEUE line; a DNS failure gets
# 451 4.4.3, never a 5xx; a passing sender is delivered with a Received-SPF: field; mynetworks
# clients are not checked (no query for their sender's domain, no Received-SPF:).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks

cat >"$T/zone.txt" <<'ZONE'
spf.test.                60 IN SOA ns.spf.test. h.spf.test. 1 7200 900 1209600 60
pass.spf.test.           60 IN TXT "v=spf1 ip4:192.0.2.0/24 ip4:127.0.0.2 -all"
fail.spf.test.           60 IN TXT "v=spf1 ip4:192.0.2.0/24 -all exp=why.fail.spf.test"
why.fail.spf.test.       60 IN TXT "%{i} is not a mail server of %{d}"
mine.spf.test.           60 IN TXT "v=spf1 -all"
;!servfail down.spf.test
ZONE
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
relay: {mynetworks: [127.0.0.1/32]}
restrictions:
  default:
    sender: [check_spf, reject_spf_fail, defer_spf_temperror]
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

send 127.0.0.2 bob@fail.spf.test
refused '550 5.7.23 <bob@fail.spf.test>: Sender address rejected: SPF fail: 127.0.0.2 is not a mail server of fail.spf.test'
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 550 5\.7\.23 <bob@fail\.spf\.test>: Sender address rejected: SPF fail: 127\.0\.0\.2 is not a mail server of fail\.spf\.test; from=<bob@fail\.spf\.test> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>' \
  "Postfix's reject line for an SPF fail"

send 127.0.0.2 bob@down.spf.test
refused '451 4.4.3 <bob@down.spf.test>: Sender address rejected: SPF temporary error'

send 127.0.0.2 alice@pass.spf.test
[[ "$RC" -eq 0 ]] || fail "a passing sender was refused: swaks $RC: $(tail -n 8 "$T/swaks.out")"
wait_for 20 "the passing message in alice's Maildir" maildir_at_least example.test/alice 1
msg="$(ls -t "$MAIL_ROOT/example.test/alice/new/"* | head -1)"
grep -q '^Received-SPF: pass (domain of pass\.spf\.test designates 127\.0\.0\.2 as permitted sender) client-ip=127\.0\.0\.2; envelope-from="alice@pass\.spf\.test"; helo=client\.example\.test; identity=mailfrom' "$msg" ||
  fail "no Received-SPF: pass field in the delivered message: $(head -n 12 "$msg")"

# mynetworks: not checked, so no query for mine.spf.test at all, and no Received-SPF: field.
send 127.0.0.1 carol@mine.spf.test
[[ "$RC" -eq 0 ]] || fail "a mynetworks client was refused: swaks $RC: $(tail -n 8 "$T/swaks.out")"
wait_for 20 "the mynetworks message in alice's Maildir" maildir_at_least example.test/alice 2
msg="$(ls -t "$MAIL_ROOT/example.test/alice/new/"* | head -1)"
grep -q 'carol@mine.spf.test' "$msg" || fail "the newest message is not carol's"
if grep -q '^Received-SPF:' "$msg"; then fail "a mynetworks client's mail got Received-SPF:"; fi
if grep -q 'mine.spf.test' "$DNS_QUERY_LOG"; then fail "SPF was evaluated for a mynetworks client"; fi
pass
