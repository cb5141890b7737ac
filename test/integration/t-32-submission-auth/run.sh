#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config, self-signed certificate generated on start,
#   limits.auth_failures_per_client: 3) with four SMTP listeners on 127.0.0.1:
#     mx          $SMTP_PORT    tls: optional, no AUTH, restrictions: default
#     submission  $SUB_PORT     tls: required, auth: required, restrictions: submission
#     submissions $SUBS_PORT    tls: implicit, auth: required, restrictions: submission
#     subopt      $SUBOPT_PORT  tls: optional, auth: optional, restrictions: submission
#   status on $STATUS_PORT. Users alice@example.test and bob@example.test added with
#   `petrel user add` (password on stdin). Clients: swaks (--tls/--tlsc, --auth PLAIN/LOGIN),
#   Python smtplib (starttls+login, SMTP_SSL), msmtp, raw Python sockets (some bound to
#   127.0.0.4..7 so each AUTH-failure count starts from zero).
# Submission (RFC 6409, 8314, 4954): AUTH is offered only inside TLS and refused before it
# (530 5.7.0); MAIL before AUTH is 530 5.7.0; PLAIN and LOGIN succeed (235 2.7.0) from every
# client and the mail arrives "with ESMTPSA"; a wrong password is 535 5.7.8 after a delay;
# alice may send as alice+tag but not as bob (553 5.7.1); alice may relay after AUTH (the
# message is queued, and deferred dsn=4.4.3, relay=none: the only DNS server is dead); the
# third failure from one IP is 535 then 421 4.7.0 and a close, and that IP's next AUTH is 421
# even with the right password. The log has the TLS, SASL and client=...sasl_username lines and
# never a password.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool openssl msmtp
need_swaks_tls

ALICE_PW='Alice-pw-7731'
BOB_PW='Bob-pw-4410'
export ALICE_PW BOB_PW
pick_ports SUB_PORT SUBS_PORT SUBOPT_PORT DEAD_DNS_PORT
write_config "
listeners:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT', tls: optional}
  - {name: submission, address: '127.0.0.1:$SUB_PORT', tls: required, auth: required,
     restrictions: submission}
  - {name: submissions, address: '127.0.0.1:$SUBS_PORT', tls: implicit, auth: required,
     restrictions: submission}
  - {name: subopt, address: '127.0.0.1:$SUBOPT_PORT', tls: optional, auth: optional,
     restrictions: submission}
limits: {auth_failures_per_client: 3}
dns: {servers: ['127.0.0.1:$DEAD_DNS_PORT']}
"
add_user alice@example.test "$ALICE_PW"
add_user bob@example.test "$BOB_PW"
start_petrel
for p in "$SUB_PORT" "$SUBS_PORT" "$SUBOPT_PORT"; do
  wait_for 10 "port $p to accept connections" port_open "$p"
done

# ---- raw dialogues ---------------------------------------------------------------------------
py <<'EOF'
import os, time
from lib import *
SUB, SUBS, SUBOPT = (int(os.environ[k]) for k in ("SUB_PORT", "SUBS_PORT", "SUBOPT_PORT"))
ALICE, BOB = os.environ["ALICE_PW"], os.environ["BOB_PW"]
ids = {}

# Submission port before TLS: STARTTLS offered, AUTH not; AUTH and MAIL refused.
c = Client(port=SUB)
kw = ehlo_keywords(c.ehlo())
check("STARTTLS" in kw and "AUTH" not in kw, "EHLO before STARTTLS: %r" % kw)
r = c.expect("AUTH PLAIN " + auth_plain("alice@example.test", ALICE), 530, "5.7.0")
r = c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
check("Must issue a STARTTLS command first" in r.text, "MAIL before STARTTLS: %r" % r)
# Inside TLS: AUTH PLAIN LOGIN offered, STARTTLS not; MAIL before AUTH refused.
c.starttls()
kw = ehlo_keywords(c.ehlo())
check("STARTTLS" not in kw, "EHLO inside TLS offers STARTTLS: %r" % kw)
check(set(kw.get("AUTH", "").split()) == {"PLAIN", "LOGIN"}, "AUTH mechanisms: %r" % kw)
r = c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
check("Authentication required" in r.text, "MAIL before AUTH: %r" % r)
r = c.expect("AUTH PLAIN " + auth_plain("alice@example.test", ALICE), 235, "2.7.0")
c.expect("AUTH PLAIN " + auth_plain("alice@example.test", ALICE), 503)
# alice may not use bob's address...
c.expect("MAIL FROM:<bob@example.test>", 250)
r = c.expect("RCPT TO:<alice@example.test>", 553, "5.7.1")
check("<bob@example.test>: Sender address rejected: not owned by user alice@example.test" in r.text,
      "sender mismatch reply: %r" % r)
