#!/usr/bin/env bash
# Setup: zone_dns.py on 127.0.0.1:$DNS_PORT with the SPF records of example.net (pass for
#   127.0.0.2) and spffail.example (-all); Debian's policyd-spf (postfix-policyd-spf-python,
#   unchanged, through a wrapper that points pyspf's resolver at that DNS) behind
#   `socat TCP-LISTEN:$SPF_PORT,fork EXEC:...`; postgrey on 127.0.0.1:$PG_PORT (delay 2s);
#   a service that accepts and never answers (start_silent_server $HANG_PORT); one that closes
#   every connection at once (socat ... EXEC:/bin/true on $CLOSE_PORT); one `petrel serve` with
#   a listener per service: mx ($SMTP_PORT, SPF), grey ($GREY_L, postgrey), hang ($HANG_L),
#   lenient ($LENIENT_L, the hanging service with default_action=DUNNO), closing ($CLOSE_L).
#   The client is swaks bound to 127.0.0.2 (outside mynetworks 127.0.0.1/32).
# check_policy_service as Postfix's SMTPD_POLICY_README describes it: policyd-spf's pass
# prepends its Received-SPF field, its fail is its "550 5.7.23" text at RCPT; three RCPTs of
# one session use one connection; postgrey defers a new triplet and passes it after the delay
# (with its X-Greylist field); a service that hangs gives default_action (451 4.3.5) once its
# timeout passed, and DUNNO where the check says so; one that closes gives default_action after
# try_limit (2) connections, each logged as "problem talking to server"; `petrel route`
# says the service was not asked (and postgrey saw no question); `petrel policy test` asks
# them (postgrey's DEFER_IF_PERMIT is its decision, 450 4.2.0 at RCPT, with the attributes sent
# and the reply in its trace; the hanging service gives default_action after the timeout).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks socat postgrey policyd-spf
"$PYTHON" -c 'import spf_engine.policyd_spf, spf' 2>/dev/null ||
  skip "missing Python modules spf_engine / spf (postfix-policyd-spf-python)"

# Postgrey on Debian: --greylist-action defaults to DEFER_IF_PERMIT, which the test keeps (set
# PG_ACTION=DEFER to try the other).
PG_ACTION="${PG_ACTION:-DEFER_IF_PERMIT}"

cat >"$T/zone.txt" <<'EOF'
example.net. 60 IN SOA ns.example.net. hostmaster.example.net. 1 3600 600 86400 60
example.net. 60 IN TXT "v=spf1 ip4:127.0.0.2 -all"
spffail.example. 60 IN TXT "v=spf1 -all"
EOF
start_zone_dns "$T/zone.txt"

pick_ports SPF_PORT PG_PORT HANG_PORT CLOSE_PORT GREY_L HANG_L LENIENT_L CLOSE_L

# policyd-spf as Debian ships it, with dnspython's default resolver on our DNS. Its default
# skip_addresses (127.0.0.0/8) would answer dunno for every loopback client.
cat >"$T/spf.conf" <<'EOF'
debugLevel = 1
TestOnly = 1
HELO_reject = False
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 192.0.2.255/32
EOF
# pyspf resolves with dnspython when it is installed, else with pydns (python3-dns, which
# satisfies the package's dependency as well): point whichever it took at our DNS.
cat >"$T/policyd-spf-wrapper.py" <<'EOF'
import os, sys
import spf
port = int(os.environ["DNS_PORT"])
if spf.DNSLookup is spf.DNSLookup_dnspython:
    import dns.resolver
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ["127.0.0.1"]
    r.port = port
    r.lifetime = 5
    dns.resolver.default_resolver = r
else:
    import DNS
    DNS.defaults["server"] = ["127.0.0.1"]
    DNS.defaults["port"] = port
    DNS.defaults["timeout"] = 5
