#!/usr/bin/env bash
# Setup: a private OpenLDAP slapd (test/integration/slapd.sh: dc=example,dc=test, readable only
#   when bound as cn=petrel) on ldap://127.0.0.1:$SLAPD_PORT/; a Python socket on
#   127.0.0.1:$HOLE_PORT that accepts connections and never answers; one `petrel serve` on
#   127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT (status) with its mailboxes and
#   aliases in LDAP (type: ldap); Python smtplib and lib.py's raw client.
# `petrel table query` answers from the directory (values of several entries joined with ",";
# an entry without the attribute, an unknown key and filter metacharacters in a key are "not
# found"); mail to LDAP mailboxes and aliases is delivered; an unknown user gets 550 5.1.1, an
# address like `*)(mail=*@example.test` too (escaped in the filter, matches nothing). With slapd
# stopped the next RCPT gets 451 4.3.0 and the log names the table; after a restart delivery
# resumes (stale pooled connections are replaced). A wrong bind password or a server that never
# answers is a temporary failure (exit 75 / 451 4.3.0 within the timeout), never a 5xx.
# TLS: StartTLS (start_tls: true) and an ldaps:// uri answer when the certificate is checked
# against tls_ca_file; without it (the system CAs), or with a uri host the certificate does not
# name, StartTLS fails and the lookup is a temporary failure (never plaintext);
# tls_require_cert: false accepts it; StartTLS to a server that never answers ends at timeout.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/slapd.sh"

need_slapd
slapd_init
start_slapd

# A server that completes the TCP handshake (the kernel does, from the backlog) and then says
# nothing: every wait of the ldap table must end at its timeout.
pick_ports HOLE_PORT
start_silent_server "$HOLE_PORT"

printf '%s\n' "$SLAPD_BIND_PW" >"$T/ldap-password"

# ldap_config MAILBOX_PASSWORD: the config, the mailbox table binding with that password.
ldap_config() {
  write_config "$(cat <<EOF
tables:
  mailboxes!:
    type: ldap
    uri: "$SLAPD_URI"
    base: "ou=people,$SLAPD_BASE"
    scope: one
    filter: "(&(objectClass=inetOrgPerson)(mail=%s))"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$1"
    timeout: 3s
  aliases!:
    type: ldap
    uri: "$SLAPD_URI"
    base: "ou=aliases,$SLAPD_BASE"
    filter: "(mailLocalAddress=%s)"
    attribute: rfc822MailMember
    bind_dn: "$SLAPD_BIND_DN"
    bind_password_file: "$T/ldap-password"
  people:
    type: ldap
    uri: "$SLAPD_URI"
    base: "$SLAPD_BASE"
    attribute: "description, uid"
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$SLAPD_BIND_PW"
  anonymous:
    type: ldap
    uri: "$SLAPD_URI"
    base: "$SLAPD_BASE"
    attribute: description
  wrongpw:
    type: ldap
    uri: "$SLAPD_URI"
    base: "$SLAPD_BASE"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "not-the-password"
  starttls:
    type: ldap
    uri: "$SLAPD_URI"
    start_tls: true
    tls_ca_file: "$SLAPD_CA"
    base: "ou=people,$SLAPD_BASE"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$SLAPD_BIND_PW"
  starttls_untrusted:
    type: ldap
    uri: "$SLAPD_URI"
    start_tls: true
    base: "ou=people,$SLAPD_BASE"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$SLAPD_BIND_PW"
  starttls_wrong_name:
    type: ldap
    uri: "ldap://localhost:$SLAPD_PORT/"
    start_tls: true
    tls_ca_file: "$SLAPD_CA"
    base: "ou=people,$SLAPD_BASE"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$SLAPD_BIND_PW"
  starttls_unchecked:
    type: ldap
    uri: "ldap://localhost:$SLAPD_PORT/"
    start_tls: true
    tls_require_cert: false
    base: "ou=people,$SLAPD_BASE"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$SLAPD_BIND_PW"
  ldaps:
    type: ldap
    uri: "$SLAPD_LDAPS_URI"
    tls_ca_file: "$SLAPD_CA"
    base: "ou=people,$SLAPD_BASE"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$SLAPD_BIND_PW"
  ldaps_silent:
    type: ldap
    uri: "ldaps://127.0.0.1:$HOLE_PORT/"
    tls_ca_file: "$SLAPD_CA"
    base: "$SLAPD_BASE"
    attribute: description
    timeout: 2s
  starttls_silent:
    type: ldap
    uri: "ldap://127.0.0.1:$HOLE_PORT/"
    start_tls: true
    tls_ca_file: "$SLAPD_CA"
    base: "$SLAPD_BASE"
    attribute: description
    timeout: 2s
  silent:
    type: ldap
    uri: "ldap://127.0.0.1:$HOLE_PORT/"
    base: "$SLAPD_BASE"
    attribute: description
    bind_dn: "$SLAPD_BIND_DN"
    bind_password: "$SLAPD_BIND_PW"
    timeout: 2s
EOF
)"
}
ldap_config "$SLAPD_BIND_PW"
out="$(petrel check-config 2>&1)" || fail "check-config with ldap tables failed: $out"