c.expect("RSET", 250)
# ...but her own with an extension, to a local user...
c.expect("MAIL FROM:<alice+lists@example.test>", 250)
c.expect("RCPT TO:<bob@example.test>", 250)
c.expect("DATA", 354)
msg = make_message("alice+lists to bob", ["via raw submission"], msgid="<t32-raw@example.net>",
                   sender="alice+lists@example.test", to="bob@example.test")
ids["raw"] = queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0"))
# ...and relay to a foreign domain.
c.expect("MAIL FROM:<alice@example.test>", 250)
c.expect("RCPT TO:<someone@external.example>", 250)
c.expect("DATA", 354)
msg = make_message("relay", ["to the outside"], msgid="<t32-relay@example.net>",
                   sender="alice@example.test", to="someone@external.example")
ids["relay"] = queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0"))
c.expect("QUIT", 221)
c.close()

# Implicit TLS: a wrong password (535 5.7.8, after a delay), then the right one; AUTH LOGIN.
c = Client(port=SUBS, implicit_tls=True)
check(c.banner.code == 220, "banner on the implicit-TLS port: %r" % c.banner)
kw = ehlo_keywords(c.ehlo())
check(set(kw.get("AUTH", "").split()) == {"PLAIN", "LOGIN"} and "STARTTLS" not in kw,
      "EHLO on the implicit-TLS port: %r" % kw)
t0 = time.time()
c.expect("AUTH PLAIN " + auth_plain("alice@example.test", "wrong-password"), 535, "5.7.8")
check(time.time() - t0 >= 0.8, "535 came after %.2fs, want a delay of about 1s" % (time.time() - t0))
r = c.expect("AUTH LOGIN", 334)
check(r.text == "VXNlcm5hbWU6", "AUTH LOGIN username prompt: %r" % r)
r = c.expect(b64("alice@example.test"), 334)
check(r.text == "UGFzc3dvcmQ6", "AUTH LOGIN password prompt: %r" % r)
c.expect(b64(ALICE), 235, "2.7.0")
c.expect("MAIL FROM:<alice@example.test>", 250)
c.expect("RCPT TO:<bob@example.test>", 250)
c.expect("DATA", 354)
msg = make_message("login on 465", ["AUTH LOGIN over implicit TLS"], msgid="<t32-login@example.net>",
                   sender="alice@example.test", to="bob@example.test")
ids["login"] = queued_id(c.expect_raw(dot_stuff(msg), 250, "2.0.0"))
c.expect("QUIT", 221)
c.close()

# Protocol errors, each from its own address so none adds to another's failure count.
c = Client(port=SUB, source="127.0.0.5")
c.ehlo(); c.starttls(); c.ehlo()
c.expect("AUTH CRAM-MD5", 504, "5.5.4")
c.expect("AUTH PLAIN " + auth_plain("alice@example.test", ALICE), 235, "2.7.0")
c.close()
c = Client(port=SUB, source="127.0.0.6")
c.ehlo(); c.starttls(); c.ehlo()
r = c.expect("AUTH PLAIN", 334)
c.expect("!!not*base64!!", 501, "5.5.2")
c.expect("AUTH PLAIN " + auth_plain("alice@example.test", ALICE), 235, "2.7.0")
c.close()
c = Client(port=SUB, source="127.0.0.7")
c.ehlo(); c.starttls(); c.ehlo()
c.expect("AUTH LOGIN", 334)
c.expect("*", 501, "5.7.0")
c.expect("MAIL FROM:<alice@example.test>", 530, "5.7.0")
c.close()

