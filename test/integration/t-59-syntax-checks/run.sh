#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT whose default set
#   checks names as written: helo [reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname],
#   sender [reject_non_fqdn_sender], recipient [reject_non_fqdn_recipient, permit_mynetworks,
#   reject_unauth_destination]; a second listener "warned" on 127.0.0.1:$WARN_PORT whose set
#   has sender ['warn_if_reject reject_non_fqdn_sender']; swaks as the client, from 127.0.0.1.
# Postfix's syntax checks with its codes (postconf(5)): an invalid HELO name is 501 5.5.2, a
# HELO name, sender or recipient that is not fully qualified is 504 5.5.2; with
# delay_reject (the default) all of them answer at RCPT and are logged as "reject: RCPT".
# Address literals, the null sender and the bare recipient "postmaster" pass; a message with
# good names is delivered. warn_if_reject lets the message in and logs Postfix's
# reject_warning line with the reply the check would have given.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks

pick_ports WARN_PORT
write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: warned, address: '127.0.0.1:$WARN_PORT', restrictions: warned}
restrictions:
  warned:
    sender: ['warn_if_reject reject_non_fqdn_sender']
    recipient: [permit_mynetworks, reject_unauth_destination]
  default:
    helo: [reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname]
    sender: [reject_non_fqdn_sender]
    recipient: [reject_non_fqdn_recipient, permit_mynetworks, reject_unauth_destination]
"
start_petrel
wait_for 10 "port $WARN_PORT" port_open "$WARN_PORT"

# send EHLO FROM TO: runs swaks; RC is its exit status (24: RCPT refused), $T/swaks.out the dialog.
send() {
  RC=0
  swaks --server "127.0.0.1:$SMTP_PORT" --timeout 20 --ehlo "$1" --from "$2" --to "$3" \
    >"$T/swaks.out" 2>&1 || RC=$?
}
refused() {  # CODE TEXT: the RCPT got exactly this reply
  [[ "$RC" -eq 24 ]] || fail "expected RCPT refused (swaks 24), got $RC: $(tail -n 8 "$T/swaks.out")"
  grep -qF "<** $1" "$T/swaks.out" || fail "expected '$1' in: $(tail -n 8 "$T/swaks.out")"
}

send 'bad!name.example' alice@example.test alice@example.test
refused '501 5.5.2 <bad!name.example>: Helo command rejected: Invalid name'
send localhost alice@example.test alice@example.test
refused '504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname'
send client.example.test alice@localhost alice@example.test
refused '504 5.5.2 <alice@localhost>: Sender address rejected: need fully-qualified address'
send client.example.test alice@example.test bob@mailhost
refused '504 5.5.2 <bob@mailhost>: Recipient address rejected: need fully-qualified address'
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 501 5\.5\.2 <bad!name\.example>: Helo command rejected: Invalid name; from=<alice@example\.test> to=<alice@example\.test> proto=ESMTP helo=<bad!name\.example>' \
  "the invalid HELO refusal logged at RCPT"
assert_log 'reject: RCPT from unknown\[127\.0\.0\.1\]: 504 5\.5\.2 <bob@mailhost>' "the recipient refusal"

# What passes: an address literal as HELO, the null sender, bare postmaster, good names.
send '[127.0.0.1]' '<>' postmaster
[[ "$RC" -eq 0 ]] || fail "literal HELO, null sender, bare postmaster: swaks $RC: $(tail -n 8 "$T/swaks.out")"
send client.example.test alice@example.test bob@example.test
[[ "$RC" -eq 0 ]] || fail "good names: swaks $RC: $(tail -n 8 "$T/swaks.out")"
wait_for 10 "bob's message in his Maildir" maildir_at_least example.test/bob 1
wait_for 10 "the postmaster message for alice" maildir_at_least example.test/alice 1
assert_eq 0 "$(log_count 'reject: RCPT from .*(\[127\.0\.0\.1\]>|<>|postmaster>:)')" \
  "no refusal of what must pass"

# warn_if_reject: accepted, delivered, and the would-be refusal logged.
before=$(count_maildir example.test/alice)
RC=0
swaks --server "127.0.0.1:$WARN_PORT" --timeout 20 --ehlo client.example.test \
  --from alice@localhost --to alice@example.test >"$T/swaks.out" 2>&1 || RC=$?
[[ "$RC" -eq 0 ]] || fail "warn_if_reject refused the message: swaks $RC: $(tail -n 8 "$T/swaks.out")"
wait_for 10 "the warned message for alice" maildir_at_least example.test/alice $((before + 1))
assert_log 'NOQUEUE: reject_warning: RCPT from unknown\[127\.0\.0\.1\]: 504 5\.5\.2 <alice@localhost>: Sender address rejected: need fully-qualified address; from=<alice@localhost> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>' \
  "the reject_warning line"
# The only refusal of that sender is the one on the mx listener above.
assert_eq 1 "$(log_count 'NOQUEUE: reject: RCPT from .*<alice@localhost>: Sender address rejected')" \
  "refusals of alice@localhost (none on the warned listener)"
pass