# ---- petrel table query against the directory ----------------------------------------------
expect_table mailboxes alice@example.test 0 "example.test/alice/"
expect_table mailboxes bob@example.test 0 "example.test/bob/"
expect_table mailboxes nobody@example.test 1 ""
expect_table mailboxes dave@example.test 1 ""            # entry found, no description: not found
expect_table mailboxes 'ALICE@example.test' 0 "example.test/alice/"  # mail matches caseIgnore
expect_table aliases postmaster@example.test 0 "alice@example.test"
expect_table aliases sales@example.test 0 "alice@example.test,bob@example.test"
table_query aliases team@example.test                    # two entries: both values, in any order
assert_eq 0 "$RC" "exit status of table query aliases team@example.test (stderr: $ERR)"
assert_eq "bob@example.test,carol@example.test" "$(tr ',' '\n' <<<"$OUT" | sort | paste -sd,)" \
  "values of the two team@ entries"
table_query people alice@example.test                    # two attributes, default filter (mail=%s)
assert_eq 0 "$RC" "exit status of table query people alice@example.test (stderr: $ERR)"
assert_eq "alice,example.test/alice/" "$(tr ',' '\n' <<<"$OUT" | sort | paste -sd,)" \
  "description and uid of alice"
# Filter metacharacters in a key are escaped (RFC 4515): no wildcard, no second filter.
expect_table mailboxes '*@example.test' 1 ""

# ---- TLS: StartTLS and ldaps, the certificate checked against tls_ca_file and the host -------
expect_table starttls alice@example.test 0 "example.test/alice/"
expect_table ldaps bob@example.test 0 "example.test/bob/"
table_query starttls_untrusted alice@example.test   # the system CAs do not know slapd's
assert_eq 75 "$RC" "exit status with an untrusted certificate (stdout: $OUT)"
[[ "$ERR" == *"table ldap:starttls_untrusted: StartTLS: "* ]] ||
  fail "the error does not say StartTLS failed: $ERR"
table_query starttls_wrong_name alice@example.test  # the certificate is for IP:127.0.0.1
assert_eq 75 "$RC" "exit status when the certificate does not name the host (stdout: $OUT)"
[[ "$ERR" == *"StartTLS: "* ]] || fail "the error does not say StartTLS failed: $ERR"
expect_table starttls_unchecked alice@example.test 0 "example.test/alice/"
start=$SECONDS
table_query starttls_silent alice@example.test     # StartTLS to a server that never answers
assert_eq 75 "$RC" "exit status of StartTLS to a silent server (stdout: $OUT)"
((SECONDS - start < 10)) || fail "StartTLS to a silent server took $((SECONDS - start))s (timeout 2s)"
start=$SECONDS
table_query ldaps_silent alice@example.test         # a TLS handshake that never gets an answer
assert_eq 75 "$RC" "exit status of ldaps:// to a silent server (stdout: $OUT)"
[[ "$ERR" == *"no answer within 2s"* ]] || fail "the error does not say the server was silent: $ERR"
((SECONDS - start < 10)) || fail "ldaps:// to a silent server took $((SECONDS - start))s (timeout 2s)"
expect_table mailboxes '*)(mail=*@example.test' 1 ""
expect_table people '*)(|(mail=*)' 1 ""
expect_table aliases '*' 1 ""
expect_table people 'alice@example.test)(uid=bob' 1 ""
# The ACLs show nothing to an anonymous client, not even the base: slapd answers "no such
# object", which is a temporary failure (mail waits for the admin), not "not found".
table_query anonymous alice@example.test
assert_eq 75 "$RC" "exit status of an anonymous query (stderr: $ERR)"
assert_eq "petrel: temporary failure: table ldap:anonymous: search (mail=alice@example.test): No such object" \
  "$ERR" "stderr of an anonymous query"

# A wrong bind password: a temporary failure naming the table and the cause, not the password.
table_query wrongpw alice@example.test
assert_eq 75 "$RC" "exit status of a query with a wrong bind password"
assert_eq "" "$OUT" "stdout of a query with a wrong bind password"
assert_eq "petrel: temporary failure: table ldap:wrongpw: bind as $SLAPD_BIND_DN: Invalid credentials" \
  "$ERR" "stderr of a query with a wrong bind password"