# Submission rules without AUTH (auth: optional listener): a local user's address needs a
# login, anything else is refused by the final `reject`.
c = Client(port=SUBOPT)
c.ehlo(); c.starttls(); c.ehlo()
c.expect("MAIL FROM:<alice@example.test>", 250)
r = c.expect("RCPT TO:<bob@example.test>", 553, "5.7.1")
check("<alice@example.test>" in r.text and "not logged in" in r.text, "unauthenticated sender: %r" % r)
c.expect("RSET", 250)
c.expect("MAIL FROM:<someone@example.net>", 250)
r = c.expect("RCPT TO:<bob@example.test>", 554, "5.7.1")
check("Access denied" in r.text, "unauthenticated submission: %r" % r)
c.expect("QUIT", 221)
c.close()

# The mx listener (auth: none) offers no AUTH, in TLS or not.
c = Client()
kw = ehlo_keywords(c.ehlo())
check("AUTH" not in kw and "STARTTLS" in kw, "mx EHLO before TLS: %r" % kw)
c.starttls()
kw = ehlo_keywords(c.ehlo())
check("AUTH" not in kw, "mx EHLO inside TLS: %r" % kw)
c.close()

with open(os.path.join(os.environ["T"], "ids"), "w") as f:
    for k, v in ids.items():
        f.write("%s %s\n" % (k, v))
EOF

# ---- real clients ----------------------------------------------------------------------------
swaks_ok() {  # NAME ARGS...: one swaks run that must end with the message queued
  local name="$1"
  shift
  swaks --server 127.0.0.1 --helo client.example.net "$@" \
    --header "Message-ID: <t32-$name@example.net>" --header "Subject: t-32 $name" \
    >"$T/swaks-$name.out" 2>&1 || fail "swaks $name failed (exit $?): $(tail -n 25 "$T/swaks-$name.out")"
  assert_file_contains "$T/swaks-$name.out" '^<~ +235 2\.7\.0' "swaks $name: AUTH accepted"
  assert_file_contains "$T/swaks-$name.out" '^<~ +250 2\.0\.0 .*queued as [0-9A-F]+' "swaks $name: queued"
}
swaks_ok swplain --port "$SUB_PORT" --tls --auth PLAIN \
  --auth-user alice@example.test --auth-password "$ALICE_PW" --from alice@example.test --to bob@example.test
swaks_ok swlogin --port "$SUB_PORT" --tls --auth LOGIN \
  --auth-user alice@example.test --auth-password "$ALICE_PW" --from alice@example.test --to bob@example.test
swaks_ok swimplicit --port "$SUBS_PORT" --tlsc --auth PLAIN \
  --auth-user bob@example.test --auth-password "$BOB_PW" --from bob@example.test --to alice@example.test
# swaks with a wrong password: 535 5.7.8 (the second failure from 127.0.0.1; the limit is 3)
if swaks --server 127.0.0.1 --port "$SUB_PORT" --tls --auth PLAIN --helo client.example.net \
  --auth-user bob@example.test --auth-password nope --from bob@example.test --to alice@example.test \
  >"$T/swaks-wrong.out" 2>&1; then
  fail "swaks with a wrong password succeeded: $(tail -n 20 "$T/swaks-wrong.out")"
fi
assert_file_contains "$T/swaks-wrong.out" '^<~\* +535 5\.7\.8' "swaks with a wrong password: 535 5.7.8"

py <<'EOF'
import os, smtplib
from lib import *
SUB, SUBS = int(os.environ["SUB_PORT"]), int(os.environ["SUBS_PORT"])
ctx = tls_context()
msg = make_message("smtplib starttls", ["smtplib starttls+login"], msgid="<t32-smtplib@example.net>",
                   sender="alice@example.test", to="bob@example.test")
with smtplib.SMTP("127.0.0.1", SUB, local_hostname="client.example.net", timeout=15) as s:
    s.starttls(context=ctx)
    s.ehlo()
    code, text = s.login("alice@example.test", os.environ["ALICE_PW"])
    check(code == 235, "smtplib login: %d %r" % (code, text))
    check(s.sendmail("alice@example.test", ["bob@example.test"], msg) == {}, "smtplib refused")
msg = make_message("smtplib ssl", ["smtplib SMTP_SSL"], msgid="<t32-smtpssl@example.net>",
                   sender="bob@example.test", to="alice@example.test")
