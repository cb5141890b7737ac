#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) with two SMTP listeners, no certificates
#   configured (petrel generates <state_dir>/tls/self-signed.crt on first start):
#   mx on 127.0.0.1:$SMTP_PORT (tls: optional) and strict on 127.0.0.1:$STRICT_PORT
#   (tls: required); status on 127.0.0.1:$STATUS_PORT. Clients: swaks --tls,
#   `openssl s_client -starttls smtp`, Python raw sockets wrapped with ssl (no verification).
# STARTTLS (RFC 3207): swaks delivers over TLS and the Received: field says "using TLSv1.x" and
# "with ESMTPS" (RFC 3848); s_client sees the generated certificate and EHLO inside TLS no
# longer offers STARTTLS; a second STARTTLS gets 554 5.5.1. Plaintext injection: "STARTTLS\r\n
# RSET\r\n" in one send() must not make the RSET run inside TLS (the first line read in TLS is
# EHLO's "250-"). tls: required refuses MAIL before STARTTLS (530 5.7.0).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool openssl
need_swaks_tls

pick_ports STRICT_PORT
write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT', tls: optional}
  - {name: strict, address: '127.0.0.1:$STRICT_PORT', tls: required}
"
start_petrel
wait_for 10 "port $STRICT_PORT (strict listener) to accept connections" port_open "$STRICT_PORT"
SELF_SIGNED="$STATE_DIR/tls/self-signed.crt"
[[ -s "$SELF_SIGNED" ]] || fail "no generated certificate at $SELF_SIGNED"

# swaks over STARTTLS.
swaks --server 127.0.0.1 --port "$SMTP_PORT" --tls --helo client.example.net \
  --from sender@example.net --to alice@example.test \
  --header 'Subject: t-31 swaks over STARTTLS' --header 'Message-ID: <t31-swaks@example.net>' \
  --body 'sent inside TLS' >"$T/swaks.out" 2>&1 ||
  fail "swaks --tls failed (exit $?): $(tail -n 25 "$T/swaks.out")"
assert_file_contains "$T/swaks.out" '^<- +220 2\.0\.0 Ready to start TLS' "swaks transcript: STARTTLS reply"
assert_file_contains "$T/swaks.out" '^=== TLS started with cipher TLSv1\.[23]' "swaks transcript: TLS started"
assert_file_contains "$T/swaks.out" '^<~ +250 2\.0\.0 .*queued as [0-9A-F]+' "swaks transcript: message queued inside TLS"

py <<'EOF'
from lib import *
files = wait_maildir("example.test/alice", 1)
check(len(files) == 1, "alice has %d files, want 1" % len(files))
rcv = received_headers(files[0])
check(len(rcv) == 1, "want one Received: field, have %r" % rcv)
check(re.search(r"\(using TLSv1\.[23] with cipher \S+ \((\d+)/\1 bits\)\)", rcv[0]),
      "Received: lacks the TLS clause: %r" % rcv[0])
check(re.search(r" by mail\.example\.test \(Petrel\) with ESMTPS id [0-9A-F]+", rcv[0]),
      "Received: does not say 'with ESMTPS': %r" % rcv[0])
check(b"sent inside TLS" in open(files[0], "rb").read(), "body missing in %s" % files[0])
EOF
assert_log 'petrel/smtpd\[[0-9]+\]: Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.[23] with cipher [^ ]+ \(([0-9]+)/\1 bits\)' "TLS connection log line"

# openssl s_client: the handshake works, the certificate is the generated one, and EHLO inside
# TLS does not offer STARTTLS again.
printf 'EHLO client.example.net\nQUIT\n' |
  timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$SMTP_PORT" -noservername \
    -crlf -ign_eof >"$T/s_client.out" 2>"$T/s_client.err" || true
grep -Eq '^New, TLSv1\.[23], Cipher is [A-Z0-9_-]+' "$T/s_client.out" ||
  fail "s_client: no TLS session: $(cat "$T/s_client.out" "$T/s_client.err" | tail -n 30)"
assert_file_contains "$T/s_client.out" '^250-mail\.example\.test' "s_client: EHLO reply inside TLS"
assert_file_contains "$T/s_client.out" '^221 ' "s_client: QUIT reply inside TLS"
if grep -Eq '^250[- ]STARTTLS' "$T/s_client.out"; then
  fail "EHLO inside TLS still offers STARTTLS: $(grep -E '^250' "$T/s_client.out")"
