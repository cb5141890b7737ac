#!/usr/bin/env bash
# Setup: zone_dns.py on loopback serving the ARC key records of arc.test (an RSA key made with
#   openssl for dkimpy's side, an RSA and an Ed25519 key from `petrel dkim keygen` for
#   Petrel's); a config (not served) whose dns.servers is that server. No Petrel server runs.
# Both directions with dkimpy (python3-dkim's arc_sign / arc_verify) as the peer:
# - dkimpy seals a message (i=1, cv=none) and seals it again (i=2, cv=pass): `petrel arc
#   verify` says cv=pass for both; tampered (one body letter), cv=fail (exit 1);
# - `petrel arc seal` seals a plain message and then dkimpy's i=1 message (i=2): dkimpy's
#   arc_verify says pass for both, and fail once tampered; petrel's own verify agrees; an
#   Ed25519 seal on top (i=3) passes Petrel's verify (dkimpy knows only rsa-sha256 for ARC);
# - a chain whose newest seal says cv=fail is not sealed again (exit 1, nothing printed).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import dkim, authres; dkim.arc_sign, dkim.arc_verify' 2>/dev/null ||
  skip "python3-dkim (with authres) is not installed"
need_tool openssl

cd "$T"
# ---- keys and zone -------------------------------------------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out py.key 2>/dev/null
"$PETREL" dkim keygen --domain arc.test --selector prsa --out prsa.key >prsa.zone
"$PETREL" dkim keygen --domain arc.test --selector ped --algorithm ed25519 --out ped.key >ped.zone
py - <<'PY'
import base64, subprocess
der = subprocess.run(['openssl', 'pkey', '-in', 'py.key', '-pubout', '-outform', 'DER'],
                     capture_output=True, check=True).stdout
with open('records.txt', 'w') as f:
    f.write('py._domainkey.arc.test.\tv=DKIM1; k=rsa; p=%s\n' % base64.b64encode(der).decode())
PY
for z in prsa ped; do
  printf '%s._domainkey.arc.test.\t%s\n' "$z" "$(grep -o '"[^"]*"' $z.zone | tr -d '"\n')" >>records.txt
done
py - <<'PY'
with open('zone.txt', 'w') as z:
    z.write('arc.test. 60 IN SOA ns.arc.test. h.arc.test. 1 7200 900 1209600 60\n')
    for line in open('records.txt'):
        name, text = line.rstrip('\n').split('\t', 1)
        parts = ' '.join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))
        z.write('%s 60 IN TXT %s\n' % (name, parts))
PY
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
"

# ---- the message and the dkimpy helpers -----------------------------------------------------
py - <<'PY'
msg = ("Authentication-Results: fwd.arc.test; spf=pass smtp.mailfrom=alice@origin.example;\r\n"
       "  dkim=none\r\n"
       "From: Alice <alice@origin.example>\r\nTo: list@arc.test\r\nSubject: ARC across peers\r\n"
       "Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMessage-ID: <t76@origin.example>\r\n"
       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
       "Hello,\r\n\r\nthis  line has  double spaces and trailing blanks   \r\n\r\n\r\n")
open('plain.eml', 'wb').write(msg.encode())
PY
cat >arcpeer.py <<'PY'
import dkim, sys
records = {}
for line in open('records.txt'):
    name, text = line.rstrip('\n').split('\t', 1)
    records[name] = text.encode()
def dnsfunc(name, timeout=5):
    return records.get(name.decode())
cmd = sys.argv[1]
if cmd == 'seal':  # seal IN OUT AR-LINE: the forwarder's Authentication-Results, then arc_sign
    src, out, ar = sys.argv[2], sys.argv[3], sys.argv[4]
    msg = open(src, 'rb').read()
    # The forwarder's own Authentication-Results replace any earlier ones of its authserv-id.
    head, body = msg.split(b'\r\n\r\n', 1)
    kept, drop = [], False
    for line in head.split(b'\r\n'):
        if line[:1] not in (b' ', b'\t'):
            drop = line.lower().startswith(b'authentication-results: fwd.arc.test')
        if not drop:
            kept.append(line)
    msg = b'Authentication-Results: ' + ar.encode() + b'\r\n' + b'\r\n'.join(kept) + b'\r\n\r\n' + body
    sets = dkim.arc_sign(msg, b'py', b'arc.test', open('py.key', 'rb').read(), b'fwd.arc.test',
                         include_headers=[b'from', b'to', b'subject', b'date', b'message-id'])
    if not sets:
        sys.exit('arc_sign added no set')
    open(out, 'wb').write(b''.join(sets) + msg)
else:  # verify IN: prints cv and the reason, exit 0 only for pass
    cv, results, reason = dkim.arc_verify(open(sys.argv[2], 'rb').read(), dnsfunc=dnsfunc)
    print((cv or b'none').decode(), reason)
    sys.exit(0 if cv == b'pass' else 1)