with smtplib.SMTP_SSL("127.0.0.1", SUBS, local_hostname="client.example.net", timeout=15,
                      context=ctx) as s:
    code, text = s.login("bob@example.test", os.environ["BOB_PW"])
    check(code == 235, "SMTP_SSL login: %d %r" % (code, text))
    check(s.sendmail("bob@example.test", ["alice@example.test"], msg) == {}, "SMTP_SSL refused")
EOF

umask 077
cat >"$T/msmtprc" <<EOF
defaults
auth on
tls on
tls_certcheck off
domain client.example.net
logfile $T/msmtp.log

account submission
host 127.0.0.1
port $SUB_PORT
tls_starttls on
from alice@example.test
user alice@example.test
password $ALICE_PW

account submissions
host 127.0.0.1
port $SUBS_PORT
tls_starttls off
from bob@example.test
user bob@example.test
password $BOB_PW
EOF
printf 'From: <alice@example.test>\nTo: <bob@example.test>\nSubject: t-32 msmtp\nMessage-ID: <t32-msmtp@example.net>\n\nvia msmtp and STARTTLS\n' |
  msmtp -C "$T/msmtprc" -a submission bob@example.test >"$T/msmtp.out" 2>&1 ||
  fail "msmtp (STARTTLS) failed: $(cat "$T/msmtp.out" "$T/msmtp.log" 2>/dev/null | tail -n 20)"
printf 'From: <bob@example.test>\nTo: <alice@example.test>\nSubject: t-32 msmtp 465\nMessage-ID: <t32-msmtp465@example.net>\n\nvia msmtp and implicit TLS\n' |
  msmtp -C "$T/msmtprc" -a submissions alice@example.test >"$T/msmtp465.out" 2>&1 ||
  fail "msmtp (implicit TLS) failed: $(cat "$T/msmtp465.out" "$T/msmtp.log" 2>/dev/null | tail -n 20)"

# bob: raw PLAIN, raw LOGIN, swaks PLAIN + LOGIN, smtplib, msmtp; alice: swaks --tlsc, SMTP_SSL, msmtp 465.
py <<'EOF'
from lib import *
for box, tags in (("example.test/bob", ["raw", "login", "swplain", "swlogin", "smtplib", "msmtp"]),
                  ("example.test/alice", ["swimplicit", "smtpssl", "msmtp465"])):
    files = wait_maildir(box, len(tags))
    got = sorted(re.search(rb"^Message-ID: <t32-([a-z0-9]+)@", open(f, "rb").read(), re.M | re.I)
                 .group(1).decode() for f in files)
    check(got == sorted(tags), "%s holds %r, want %r" % (box, got, sorted(tags)))
    for f in files:
        rcv = received_headers(f)
        check(len(rcv) == 1, "%s: Received: fields %r" % (f, rcv))
        check(re.search(r"\(using TLSv1\.[23] with cipher \S+ \((\d+)/\1 bits\)\)", rcv[0]) and
              " with ESMTPSA id " in rcv[0], "%s: Received: is not TLS + AUTH: %r" % (f, rcv[0]))
EOF

# ---- the failure limit (3 per client IP), from 127.0.0.4 -------------------------------------
py <<'EOF'
import os, time
from lib import *
SUB = int(os.environ["SUB_PORT"])
c = Client(port=SUB, source="127.0.0.4")
c.ehlo(); c.starttls(); c.ehlo()
c.expect("AUTH PLAIN " + auth_plain("bob@example.test", "bad-1"), 535, "5.7.8")
t0 = time.time()
c.expect("AUTH PLAIN " + auth_plain("bob@example.test", "bad-2"), 535, "5.7.8")
check(time.time() - t0 >= 1.8, "the second 535 in a session came after %.2fs, want about 2s"
      % (time.time() - t0))
c.expect("AUTH PLAIN " + auth_plain("bob@example.test", "bad-3"), 535, "5.7.8")
c.expect(None, 421, "4.7.0")
check(c.is_closed(5), "the connection stayed open after 421 4.7.0")
c.close()
# The next connection from that address: refused at AUTH, right password or not.
c = Client(port=SUB, source="127.0.0.4")
c.ehlo(); c.starttls(); c.ehlo()
c.expect("AUTH PLAIN " + auth_plain("bob@example.test", os.environ["BOB_PW"]), 421, "4.7.0")
check(c.is_closed(5), "the connection stayed open after 421 4.7.0")
c.close()
# Other addresses are not affected (127.0.0.1 has two failures so far).
c = Client(port=SUB)
c.ehlo(); c.starttls(); c.ehlo()
c.expect("AUTH PLAIN " + auth_plain("bob@example.test", os.environ["BOB_PW"]), 235, "2.7.0")
c.expect("QUIT", 221)
EOF

