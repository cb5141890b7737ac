#!/usr/bin/env bash
# Setup: `petrel serve` with the quick-start config plus canonical maps (canonical.sender from a
#   regexp file: alice@ -> alice.smith@; canonical.recipient inline: info@ -> bob@, @old.test
#   -> @example.test), canonical.headers at its default (local), an mx listener on
#   127.0.0.1:$SMTP_PORT and a submission listener (STARTTLS, AUTH from a file table) on
#   127.0.0.1:$SUB_PORT; relay.transport sends remote.test to an aiosmtpd peer on
#   127.0.0.4:25. Python smtplib as the client, from 127.0.0.1 (in mynetworks) or bound to
#   127.0.0.2 (outside).
# Header fields are rewritten like Postfix's canonical_classes header_sender/header_recipient:
# From/Reply-To through canonical.sender, To/Cc through canonical.recipient; only the
# addr-spec changes (display names, comments, folding and the other fields stay, byte for
# byte, and so does the body, even a body line that looks like a header). It applies to mail
# from mynetworks and from authenticated clients, in the Maildir and in what the relay peer
# receives, for a small message and for one > 32 KiB (read from a spool file); mail from an
# unauthenticated client outside mynetworks keeps its headers (its envelope is still
# rewritten). After a reload with canonical.headers: none, nothing in the header changes.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/relay_lib.sh"
need_relay_harness 127.0.0.4:25 127.0.0.2:0
need_tool openssl

start_harness world "
peers:
  - {name: mx, address: '127.0.0.4:25', hostname: mx.remote.test}
"
pick_ports SUB_PORT
printf 'alice@example.test %s\n' "$(openssl passwd -6 secret)" >"$T/users"
cat >"$T/sender.regexp" <<'EOF2'
/^alice@example\.test$/   alice.smith@example.test
EOF2
headers_mode() {
  write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: submission, address: '127.0.0.1:$SUB_PORT', tls: required, auth: required,
     restrictions: submission}
auth: {backend: lookup, credentials: 'file:$T/users'}
tables:
  rcanon: {type: inline, map: {info@example.test: bob@example.test, '@old.test': '@example.test'}}
  transport: {type: inline, map: {remote.test: '[127.0.0.4]:25'}}
  aliases: {type: inline, map: {postmaster@example.test: alice@example.test,
                                alice.smith@example.test: alice@example.test}}
canonical:
  recipient: rcanon
  sender: 'regexp:$T/sender.regexp'
  headers: $1
relay: {transport: transport}
"
}
headers_mode local
start_petrel
wait_for 10 "port $SUB_PORT" port_open "$SUB_PORT"

# `petrel route` says what delivery will do to the sender and to the header fields.
route() { "$PETREL" route --config "$CONF" info@example.test --from alice@example.test "$@"; }
out="$(route --client 127.0.0.2)" || fail "route: $out"
[[ "$out" == *"canonical.sender: <alice@example.test> -> <alice.smith@example.test>"* ]] ||
  fail "route does not show the sender rewrite: $out"
[[ "$out" == *"header fields keep their addresses (canonical.headers: local; the client is neither in relay.mynetworks nor authenticated)"* ]] ||
  fail "route does not say an outside client keeps its headers: $out"
for args in "--client 127.0.0.1" "--client 127.0.0.2 --auth alice@example.test"; do
  # shellcheck disable=SC2086
  out="$(route $args)" || fail "route $args: $out"
  [[ "$out" == *"header fields (canonical.headers: local): From, Sender, Reply-To"* ]] ||
    fail "route $args does not say the header fields are rewritten: $out"
done