fi
want_fp="$(openssl x509 -in "$SELF_SIGNED" -noout -fingerprint -sha256)"
have_fp="$(openssl x509 -in "$T/s_client.out" -noout -fingerprint -sha256 2>/dev/null || true)"
assert_eq "$want_fp" "$have_fp" "certificate presented vs $SELF_SIGNED"
openssl x509 -in "$SELF_SIGNED" -noout -ext subjectAltName | grep -q 'DNS:mail\.example\.test' ||
  fail "the generated certificate does not name the hostname: $(openssl x509 -in "$SELF_SIGNED" -noout -subject -ext subjectAltName)"

# Plaintext injection, a second STARTTLS, and tls: required.
py <<'EOF'
import os, socket
from lib import *

# STARTTLS and RSET in one segment: the RSET was sent in plaintext before TLS existed and must
# be discarded, never answered (in plaintext or inside TLS).
c = Client()
r = c.ehlo()
check("STARTTLS" in ehlo_keywords(r), "EHLO before TLS does not offer STARTTLS: %r" % r)
c.send("STARTTLS\r\nRSET\r\n")
r = c.read_reply()
expect_reply(r, 220, "2.0.0", "STARTTLS")
check(r.text == "2.0.0 Ready to start TLS", "STARTTLS reply text: %r" % r)
check(c.buf == b"", "plaintext after the 220 to STARTTLS (a reply to the injected RSET?): %r" % c.buf)
c.sock.settimeout(0.5)
try:
    stray = c.sock.recv(4096, socket.MSG_PEEK)
    check(stray == b"", "plaintext after the 220 to STARTTLS (a reply to the injected RSET?): %r" % stray)
    fail("the server closed the connection after the 220 to STARTTLS")
except socket.timeout:
    pass
c.sock.settimeout(15)
c.wrap_tls()
c.send("EHLO client.example.net\r\n")
while b"\r\n" not in c.buf:
    c._fill()
first = c.buf.split(b"\r\n", 1)[0]
check(first.startswith(b"250-"),
      "first line inside TLS is %r, want EHLO's '250-...': the injected RSET ran inside TLS" % first)
r = c.read_reply()
check(r.code == 250 and r.lines[0].startswith("mail.example.test"), "EHLO inside TLS: %r" % r)
check("STARTTLS" not in ehlo_keywords(r), "EHLO inside TLS offers STARTTLS: %r" % r)
r = c.expect("NOOP", 250)
check(c.buf == b"", "extra bytes after the NOOP reply inside TLS: %r" % c.buf)
c.expect("STARTTLS", 554, "5.5.1")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<bob@example.test>", 250)
c.expect("DATA", 354)
msg = make_message("after injection", ["still fine"], msgid="<t31-inject@example.net>",
                   to="bob@example.test")
c.expect_raw(dot_stuff(msg), 250, "2.0.0")
c.expect("QUIT", 221)
c.close()

# tls: optional still serves plaintext; the Received: field then says ESMTP.
plain = make_message("plaintext", ["no TLS"], msgid="<t31-plain@example.net>", to="bob@example.test")
send_message("sender@example.net", ["bob@example.test"], plain)

# tls: required: STARTTLS offered, MAIL refused before it, then a normal transaction.
strict = int(os.environ["STRICT_PORT"])
c = Client(port=strict)
r = c.ehlo()
check("STARTTLS" in ehlo_keywords(r), "strict listener's EHLO does not offer STARTTLS: %r" % r)
r = c.expect("MAIL FROM:<sender@example.net>", 530, "5.7.0")
check("Must issue a STARTTLS command first" in r.text, "530 text: %r" % r)
c.starttls()
c.ehlo()
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect("DATA", 354)
msg = make_message("strict", ["over the tls: required listener"], msgid="<t31-strict@example.net>")
c.expect_raw(dot_stuff(msg), 250, "2.0.0")
c.expect("QUIT", 221)
c.close()

files = wait_maildir("example.test/bob", 2)
for f in files:
    data = open(f, "rb").read()
    rcv = received_headers(f)[0]
    if b"<t31-inject@" in data:
        check(" with ESMTPS id " in rcv and "(using TLSv1." in rcv, "injection message: %r" % rcv)
    elif b"<t31-plain@" in data:
        check(" with ESMTP id " in rcv and "using TLS" not in rcv, "plaintext message: %r" % rcv)
    else:
        fail("unexpected message in bob's Maildir: %s" % f)
files = wait_maildir("example.test/alice", 2)
strict_files = [f for f in files if b"<t31-strict@" in open(f, "rb").read()]
check(len(strict_files) == 1, "the strict-listener message is not in alice's Maildir")
check(" with ESMTPS id " in received_headers(strict_files[0])[0],
      "strict message: %r" % received_headers(strict_files[0]))
EOF

assert_no_log 'TLS library problem|cannot start TLS' "TLS errors"
assert_eq 4 "$(log_count 'Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.[23] with cipher ')" \
  "TLS connection log lines (swaks, s_client, injection, strict)"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