from spf_engine.policyd_spf import main
sys.argv = ["policyd-spf", sys.argv[1]]
sys.exit(main())
EOF
export DNS_PORT
socat -d -d TCP-LISTEN:"$SPF_PORT",bind=127.0.0.1,fork,reuseaddr \
  EXEC:"$PYTHON $T/policyd-spf-wrapper.py $T/spf.conf" 2>"$T/socat-spf.log" &
EXTRA_PIDS+=($!)
socat -d -d TCP-LISTEN:"$CLOSE_PORT",bind=127.0.0.1,fork,reuseaddr EXEC:/bin/true \
  2>"$T/socat-close.log" &
EXTRA_PIDS+=($!)
mkdir -p "$T/pg"
pg_user=(--user="$(id -un)" --group="$(id -gn)")
postgrey --inet=127.0.0.1:"$PG_PORT" --dbdir="$T/pg" --delay=2 --pidfile="$T/pg.pid" \
  "${pg_user[@]}" --greylist-action="$PG_ACTION" >"$T/postgrey.log" 2>&1 &
EXTRA_PIDS+=($!)
start_silent_server "$HANG_PORT"
wait_for 10 "socat for policyd-spf on $SPF_PORT" port_open "$SPF_PORT"
wait_for 10 "the closing service on $CLOSE_PORT" port_open "$CLOSE_PORT"
wait_for 20 "postgrey on $PG_PORT" port_open "$PG_PORT"

write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: grey, address: '127.0.0.1:$GREY_L', restrictions: grey}
  - {name: hang, address: '127.0.0.1:$HANG_L', restrictions: hang}
  - {name: lenient, address: '127.0.0.1:$LENIENT_L', restrictions: lenient}
  - {name: closing, address: '127.0.0.1:$CLOSE_L', restrictions: closing}
dns: {servers: ['127.0.0.1:$DNS_PORT']}
policy_service: {timeout: 2s, retry_delay: 0s}
restrictions:
  default:
    recipient: [reject_unauth_destination, 'check_policy_service inet:127.0.0.1:$SPF_PORT']
  grey:
    recipient: [reject_unauth_destination, 'check_policy_service inet:127.0.0.1:$PG_PORT']
  hang:
    recipient: [reject_unauth_destination,
                'check_policy_service { inet:127.0.0.1:$HANG_PORT, try_limit=1 }']
  lenient:
    recipient: [reject_unauth_destination,
                'check_policy_service { inet:127.0.0.1:$HANG_PORT, timeout=1s, try_limit=1, default_action=DUNNO }']
  closing:
    recipient: [reject_unauth_destination, 'check_policy_service inet:127.0.0.1:$CLOSE_PORT']
"
start_petrel
for p in "$GREY_L" "$HANG_L" "$LENIENT_L" "$CLOSE_L"; do wait_for 10 "port $p" port_open "$p"; done

# send PORT FROM TO: swaks from 127.0.0.2; RC its exit status (24: RCPT refused).
send() {
  RC=0
  swaks --server "127.0.0.1:$1" --local-interface 127.0.0.2 --timeout 30 \
    --ehlo client.example.net --from "$2" --to "$3" >"$T/swaks.out" 2>&1 || RC=$?
}
refused() {  # TEXT: the RCPT got this reply
  [[ "$RC" -eq 24 ]] || fail "expected RCPT refused (swaks 24), got $RC: $(tail -n 8 "$T/swaks.out")"
  grep -qF "<** $1" "$T/swaks.out" || fail "expected '$1' in: $(grep -F '<**' "$T/swaks.out")"
}
accepted() {  # WHAT
  [[ "$RC" -eq 0 ]] || fail "$1: swaks $RC: $(tail -n 8 "$T/swaks.out")"
}
connections() { grep -c 'accepting connection from' "$1" || true; }
newest() { ls -t "$MAIL_ROOT/$1/new/"* | head -n 1; }

