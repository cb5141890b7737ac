#!/usr/bin/env bash
# Setup: `petrel serve` (quick-start config, hostname mx.petrel.test, dns.servers -> the test's
#   DNS server, relay.tls_ca_file = two of the test's self-signed certificates) restarted with
#   a new config per phase; relay_lib.py serves DNS on 127.0.0.1:$DNS_PORT and aiosmtpd peers:
#     relay      127.0.0.5:587  STARTTLS (self-signed), required; AUTH PLAIN LOGIN, only over
#                               TLS, required
#     relaylogin 127.0.0.6:587  the same with AUTH LOGIN only
#     vgood      127.0.0.7:25   mx.vgood.test, STARTTLS, certificate for mx.vgood.test (in CA file)
#     vbad       127.0.0.8:25   mx.vbad.test, STARTTLS, certificate for mx.vbad.test (not in it)
#     vname      127.0.0.9:25   mx.vname.test, STARTTLS, certificate for wrong.name.test (in it)
#     plain      127.0.0.10:25  mx.plain.test, no STARTTLS
#     plainauth  127.0.0.11:587 no STARTTLS; AUTH offered in plaintext and required
#     badtls     127.0.0.12:25  mx.badtls.test, offers STARTTLS but every handshake fails
#                               (TLS 1.1 at most)
#   Mail comes from alice@example.test over a raw socket from 127.0.0.1; no DSN may reach her.
# 1. relayhost "[127.0.0.5]:587" + relayhost_auth (password_file) + tls: encrypt: a message to
#    two domains goes there in one transaction, no MX lookup; the peer saw STARTTLS, then AUTH
#    as relayuser over TLS; the password is not in the log. Then relayhost [127.0.0.6]:587:
#    AUTH LOGIN when only LOGIN is offered.
# 2. tls: verify (MX routing): vgood is delivered over TLS; vbad (untrusted) and vname (name
#    mismatch) are deferred with a certificate reason, and those peers never see MAIL.
# 3. tls: may, tls_policy {vname.test: verify}: on the flush vbad is delivered over TLS (may does
#    not verify), vname is deferred again (the table wins), and plain gets a message without
#    STARTTLS.
# 4. tls: encrypt, tls_policy {vname.test: none}: a message to plain is deferred (no STARTTLS
#    offered), one to vbad is delivered over TLS (encrypt does not verify), vname is finally
#    delivered without STARTTLS although it offers it.
# 5. relayhost [127.0.0.11]:587, AUTH offered only in plaintext, relayhost_auth.plaintext unset:
#    no AUTH is sent, the message is deferred (not bounced); with plaintext: true it is
#    delivered after AUTH in plaintext.
# 6. tls: may against badtls: the handshake fails, and the message goes in plaintext on a new
#    connection (docs/relay.md: "may falls back to plaintext when the handshake fails").
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$IT_DIR/relay_lib.sh"
need_relay_harness 127.0.0.5:587 127.0.0.6:587 127.0.0.7:25 127.0.0.8:25 127.0.0.9:25 \
  127.0.0.10:25 127.0.0.11:587 127.0.0.12:25

PASSWORD='s3cret pass:w0rd'
printf '%s\nsecond line is not the password\n' "$PASSWORD" >"$T/relay.pass"
chmod 600 "$T/relay.pass"
make_cert "$T/relay" relay.remote.test 0x4301
make_cert "$T/vgood" mx.vgood.test 0x4302
make_cert "$T/vbad" mx.vbad.test 0x4303
make_cert "$T/vname" wrong.name.test 0x4304
make_cert "$T/badtls" mx.badtls.test 0x4305
cat "$T/vgood.crt" "$T/vname.crt" >"$T/ca.pem"

pick_ports DNS_PORT
start_harness world "
dns:
  address: 127.0.0.1:$DNS_PORT
  zones:
    vgood.test: {MX: ['10 mx.vgood.test']}
    mx.vgood.test: {A: [127.0.0.7]}
    vbad.test: {MX: ['10 mx.vbad.test']}
    mx.vbad.test: {A: [127.0.0.8]}
    vname.test: {MX: ['10 mx.vname.test']}
    mx.vname.test: {A: [127.0.0.9]}
    plain.test: {MX: ['10 mx.plain.test']}
    mx.plain.test: {A: [127.0.0.10]}
    badtls.test: {MX: ['10 mx.badtls.test']}
    mx.badtls.test: {A: [127.0.0.12]}
