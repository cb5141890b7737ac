#!/usr/bin/env bash
# Setup: one `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT
#   (status); quick-start config with log.file: var/log/mail.log; Python smtplib as the
#   client; pflogsumm (Debian) reads the log file afterwards.
# The mail log speaks Postfix's grammar: after 6 delivered messages (to alice, bob and the
# postmaster alias) and 7 refused RCPTs (unknown users, a relay attempt), pflogsumm
# --syslog-name=petrel reports exactly 6 received, 6 delivered, 0 deferred, 0 bounced and
# 7 rejected in its Grand Totals. The log file holds the same lines as stderr.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool pflogsumm

N=6
M=7
LOGFILE="$T/var/log/mail.log"
mkdir -p "$T/var/log"
write_config 'log: {file: var/log/mail.log}
relay: {mynetworks: []}'
start_petrel

N=$N M=$M py <<'EOF'
import os, smtplib
from lib import *
n, m = int(os.environ["N"]), int(os.environ["M"])
rcpts = ["alice@example.test", "bob@example.test", "postmaster@example.test"]
bad = ["nobody%d@example.test" % i for i in range(m - 1)] + ["someone@elsewhere.example"]
with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
    for i in range(n):
        msg = make_message("summary %d" % i, ["message %d" % i], to=rcpts[i % 3])
        refused = s.sendmail("sender%d@example.net" % i, [rcpts[i % 3]], msg)
        check(refused == {}, "refused: %r" % refused)
for b in bad:
    with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=15) as s:
        try:
            s.sendmail("sender@example.net", [b], make_message("bad", ["x"]))
            fail("%s was accepted" % b)
        except smtplib.SMTPRecipientsRefused as e:
            check(e.recipients[b][0] in (550, 554), "refusal for %s: %r" % (b, e.recipients))
EOF
wait_for 15 "$N delivered messages" eval '[[ $(( $(count_maildir example.test/alice) + $(count_maildir example.test/bob) )) -eq $N ]]'
wait_for 10 "the queue to be empty" queue_empty
stop_petrel

[[ -s "$LOGFILE" ]] || fail "log.file $LOGFILE is empty or missing"
# Same lines in the file as on stderr (the file has no non-log noise).
diff <(grep -E '^[A-Z][a-z]{2} [ 0-9]{2} [0-9:]{8} ' "$PETREL_LOG") "$LOGFILE" >"$T/log.diff" \
  || fail "log.file differs from stderr: $(head -20 "$T/log.diff")"

pflogsumm --syslog-name=petrel "$LOGFILE" >"$T/pflogsumm.out" 2>"$T/pflogsumm.err" \
  || fail "pflogsumm failed: $(cat "$T/pflogsumm.err")"
total() {  # LABEL: the number in front of LABEL in the Grand Totals section
  awk -v label="$1" '
    /^Grand Totals/ { in_totals = 1; next }
    in_totals && /^(Per-|Host\/Domain|Senders|Recipients)/ { in_totals = 0 }
    in_totals { line = $0; sub(/^ +/, "", line); n = line; sub(/[ ].*$/, "", n)
                rest = line; sub(/^[^ ]+ +/, "", rest)
                if (index(rest, label) == 1) { print n; exit } }' "$T/pflogsumm.out"
}
grep -q '^Grand Totals' "$T/pflogsumm.out" || fail "no Grand Totals in pflogsumm output: $(head -40 "$T/pflogsumm.out")"
assert_eq "$N" "$(total received)" "pflogsumm received"
assert_eq "$N" "$(total delivered)" "pflogsumm delivered"
assert_eq 0 "$(total deferred)" "pflogsumm deferred"
assert_eq 0 "$(total bounced)" "pflogsumm bounced"
assert_eq "$M" "$(total rejected)" "pflogsumm rejected"
assert_eq "$N" "$(total 'senders')" "pflogsumm senders"
assert_eq 2 "$(total recipients)" "pflogsumm recipients (alice, bob; postmaster is alice)"
assert_eq "$(total "bytes received")" "$(total "bytes delivered")" "pflogsumm bytes delivered vs received"
pass