# --- policyd-spf: a pass prepends Received-SPF; three recipients, one connection.
spf_before=$(connections "$T/socat-spf.log")  # the port_open probe was one
send "$SMTP_PORT" alice@example.net alice@example.test,bob@example.test,postmaster@example.test
accepted "SPF pass"
wait_for 10 "bob's message" maildir_at_least example.test/bob 1
assert_file_contains "$(newest example.test/bob)" \
  '^Received-SPF: Pass \(mailfrom\) identity=mailfrom; client-ip=127\.0\.0\.2; helo=client\.example\.net; envelope-from=alice@example\.net' \
  "policyd-spf's header in bob's message"
assert_eq $((spf_before + 1)) "$(connections "$T/socat-spf.log")" "connections to policyd-spf for one session of three RCPTs"
assert_eq 1 "$(grep -c '^Received-SPF:' "$(newest example.test/bob)")" "Received-SPF fields (one per message)"

# --- policyd-spf: a fail is its 550 5.7.23 at RCPT, logged in Postfix's reject format.
send "$SMTP_PORT" mallory@spffail.example bob@example.test
refused '550 5.7.23 <bob@example.test>: Recipient address rejected: Message rejected due to: SPF fail - not authorized.'
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 550 5\.7\.23 <bob@example\.test>: Recipient address rejected: Message rejected due to: SPF fail' \
  "the SPF refusal in the log"

# --- postgrey: a new triplet is deferred, the same one passes after the delay.
send "$GREY_L" carol@example.net alice@example.test
# postgrey puts 4.2.0 at the start of its text (it sees etrn_domain, so takes us for Postfix
# >= 2.3), which the access(5) parser turns into the reply's enhanced code, as Postfix does.
[[ "$RC" -eq 24 ]] || fail "postgrey: expected RCPT refused, got swaks $RC: $(tail -n 8 "$T/swaks.out")"
grep -Eq '<\*\* 450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted, see http://postgrey' \
  "$T/swaks.out" || fail "postgrey's deferral: $(grep -F '<**' "$T/swaks.out")"
before=$(count_maildir example.test/alice)
sleep 3  # postgrey --delay=2: the retry must come later than that
send "$GREY_L" carol@example.net alice@example.test
accepted "postgrey after the delay"
wait_for 10 "the greylisted message for alice" maildir_at_least example.test/alice $((before + 1))
assert_file_contains "$(newest example.test/alice)" '^X-Greylist: delayed [0-9]+ seconds by postgrey' \
  "postgrey's X-Greylist field"

# --- a service that never answers: default_action once the 2s timeout passed (one try).
start=$SECONDS
send "$HANG_L" dave@example.net bob@example.test
took=$((SECONDS - start))
refused '451 4.3.5 <bob@example.test>: Recipient address rejected: Server configuration problem'
((took >= 1 && took <= 8)) || fail "the hanging service answered after ${took}s (timeout 2s)"
assert_log "warning: problem talking to server inet:127\.0\.0\.1:$HANG_PORT: timeout after 2s" \
  "the timeout warning"
# ... and with default_action=DUNNO in the check, the message goes in.
before=$(count_maildir example.test/bob)
send "$LENIENT_L" dave@example.net bob@example.test
accepted "default_action=DUNNO"
wait_for 10 "the lenient message for bob" maildir_at_least example.test/bob $((before + 1))

# --- a service that closes at once: default_action after try_limit (2) connections.
close_before=$(connections "$T/socat-close.log")
send "$CLOSE_L" erin@example.net bob@example.test
refused '451 4.3.5 <bob@example.test>: Recipient address rejected: Server configuration problem'
assert_eq $((close_before + 2)) "$(connections "$T/socat-close.log")" "connections to the closing service (try_limit 2)"
# "lost connection", or a reset when our request reached the closed socket first.
assert_eq 2 "$(log_count "warning: problem talking to server inet:127\.0\.0\.1:$CLOSE_PORT: (lost connection|connection reset by peer|broken pipe)$")" \
  "warnings for the closing service"