peers:
  - name: relay
    address: 127.0.0.5:587
    hostname: relay.remote.test
    starttls: {cert: $T/relay.crt, key: $T/relay.key}
    require_tls: true
    auth: {user: relayuser, password: '$PASSWORD', mechanisms: [PLAIN, LOGIN]}
  - name: relaylogin
    address: 127.0.0.6:587
    hostname: relay2.remote.test
    starttls: {cert: $T/relay.crt, key: $T/relay.key}
    require_tls: true
    auth: {user: relayuser, password: '$PASSWORD', mechanisms: [LOGIN]}
  - {name: vgood, address: '127.0.0.7:25', hostname: mx.vgood.test, starttls: {cert: $T/vgood.crt, key: $T/vgood.key}}
  - {name: vbad, address: '127.0.0.8:25', hostname: mx.vbad.test, starttls: {cert: $T/vbad.crt, key: $T/vbad.key}}
  - {name: vname, address: '127.0.0.9:25', hostname: mx.vname.test, starttls: {cert: $T/vname.crt, key: $T/vname.key}}
  - {name: plain, address: '127.0.0.10:25', hostname: mx.plain.test}
  - name: plainauth
    address: 127.0.0.11:587
    hostname: plainauth.remote.test
    auth: {user: relayuser, password: '$PASSWORD', require_tls: false, required: true}
  - name: badtls
    address: 127.0.0.12:25
    hostname: mx.badtls.test
    starttls: {cert: $T/badtls.crt, key: $T/badtls.key, max_version: TLSv1_1}
"

# phase CONFIG_YAML: restart petrel with the common settings plus CONFIG_YAML.
phase() {
  [[ -n "$PETREL_PID" ]] && stop_petrel
  write_config "
hostname: mx.petrel.test
dns: {servers: ['127.0.0.1:$DNS_PORT']}
queue: {min_backoff: 1s, max_backoff: 1s}
relay:
  tls_ca_file: $T/ca.pem
  connection_cache_time: 1s
  timeouts: {connect: 3s, greeting: 5s, command: 5s, data_init: 5s, data_block: 5s, data_done: 5s}
$1"
  check_config
  MARK=0
  [[ -f "$PETREL_LOG" ]] && MARK="$(wc -l <"$PETREL_LOG")"
  start_petrel
}
# log_since PATTERN: a log line written since the last phase() matches.
log_since() { tail -n +"$((MARK + 1))" "$PETREL_LOG" | grep -Eq -- "$1"; }
log_count_since() { tail -n +"$((MARK + 1))" "$PETREL_LOG" | grep -Ec -- "$1" || true; }
# submit KEY RCPT...: a message from alice; its queue id goes to $T/KEY.id.
submit() {
  KEY="$1" py - "${@:2}" <<'EOF'
import os, sys
from lib import *
key = os.environ["KEY"]
msg = make_message("t-43 " + key, ["about " + key], msgid="<t43-%s@example.test>" % key,
                   sender="alice@example.test", to=sys.argv[1])
open(os.path.join(os.environ["T"], key + ".id"), "w").write(send_message("alice@example.test", sys.argv[1:], msg))
EOF
}
id_of() { cat "$T/$1.id"; }
# peer_check PEER KEY RCPTS TLS AUTH_USER [MECH]: PEER's message about KEY (Subject "t-43 KEY")
# has these recipients (comma-separated), went over TLS or not (true/false), and after AUTH
# as AUTH_USER ("" for none), with MECH when given.
peer_check() {
  PEER="$1" KEY="$2" RCPTS="$3" TLS="$4" AUTHU="$5" MECH="${6:-}" py <<'EOF'
import os
from lib import *
from relay_lib import *
e = os.environ
mine = [(m, c) for m, c in peer_messages(e["PEER"]) if b"\r\nSubject: t-43 %s\r\n" % e["KEY"].encode() in c]
check(len(mine) == 1, "%s received %d copies of %s" % (e["PEER"], len(mine), e["KEY"]))
m, c = mine[0]
where = "%s at %s" % (e["KEY"], e["PEER"])
check(sorted(m["rcpt_tos"]) == sorted(e["RCPTS"].split(",")), "%s: recipients %r" % (where, m["rcpt_tos"]))
check(m["mail_from"] == "alice@example.test" and m["helo"] == "mx.petrel.test", "%s: envelope %r" % (where, m))
check(m["tls"] == (e["TLS"] == "true"), "%s: tls=%r, want %s" % (where, m["tls"], e["TLS"]))
if m["tls"]:
    check(m["tls_version"] in ("TLSv1.2", "TLSv1.3"), "%s: %r" % (where, m["tls_version"]))
check((m["auth_user"] or "") == e["AUTHU"], "%s: authenticated as %r, want %r" % (where, m["auth_user"], e["AUTHU"]))
if e["MECH"]:
    check(m["auth_mechanism"] == e["MECH"], "%s: AUTH %s, want %s" % (where, m["auth_mechanism"], e["MECH"]))
check(c.startswith(b"Received: from client.example.net (unknown [127.0.0.1])\r\n\tby mx.petrel.test (Petrel)"),
      "%s: content starts %r" % (where, c[:120]))
EOF
}
assert_no_mail_command() {  # PEER: it never got as far as MAIL FROM
  if peer_events "$1" | grep -q 'C: MAIL'; then
    fail "$1 saw MAIL: $(peer_events "$1" | tail -n 30)"
  fi
  assert_eq 0 "$(peer_count "$1")" "messages at $1"
}

