#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config: example.test with alice and bob,
#   relay.mynetworks: [127.0.0.1/32]) on $SMTP_PORT, restriction set default:
#     helo: "check_helo_access helo_acts" (inline: bad.helo.example -> REJECT go away helo);
#     recipient: "check_recipient_access rcpt_acts" (inline, one key per access(5) action below),
#       permit_mynetworks, reject_unauth_destination;
#     sender: "check_sender_mx_access mx_acts" (.bulk.example -> REJECT bulk mailer),
#       "check_sender_ns_access ns_acts" (.bad-dns.example -> REJECT bad name servers);
#   restriction_classes: only_local: [permit_mynetworks, reject], named by rcpt_acts.
#   zone_dns.py on 127.0.0.1:$DNS_PORT ($T/zone: MX and NS data, broken.example SERVFAIL),
#   Petrel's dns.servers.
#   Clients: swaks from 127.0.0.2 (outside mynetworks) and from 127.0.0.1.
# access(5) actions end to end: REJECT with text, DEFER_IF_PERMIT (a later permit, even
# permit_mynetworks, becomes 450 4.7.1), a restriction class (refuses 127.0.0.2, lets
# 127.0.0.1 through), WARN and INFO (a log line, the mail is delivered), REDIRECT (the message
# goes to bob's Maildir instead of alice's, logged "redirect:"), check_helo_access (with
# delay_reject the HELO list answers at RCPT), check_sender_mx_access and check_sender_ns_access
# against a real DNS server (a DNS failure is 450 4.4.3, never a reject).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks
"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  skip "cannot bind 127.0.0.2 (no 127.0.0.0/8 on lo)"
"$PYTHON" -c 'import dnslib' 2>/dev/null || skip "missing Python module dnslib (python3-dnslib)"

cat >"$T/zone" <<'EOF'
spam.example.        300 IN MX 10 mx.bulk.example.
mx.bulk.example.     300 IN A  192.0.2.66
ham.example.         300 IN MX 10 mx.ham.example.
mx.ham.example.      300 IN A  198.51.100.1
nsbad.example.       300 IN NS ns1.bad-dns.example.
ns1.bad-dns.example. 300 IN A  192.0.2.53
;!servfail broken.example
EOF
start_zone_dns "$T/zone"

write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
relay: {mynetworks: ['127.0.0.1/32']}
tables:
  helo_acts: {type: inline, map: {bad.helo.example: 'REJECT go away helo'}}
  rcpt_acts:
    type: inline
    map:
      rejected@example.test: 'REJECT no mail for this one'
      later@example.test: 'DEFER_IF_PERMIT greylisted, try again'
      classy@example.test: only_local
      alice+warn@example.test: 'WARN suspicious recipient'
      alice+info@example.test: 'INFO noted recipient'
      alice+redirect@example.test: 'REDIRECT bob@example.test'
      alice+typo@example.test: no_such_class
  mx_acts: {type: inline, map: {.bulk.example: 'REJECT bulk mailer'}}
  ns_acts: {type: inline, map: {.bad-dns.example: 'REJECT bad name servers'}}
restriction_classes:
  only_local: [permit_mynetworks, reject]
restrictions:
  default:
    helo: ['check_helo_access helo_acts']
    sender: ['check_sender_mx_access mx_acts', 'check_sender_ns_access ns_acts']
    recipient: ['check_recipient_access rcpt_acts', permit_mynetworks, reject_unauth_destination]
"
"$PETREL" check-config --config "$CONF" >"$T/check-config.out" 2>&1 ||
  fail "check-config: $(cat "$T/check-config.out")"
start_petrel

# swaks_rc ARGS...: runs swaks against 127.0.0.1 and sets RC; its transcript is in $T/swaks.out.
swaks_rc() {
  RC=0
  swaks --server 127.0.0.1 --port "$SMTP_PORT" --timeout 20 "$@" >"$T/swaks.out" 2>&1 || RC=$?
}
outside() { swaks_rc --local-interface 127.0.0.2 "$@"; }
transcript() { tail -n 12 "$T/swaks.out"; }
in_maildir() {
  local dir="$MAIL_ROOT/$1/new"
  [[ -d "$dir" ]] || { echo 0; return; }
  grep -rlF -- "$2" "$dir" | wc -l
}
maildir_holds() { [[ "$(in_maildir "$1" "$2")" -eq "$3" ]]; }

# ---- 1. REJECT text ----------------------------------------------------------------------
outside --helo outside.example.net --from ham@example.net --to rejected@example.test
assert_eq 24 "$RC" "REJECT: swaks exit status (24: recipient refused); transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <rejected@example\.test>: Recipient address rejected: no mail for this one' \
  "REJECT reply"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <rejected@example\.test>: Recipient address rejected: no mail for this one; from=<ham@example\.net> to=<rejected@example\.test> proto=ESMTP helo=<outside\.example\.net>' \
  "REJECT log line"

# ---- 2. DEFER_IF_PERMIT: the later permit becomes 450 4.7.1, from outside and inside --------
outside --helo outside.example.net --from ham@example.net --to later@example.test
assert_eq 24 "$RC" "DEFER_IF_PERMIT from 127.0.0.2: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +450 4\.7\.1 <later@example\.test>: Recipient address rejected: greylisted, try again' \
  "DEFER_IF_PERMIT reply to 127.0.0.2"
swaks_rc --helo inside.example.net --from ham@example.net --to later@example.test
assert_eq 24 "$RC" "DEFER_IF_PERMIT from 127.0.0.1 (permit_mynetworks permits): exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +450 4\.7\.1 <later@example\.test>: Recipient address rejected: greylisted, try again' \
  "DEFER_IF_PERMIT reply to 127.0.0.1"

