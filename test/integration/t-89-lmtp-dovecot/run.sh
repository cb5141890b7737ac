#!/usr/bin/env bash
# LMTP delivery to a real Dovecot (issue 14), and Petrel's own Sieve seen through Dovecot IMAP.
# Setup: one Dovecot (dovecot-lmtpd, dovecot-imapd, dovecot-sieve; `dovecot -F` as root, mail
#   as nobody) under $T/dc: LMTP on the unix socket $T/dc/run/lmtp and on 127.0.0.1:$LMTP_PORT,
#   IMAP on 127.0.0.1:$IMAP_PORT, passwd-file users alice and bob (not carol), Maildirs at
#   Petrel's mail_root ($MAIL_ROOT/%d/%n), a sieve_before script (X-Spam-Flag: YES -> "spam").
#   Petrel on $SMTP_PORT with delivery.transport lmtp:unix:$T/dc/run/lmtp and a relay.transport
#   entry sending bob to lmtp:inet:127.0.0.1:$LMTP_PORT; carol is a mailbox Petrel knows.
# Checks:
# - mail to alice goes over the unix socket (petrel/lmtp log line, relay=mail.example.test[path])
#   and imaplib sees it in INBOX;
# - spam to alice is filed by Dovecot's Sieve into "spam", listed there by imaplib;
# - one message from alice to alice, carol and bob: alice delivered (unix), bob delivered (inet,
#   relay=127.0.0.1[127.0.0.1]:port), carol bounced 5.1.1 with Dovecot's reply; the 5.1.1 DSN
#   reaches alice's INBOX (through LMTP again);
# - Dovecot stopped: the message is deferred (4.4.1, connect to ...), and delivered after the
#   restart and `petrel queue flush`;
# - an inet nexthop that is a host name: lmtp.example.test has two A records on the zone DNS
#   (zone_dns.py on $DNS_PORT, Petrel's dns.servers), 127.0.0.2 first (nothing listens) then
#   127.0.0.1 (Dovecot): the refused address is logged and the next one delivers; and
#   inet:localhost comes from /etc/hosts without DNS;
# - separately: Petrel's Maildir agent with Petrel's Sieve (global_before: fileinto "spam",
#   addflag "\\Flagged") and Dovecot's IMAP lists the message in bob's spam with \Flagged;
# - connection reuse against a scripted peer (rset_peer.py): the next message starts with RSET,
#   and a cached connection the server dropped (421 to RSET) is replaced without a deferral.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool dovecot sievec
[[ -x /usr/lib/dovecot/lmtp ]] || skip "missing dovecot-lmtpd"
[[ -x /usr/lib/dovecot/imap ]] || skip "missing dovecot-imapd"
[[ "$(id -u)" -eq 0 ]] || skip "dovecot -F with its own mail user needs root"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

