#!/usr/bin/env bash
# Setup: zone_dns.py on loopback serving the key records of dkim.test (keys made by dkimpy's
#   side with openssl/nacl, and by `petrel dkim keygen`), a revoked key and a SERVFAIL selector;
#   a config (not served) whose dns.servers is that server. No Petrel server runs.
# Both directions with real peers:
# - dkimpy (python3-dkim, dkim.sign) signs messages, rsa-sha256 and ed25519-sha256, relaxed and
#   simple; `petrel dkim verify` must pass them over DNS, and fail them once tampered;
# - `petrel dkim sign` signs messages that dkimpy (dkim.verify with a dnsfunc over the zone)
#   and opendkim (`opendkim -t`, TestPublicKeys) both verify, and both refuse once tampered;
# - revoked key -> permerror, missing key -> permerror "no key", SERVFAIL -> temperror (75).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import dkim, nacl' 2>/dev/null || skip "python3-dkim or python3-nacl is not installed"
need_tool opendkim
need_tool openssl

cd "$T"
# ---- keys ------------------------------------------------------------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out py-rsa.key 2>/dev/null
py - <<'PY'
import base64, nacl.signing, subprocess
seed = nacl.signing.SigningKey.generate()
open('py-ed.key', 'wb').write(base64.b64encode(bytes(seed)))
pub = base64.b64encode(bytes(seed.verify_key)).decode()
der = subprocess.run(['openssl', 'pkey', '-in', 'py-rsa.key', '-pubout', '-outform', 'DER'],
                     capture_output=True, check=True).stdout
with open('records.txt', 'w') as f:
    f.write('py-rsa._domainkey.dkim.test.\tv=DKIM1; k=rsa; p=%s\n' % base64.b64encode(der).decode())
    f.write('py-ed._domainkey.dkim.test.\tv=DKIM1; k=ed25519; p=%s\n' % pub)
    f.write('gone._domainkey.dkim.test.\tv=DKIM1; k=rsa; p=\n')
PY
"$PETREL" dkim keygen --domain dkim.test --selector prsa --out prsa.key >prsa.zone
"$PETREL" dkim keygen --domain dkim.test --selector ped --algorithm ed25519 --out ped.key >ped.zone
assert_eq 600 "$(stat -c %a prsa.key)" "mode of the key file keygen wrote"
assert_eq 600 "$(stat -c %a ped.key)" "mode of the ed25519 key file"
grep -q '^prsa._domainkey.dkim.test.	IN	TXT	( "v=DKIM1; k=rsa; p=' prsa.zone ||
  fail "keygen printed no TXT record: $(cat prsa.zone)"
if "$PETREL" dkim keygen --domain dkim.test --selector prsa --out prsa.key >/dev/null 2>&1; then
  fail "keygen overwrote an existing key file"
