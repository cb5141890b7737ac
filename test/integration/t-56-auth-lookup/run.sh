#!/usr/bin/env bash
# Setup: `petrel serve` with a submission listener on 127.0.0.1:$SUB_PORT (STARTTLS required,
#   AUTH required) and auth.backend lookup: the credentials are a `file` table of crypt(3)
#   hashes as PostfixAdmin stores them ("{SHA512-CRYPT}$6$..." made with `openssl passwd -6`,
#   and a bare "$5$" hash). Python smtplib as the client.
# AUTH succeeds with the right password (235, and the mail is delivered "with ESMTPSA"), fails
# with a wrong one or for an unknown user (535 5.7.8), and a credentials table that cannot be
# read answers 454 4.7.0 (temporary), never 535.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool openssl

pick_ports SUB_PORT
ALICE_HASH=$(openssl passwd -6 'wonder land')
BOB_HASH=$(openssl passwd -5 builder)
printf 'alice@example.test {SHA512-CRYPT}%s\nbob@example.test %s\n' "$ALICE_HASH" "$BOB_HASH" \
  >"$T/users"
write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT'}
  - {name: submission, address: '127.0.0.1:$SUB_PORT', tls: required, auth: required,
     restrictions: submission}
auth: {backend: lookup, credentials: 'file:$T/users'}
"
start_petrel
wait_for 10 "port $SUB_PORT" port_open "$SUB_PORT"

login() {  # login USER PASSWORD -> prints the SMTP code of AUTH
  SUB_PORT=$SUB_PORT USER_NAME="$1" PASSWORD="$2" py <<'PY'
import os, smtplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(os.environ["SUB_PORT"]), timeout=20)
s.starttls(context=ctx)
s.ehlo("client.test")
try:
    code, _ = s.login(os.environ["USER_NAME"], os.environ["PASSWORD"])
except smtplib.SMTPAuthenticationError as e:
    code = e.smtp_code
except smtplib.SMTPResponseException as e:
    code = e.smtp_code
print(code)
if code == 235:
    msg = "From: %s\r\nTo: bob@example.test\r\nSubject: via lookup auth\r\n\r\nhi\r\n" % os.environ["USER_NAME"]
    s.sendmail(os.environ["USER_NAME"], ["bob@example.test"], msg)
s.close()
PY
}

assert_eq 235 "$(login alice@example.test 'wonder land')" "AUTH with the {SHA512-CRYPT} hash"
assert_eq 235 "$(login Bob@Example.test builder)" "AUTH with a bare \$5\$ hash, name case-insensitive"
assert_eq 535 "$(login alice@example.test wonderland)" "wrong password"
assert_eq 535 "$(login carol@example.test x)" "unknown user"
wait_for 15 "both messages in bob's Maildir" maildir_at_least example.test/bob 2
grep -l "with ESMTPSA" "$MAIL_ROOT"/example.test/bob/new/* >/dev/null || fail "no ESMTPSA Received line"

# The table goes away: a temporary failure, not a refusal.
mv "$T/users" "$T/users.gone"
"$PETREL" reload --config "$CONF" >/dev/null || fail "reload failed"
assert_eq 454 "$(login alice@example.test 'wonder land')" "credentials table unreadable"
assert_log "SASL PLAIN authentication aborted: .*users" "the log names the table"
stop_petrel
pass