# A server that never answers: the query gives up after its 2s timeout.
start=$SECONDS
table_query silent alice@example.test
elapsed=$((SECONDS - start))
assert_eq 75 "$RC" "exit status of a query to a silent server (stderr: $ERR)"
[[ "$ERR" == "petrel: temporary failure: table ldap:silent: bind as $SLAPD_BIND_DN: "* ]] ||
  fail "stderr of a query to a silent server: $ERR"
log "silent server: ${elapsed}s: $ERR"
((elapsed <= 5)) || fail "a query to a silent server with timeout 2s took ${elapsed}s"

# ---- mail through LDAP tables ----------------------------------------------------------------
start_petrel

py <<'EOF'
import smtplib
from lib import *

# alice directly, sales (alice, bob), team (carol, bob), postmaster (alice): each once.
msg = make_message("ldap", ["through the directory"], msgid="<ldap-1@example.net>",
                   to="sales@example.test")
with smtplib.SMTP("127.0.0.1", SMTP_PORT, local_hostname="client.example.net", timeout=30) as s:
    refused = s.sendmail("sender@example.net", ["alice@example.test", "sales@example.test",
                                                "team@example.test", "postmaster@example.test"],
                         msg)
    check(refused == {}, "refused: %r" % refused)
for box in ("alice", "bob", "carol"):
    files = wait_maildir("example.test/" + box, 1)
    check(len(files) == 1, "%s got %d copies" % (box, len(files)))

c = Client(timeout=30)
c.ehlo("unknown.example.net")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
c.expect("RCPT TO:<dave@example.test>", 550, "5.1.1")
# Filter injection attempts: a wildcard would match every mailbox, a second filter anyone.
c.expect("RCPT TO:<*@example.test>", 550, "5.1.1")
r = c.cmd('RCPT TO:<"*)(mail=*"@example.test>')
check(r.code in (550, 501, 553), "injection attempt accepted or deferred: %r" % r)
r = c.cmd('RCPT TO:<*)(mail=*@example.test>')
check(r.code in (550, 501, 553), "injection attempt accepted or deferred: %r" % r)
c.expect("RCPT TO:<alice@example.test>", 250)
c.expect("RSET", 250)
c.expect("QUIT", 221)
EOF
# The escaped filters matched nothing: no mailbox got an extra message.
for box in alice bob carol; do
  assert_eq 1 "$(count_maildir "example.test/$box")" "messages in $box's Maildir after the injection attempts"
done
assert_log 'NOQUEUE: reject: RCPT from [^:]+: 550 5\.1\.1 <\*@example\.test>:' "reject of *@example.test"
wait_for 10 "the queue to be empty" queue_empty

# ---- the directory goes away mid-run, and comes back -----------------------------------------
stop_slapd
py <<'EOF'
from lib import *
c = Client(timeout=30)
c.ehlo("client.example.net")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 451, "4.3.0")
c.expect("RCPT TO:<nobody@example.test>", 451, "4.3.0")     # not 550: the table cannot say
c.expect("RCPT TO:<postmaster@example.test>", 451, "4.3.0")
c.expect("QUIT", 221)
EOF
assert_log 'NOQUEUE: reject: RCPT from [^:]+: 451 4\.3\.0 <alice@example\.test>:' "451 reject line while slapd is down"
assert_log "table ldap:(mailboxes|aliases): .*Can't contact LDAP server" "the table failure in the log"

start_slapd
py <<'EOF'
from lib import *
msg = make_message("again", ["after the restart"], msgid="<ldap-2@example.net>")
send_message("sender@example.net", ["alice@example.test", "team@example.test"], msg)
wait_maildir("example.test/alice", 2)
wait_maildir("example.test/bob", 2)
wait_maildir("example.test/carol", 2)
c = Client(timeout=30)
c.ehlo("client.example.net")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<nobody@example.test>", 550, "5.1.1")
c.expect("QUIT", 221)
EOF
wait_for 10 "the queue to be empty" queue_empty
stop_petrel

# ---- a wrong bind password for the mailbox table: 451, never 5xx ----------------------------
ldap_config "not-the-password"
start_petrel
py <<'EOF'
from lib import *
c = Client(timeout=30)
c.ehlo("client.example.net")
c.expect("MAIL FROM:<sender@example.net>", 250)
c.expect("RCPT TO:<alice@example.test>", 451, "4.3.0")
c.expect("RCPT TO:<nobody@example.test>", 451, "4.3.0")
c.expect("RCPT TO:<sales@example.test>", 451, "4.3.0")  # the alias resolves, its mailboxes not
c.expect("DATA", 554, "5.5.1")
c.expect("QUIT", 221)
EOF
assert_log "table ldap:mailboxes: bind as cn=petrel,dc=example,dc=test: Invalid credentials" \
  "the bind failure in the log"
assert_no_log "not-the-password" "the bind password in the log"
assert_no_log "$SLAPD_BIND_PW" "the bind password in the log"
stop_petrel
stop_slapd
pass