pick_ports LMTP_PORT IMAP_PORT
DC="$T/dc"
mkdir -p "$DC/run" "$DC/state" "$MAIL_ROOT"
chmod 755 "$T"
chown -R nobody:nogroup "$MAIL_ROOT"
printf 'alice@example.test:{PLAIN}alice-pw::::::\nbob@example.test:{PLAIN}bob-pw::::::\n' >"$DC/users"
cat >"$DC/before.sieve" <<'SIEVE'
require "fileinto";
if header :contains "X-Spam-Flag" "YES" { fileinto "spam"; stop; }
SIEVE
sievec "$DC/before.sieve" || fail "sievec failed"
cat >"$DC/dovecot.conf" <<DCEOF
# Written by t-89-lmtp-dovecot.
protocols = lmtp imap
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/dovecot.log
ssl = no
listen = 127.0.0.1
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:$MAIL_ROOT/%d/%n
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
default_internal_user = nobody
default_login_user = nobody
passdb {
  driver = passwd-file
  args = $DC/users
}
userdb {
  driver = passwd-file
  args = $DC/users
  default_fields = uid=nobody gid=nogroup home=$MAIL_ROOT/%d/%n
}
namespace inbox {
  inbox = yes
  separator = .
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    address = 127.0.0.1
    port = $LMTP_PORT
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
protocol lmtp {
  mail_plugins = sieve
  postmaster_address = postmaster@example.test
}
# fileinto "spam" creates the folder, as the course's LDA setup does.
lda_mailbox_autocreate = yes
lda_mailbox_autosubscribe = yes
plugin {
  sieve_before = $DC/before.sieve
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
DCEOF
SOCK="$DC/run/lmtp"

start_dovecot() {
  dovecot -F -c "$DC/dovecot.conf" >>"$DC/stdout.log" 2>&1 &
  DOVECOT_PID=$!
  EXTRA_PIDS+=("$DOVECOT_PID")
  wait_for 20 "Dovecot's LMTP socket and IMAP port" dovecot_up
}
dovecot_up() {
  kill -0 "$DOVECOT_PID" 2>/dev/null || fail "dovecot exited: $(cat "$DC/stdout.log" "$DC/dovecot.log" 2>/dev/null)"
  [[ -S "$SOCK" ]] && port_open "$LMTP_PORT" && port_open "$IMAP_PORT"
}
stop_dovecot() {
  kill -TERM "$DOVECOT_PID"
  wait_for 20 "dovecot (pid $DOVECOT_PID) to exit" not_running "$DOVECOT_PID"
  wait "$DOVECOT_PID" 2>/dev/null || true
}

# imap USER FOLDER: the folder's messages as Dovecot's IMAP lists them ("FLAGS<TAB>Subject").
imap() { py "$HERE/imap_list.py" "$IMAP_PORT" "$1@example.test" "$1-pw" "$2"; }
imap_has() { imap "$1" "$2" | grep -qF -- "$3"; }  # USER FOLDER TEXT

# send FROM SUBJECT [HEADER] -- TO...
send() {
  local from="$1" subject="$2" header=""
  shift 2
  if [[ "$1" != "--" ]]; then header="$1"; shift; fi
  shift
  py - "$from" "$subject" "$header" "$@" <<'PY'
import os, smtplib, sys
sender, subject, header, rcpts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\n%s\r\nHello over LMTP.\r\n" % (
    sender, ", ".join(rcpts), subject, header + "\r\n" if header else "")
with smtplib.SMTP("127.0.0.1", int(os.environ["SMTP_PORT"]), timeout=30) as s:
    s.sendmail(sender, rcpts, msg)
PY
}

start_dovecot
write_config "
tables:
  mailboxes:
    map: {carol@example.test: example.test/carol/}
  transport:
    type: inline
    map: {bob@example.test: 'lmtp:inet:127.0.0.1:$LMTP_PORT'}
relay:
  transport: transport
delivery:
  transport: \"lmtp:unix:$SOCK\"
queue: {min_backoff: 1h}
"
start_petrel

# ---- 1. INBOX over the unix socket -------------------------------------------------------------
send s@example.net "plain hello" -- alice@example.test
wait_for 20 "alice's mail in INBOX over IMAP" imap_has alice INBOX "plain hello"
assert_log "petrel/lmtp\[[0-9]+\]: [0-9A-F]+: to=<alice@example.test>, relay=mail\.example\.test\[$SOCK\], delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 <alice@example\.test> [^ ]+ Saved\)" \
  "the lmtp log line for alice"
[[ -z "$(find "$MAIL_ROOT/example.test/alice" -maxdepth 1 -name '.spam')" ]] || fail "spam folder before any spam"

# ---- 2. Dovecot's own Sieve files spam --------------------------------------------------------
send s@example.net "buy now" "X-Spam-Flag: YES" -- alice@example.test
wait_for 20 "the spam in alice's spam folder over IMAP" imap_has alice spam "buy now"
if imap_has alice INBOX "buy now"; then fail "the spam is in INBOX too"; fi
# Filed as a new message: \Recent, not \Seen.
spam_line="$(imap alice spam)"
[[ "$spam_line" == *$'\\Recent\tbuy now'* && "$spam_line" != *'\Seen'* ]] ||
  fail "alice's spam flags: $spam_line"

# ---- 3. one message, three recipients, three outcomes -----------------------------------------
send alice@example.test "three ways" -- alice@example.test carol@example.test bob@example.test
wait_for 20 "the message in bob's INBOX (inet)" imap_has bob INBOX "three ways"
wait_for 20 "the message in alice's INBOX (unix)" imap_has alice INBOX "three ways"
wait_for 20 "carol's bounce" log_has "to=<carol@example.test>, relay=.*dsn=5\.1\.1, status=bounced"
assert_log "petrel/lmtp\[[0-9]+\]: [0-9A-F]+: to=<bob@example.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$LMTP_PORT, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 <bob@example\.test>" \
  "bob over lmtp:inet"
assert_log "petrel/lmtp\[[0-9]+\]: [0-9A-F]+: to=<carol@example.test>, relay=mail\.example\.test\[$SOCK\], .*dsn=5\.1\.1, status=bounced \(host mail\.example\.test\[$SOCK\] said: 550 5\.1\.1 <carol@example\.test> User doesn't exist" \
  "carol's bounce names Dovecot's reply"
wait_for 20 "the 5.1.1 DSN in alice's INBOX" imap_has alice INBOX "Undelivered Mail Returned to Sender"
dsn_file=$(grep -rl "^Status: 5\.1\.1" "$MAIL_ROOT/example.test/alice/new" "$MAIL_ROOT/example.test/alice/cur" 2>/dev/null | head -1)
[[ -n "$dsn_file" ]] || fail "no DSN with Status: 5.1.1 in alice's Maildir"
grep -q "Final-Recipient: rfc822; *carol@example.test" "$dsn_file" || fail "the DSN is not about carol: $(cat "$dsn_file")"
grep -qi "Diagnostic-Code: smtp; *550 5\.1\.1" "$dsn_file" || fail "the DSN lacks Dovecot's reply: $(cat "$dsn_file")"

# ---- 4. Dovecot down: deferred, then flushed --------------------------------------------------
stop_dovecot
send s@example.net "while down" -- alice@example.test
wait_for 20 "the deferral" log_has "to=<alice@example.test>, relay=none, .*dsn=4\.4\.1, status=deferred \(connect to mail\.example\.test\[$SOCK\]: "
assert_eq 1 "$(queue_count)" "messages queued while Dovecot is down"
start_dovecot
petrel queue flush >/dev/null || fail "petrel queue flush failed"
wait_for 30 "the deferred message in INBOX after the flush" imap_has alice INBOX "while down"
wait_for 10 "an empty queue" queue_empty
stop_petrel

# ---- 4b. a host name's addresses tried in turn; /etc/hosts before DNS ------------------------
cat >"$T/zone" <<'ZONE'
example.test. 60 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60
lmtp.example.test. 60 IN A 127.0.0.2
lmtp.example.test. 60 IN A 127.0.0.1
ZONE
start_zone_dns "$T/zone"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
tables:
  transport:
    type: inline
    map: {bob@example.test: 'lmtp:inet:lmtp.example.test:$LMTP_PORT',
          alice@example.test: 'lmtp:inet:localhost:$LMTP_PORT'}
relay:
  transport: transport
queue: {min_backoff: 1h}
"
start_petrel
deferred_4b="$(log_count "status=deferred")"
send s@example.net "by name" -- bob@example.test
wait_for 20 "bob's mail over lmtp.example.test" imap_has bob INBOX "by name"
R='lmtp\.example\.test'
assert_log "petrel/lmtp\[[0-9]+\]: connect to $R\[127\.0\.0\.2\]:$LMTP_PORT: connection refused" \
  "the refused first address logged"
assert_log "petrel/lmtp\[[0-9]+\]: [0-9A-F]+: to=<bob@example.test>, relay=$R\[127\.0\.0\.1\]:$LMTP_PORT, .*dsn=2\.0\.0, status=sent" \
  "bob delivered at the second address"
grep -qx "lmtp.example.test A" "$DNS_QUERY_LOG" || fail "no A query: $(cat "$DNS_QUERY_LOG")"
grep -qx "lmtp.example.test AAAA" "$DNS_QUERY_LOG" || fail "no AAAA query: $(cat "$DNS_QUERY_LOG")"
send s@example.net "to localhost" -- alice@example.test
wait_for 20 "alice's mail over inet:localhost" imap_has alice INBOX "to localhost"
assert_log "petrel/lmtp\[[0-9]+\]: [0-9A-F]+: to=<alice@example.test>, relay=localhost\[(127\.0\.0\.1|::1)\]:$LMTP_PORT, " \
  "alice delivered over inet:localhost"
if grep -q "^localhost " "$DNS_QUERY_LOG"; then fail "localhost was asked of DNS"; fi
assert_eq "$deferred_4b" "$(log_count "status=deferred")" "deferrals in the address scenario"
stop_petrel
grep -q "Error:\|Fatal:" "$DC/dovecot.log" && log "dovecot logged errors: $(grep "Error:\|Fatal:" "$DC/dovecot.log")"

# ---- 5. Petrel's Maildir agent and Sieve, Dovecot's IMAP --------------------------------------
cat >"$T/petrel-before.sieve" <<'SIEVE'
require ["fileinto", "imap4flags"];
if header :contains "X-Spam-Flag" "YES" {
  addflag "\\Flagged";
  fileinto "spam";
  stop;
}
SIEVE
write_config "
tables:
  mailboxes:
    map: {carol@example.test: example.test/carol/}
delivery:
  sieve: {global_before: $T/petrel-before.sieve}
"
start_petrel
send s@example.net "petrel spam" "X-Spam-Flag: YES" -- bob@example.test
wait_for 20 "log line of the Maildir delivery" log_has "petrel/virtual\[[0-9]+\]: [0-9A-F]+: to=<bob@example.test>, .*status=sent"
stop_petrel
[[ -f "$MAIL_ROOT/example.test/bob/.spam/maildirfolder" ]] || fail "Petrel made no .spam folder for bob"
chown -R nobody:nogroup "$MAIL_ROOT"  # Petrel wrote as root; Dovecot reads as nobody
listing="$(imap bob spam)"
[[ "$listing" == *'\Flagged'*$'\tpetrel spam'* ]] || fail "bob's spam over IMAP: '$listing'"
if imap_has bob INBOX "petrel spam"; then fail "Petrel's spam is in INBOX too"; fi
stop_dovecot

# ---- 6. reuse: RSET first, and a connection found dead at RSET is replaced -------------------
# Setup: rset_peer.py on $T/peer.sock instead of Dovecot; its first connection says 421 to RSET.
deferred_before="$(log_count "status=deferred")"
py_bg "$HERE/rset_peer.py" "$T/peer.sock" "$T/peer.log" </dev/null
wait_for 10 "the scripted LMTP peer" test -S "$T/peer.sock"
write_config "
delivery: {transport: \"lmtp:unix:$T/peer.sock\"}
transports: {lmtp: {type: lmtp, connection_cache_time: 30s}}
"
start_petrel
send s@example.net "first" -- alice@example.test
wait_for 20 "the first message at the peer" log_has "status=sent \(250 2\.0\.0 <x> conn1 Saved\)"
send s@example.net "second" -- alice@example.test
wait_for 20 "the second message on a new connection" log_has "status=sent \(250 2\.0\.0 <x> conn2 Saved\)"
grep -qx "1 RSET" "$T/peer.log" || fail "the reused connection sent no RSET: $(cat "$T/peer.log")"
assert_eq "$deferred_before" "$(log_count "status=deferred")" "deferrals in the reuse scenario"
stop_petrel
pass
