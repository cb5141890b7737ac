#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (tls: optional) and
#   127.0.0.1:$STATUS_PORT, with two certificates made by the openssl CLI: mail.example.test
#   (default, serial 0x1001) and other.example.test (serial 0x2002); tls.min_version "1.2".
#   Clients: `openssl s_client -starttls smtp` and raw Python sockets with ssl, one of them in the
#   background across the reloads.
# SNI picks the certificate (other.example.test by name, mail.example.test by default and for an
# unknown name). Replacing the default certificate's files and sending SIGHUP makes new
# connections see the new serial (0x3003), while a session that did STARTTLS before the reload
# keeps its TLS session and finishes its message; `petrel reload` does the same (0x4004).
# min_version 1.2: a TLS 1.1 handshake fails, 1.2 and 1.3 work.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool openssl

make_cert "$T/mail" mail.example.test 0x1001
make_cert "$T/other" other.example.test 0x2002
write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT', tls: optional}
tls:
  certificates:
    - {cert: '$T/mail.crt', key: '$T/mail.key'}
    - {cert: '$T/other.crt', key: '$T/other.key'}
  min_version: '1.2'
"
start_petrel

# expect_cert WHAT SERIAL CN S_CLIENT_ARGS...: the certificate seen after STARTTLS.
expect_cert() {
  local what="$1" serial="$2" cn="$3" pem
  shift 3
  pem="$(starttls_cert "$SMTP_PORT" "$@")"
  [[ -n "$pem" ]] || fail "$what: no certificate (handshake failed?) with s_client $*"
  assert_eq "$serial" "$(cert_serial <<<"$pem")" "$what: certificate serial"
  assert_eq "CN = $cn" "$(cert_subject <<<"$pem")" "$what: certificate subject"
  assert_eq "DNS:$cn" "$(cert_sans <<<"$pem")" "$what: certificate subjectAltName"
}
expect_cert "no SNI" 1001 mail.example.test -noservername
expect_cert "SNI other.example.test" 2002 other.example.test -servername other.example.test
expect_cert "SNI mail.example.test" 1001 mail.example.test -servername mail.example.test
expect_cert "SNI unknown.example" 1001 mail.example.test -servername unknown.example

# A session opened (and in TLS) before the reload; it waits mid-transaction for $T/go.
py_bg - <<'EOF'
import os, time
from lib import *
T = os.environ["T"]
c = Client()
c.ehlo("early.example.net")
c.starttls()
c.ehlo("early.example.net")
with open(os.path.join(T, "early.der"), "wb") as f:
    f.write(c.peer_cert_der())
c.expect("MAIL FROM:<early@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 250)
open(os.path.join(T, "ready"), "w").close()
deadline = time.time() + 60
while not os.path.exists(os.path.join(T, "go")):
    check(time.time() < deadline, "early session: no go signal within 60s")
    time.sleep(0.05)
c.expect("DATA", 354)
msg = make_message("early", ["started TLS before the reloads"], msgid="<t34-early@example.net>")
qid = queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0"))
c.expect("QUIT", 221)
open(os.path.join(T, "early-id.tmp"), "w").write(qid)
os.rename(os.path.join(T, "early-id.tmp"), os.path.join(T, "early-id"))
EOF
SESSION_PID=$PY_BG_PID
wait_for 15 "the early session to be in TLS, mid-transaction" test -e "$T/ready"
assert_eq 1001 "$(openssl x509 -inform DER -in "$T/early.der" -noout -serial | sed 's/^serial=//')" \
  "certificate the early session saw"

# replace_default_cert SERIAL: new files for mail.example.test, put in place with rename(2).
replace_default_cert() {
  make_cert "$T/new" mail.example.test "$1"
  mv -f "$T/new.key" "$T/mail.key"
  mv -f "$T/new.crt" "$T/mail.crt"
}
replace_default_cert 0x3003
kill -HUP "$PETREL_PID"
wait_for 10 "the first 'reload --' log line" eval '[[ "$(log_count "petrel/master\[[0-9]+\]: reload -- ")" -ge 1 ]]'
expect_cert "no SNI after SIGHUP" 3003 mail.example.test -noservername
expect_cert "SNI other.example.test after SIGHUP" 2002 other.example.test -servername other.example.test

replace_default_cert 0x4004
petrel reload >/dev/null || fail "petrel reload failed"
wait_for 10 "the second 'reload --' log line" eval '[[ "$(log_count "petrel/master\[[0-9]+\]: reload -- ")" -ge 2 ]]'
expect_cert "no SNI after petrel reload" 4004 mail.example.test -noservername
assert_no_log 'reload failed' "reloads with new certificates"

# The session from before both reloads finishes its message over its original TLS session.
touch "$T/go"
wait_for 15 "the early session to finish its transaction" test -e "$T/early-id"
wait "$SESSION_PID" || fail "the session opened before the reload failed (see above)"
py <<'EOF'
from lib import *
files = wait_maildir("example.test/alice", 1)
check(len(files) == 1, "alice has %d files, want 1" % len(files))
data = open(files[0], "rb").read()
check(b"<t34-early@example.net>" in data, "not the early message: %s" % files[0])
rcv = received_headers(files[0])[0]
check("(using TLSv1." in rcv and " with ESMTPS id " in rcv, "early message Received: %r" % rcv)
EOF

# min_version "1.2". The client allows TLS 1.1 only at security level 0; "no protocols available"
# would mean the client, not the server, refused.
for v in tls1_2 tls1_3; do
  timeout 15 openssl s_client -starttls smtp -connect "127.0.0.1:$SMTP_PORT" -noservername "-$v" \
    </dev/null >"$T/$v.out" 2>"$T/$v.err" || true
  grep -Eq '^New, TLSv1\.[23], Cipher is [A-Z0-9_-]+' "$T/$v.out" ||
    fail "-$v handshake failed: $(tail -n 5 "$T/$v.err")"
done
grep -q '^New, TLSv1\.2,' "$T/tls1_2.out" || fail "-tls1_2 did not negotiate TLS 1.2: $(grep '^New' "$T/tls1_2.out")"
rc=0
timeout 15 openssl s_client -starttls smtp -connect "127.0.0.1:$SMTP_PORT" -noservername -tls1_1 \
  -cipher 'DEFAULT@SECLEVEL=0' </dev/null >"$T/tls1_1.out" 2>"$T/tls1_1.err" || rc=$?
if grep -q 'no protocols available' "$T/tls1_1.err"; then
  log "not checked: this openssl client cannot offer TLS 1.1 at all"
else
  [[ $rc -ne 0 ]] || fail "s_client -tls1_1 exited 0: $(grep -E '^(New|Protocol)' "$T/tls1_1.out")"
  if grep -Eq '^New, TLSv1(\.[0-9])?, Cipher is [A-Z0-9]' "$T/tls1_1.out"; then
    fail "a TLS 1.1 session was established although min_version is 1.2: $(grep '^New' "$T/tls1_1.out")"
  fi
  assert_file_contains "$T/tls1_1.err" 'alert protocol version|unsupported protocol|wrong version number' \
    "the TLS 1.1 handshake failure names the protocol version"
fi

py <<'EOF'
from lib import *
# The server is fine after the refused handshakes.
c = Client()
c.ehlo()
c.starttls()
c.ehlo()
c.expect("QUIT", 221)
EOF
stop_petrel
pass