fi
for z in prsa ped; do
  printf '%s._domainkey.dkim.test.\t%s\n' "$z" "$(grep -o '"[^"]*"' $z.zone | tr -d '"\n')" >>records.txt
done

# The zone: each record's text in strings of at most 255 octets.
py - <<'PY'
with open('zone.txt', 'w') as z:
    z.write('dkim.test. 60 IN SOA ns.dkim.test. h.dkim.test. 1 7200 900 1209600 60\n')
    for line in open('records.txt'):
        name, text = line.rstrip('\n').split('\t', 1)
        parts = ' '.join('"%s"' % text[i:i + 255] for i in range(0, len(text), 255))
        z.write('%s 60 IN TXT %s\n' % (name, parts))
    z.write(';!servfail down._domainkey.dkim.test\n')
PY
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
"

# ---- messages --------------------------------------------------------------------------------
py - <<'PY'
body = ("Hello,\r\n\r\nthis  line has  double spaces \t and trailing blanks   \r\n"
        "A folded\r\n .dot line\r\n" + "x" * 200 + "\r\n\r\n\r\n")
msg = ("From: Alice <alice@dkim.test>\r\nTo: bob@example.org\r\nCc: carol@example.org\r\n"
       "Subject: DKIM\r\n  across peers\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\n"
       "Message-ID: <t72@dkim.test>\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body)
open('plain.eml', 'wb').write(msg.encode())
PY

tamper() {  # IN OUT: one letter of the body changed
  sed 's/Hello,/Hullo,/' "$1" >"$2"
}

# ---- dkimpy signs, Petrel verifies -------------------------------------------------------
py - <<'PY'
import dkim
msg = open('plain.eml', 'rb').read()
rsa = open('py-rsa.key', 'rb').read()
ed = open('py-ed.key', 'rb').read()
for alg, sel, key in (('rsa-sha256', b'py-rsa', rsa), ('ed25519-sha256', b'py-ed', ed)):
    for canon in (b'relaxed', b'simple'):
        sig = dkim.sign(msg, sel, b'dkim.test', key, canonicalize=(canon, canon),
                        signature_algorithm=alg.encode())
        open('py-%s-%s.eml' % (alg, canon.decode()), 'wb').write(sig + msg)
# l=: a signature over the body as it was, with text appended afterwards
sig = dkim.sign(msg, b'py-rsa', b'dkim.test', rsa, length=True)
open('py-length.eml', 'wb').write(sig + msg + b'appended by a list\r\n')
PY
for f in py-rsa-sha256-relaxed py-rsa-sha256-simple py-ed25519-sha256-relaxed py-ed25519-sha256-simple py-length; do
  out="$(petrel dkim verify $f.eml)" || fail "petrel dkim verify $f: exit $? ($out)"
  [[ "$out" == "dkim=pass header.d=dkim.test "* ]] || fail "$f: $out"
  log "$f: $out"
  tamper $f.eml $f.bad.eml
  rc=0
  out="$(petrel dkim verify $f.bad.eml)" || rc=$?
  assert_eq 1 "$rc" "exit status of petrel dkim verify for tampered $f"
  [[ "$out" == *'dkim=fail reason="body hash mismatch"'* ]] || fail "tampered $f: $out"
done

# ---- Petrel signs, dkimpy and opendkim verify ------------------------------------------
petrel dkim sign plain.eml --domain dkim.test --selector prsa --key prsa.key >p-rsa.eml
petrel dkim sign plain.eml --domain dkim.test --selector ped --key ped.key \
  --algorithm ed25519-sha256 >p-ed.eml
# Key rotation: both selectors on one message.
petrel dkim sign p-rsa.eml --domain dkim.test --selector ped --key ped.key \
  --algorithm ed25519 >p-both.eml
for f in p-rsa p-ed p-both; do tamper $f.eml $f.bad.eml; done
py - <<'PY'
import dkim, sys
records = {}
for line in open('records.txt'):
    name, text = line.rstrip('\n').split('\t', 1)
    records[name] = text.encode()
def dnsfunc(name, timeout=5):
    return records.get(name.decode())
bad = []
for f in ('p-rsa', 'p-ed', 'p-both'):
    msg = open(f + '.eml', 'rb').read()
    d = dkim.DKIM(msg)
    n = msg.count(b'DKIM-Signature:')
    for i in range(n):
        if not d.verify(idx=i, dnsfunc=dnsfunc):
            bad.append('%s signature %d does not verify' % (f, i))
    if dkim.verify(open(f + '.bad.eml', 'rb').read(), dnsfunc=dnsfunc):
        bad.append('tampered %s verifies' % f)
if bad:
    sys.exit('dkimpy: ' + '; '.join(bad))
PY
sed 's/\.\t/\t/' records.txt | grep -v '^gone' >opendkim-keys.txt
printf 'TestPublicKeys %s\nMode v\nBackground No\nSyslog No\n' "$T/opendkim-keys.txt" >od.conf
for f in p-rsa p-ed p-both; do
  out="$(opendkim -x od.conf -t $f.eml 2>&1)" || fail "opendkim -t $f.eml: $out"
  n="$(grep -c 'verification (.*) succeeded' <<<"$out" || true)"
  [[ "$n" -ge 1 ]] || fail "opendkim did not verify $f: $out"
  out="$(opendkim -x od.conf -t $f.bad.eml 2>&1)" || true
  grep -q 'succeeded' <<<"$out" && fail "opendkim verified tampered $f: $out"
done
out="$(opendkim -x od.conf -vvv -t p-both.eml 2>&1)"
[[ "$(grep -c 'dkim=pass' <<<"$out")" -eq 2 ]] || fail "opendkim: not both signatures pass: $out"

# ---- keys missing, revoked, unreachable ----------------------------------------------------
for case in "gone:1:dkim=permerror reason=\"key revoked\"" "nokey:1:dkim=permerror reason=\"no key\"" \
            "down:75:dkim=temperror"; do
  sel="${case%%:*}"; rest="${case#*:}"; want_rc="${rest%%:*}"; want="${rest#*:}"
  py - "$sel" <<'PY'
import dkim, sys
msg = open('plain.eml', 'rb').read()
sig = dkim.sign(msg, sys.argv[1].encode(), b'dkim.test', open('py-rsa.key', 'rb').read())
open('sel-%s.eml' % sys.argv[1], 'wb').write(sig + msg)
PY
  rc=0
  out="$(petrel dkim verify sel-$sel.eml)" || rc=$?
  assert_eq "$want_rc" "$rc" "exit status for selector $sel"
  [[ "$out" == "$want"* ]] || fail "selector $sel: $out"
done
grep -q '^down._domainkey.dkim.test TXT' "$DNS_QUERY_LOG" || fail "no key query seen: $(cat "$DNS_QUERY_LOG")"

# A config whose key does not fit its algorithm is refused at load, naming the key's place.
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
dkim:
  sign:
    - {domain: dkim.test, selector: ped, key: $T/ped.key, algorithm: rsa-sha256}
"
rc=0
out="$(petrel check-config 2>&1)" || rc=$?
assert_eq 1 "$rc" "check-config with an Ed25519 key for rsa-sha256"
grep -q 'dkim.sign: .*ped.key: the key is not an RSA key' <<<"$out" || fail "check-config: $out"
pass