# ---- 3. A restriction class: only_local = [permit_mynetworks, reject] ----------------------
outside --helo outside.example.net --from ham@example.net --to classy@example.test
assert_eq 24 "$RC" "class from 127.0.0.2: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 Access denied' "class reply to 127.0.0.2"
# 127.0.0.1: the class permits; classy@ is no mailbox, so the router answers 550 5.1.1 next.
swaks_rc --helo inside.example.net --from ham@example.net --to classy@example.test
assert_file_contains "$T/swaks.out" '^<\*\* +550 5\.1\.1 <classy@example\.test>' \
  "class from 127.0.0.1: past the restrictions, refused as an unknown user"
# An unknown class name: 451 4.3.5 and a warning, never a permanent refusal.
outside --helo outside.example.net --from ham@example.net --to alice+typo@example.test
assert_file_contains "$T/swaks.out" '^<\*\* +451 4\.3\.5 <alice\+typo@example\.test>: Recipient address rejected: Server configuration error' \
  "unknown class reply"
assert_log 'warning: access table inline:rcpt_acts: unknown restriction class: "no_such_class"' \
  "unknown class warning"

# ---- 4. WARN and INFO: a log line, and the mail is delivered -------------------------------
outside --helo outside.example.net --from ham@example.net --to alice+warn@example.test \
  --header 'Subject: t60 warn'
assert_eq 0 "$RC" "WARN: exit status; transcript: $(transcript)"
outside --helo outside.example.net --from ham@example.net --to alice+info@example.test \
  --header 'Subject: t60 info'
assert_eq 0 "$RC" "INFO: exit status; transcript: $(transcript)"
wait_for 15 "the WARN message in alice's Maildir" maildir_holds example.test/alice 'Subject: t60 warn' 1
wait_for 15 "the INFO message in alice's Maildir" maildir_holds example.test/alice 'Subject: t60 info' 1
assert_log 'NOQUEUE: warn: RCPT from unknown\[127\.0\.0\.2\]: suspicious recipient; from=<ham@example\.net> to=<alice\+warn@example\.test> proto=ESMTP helo=<outside\.example\.net>$' \
  "WARN log line"
assert_log 'NOQUEUE: info: RCPT from unknown\[127\.0\.0\.2\]: noted recipient; from=<ham@example\.net> to=<alice\+info@example\.test> proto=ESMTP helo=<outside\.example\.net>$' \
  "INFO log line"

# ---- 5. REDIRECT: the message goes to bob instead of alice ---------------------------------
outside --helo outside.example.net --from ham@example.net --to alice+redirect@example.test \
  --header 'Subject: t60 redirect'
assert_eq 0 "$RC" "REDIRECT: exit status; transcript: $(transcript)"
wait_for 15 "the redirected message in bob's Maildir" maildir_holds example.test/bob 'Subject: t60 redirect' 1
assert_eq 0 "$(in_maildir example.test/alice 'Subject: t60 redirect')" "the redirected message in alice's Maildir"
assert_log ': redirect: unknown\[127\.0\.0\.2\]: <alice\+redirect@example\.test>: Recipient address triggers REDIRECT bob@example\.test; from=<ham@example\.net> proto=ESMTP helo=<outside\.example\.net>$' \
  "redirect log line"
assert_log 'to=<bob@example\.test>, orig_to=<alice\+redirect@example\.test>, relay=virtual, .*status=sent' \
  "delivery line of the redirected message"

# ---- 6. check_helo_access ----------------------------------------------------------------
outside --helo bad.helo.example --from ham@example.net --to alice@example.test
assert_eq 24 "$RC" "HELO access: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <bad\.helo\.example>: Helo command rejected: go away helo' \
  "HELO access reply"
outside --helo good.helo.example --from ham@example.net --to alice@example.test \
  --header 'Subject: t60 good helo'
assert_eq 0 "$RC" "good HELO: exit status; transcript: $(transcript)"
wait_for 15 "the good-HELO message in alice's Maildir" maildir_holds example.test/alice 'Subject: t60 good helo' 1

# ---- 7. check_sender_mx_access / check_sender_ns_access over real DNS ----------------------
outside --helo outside.example.net --from a@spam.example --to alice@example.test
assert_eq 24 "$RC" "MX access: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <a@spam\.example>: Sender address rejected: bulk mailer' \
  "MX access reply"
assert_file_contains "$DNS_QUERY_LOG" '^mx\.bulk\.example\.? A$' "the A query for the MX host"
outside --helo outside.example.net --from a@nsbad.example --to alice@example.test
assert_eq 24 "$RC" "NS access: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +554 5\.7\.1 <a@nsbad\.example>: Sender address rejected: bad name servers' \
  "NS access reply"
outside --helo outside.example.net --from a@broken.example --to alice@example.test
assert_eq 24 "$RC" "MX lookup failure: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +450 4\.4\.3 <a@broken\.example>: Sender address rejected: unable to look up MX host for broken\.example' \
  "MX lookup failure reply (temporary)"
outside --helo outside.example.net --from a@ham.example --to alice@example.test \
  --header 'Subject: t60 ham mx'
assert_eq 0 "$RC" "a sender whose MX and NS are not listed: exit status; transcript: $(transcript)"
wait_for 15 "the ham-MX message in alice's Maildir" maildir_holds example.test/alice 'Subject: t60 ham mx' 1

stop_petrel
pass