# ---- 1. relayhost with STARTTLS and AUTH ---------------------------------------------------------
phase "
  relayhost: '[127.0.0.5]:587'
  relayhost_auth: {user: relayuser, password_file: $T/relay.pass}
  tls: encrypt
"
submit p1 far@far.test u@plain.test
wait_for 15 "p1 at the relayhost" peer_has relay 1
peer_check relay p1 far@far.test,u@plain.test true relayuser
for r in far@far.test u@plain.test; do
  assert_log "$(recipient_line "$(id_of p1)" "$r")[^,]*\\[127\\.0\\.0\\.5\\]:587, .*dsn=2\\.0\\.0, status=sent \\(250 2\\.0\\.0 Ok: queued as RELAY-0001\\)" "p1 to $r via the relayhost"
done
peer_events relay | grep -Eq '^conn [0-9]+: AUTH (PLAIN|LOGIN) user=relayuser ok$' ||
  fail "relayhost: no successful AUTH over TLS: $(peer_events relay)"
peer_events relay | awk '/C: STARTTLS/ {t=1} /C: AUTH/ && !t {exit 1}' ||
  fail "AUTH before STARTTLS: $(peer_events relay)"
grep -qF "$PASSWORD" "$PETREL_LOG" && fail "the relayhost password is in the log"
dns_queries | grep -Eq 'far\.test|plain\.test' && fail "the relayhost [ip] still looked up recipient domains: $(dns_queries)"
assert_eq 0 "$(peer_count plain)" "messages at plain (everything goes to the relayhost)"

phase "
  relayhost: '[127.0.0.6]:587'
  relayhost_auth: {user: relayuser, password_file: $T/relay.pass}
  tls: encrypt
"
submit p1b far@far.test
wait_for 15 "p1b at the LOGIN-only relayhost" peer_has relaylogin 1
peer_check relaylogin p1b far@far.test true relayuser LOGIN

# ---- 2. verify -------------------------------------------------------------------------------
phase "
  tls: verify
"
submit vgood u@vgood.test
submit vbad u@vbad.test
submit vname u@vname.test
wait_for 15 "vgood delivered under verify" peer_has vgood 1
peer_check vgood vgood u@vgood.test true ""
for k in vbad vname; do
  wait_for 15 "$k deferred under verify" log_since "$(recipient_line "$(id_of $k)" "u@$k.test")mx\\.$k\\.test\\[127\\.0\\.0\\.[0-9]+\\]:25, .*status=deferred \\("
  line="$(grep -E "$(recipient_line "$(id_of $k)" "u@$k.test").*status=deferred" "$PETREL_LOG" | head -1)"
  grep -Eiq 'certificate|verif|mismatch' <<<"$line" || fail "$k: the deferral does not say why TLS failed: $line"
  assert_no_mail_command "$k"
done
assert_eq 2 "$(queue_count)" "messages queued after the verify failures"

# ---- 3. may, with a verify entry in tls_policy --------------------------------------------------
phase "
  tls: may
  tls_policy: tlspol
tables:
  tlspol: {type: inline, map: {vname.test: verify}}