# --- petrel route explains without asking (a question would make postgrey record a triplet).
pg_rows_before=$(grep -c 'action=greylist' "$T/postgrey.log" || true)
RC=0
"$PETREL" route --config "$CONF" --listener grey --client 127.0.0.2 bob@example.test \
  >"$T/route.out" 2>&1 || RC=$?
assert_eq 0 "$RC" "petrel route's exit status ($(cat "$T/route.out"))"
grep -Eq "check_policy_service inet:127\.0\.0\.1:$PG_PORT \(recipient stage\): not asked here" \
  "$T/route.out" || fail "petrel route's trace: $(cat "$T/route.out")"
assert_eq "$pg_rows_before" "$(grep -c 'action=greylist' "$T/postgrey.log" || true)" \
  "postgrey questions during petrel route"

# --- petrel policy test asks the services for real, through the server's client: postgrey's
# DEFER_IF_PERMIT for a new triplet becomes the 450 at RCPT, with the request's attributes and
# the reply in the trace; the hanging service gives default_action after its timeout.
RC=0
"$PETREL" policy test --config "$CONF" --listener grey --client 127.0.0.2 \
  --helo probe.example.net --from frank@example.net --to alice@example.test \
  >"$T/policy-test.out" 2>&1 || RC=$?
assert_eq 1 "$RC" "petrel policy test's exit status for a greylisted triplet ($(cat "$T/policy-test.out"))"
assert_file_contains "$T/policy-test.out" \
  "policy inet:127\.0\.0\.1:$PG_PORT: sent request=smtpd_access_policy protocol_state=RCPT protocol_name=ESMTP helo_name=probe\.example\.net (.* )?sender=frank@example\.net recipient=alice@example\.test .*client_address=127\.0\.0\.2 " \
  "the request's attributes in the trace"
assert_file_contains "$T/policy-test.out" \
  "policy inet:127\.0\.0\.1:$PG_PORT: replied action=$PG_ACTION .*Greylisted, see http://postgrey" \
  "postgrey's reply in the trace"
assert_file_contains "$T/policy-test.out" \
  '^[0-9]+\. RCPT TO:<alice@example\.test>: 450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted, see http://postgrey' \
  "the RCPT verdict"
if [[ "$PG_ACTION" == DEFER_IF_PERMIT ]]; then
  assert_file_contains "$T/policy-test.out" \
    "DEFER_IF_PERMIT of check_policy_service inet:127\.0\.0\.1:$PG_PORT still pending at the end" \
    "the pending DEFER_IF_PERMIT in the trace"
fi
assert_file_contains "$T/policy-test.out" \
  '^=> refused at RCPT: 450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted' \
  "petrel policy test's decision"
grep -q 'action=greylist.*sender=frank@example\.net' "$T/postgrey.log" ||
  fail "postgrey did not see petrel policy test's question: $(tail -n 5 "$T/postgrey.log")"
start=$SECONDS
RC=0
"$PETREL" policy test --config "$CONF" --listener hang --client 127.0.0.2 \
  --helo probe.example.net --from frank@example.net --to bob@example.test \
  >"$T/policy-hang.out" 2>&1 || RC=$?
took=$((SECONDS - start))
assert_eq 1 "$RC" "petrel policy test's exit status for the hanging service ($(cat "$T/policy-hang.out"))"
((took >= 1 && took <= 8)) || fail "petrel policy test on the hanging service took ${took}s (timeout 2s)"
assert_file_contains "$T/policy-hang.out" \
  "policy inet:127\.0\.0\.1:$HANG_PORT: failed: .*timeout after 2s \(the check answers its default_action\)" \
  "the failed request in the trace"
assert_file_contains "$T/policy-hang.out" \
  '^=> refused at RCPT: 451 4\.3\.5 <bob@example\.test>: Recipient address rejected: Server configuration problem' \
  "default_action as petrel policy test's decision"

stop_petrel
pass