PY
tamper() {  # IN OUT: one letter of the body changed
  sed 's/Hello,/Hullo,/' "$1" >"$2"
}
verify_petrel() {  # FILE EXPECTED-CV EXPECTED-EXIT
  local rc=0 out
  out="$(petrel arc verify "$1")" || rc=$?
  assert_eq "$3" "$rc" "exit status of petrel arc verify $1 ($out)"
  [[ "$(head -1 <<<"$out")" == "cv=$2"* ]] || fail "petrel arc verify $1: expected cv=$2: $out"
  log "petrel arc verify $1: $(head -1 <<<"$out")"
}
verify_dkimpy() {  # FILE EXPECTED-CV
  local out
  out="$(py arcpeer.py verify "$1")" || true
  [[ "$out" == "$2 "* ]] || fail "dkimpy arc_verify $1: expected $2: $out"
  log "dkimpy arc_verify $1: $out"
}

# ---- dkimpy seals, Petrel verifies ---------------------------------------------------------
py arcpeer.py seal plain.eml py1.eml 'fwd.arc.test; arc=none' || fail "dkimpy could not seal"
py arcpeer.py seal py1.eml py2.eml 'fwd.arc.test; arc=pass' || fail "dkimpy could not seal i=2"
verify_dkimpy py1.eml pass
verify_dkimpy py2.eml pass
verify_petrel plain.eml none 1
verify_petrel py1.eml pass 0
verify_petrel py2.eml pass 0
grep -q '^i=2 cv=pass' <(petrel arc verify py2.eml) || fail "petrel arc verify lists no i=2"
tamper py2.eml py2.bad.eml
verify_petrel py2.bad.eml fail 1
verify_dkimpy py2.bad.eml fail

# ---- Petrel seals, dkimpy verifies ---------------------------------------------------------
petrel arc seal plain.eml --domain arc.test --selector prsa --key prsa.key \
  --authserv-id fwd.arc.test >p1.eml 2>seal.err || fail "petrel arc seal: $(cat seal.err)"
grep -q '^ARC-Seal: a=rsa-sha256; b=' p1.eml || fail "no ARC-Seal on top: $(head -3 p1.eml)"
grep -q '^ARC-Authentication-Results: i=1; fwd.arc.test; spf=pass' p1.eml ||
  fail "the AAR does not carry our Authentication-Results: $(grep -i '^arc-auth' p1.eml)"
verify_dkimpy p1.eml pass
verify_petrel p1.eml pass 0
# Petrel adds i=2 to dkimpy's i=1.
petrel arc seal py1.eml --domain arc.test --selector prsa --key prsa.key \
  --authserv-id fwd.arc.test >p2.eml 2>seal.err || fail "petrel arc seal i=2: $(cat seal.err)"
grep -q 'i=2 cv=pass' seal.err || fail "petrel arc seal: $(cat seal.err)"
# py1's Authentication-Results of fwd.arc.test said arc=none; ours replaces it with the result.
grep -q '^ARC-Authentication-Results: i=2; fwd.arc.test; arc=pass (i=1) header.oldest-pass=0' p2.eml ||
  fail "the i=2 AAR: $(grep -i '^arc-auth' p2.eml)"
verify_dkimpy p2.eml pass
verify_petrel p2.eml pass 0
# Ed25519 (i=3 over p2): RFC 8617 names only rsa-sha256 and dkimpy refuses any other a=, so
# only Petrel's own verify can pass it.
petrel arc seal p2.eml --domain arc.test --selector ped --key ped.key --algorithm ed25519 \
  --authserv-id fwd.arc.test >p3ed.eml 2>seal.err || fail "petrel arc seal ed25519: $(cat seal.err)"
grep -q '^ARC-Seal: a=ed25519-sha256; b=' p3ed.eml || fail "no ed25519 seal: $(head -2 p3ed.eml)"
verify_petrel p3ed.eml pass 0
verify_dkimpy p3ed.eml fail
for f in p1 p2; do
  tamper $f.eml $f.bad.eml
  verify_dkimpy $f.bad.eml fail
  verify_petrel $f.bad.eml fail 1
done

# ---- an ended chain is not sealed ----------------------------------------------------------
# Petrel seals the tampered message (cv=fail at i=3), then refuses to seal after it.
petrel arc seal p2.bad.eml --domain arc.test --selector prsa --key prsa.key \
  --authserv-id fwd.arc.test >p3.eml 2>seal.err || fail "petrel arc seal of a failed chain: $(cat seal.err)"
grep -q 'i=3 cv=fail' seal.err || fail "expected i=3 cv=fail: $(cat seal.err)"
rc=0
petrel arc seal p3.eml --domain arc.test --selector prsa --key prsa.key \
  --authserv-id fwd.arc.test >p4.eml 2>seal.err || rc=$?
assert_eq 1 "$rc" "exit status of petrel arc seal after cv=fail"
[[ ! -s p4.eml ]] || fail "a set was printed after cv=fail"
grep -q 'chain has ended' seal.err || fail "no reason given: $(cat seal.err)"
log "ok"
