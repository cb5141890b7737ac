#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config, relay.mynetworks: [127.0.0.1/32]) on
#   127.0.0.1:$SMTP_PORT, status on $STATUS_PORT, with greylisting {enabled: true, delay: 2s}
#   and the default set's recipient list [permit_mynetworks, permit_sasl_authenticated,
#   reject_unauth_destination, check_greylist]; a second listener "greyfirst" on $FIRST_PORT
#   with [check_greylist, permit_mynetworks, reject_unauth_destination]; swaks as the client,
#   from 127.0.0.2 (outside mynetworks) and from 127.0.0.1 (inside); the sqlite3 CLI reads
#   $STATE_DIR/greylist.db; curl reads /metrics.
# Built-in greylisting as postgrey does it: the first RCPT of a triplet is answered 450 4.2.0
# (logged as Postfix's "NOQUEUE: reject: RCPT"), so is an immediate retry; after the delay the
# same triplet passes and the message is delivered; a client in mynetworks is never greylisted.
# The triplet is a row in greylist.db, the outcomes are counted on /metrics, and a restart
# (SIGTERM, serve again) keeps the triplets: the passed one still passes at once.
# A config that uses check_greylist without greylisting.enabled fails check-config at the
# check's file:line:column.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks
need_tool sqlite3
need_tool curl
"$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  skip "cannot bind 127.0.0.2 (no 127.0.0.0/8 on lo)"

GREYLIST_DB="$STATE_DIR/greylist.db"

# ---- 0. check_greylist without greylisting.enabled is a config error -------------------------
write_config "
relay: {mynetworks: ['127.0.0.1/32']}
restrictions:
  default:
    recipient: [permit_mynetworks, reject_unauth_destination, check_greylist]
"
RC=0
"$PETREL" check-config --config "$CONF" >"$T/check-config.out" 2>&1 || RC=$?
[[ "$RC" != 0 ]] || fail "check-config accepted check_greylist with greylisting disabled"
assert_file_contains "$T/check-config.out" \
  "^$CONF:[0-9]+:[0-9]+: restrictions\\.default\\.recipient\\[2\\]: check_greylist: greylisting is not enabled \\(set greylisting\\.enabled: true\\)\$" \
  "check-config error for check_greylist"

pick_ports FIRST_PORT
write_config "
relay: {mynetworks: ['127.0.0.1/32']}
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: greyfirst, address: '127.0.0.1:$FIRST_PORT', restrictions: greyfirst}
greylisting: {enabled: true, delay: 2s, max_age: 1d}
restrictions:
  default:
    recipient: [permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination,
                check_greylist]
  greyfirst:
    recipient: [check_greylist, permit_mynetworks, reject_unauth_destination]
"
"$PETREL" check-config --config "$CONF" >"$T/check-config.out" 2>&1 ||
  fail "check-config: $(cat "$T/check-config.out")"
start_petrel
wait_for 10 "port $FIRST_PORT" port_open "$FIRST_PORT"

# swaks_rc ARGS...: runs swaks against 127.0.0.1 and sets RC; its transcript is in $T/swaks.out.
swaks_rc() {
  RC=0
  swaks --server 127.0.0.1 --port "${PORT:-$SMTP_PORT}" --timeout 20 "$@" >"$T/swaks.out" 2>&1 ||
    RC=$?
}
transcript() { tail -n 12 "$T/swaks.out"; }
outside() {
  swaks_rc --local-interface 127.0.0.2 --helo outside.example.net "$@"
}
in_maildir() {
  local dir="$MAIL_ROOT/$1/new"
  [[ -d "$dir" ]] || { echo 0; return; }
  grep -rlF -- "$2" "$dir" | wc -l
}
maildir_holds() { [[ "$(in_maildir "$1" "$2")" -eq "$3" ]]; }
greylist_rows() { sqlite3 -readonly "$GREYLIST_DB" "$1"; }
metric() {  # NAME_WITH_LABELS: its value on /metrics
  curl -fsS "http://127.0.0.1:$STATUS_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# ---- 1. first sight and an immediate retry: 450 4.2.0 ----------------------------------------
outside --from ham@example.net --to alice@example.test --header 'Subject: t64 greylisted'
assert_eq 24 "$RC" "first try from 127.0.0.2: exit status (24: RCPT refused); transcript: $(transcript)"
assert_file_contains "$T/swaks.out" \
  '^<\*\* +450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted, try again in 2 seconds' \
  "first try: the greylisting reply"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.2\]: 450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted, try again in 2 seconds; from=<ham@example\.net> to=<alice@example\.test> proto=ESMTP helo=<outside\.example\.net>$' \
  "reject line of the first try"
assert_eq "127.0.0.0/24|ham@example.net|alice@example.test|0" \
  "$(greylist_rows 'SELECT network, sender, recipient, passes FROM triplets')" "greylist.db after the first try"
outside --from ham@example.net --to alice@example.test --header 'Subject: t64 greylisted'
assert_eq 24 "$RC" "immediate retry: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" \
  '^<\*\* +450 4\.2\.0 <alice@example\.test>: Recipient address rejected: Greylisted, try again in [12] seconds?' \
  "immediate retry: still greylisted"
assert_eq 0 "$(in_maildir example.test/alice 'Subject: t64')" "greylisted messages in alice's Maildir"

