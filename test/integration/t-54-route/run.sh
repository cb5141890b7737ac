#!/usr/bin/env bash
# Setup: no server process: `petrel route` runs in the foreground against the quick-start
#   config (listener 127.0.0.1:$SMTP_PORT, never bound) plus a restriction set written in the
#   file, a transport table, a relayhost and a relay domain.
# `petrel route ADDRESS` explains what the server would do, from the code the server runs:
# the listener and its restriction set (with the file:line of a set the file defines), the
# check that decided, alias and mailbox lookups, the RCPT reply, and per final address the
# Maildir or the next hop and TLS policy. Exit 0 when RCPT is accepted, 1 when refused; --json
# gives the same as one JSON object.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config "
domains: {local: [example.test], relay: [partner.test]}
tables:
  transport: {type: inline, map: {example.org: 'smtp:[10.0.0.5]:2525'}}
  senders: {type: inline, map: {spammer@bad.test: 'REJECT spam sender'}}
relay:
  mynetworks: [127.0.0.1/32]
  relayhost: '[smarthost.test]:587'
  transport: transport
restrictions:
  default:
    sender: [check_sender_access senders]
    recipient: ['check_client_access cidr:$T/clients.cidr', permit_mynetworks,
                permit_sasl_authenticated, reject_unauth_destination]
  strict:
    recipient: [reject_unauth_destination, permit_mynetworks]
"
printf '192.0.2.66 REJECT listed as a spam source\n198.51.100.0/24 OK\n' >"$T/clients.cidr"

route() {  # route ARGS... : output in $T/route.out, exit status in $RC
  set +e
  "$PETREL" route --config "$CONF" "$@" >"$T/route.out" 2>"$T/route.err"
  RC=$?
  set -e
}
expect() {  # expect REGEX WHAT
  grep -Eq -- "$1" "$T/route.out" || fail "$2: no line matches /$1/ in:
$(cat "$T/route.out" "$T/route.err")"
}

# An alias to a local mailbox, from a client in mynetworks.
route postmaster@example.test
assert_eq 0 "$RC" "exit status for an accepted recipient"
expect "^1\. listener mx \(127\.0\.0\.1:$SMTP_PORT\), restrictions 'default'" "listener line"
expect "restrictions 'default' \(recipient stage, $CONF:[0-9]+:3\): permit_mynetworks \($CONF:[0-9]+:[0-9]+\) decided permit" "deciding check and its own file:line:column"
expect "alias postmaster@example\.test -> alice@example\.test \(inline:aliases\)" "alias step"
expect "mailbox alice@example\.test -> example\.test/alice/ \(inline:mailboxes\)" "mailbox step"
expect "RCPT TO:<postmaster@example\.test>: 250 2\.1\.5 Ok" "RCPT reply"
expect "alice@example\.test: deliver to Maildir $MAIL_ROOT/example\.test/alice/\$" "Maildir"

# Unknown user: the 550 the server gives.
route nobody@example.test
assert_eq 1 "$RC" "exit status for a refused recipient"
expect "RCPT TO:<nobody@example\.test>: 550 5\.1\.1 <nobody@example\.test>: Recipient address rejected: User unknown" "550 for an unknown user"

# An outsider trying to relay.
route someone@elsewhere.test --client 192.0.2.7
assert_eq 1 "$RC" "relay attempt refused"
expect "reject_unauth_destination \(.*\) decided reject" "the check that refused"
expect "554 5\.7\.1 <someone@elsewhere\.test>: Relay access denied" "relay refusal"

# An access map (cidr table) in the default set: a listed client is refused with its text,
# another network may relay through OK.
route alice@example.test --client 192.0.2.66
assert_eq 1 "$RC" "client in the access map refused"
expect "check_client_access cidr:$T/clients\.cidr \($CONF:[0-9]+:[0-9]+\) decided reject" "the access check decided"
expect "554 5\.7\.1 <unknown\[192\.0\.2\.66\]>: Client host rejected: listed as a spam source" "access map reply"
route x@elsewhere.test --client 198.51.100.9
assert_eq 0 "$RC" "OK in the access map permits relaying"

# The sender stage is evaluated at RCPT time, before the recipient list (Postfix's
# smtpd_delay_reject): even a client in mynetworks is refused for this sender.
route alice@example.test --from spammer@bad.test
assert_eq 1 "$RC" "sender access map refuses"
expect "restrictions 'default' \(sender stage, $CONF:[0-9]+:3\): check_sender_access senders \($CONF:[0-9]+:[0-9]+\) decided reject" "sender stage"
expect "554 5\.7\.1 <spammer@bad\.test>: Sender address rejected: spam sender" "sender access reply"
route alice@example.test --from friend@good.test
assert_eq 0 "$RC" "another sender passes the sender stage"
expect "\(sender stage, .*\): no check decided nothing \(dunno\)" "sender stage without a decision"

# Relaying from mynetworks: relayhost; transport entry; relay domain to its own MX.
route someone@elsewhere.test
assert_eq 0 "$RC" "relay from mynetworks"
expect "someone@elsewhere\.test: deliver by SMTP to \[smarthost\.test\]:587, TLS may" "relayhost"
route x@example.org
expect "x@example\.org: deliver by SMTP to \[10\.0\.0\.5\]:2525, TLS may" "transport entry"
route x@partner.test --client 192.0.2.7
assert_eq 0 "$RC" "relay domain accepted from anyone"
expect "domain partner\.test: relayed for \(domains\.relay\)" "relay domain class"
expect "x@partner\.test: deliver by SMTP to partner\.test \(MX lookup, port 25\), TLS may" "relay domain by MX"

# A restriction set from the file: its location is named.
route someone@elsewhere.test --listener mx --json >/dev/null
"$PYTHON" - "$T/route.out" <<'PY' || fail "route --json: $(cat "$T/route.out")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["listener"] == "mx" and r["accepted"] is True, r
assert r["final"] == [{"address": "someone@elsewhere.test", "kind": "smtp",
                       "target": "[smarthost.test]:587", "tls": "may"}], r["final"]
PY
"$PYTHON" - "$CONF" <<'PY'
import sys, yaml
path = sys.argv[1]
c = yaml.safe_load(open(path))
c["listeners"][0]["restrictions"] = "strict"
yaml.safe_dump(c, open(path, "w"), sort_keys=False)
PY
line=$(grep -n '^  strict:' "$CONF" | cut -d: -f1)
route someone@elsewhere.test
assert_eq 1 "$RC" "strict set refuses relaying even from mynetworks"
expect "restrictions 'strict' \(recipient stage, $CONF:$line:3\): reject_unauth_destination \(.*\) decided reject" "file:line of the deciding set"
pass