"
petrel queue flush >/dev/null
submit may-plain u@plain.test
wait_for 15 "vbad delivered under may" peer_has vbad 1
peer_check vbad vbad u@vbad.test true ""
wait_for 15 "may-plain delivered" peer_has plain 1
peer_check plain may-plain u@plain.test false ""
peer_events plain | grep -q 'C: STARTTLS' && fail "STARTTLS sent to a host that does not offer it"
wait_for 15 "vname deferred again (tls_policy: verify)" log_since \
  "$(recipient_line "$(id_of vname)" u@vname.test)mx\\.vname\\.test\\[127\\.0\\.0\\.9\\]:25, .*status=deferred \\("
assert_no_mail_command vname
# ---- 4. encrypt, with a none entry in tls_policy ------------------------------------------------
phase "
  tls: encrypt
  tls_policy: tlspol
tables:
  tlspol: {type: inline, map: {vname.test: none}}
"
petrel queue flush >/dev/null
submit enc-plain u2@plain.test
submit enc-vbad u3@vbad.test
wait_for 15 "enc-vbad delivered under encrypt" peer_has vbad 2
peer_check vbad enc-vbad u3@vbad.test true ""
wait_for 15 "vname delivered with tls_policy none" peer_has vname 1
peer_check vname vname u@vname.test false ""
wait_for 15 "enc-plain deferred (no STARTTLS offered)" log_since \
  "$(recipient_line "$(id_of enc-plain)" u2@plain.test)[^,]*, .*status=deferred \\("
line="$(grep -E "$(recipient_line "$(id_of enc-plain)" u2@plain.test).*status=deferred" "$PETREL_LOG" | head -1)"
grep -Eiq 'tls|starttls|encrypt' <<<"$line" || fail "enc-plain: the deferral does not mention TLS: $line"
assert_eq 1 "$(peer_count plain)" "messages at plain (only may-plain)"
petrel queue list --json | py -c 'import json,sys,os; q=json.load(sys.stdin); sys.exit(0 if [m["id"] for m in q]==[open(os.environ["T"]+"/enc-plain.id").read()] else "queue: %r" % q)' ||
  fail "the queue should hold only enc-plain"
petrel queue delete ALL >/dev/null

# ---- 5. AUTH never in plaintext unless allowed --------------------------------------------------
phase "
  relayhost: '[127.0.0.11]:587'
  relayhost_auth: {user: relayuser, password_file: $T/relay.pass}
  tls: may
"
submit p5 far@far.test
wait_for 15 "p5 deferred (AUTH only in plaintext)" log_since \
  "$(recipient_line "$(id_of p5)" far@far.test)[^,]*, .*status=deferred \\("
if peer_events plainauth | grep -q 'C: AUTH'; then
  fail "AUTH sent without TLS and without relayhost_auth.plaintext: $(peer_events plainauth)"
fi
assert_eq 0 "$(peer_count plainauth)" "messages at plainauth"
phase "
  relayhost: '[127.0.0.11]:587'
  relayhost_auth: {user: relayuser, password_file: $T/relay.pass, plaintext: true}
  tls: may
"
petrel queue flush >/dev/null
wait_for 15 "p5 delivered with AUTH in plaintext" peer_has plainauth 1
peer_check plainauth p5 far@far.test false relayuser
peer_events plainauth | grep -Eq 'AUTH (PLAIN|LOGIN) user=relayuser ok \(in plaintext\)$' ||
  fail "no AUTH in plaintext: $(peer_events plainauth)"
wait_for 10 "the queue to be empty" queue_empty

# ---- 6. may: plaintext after a failed handshake -------------------------------------------------
phase "
  tls: may
"
submit may-badtls u@badtls.test
wait_for 15 "may-badtls delivered in plaintext after the failed handshake" peer_has badtls 1
peer_check badtls may-badtls u@badtls.test false ""
py <<'EOF'
import re
from lib import *
from relay_lib import *
ev = peer_events("badtls")
check(re.search(r"^conn \d+: TLS handshake failed", ev, re.M), "badtls: no failed handshake:\n" + ev)
mail = re.findall(r"^conn (\d+): C: MAIL", ev, re.M)
check(len(mail) == 1, "badtls: MAIL on connections %r" % mail)
check(not re.search(r"^conn %s: C: STARTTLS" % mail[0], ev, re.M),
      "badtls: the message went on a connection that tried STARTTLS:\n" + ev)
EOF
wait_for 10 "the queue to be empty" queue_empty

assert_eq 0 "$(count_maildir example.test/alice)" "DSNs to alice (none wanted)"
grep -qF "$PASSWORD" "$PETREL_LOG" && fail "the relayhost password is in the log"
stop_petrel
stop_harness world
pass