# ---- 2. after the delay the triplet passes ----------------------------------------------------
sleep 3
outside --from ham@example.net --to alice@example.test --header 'Subject: t64 after the delay'
assert_eq 0 "$RC" "retry after 3s: exit status; transcript: $(transcript)"
wait_for 15 "the message in alice's Maildir" maildir_holds example.test/alice 'Subject: t64 after the delay' 1
assert_eq 1 "$(greylist_rows "SELECT passes FROM triplets WHERE sender = 'ham@example.net'")" \
  "passes of the triplet"
# The sender as postgrey normalises it: case and a +extension make no new triplet.
outside --from Ham+news@Example.NET --to alice@example.test --header 'Subject: t64 normalised'
assert_eq 0 "$RC" "Ham+news@Example.NET: exit status; transcript: $(transcript)"
wait_for 15 "the normalised sender's message" maildir_holds example.test/alice 'Subject: t64 normalised' 1
assert_eq 1 "$(greylist_rows 'SELECT count(*) FROM triplets')" "triplets after the normalised sender"

# ---- 3. mynetworks is never greylisted --------------------------------------------------------
swaks_rc --helo inside.example.net --from fresh@example.net --to bob@example.test \
  --header 'Subject: t64 from mynetworks'
assert_eq 0 "$RC" "from 127.0.0.1: exit status; transcript: $(transcript)"
wait_for 15 "the mynetworks message in bob's Maildir" maildir_holds example.test/bob 'Subject: t64 from mynetworks' 1
# ... not even where check_greylist comes first in the list (listener greyfirst).
PORT="$FIRST_PORT" swaks_rc --helo inside.example.net --from fresh@example.net \
  --to bob@example.test --header 'Subject: t64 greylist first'
assert_eq 0 "$RC" "from 127.0.0.1 on greyfirst: exit status; transcript: $(transcript)"
wait_for 15 "the greyfirst message in bob's Maildir" maildir_holds example.test/bob 'Subject: t64 greylist first' 1
assert_eq 0 "$(greylist_rows "SELECT count(*) FROM triplets WHERE sender = 'fresh@example.net'")" \
  "triplets recorded for a mynetworks client"

# ---- 4. /metrics ------------------------------------------------------------------------------
assert_eq 1 "$(metric 'petrel_greylist_defers_total{reason="new"}')" "metric: new defers"
assert_eq 1 "$(metric 'petrel_greylist_defers_total{reason="early_retry"}')" "metric: early retries"
assert_eq 2 "$(metric 'petrel_greylist_passes_total{reason="triplet"}')" "metric: triplet passes"
assert_eq 1 "$(metric 'petrel_greylist_passes_total{reason="local_client"}')" "metric: local clients"
assert_eq 0 "$(metric 'petrel_greylist_errors_total')" "metric: errors"

# ---- 5. petrel route reads the greylist and records nothing -----------------------------------
petrel route bob@example.test --from route@example.net --client 127.0.0.2 >"$T/route.out" 2>&1 ||
  true
assert_file_contains "$T/route.out" '450 4\.2\.0 <bob@example\.test>: Recipient address rejected: Greylisted' \
  "petrel route for a new triplet"
petrel route alice@example.test --from ham@example.net --client 127.0.0.2 >"$T/route.out" 2>&1 ||
  fail "petrel route for the passed triplet: $(cat "$T/route.out")"
assert_no_file_text() { ! grep -q "$2" "$1" || fail "$3: $(cat "$1")"; }
assert_no_file_text "$T/route.out" 'Greylisted' "petrel route for the passed triplet"
assert_eq 0 "$(greylist_rows "SELECT count(*) FROM triplets WHERE sender = 'route@example.net'")" \
  "triplets recorded by petrel route"

# ---- 6. a reload keeps the store and the counters ---------------------------------------------
kill -HUP "$PETREL_PID"
wait_for 10 "the reload" log_has 'petrel/master\[[0-9]+\]: reload -- version'
outside --from ham@example.net --to alice@example.test --header 'Subject: t64 after reload'
assert_eq 0 "$RC" "the passed triplet after a reload: exit status; transcript: $(transcript)"
wait_for 15 "the message after the reload" maildir_holds example.test/alice 'Subject: t64 after reload' 1
assert_eq 3 "$(metric 'petrel_greylist_passes_total{reason="triplet"}')" "metric: triplet passes after the reload"

# ---- 7. a restart keeps the triplets ----------------------------------------------------------
stop_petrel
start_petrel
outside --from ham@example.net --to alice@example.test --header 'Subject: t64 after restart'
assert_eq 0 "$RC" "the passed triplet after a restart: exit status; transcript: $(transcript)"
wait_for 15 "the message after the restart" maildir_holds example.test/alice 'Subject: t64 after restart' 1
# ... while a new triplet is still greylisted.
outside --from ham@example.net --to bob@example.test --header 'Subject: t64 new after restart'
assert_eq 24 "$RC" "a new triplet after the restart: exit status; transcript: $(transcript)"
assert_file_contains "$T/swaks.out" '^<\*\* +450 4\.2\.0 <bob@example\.test>: Recipient address rejected: Greylisted' \
  "a new triplet after the restart"
assert_eq 2 "$(greylist_rows 'SELECT count(*) FROM triplets')" "triplets at the end"

stop_petrel
pass