# send TAG SOURCE_IP PORT AUTH BODY_KB RELAYED: one message from alice to bob (via info@)
# and, when RELAYED is yes, dave@remote.test, with address headers in several shapes; its text
# goes to $T/TAG.sent.
send() {
  TAG="$1" SOURCE="$2" PORT="$3" AUTH="$4" BODY_KB="$5" RELAYED="$6" py <<'PY'
import os, smtplib, ssl
tag, kb = os.environ["TAG"], int(os.environ["BODY_KB"])
msg = ("From: \"Alice (Accounts)\" <alice@example.test> (work)\r\n"
       "Reply-To: alice@example.test\r\n"
       "To: Info <info@example.test>,\r\n carol@old.test, dave@remote.test\r\n"
       "Cc: \"Ann, Q.\" <ann@elsewhere.test>, Friends: erin@old.test;\r\n"
       "Subject: %s mail for alice@example.test\r\n"
       "Message-ID: <%s@alice.example.test>\r\n"
       "\r\n"
       "From: alice@example.test\r\n"
       "To: info@example.test\r\n" % (tag, tag))
msg += ("filler line %s\r\n" % ("x" * 60)) * (kb * 1024 // 75)
open(os.path.join(os.environ["T"], tag + ".sent"), "w", newline="").write(msg)
s = smtplib.SMTP("127.0.0.1", int(os.environ["PORT"]), timeout=20,
                 source_address=(os.environ["SOURCE"], 0))
if os.environ["AUTH"] == "yes":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s.starttls(context=ctx)
    s.ehlo("client.test")
    s.login("alice@example.test", "secret")
rcpts = ["info@example.test"] + (["dave@remote.test"] if os.environ["RELAYED"] == "yes" else [])
refused = s.sendmail("alice@example.test", rcpts, msg)
assert not refused, refused
s.quit()
PY
}

# check TAG WHERE FILE REWRITTEN: FILE (a Maildir file with LF lines, or a peer's .eml with
# CRLF) holds the message TAG as sent, with the canonical rewrites in its header or none.
check() {
  TAG="$1" WHERE="$2" FILE="$3" REWRITTEN="$4" py <<'PY'
import os
from lib import check
tag, where = os.environ["TAG"], os.environ["WHERE"]
sent = open(os.path.join(os.environ["T"], tag + ".sent"), newline="").read()
got = open(os.environ["FILE"], newline="").read().replace("\r\n", "\n")
sent = sent.replace("\r\n", "\n")
head, body = sent.split("\n\n", 1)
if os.environ["REWRITTEN"] == "yes":
    head = (head
            .replace("<alice@example.test> (work)", "<alice.smith@example.test> (work)")
            .replace("Reply-To: alice@example.test", "Reply-To: alice.smith@example.test")
            .replace("<info@example.test>", "<bob@example.test>")
            .replace("carol@old.test", "carol@example.test")
            .replace("erin@old.test", "erin@example.test"))
    assert head != sent.split("\n\n", 1)[0]
expected = head + "\n\n" + body
# What petrel adds in front: Return-Path and Delivered-To (Maildir), its Received field.
at = got.find(expected)
check(at >= 0, "%s (%s): the message is not there as expected (rewritten=%s); got header:\n%s"
      % (tag, where, os.environ["REWRITTEN"], got.split("\n\n", 1)[0]))
check(got.endswith(expected), "%s (%s): something follows the message" % (tag, where))
check(got[:at].count("\nReceived: ") + got[:at].startswith("Received: ") >= 1,
      "%s (%s): no Received field before the message" % (tag, where))
PY
}

# newest_mail MAILBOX / newest_peer: the file of the latest delivery.
newest_mail() { ls -t "$MAIL_ROOT/example.test/$1/new/"* | head -1; }
newest_peer() { ls -t "$RELAY_DIR/mx/"*.eml | head -1; }
local_n=0
relay_n=0
deliver() {  # deliver TAG SOURCE PORT AUTH BODY_KB RELAYED REWRITTEN
  send "$1" "$2" "$3" "$4" "$5" "$6"
  local_n=$((local_n + 1))
  wait_for 15 "$1 in bob's Maildir" maildir_at_least example.test/bob "$local_n"
  check "$1" maildir "$(newest_mail bob)" "$7"
  if [[ "$6" == yes ]]; then
    relay_n=$((relay_n + 1))
    wait_for 15 "$1 at the relay peer" peer_at_least mx "$relay_n"
    check "$1" relay "$(newest_peer)" "$7"
  fi
  grep -q "^Return-Path: <alice.smith@example.test>" "$(newest_mail bob)" ||
    fail "$1: the envelope sender is not the canonical one"
}

deliver mynetworks 127.0.0.1 "$SMTP_PORT" no 1 yes yes
deliver large 127.0.0.1 "$SMTP_PORT" no 40 yes yes
wait_for 10 "an empty queue" queue_empty
deliver outside 127.0.0.2 "$SMTP_PORT" no 1 no no
deliver authenticated 127.0.0.2 "$SUB_PORT" yes 1 yes yes
grep -q "with ESMTPSA" "$(newest_mail bob)" || fail "the authenticated message was not ESMTPSA"

headers_mode none
"$PETREL" reload --config "$CONF" >/dev/null || fail "reload failed"
wait_for 10 "the reload" log_has 'petrel/master\[[0-9]+\]: reload -- '
deliver after-reload 127.0.0.1 "$SMTP_PORT" no 1 yes no
stop_petrel
pass