# ---- the relayed message: queued, then deferred (its domain cannot be resolved) -------------
RELAY_ID="$(awk '$1 == "relay" {print $2}' "$T/ids")"
LOGIN_ID="$(awk '$1 == "login" {print $2}' "$T/ids")"
RAW_ID="$(awk '$1 == "raw" {print $2}' "$T/ids")"
wait_for 15 "the relayed message $RELAY_ID to be deferred" log_has \
  "$RELAY_ID: to=<someone@external\\.example>, relay=none, delay=[0-9.]+, delays=[0-9./]+, dsn=4\\.4\\.3, status=deferred \\(Host or domain name not found"
RELAY_ID="$RELAY_ID" py <<'EOF'
import os
from lib import *
q = {m["id"]: m for m in queue_list()}
rid = os.environ["RELAY_ID"]
check(list(q) == [rid], "queue holds %r, want only the relayed message %s" % (list(q), rid))
m = q[rid]
check(m["sender"] == "alice@example.test", "relayed message sender %r" % m["sender"])
check([r["address"] for r in m["recipients"]] == ["someone@external.example"] and
      m["recipients"][0]["status"] == "deferred", "relayed message recipients %r" % m["recipients"])
EOF

# ---- the log -------------------------------------------------------------------------------
assert_log "$RELAY_ID: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=PLAIN, sasl_username=alice@example\\.test\$" "client= line of the relayed message"
assert_log "$RAW_ID: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=PLAIN, sasl_username=alice@example\\.test\$" "client= line of the raw submission"
assert_log "$LOGIN_ID: client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=LOGIN, sasl_username=alice@example\\.test\$" "client= line of the AUTH LOGIN submission"
assert_log ': client=unknown\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=bob@example\.test$' "client= line of bob's submissions"
assert_log 'petrel/smtpd\[[0-9]+\]: Anonymous TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.[23] with cipher [^ ]+ \(([0-9]+)/\1 bits\)' "STARTTLS log line"
assert_log 'petrel/smtpd\[[0-9]+\]: Implicit TLS connection established from unknown\[127\.0\.0\.1\]: TLSv1\.[23] with cipher [^ ]+ \(([0-9]+)/\1 bits\)' "implicit TLS log line"
assert_log 'petrel/smtpd\[[0-9]+\]: unknown\[127\.0\.0\.1\]: SASL PLAIN authentication succeeded: sasl_username=alice@example\.test$' "SASL PLAIN success line"
assert_log 'petrel/smtpd\[[0-9]+\]: unknown\[127\.0\.0\.1\]: SASL LOGIN authentication succeeded: sasl_username=alice@example\.test$' "SASL LOGIN success line"
assert_log 'petrel/smtpd\[[0-9]+\]: warning: unknown\[127\.0\.0\.1\]: SASL PLAIN authentication failed: .*sasl_username=alice@example\.test$' "SASL failure line"
assert_eq 3 "$(log_count 'warning: unknown\[127\.0\.0\.4\]: SASL PLAIN authentication failed: .*sasl_username=bob@example\.test$')" \
  "SASL failure lines from 127.0.0.4 (the refused 4th attempt must not be checked)"
assert_no_log 'unknown\[127\.0\.0\.4\]: SASL [A-Z]+ authentication succeeded' "127.0.0.4 over its limit"
assert_log 'NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.1\]: 553 5\.7\.1 <bob@example\.test>: Sender address rejected: not owned by user alice@example\.test; from=<bob@example\.test> to=<alice@example\.test>' "sender login mismatch reject line"
for secret in "$ALICE_PW" "$BOB_PW" "$(printf '\0alice@example.test\0%s' "$ALICE_PW" | base64)" "$(printf '%s' "$ALICE_PW" | base64)"; do
  if grep -qF -- "$secret" "$PETREL_LOG"; then
    fail "a password (or its base64) is in the log: $(grep -F -m1 -- "$secret" "$PETREL_LOG")"
  fi
done
stop_petrel
pass
