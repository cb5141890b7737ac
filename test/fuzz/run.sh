#!/usr/bin/env bash
# Builds every libFuzzer target in test/fuzz/ with clang (ASan + UBSan) and runs each for N
# seconds (default 30). Usage: test/fuzz/run.sh [seconds | --replay]
#
# --replay: no fuzzing; each target runs once over its regressions and seeds (libFuzzer
# -runs=0), so every target must build and no input that once crashed may crash again. The
# test suite (scripts/test.sh) runs this; it is deterministic.
#
# Inputs that once crashed a target live in test/fuzz/regressions/<target>/ and are replayed
# first on every run. Work files (binaries, corpora, crash artifacts) go to $PETREL_FUZZ_DIR
# (default ${TMPDIR:-/tmp}/petrel-fuzz); corpora are kept between runs. Seeds for the session
# targets are made from the golden dialogs in test/testdata/smtp/*.in and smtp-client/*.in.
# Exit status 1 when a target failed to build or found a crash; the crash input is printed with
# how to replay it.
set -euo pipefail

seconds="${1:-30}"
replay=false
if [ "$seconds" = --replay ]; then
  replay=true
  seconds=0
fi
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${PETREL_FUZZ_DIR:-${TMPDIR:-/tmp}/petrel-fuzz}"
export PETREL_FUZZ_HERE="$root/test/fuzz"
cxx="${CXX:-clang++}"
targets=(smtp_session_fuzz smtp_client_fuzz address_fuzz config_fuzz sasl_fuzz dns_response_fuzz lookup_table_fuzz header_rewrite_fuzz content_chain_fuzz policy_service_fuzz spf_record_fuzz access_action_fuzz dkim_signature_fuzz dkim_key_record_fuzz dmarc_record_fuzz public_suffix_fuzz arc_fields_fuzz sieve_script_fuzz mime_parser_fuzz milter_protocol_fuzz proxy_client_fuzz vacation_fuzz maildirsize_fuzz maildir_name_fuzz pipe_argument_fuzz http_request_fuzz srs_reverse_fuzz sendmail_fuzz)

if ! command -v "$cxx" >/dev/null; then
  echo "run.sh: $cxx not found; see test/fuzz/README.md" >&2
  exit 1
fi
mkdir -p "$work"

flags=(-std=c++20 -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I "$root/headers" -I "$root/test/unit/smtp")
lib_sources=("$root/source/core/strings.cc" "$root/source/core/base64.cc" "$root"/source/smtp/*.cc
             "$root/source/auth/sasl.cc")

# Seeds: the golden dialogs as session-fuzzer input (4 settings bytes, then the client bytes;
# T:/X:/P: steps become 0xFF events; verdicts and commits are answered by the target itself).
seed_session() {
  local out="$work/seeds/smtp_session_fuzz"
  mkdir -p "$out"
  python3 - "$root/test/testdata/smtp" "$out" <<'PY'
import os, re, sys
sys.path.insert(0, os.environ['PETREL_FUZZ_HERE'])
from golden_escapes import unescape
src, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    if not name.endswith('.in'):
        continue
    header = bytearray([0, 3, 9, 4])  # 4 recipients, 10 errors, 25 MiB, 512/1000 lines
    body = bytearray()
    for line in open(os.path.join(src, name), encoding='utf-8'):
        line = line.rstrip('\n')
        if line.startswith('#set normalize=1'): header[0] |= 1
        if line.startswith('#set vrfy=1'): header[0] |= 2
        if line.startswith('C: '): body += unescape(line[3:]) + b'\r\n' + b'\xff.'
        elif line.startswith('C+: '):
            body += unescape(line[4:]).replace(b'\xff', b'\xff\xff') + b'\xff.'
        elif line.startswith('T: '): body += b'\xfft'
        elif line.startswith('X: '): body += b'\xffs'
        elif line.startswith('P: '): body += b'\xffp'
    with open(os.path.join(out, name[:-3]), 'wb') as f:
        f.write(bytes(header) + bytes(body))
PY
}

# Seeds for the client target: the client golden dialogs (3 bytes of settings and job shape,
# then the server bytes; D: and later J: steps become 0xFF events, see smtp_client_fuzz.cc).
seed_client() {
  local out="$work/seeds/smtp_client_fuzz"
  mkdir -p "$out"
  python3 - "$root/test/testdata/smtp-client" "$out" <<'PY'
import os, re, sys
sys.path.insert(0, os.environ['PETREL_FUZZ_HERE'])
from golden_escapes import unescape
src, out = sys.argv[1], sys.argv[2]
policies = {'none': 0, 'may': 1, 'encrypt': 2, 'verify': 3}
events = {'tls started': b's', 'timeout': b't', 'closed': b'p', 'quit': b'q'}
for name in sorted(os.listdir(src)):
    if not name.endswith('.in'):
        continue
    header = bytearray([1, 0, 0])
    body = bytearray()
    jobs = 0
    for line in open(os.path.join(src, name), encoding='utf-8'):
        line = line.rstrip('\n')
        m = re.match(r'#set (\w+)=(.*)', line)
        if m:
            k, v = m.groups()
            if k == 'tls': header[0] = (header[0] & ~3) | policies.get(v, 1)
            if k == 'implicit_tls': header[0] |= 4
            if k == 'auth': header[0] |= 8
            if k == 'auth_plaintext': header[0] |= 16
            if k == 'lmtp': header[0] |= 32
        elif line.startswith('J: '):
            jobs += 1
            if jobs > 1:
                body += b'\xffn'; continue
            words = line[3:].split(' ')
            header[1] = min(4, sum(w.startswith('to=') for w in words))
            if '8bit' in words: header[1] |= 8
            if 'smtputf8' in words: header[1] |= 16
            if any(w.startswith('to=') and '\\x' in w for w in words): header[1] |= 32
            if any(w.startswith(('notify=', 'orcpt=')) for w in words): header[1] |= 64
            size = next((int(w[5:]) for w in words if w.startswith('size=')), 0)
            header[2] = sum(size > limit for limit in (0, 100, 1000, 10000))
        elif line.startswith(('S: ', 'S+: ')):
            data = unescape(line[line.index(' ') + 1:]).replace(b'\xff', b'\xff\xff')
            body += data + (b'\r\n' if line.startswith('S: ') else b'') + b'\xff.'
        elif line.startswith('D: tls failed'): body += b'\xfff'
        elif line.startswith('D: '): body += b'\xff' + events.get(line[3:], b'.')
    with open(os.path.join(out, name[:-3]), 'wb') as f:
        f.write(bytes(header) + bytes(body))
PY
}

seed_address() {
  local out="$work/seeds/address_fuzz"
  mkdir -p "$out"
  local i=0
  for arg in '<>' '<alice@example.test> SIZE=100 BODY=8BITMIME' '<a@b> RET=HDRS ENVID=x+2By' \
             '<@r.example:a@example.test>' '<"john doe"@example.test>' '<a@[IPv6:2001:db8::1]>' \
             'postmaster' '<jöran@bücher.example> SMTPUTF8'; do
    printf '\x00%s' "$arg" >"$out/mail-$i"; i=$((i + 1))
  done
  for arg in '<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.test' \
             '<postmaster>' '<用户@例子.广告>' '<b@example.test> ORCPT=utf-8;jö@example.test'; do
    printf '\x03%s' "$arg" >"$out/rcpt-$i"; i=$((i + 1))
  done
}

seed_config() {
  local out="$work/seeds/config_fuzz"
  mkdir -p "$out"
  cp "$root"/config-examples/*.yaml "$out/"
}

seed_sasl() {
  local out="$work/seeds/sasl_fuzz"
  mkdir -p "$out"
  printf '\x02AGFsaWNlAHNlY3JldA==' >"$out/plain-ir"
  printf '\x00\nAGFsaWNlAHNlY3JldA==' >"$out/plain"
  printf '\x01YWxpY2U=\nc2VjcmV0' >"$out/login"
  printf '\x01*' >"$out/cancel"
}

# Seeds: responses for example.test made with Debian's python3-dnslib (MX with a null MX and a
# CNAME, A, AAAA, TXT, NXDOMAIN with SOA), each behind its query-type byte.
seed_dns() {
  local out="$work/seeds/dns_response_fuzz"
  mkdir -p "$out"
  /usr/bin/python3 - "$out" <<'PY' || echo "run.sh: no python3-dnslib: dns_response_fuzz starts without seeds" >&2
import sys
from dnslib import DNSRecord, RR, QTYPE, A, AAAA, MX, TXT, CNAME, SOA, RCODE
out = sys.argv[1]
def save(name, type_byte, qtype, rrs, rcode=0, auth=()):
    q = DNSRecord.question("example.test", qtype)
    r = q.reply()
    r.header.rcode = rcode
    for rr in rrs: r.add_answer(rr)
    for rr in auth: r.add_auth(rr)
    open(f"{out}/{name}", "wb").write(bytes([type_byte]) + r.pack())
save("a", 0, "A", [RR("example.test", QTYPE.A, rdata=A("192.0.2.1"), ttl=300)])
save("aaaa", 1, "AAAA", [RR("example.test", QTYPE.AAAA, rdata=AAAA("2001:db8::1"), ttl=300)])
save("mx", 2, "MX", [RR("example.test", QTYPE.MX, rdata=MX("mx1.example.test", 10), ttl=300),
                     RR("example.test", QTYPE.MX, rdata=MX("mx2.example.test", 20), ttl=60)])
save("nullmx", 2, "MX", [RR("example.test", QTYPE.MX, rdata=MX(".", 0), ttl=300)])
save("cname", 2, "MX", [RR("example.test", QTYPE.CNAME, rdata=CNAME("other.test"), ttl=300),
                        RR("other.test", QTYPE.MX, rdata=MX("mx.other.test", 5), ttl=300)])
save("txt", 3, "TXT", [RR("example.test", QTYPE.TXT, rdata=TXT(["v=spf1 ", "-all"]), ttl=300)])
save("nx", 0, "A", [], rcode=RCODE.NXDOMAIN,
     auth=[RR("example.test", QTYPE.SOA, ttl=300,
              rdata=SOA("ns.example.test", "hostmaster.example.test", (1, 3600, 600, 86400, 300)))])
PY
}

# Seeds for the lookup tables: the examples of regexp_table(5) and cidr_table(5) with a few
# keys (selector byte 0 regexp, 1 cidr, 2 file; keys after 0xFF, one per line).
seed_lookup() {
  local out="$work/seeds/lookup_table_fuzz"
  mkdir -p "$out"
  printf '\x00/[%%!@].*[%%!@]/ 550 Sender-specified routing rejected\n/^postmaster@/ OK\nif !/^owner-/\n/^(.*)-outgoing@(.*)$/ 550 Use ${1}@${2} instead\nendif\n/^(a)?b$/i $1 $$\n  continued\n\xffpostmaster@x\nlist-outgoing@example.org\nowner-x-outgoing@y\nb' >"$out/regexp"
  printf '\x01192.168.1.1 OK\n192.168.0.0/16 REJECT\n2001:db8::1 OK\n2001:db8::/32 REJECT\n!10.0.0.0/8 NOT10\nif [172.16.0.0]/12\n172.16.1.0/24 IN\nendif\n\xff192.168.1.1\n2001:db8::5\n172.16.1.9\n11.0.0.1\n::ffff:10.1.1.1' >"$out/cidr"
  printf '\x02postmaster@example.test alice@example.test\n# c\nbroken\n\xffpostmaster@example.test' >"$out/file"
}

# Seeds for the policy delegation protocol: a reply, a check argument, request values.
seed_policy() {
  local out="$work/seeds/policy_service_fuzz"
  mkdir -p "$out"
  printf '\x00action=PREPEND Received-SPF: Pass (mailfrom) identity=mailfrom\n\n' >"$out/reply"
  printf '\x01{ inet:127.0.0.1:10023, timeout=10s, try_limit=1, default_action=451 4.3.5 x }' >"$out/argument"
  printf '\x02mx.example.net\x00alice@example.net\x00bob@example.org\x00\x00mx.example.net\x00TLS_AES_128_GCM_SHA256' >"$out/request"
}

# Seeds for header rewriting: address fields in the shapes RFC 5322 A.1 and A.5 show.
seed_header() {
  local out="$work/seeds/header_rewrite_fuzz"
  mkdir -p "$out"
  printf 'From: "Joe Q. Public" <john.q.public@example.com>\r\nTo: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\nCc: <boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>\r\nSubject: x\r\n\r\nbody\r\n' >"$out/a1"
  printf 'To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\nCc: Undisclosed recipients:;\r\nFrom: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\r\nReply-To: <@relay.test,@b.test:joe@example.test>\r\nResent-To: root@[192.0.2.1],\r\n "john doe"@example.test\r\n\r\n' >"$out/a5"
}

# Seeds for the SPF parser: every SPF and TXT record of the OpenSPF suites' zonedata.
seed_spf() {
  local out="$work/seeds/spf_record_fuzz"
  mkdir -p "$out"
  /usr/bin/python3 - "$root/test/testdata/spf" "$out" <<'PY'
import os, sys, yaml
src, out = sys.argv[1], sys.argv[2]
n = 0
for f in ('rfc7208-tests.yml', 'rfc4408-tests.yml'):
    for doc in yaml.safe_load_all(open(os.path.join(src, f), encoding='utf-8')):
        for records in doc['zonedata'].values():
            for r in records:
                if not isinstance(r, dict):
                    continue
                for t, v in r.items():
                    if t in ('SPF', 'TXT') and v != 'NONE':
                        text = ''.join(v) if isinstance(v, list) else str(v)
                        open(os.path.join(out, 'r%d' % n), 'wb').write(text.encode('utf-8'))
                        n += 1
PY
}

# Seeds for the DKIM parsers: the DKIM-Signature values of the test messages and the key
# records of test/testdata/dkim, plus a few hand-made ones.
seed_dkim() {
  local sig="$work/seeds/dkim_signature_fuzz" key="$work/seeds/dkim_key_record_fuzz"
  mkdir -p "$sig" "$key"
  /usr/bin/python3 - "$root/test/testdata/dkim" "$sig" "$key" <<'PY'
import email.parser, glob, os, sys
src, sig, key = sys.argv[1:4]
n = 0
for f in sorted(glob.glob(os.path.join(src, '*.msg'))):
    raw = open(f, 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    head = raw.split(b'\r\n\r\n', 1)[0]
    for field in head.replace(b'\r\n ', b'\x00 ').replace(b'\r\n\t', b'\x00\t').split(b'\r\n'):
        if field.lower().startswith(b'dkim-signature:'):
            open(os.path.join(sig, 's%d' % n), 'wb').write(field.split(b':', 1)[1].replace(b'\x00', b'\r\n'))
            n += 1
for f in sorted(glob.glob(os.path.join(src, '*.txt'))):
    open(os.path.join(key, os.path.basename(f)), 'wb').write(open(f, 'rb').read().strip())
open(os.path.join(key, 'ed'), 'w').write('v=DKIM1; k=ed25519; t=y:s; h=sha256; s=email; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=')
open(os.path.join(key, 'revoked'), 'w').write('v=DKIM1; p=')
open(os.path.join(sig, 'all'), 'w').write(' v=1; a=rsa-sha256; c=relaxed/simple; d=example.com; s=sel; i=joe@sub.example.com; l=10; q=dns/txt; t=1; x=2; z=From:foo|To:bar; h=From : To; bh=AAAA; b=AA\r\n AA')
PY
}

seed_session
seed_client
seed_header
seed_dkim
# The content pass reads the same messages (byte 0: limit and chunk size).
mkdir -p "$work/seeds/content_chain_fuzz"
for f in "$work/seeds/header_rewrite_fuzz"/*; do
  { printf '\x35'; cat "$f"; } >"$work/seeds/content_chain_fuzz/$(basename "$f")"
done
# The MIME parser reads the golden MIME messages (byte 0: limits and chunk size).
mkdir -p "$work/seeds/mime_parser_fuzz"
for f in "$root"/test/testdata/mime/*.eml; do
  { printf '\x1d'; sed 's/$/\r/' "$f"; } >"$work/seeds/mime_parser_fuzz/$(basename "$f" .eml)"
done
# access(5) values, one per action word (the target reads the whole input as one value).
mkdir -p "$work/seeds/access_action_fuzz"
i=0
for v in "OK" "REJECT go away" "DEFER_IF_PERMIT 4.2.0 Greylisted" "550 5.7.9 no" "DUNNO" \
         "PREPEND X-Tag: yes" "HOLD why" "DISCARD" "REDIRECT a@b.example" \
         "FILTER smtp:[127.0.0.1]:10025" "WARN text" "INFO text" "from_outside" "12345"; do
  printf '%s' "$v" >"$work/seeds/access_action_fuzz/$((i++))"
done
# DMARC records (selector byte 0) and From: field bodies (1), the forms the unit tests read.
mkdir -p "$work/seeds/dmarc_record_fuzz"
i=0
for v in "v=DMARC1; p=reject" "v=DMARC1; p=quarantine; sp=none; pct=25; adkim=s; aspf=s" \
         "v=DMARC1; p=none; rua=mailto:a@example.com!10m,mailto:b@example.net; ruf=mailto:f@x.example; fo=1:d; rf=afrf; ri=3600" \
         "v=DMARC1; p=bogus; rua=mailto:d@example.com" "  v = DMARC1 ;  p = Reject ;" "v=DMARC1"; do
  printf '\x00%s' "$v" >"$work/seeds/dmarc_record_fuzz/r$((i++))"
done
for v in ' Alice <alice@example.com>' ' "Smith, A" <a@example.com>, b@example.org' \
         ' Friends: a@example.com, B <b@example.net>;, c@example.org' \
         ' Pete(A nice \) chap) <pete(his account)@silly.test(his host)>' \
         ' <@relay.example,@b.example:joe@example.org>' ' undisclosed-recipients:;' \
         $' J\xc3\xb6rg <j@b\xc3\xbccher.example>\n a@example.com'; do
  printf '\x01%s' "$v" >"$work/seeds/dmarc_record_fuzz/f$((i++))"
done
# A small list with every kind of rule, then names to look up; and the start of Debian's.
mkdir -p "$work/seeds/public_suffix_fuzz"
printf 'com\nuk\nco.uk\n*.ck\n!www.ck\n\xe5\x85\xac\xe5\x8f\xb8.cn\ncn\n// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n\xffa.b.example.com\nwww.ck\na.b.test.ck\nx.\xe5\x85\xac\xe5\x8f\xb8.cn\n.com\nco.uk\n' \
  >"$work/seeds/public_suffix_fuzz/small"
if [ -r /usr/share/publicsuffix/public_suffix_list.dat ]; then
  head -c 20000 /usr/share/publicsuffix/public_suffix_list.dat >"$work/seeds/public_suffix_fuzz/debian"
fi
# sendmail: a maildrop record, a message with To/Cc/Bcc, a -bs dialog.
mkdir -p "$work/seeds/sendmail_fuzz"
printf '\0PETREL-MAILDROP 1\nsender: a@x\nrecipient: b@y\nnotify: SUCCESS\nsize: 3\n\nhi\n' \
  >"$work/seeds/sendmail_fuzz/record"
printf '\1To: a@x, b\nBcc: c@y\nCc: "d, e" <d@z>,\n f@z\n\nbody\n.\n' \
  >"$work/seeds/sendmail_fuzz/message"
printf '\2EHLO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nSubject: s\n\n..x\n.\nQUIT\n' \
  >"$work/seeds/sendmail_fuzz/dialog"
# maildirsize files as Dovecot writes them, and quota table values.
mkdir -p "$work/seeds/maildirsize_fuzz"
printf '1000000S,100C\n12345 3\n-200 -1\n' >"$work/seeds/maildirsize_fuzz/file"
printf '0S\n0 0\n' >"$work/seeds/maildirsize_fuzz/unlimited"
printf '10C\n5 1\n99' >"$work/seeds/maildirsize_fuzz/partial"
printf '1048576' >"$work/seeds/maildirsize_fuzz/bytes"
printf '1048576,100' >"$work/seeds/maildirsize_fuzz/bytes-messages"
# Maildir names as Petrel, Dovecot and older Petrel write them (new/ and cur/).
mkdir -p "$work/seeds/maildir_name_fuzz"
printf '1765148889.M123456P4242Q17K01A2B3C4D5E6R3.mail.example.test,S=1234' \
  >"$work/seeds/maildir_name_fuzz/petrel"
printf '1765148889.M1P2Q3K0AR1.mx.example.test,S=99,W=101:2,RS' >"$work/seeds/maildir_name_fuzz/cur"
printf '1765148889.M680203P2925V0000000000000801I0001.host,S=77:2,' \
  >"$work/seeds/maildir_name_fuzz/dovecot"
printf '1765148889.M1P2Q3.mail.example.test,S=5' >"$work/seeds/maildir_name_fuzz/unkeyed"
# ARC: byte 0 picks the parser (0 AAR, 1 AMS, 2 AS, 3 a whole message for the Validator);
# the fields and messages of the public ARC suite's first scenarios.
seed_arc() {
  local out="$work/seeds/arc_fields_fuzz"
  mkdir -p "$out"
  /usr/bin/python3 - "$root/test/testdata/arc/arc-draft-validation-tests.yml" "$out" <<'PY' || echo "run.sh: no python3-yaml: arc_fields_fuzz starts with the hand-made seeds" >&2
import os, sys, yaml
src, out = sys.argv[1:3]
n = 0
for doc in list(yaml.safe_load_all(open(src)))[:3]:
    for name, t in list(doc['tests'].items())[:12]:
        msg = t['message'].replace('\n', '\r\n').encode()
        open(os.path.join(out, 'm%d' % n), 'wb').write(b'\x03' + msg)
        head = msg.split(b'\r\n\r\n', 1)[0]
        for field in head.replace(b'\r\n ', b'\x00 ').split(b'\r\n'):
            low = field.lower()
            kind = 0 if low.startswith(b'arc-authentication-results:') else 1 if low.startswith(b'arc-message-signature:') else 2 if low.startswith(b'arc-seal:') else None
            if kind is not None:
                open(os.path.join(out, 'f%d' % n), 'wb').write(bytes([kind]) + field.split(b':', 1)[1].replace(b'\x00', b'\r\n'))
                n += 1
        n += 1
PY
  printf '\x00i=1; mx.example.org; spf=pass smtp.mailfrom=a.example' >"$out/aar"
  printf '\x01a=rsa-sha256; b=AAAA; bh=AAAA; c=relaxed/relaxed; d=example.org; h=from:to; i=1; s=sel; t=1' >"$out/ams"
  printf '\x02a=ed25519-sha256; b=AAAA; cv=pass; d=example.org; i=2; s=sel; t=1' >"$out/as"
}

# The before-queue filter's client: a filter's dialog with the driver's requests in between.
mkdir -p "$work/seeds/proxy_client_fuzz"
printf '\xffm220 f ESMTP\r\n250-f\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n250 8BITMIME\r\n250 2.0.0 Ok\r\n\xff.250 2.1.0 Ok\r\n\xffr550 5.1.1 no\r\n\xffr250 2.1.5 Ok\r\n\xffd354 go\r\n\xffe250 2.0.0 Ok: queued\r\n\xffmRSET?\r\n' \
  >"$work/seeds/proxy_client_fuzz/dialog"
printf '220 f\r\n250 f\r\n\xffm421 4.3.2 bye\r\n\xffr' >"$work/seeds/proxy_client_fuzz/421"
printf '\xffm220 f\r\n250 f\r\n\xfft\xffm250-a\r\n251 b\r\n' >"$work/seeds/proxy_client_fuzz/broken"
# Seeds for the vacation rules: a plain message, list mail, a reply thread; then a table value.
seed_vacation() {
  local out="$work/seeds/vacation_fuzz"
  mkdir -p "$out"
  printf 'From: Bob <bob@example.net>\r\nTo: Alice <alice@example.test>\r\nSubject: Lunch?\r\nMessage-ID: <m2@example.net>\r\nReferences: <m1@example.net>\r\n\r\n\xffAway\nBack on Monday.\n' >"$out/plain"
  printf 'To: list@example.org\r\nList-Id: <l.example.org>\r\nPrecedence: bulk\r\nAuto-Submitted: auto-generated; x=1\r\n\r\n' >"$out/list"
  printf 'Cc: a.smith@example.test\r\nSubject: =?UTF-8?B?w7w=?=\r\n\r\n\xff\xc3\xbc subject\r\nContent-Type: text/plain\n\nbody' >"$out/mime"
}
seed_vacation

# Sieve scripts: the golden corpus.
mkdir -p "$work/seeds/sieve_script_fuzz"
cp "$root"/test/testdata/sieve/*.sieve "$work/seeds/sieve_script_fuzz/"

# Seeds for the milter protocol: a negotiation reply, then continues, modifications, a verdict.
seed_milter() {
  local out="$work/seeds/milter_protocol_fuzz"
  mkdir -p "$out"
  python3 - "$out" <<'PY'
import struct, sys, os
out = sys.argv[1]
def pkt(c, d=b''): return struct.pack('>I', len(d) + 1) + c + d
neg = pkt(b'O', struct.pack('>III', 6, 0x1ff, 0) + struct.pack('>I', 3) + b'{rcpt_addr} i\0')
cont = pkt(b'c')
mods = (pkt(b'h', b'X-A\0one\ntwo\0') + pkt(b'i', struct.pack('>I', 1) + b'X-I\0v\0') +
        pkt(b'm', struct.pack('>I', 1) + b'Subject\0\0') + pkt(b'+', b'<c@d>\0') +
        pkt(b'2', b'<e@f>\0NOTIFY=NEVER\0') + pkt(b'-', b'<b@example.com>\0') +
        pkt(b'e', b'<s@t>\0') + pkt(b'q', b'why\0') + pkt(b'b', b'body'))
open(os.path.join(out, 'full'), 'wb').write(neg + cont * 9 + mods + pkt(b'a'))
open(os.path.join(out, 'reject'), 'wb').write(neg + cont * 2 + pkt(b'y', b'550 5.7.1 no\0'))
open(os.path.join(out, 'skip'), 'wb').write(neg + cont * 6 + pkt(b'p') + pkt(b's') + pkt(b't'))
PY
}

# pipe argv elements, some with 0xFF and a hostile address after them.
mkdir -p "$work/seeds/pipe_argument_fuzz"
i=0
for v in '${recipient}' '-f$sender' 'x=$(user)+${extension}$$' '${nexthop}' $'${recipient}\xff"a b;c"\n@X.Y' \
         $'-d${original_recipient}\xff.a..b@c'; do
  printf '%s' "$v" >"$work/seeds/pipe_argument_fuzz/$((i++))"
done

# Seeds for the dashboard's request heads: a page, a form POST with its token, an API POST.
seed_http() {
  local out="$work/seeds/http_request_fuzz"
  mkdir -p "$out"
  printf 'GET /dash/activity?q=bob%%40example.org+x HTTP/1.1\r\nHost: 127.0.0.1:8025\r\nAccept: text/html' >"$out/get"
  printf 'POST /dash/queue/hold?id=3F2A91C04B10&csrf=0123456789abcdef0123456789abcdef HTTP/1.1\r\nContent-Length: 0' >"$out/post"
  printf 'POST /api/queue/retry?id=3F2A HTTP/1.0\r\nX-CSRF-Token: 0123456789abcdef0123456789abcdef\r\n' >"$out/api"
}

seed_http
# SRS addresses as python3-srs makes them (srs_reverse_fuzz: 1 day byte, then the address).
seed_srs() {
  local out="$work/seeds/srs_reverse_fuzz"
  mkdir -p "$out"
  local i=0
  for a in 'SRS0=XOrm=6M=orig.example=alice@forward.example' \
           'SRS1=lnlE=forward.example==XOrm=6M=orig.example=alice@second.example' \
           'srs0+xorm=6m=orig.example=a=b@forward.example' 'SRS1=x.y=h=u@forward.example' \
           '"q x"@q.example' 'alice@orig.example'; do
    printf '\x00%s' "$a" >"$out/addr-$i"; i=$((i + 1))
  done
}

seed_srs
seed_milter
seed_arc
seed_address
seed_config
seed_sasl
seed_dns
seed_lookup
seed_policy
seed_spf

status=0
for t in "${targets[@]}"; do
  echo "== $t: building"
  sources=("${lib_sources[@]}")
  libs=(-lfmt)
  dict="$root/test/fuzz/smtp.dict"
  if [ "$t" = config_fuzz ]; then
    sources=("$root"/source/core/*.cc "$root"/source/config/*.cc)
    libs=(-lyaml-cpp -lfmt)
    dict="$root/test/fuzz/yaml.dict"
  fi
  if [ "$t" = lookup_table_fuzz ]; then
    # The registry names every backend, so all are built; the remote ones need their clients.
    sources=("$root"/source/core/*.cc "$root"/source/sqlite/*.cc "$root"/source/lookup/*.cc
             "$root"/source/lookup/backends/*.cc)
    # shellcheck disable=SC2207  # pkg-config output is a list of flags
    libs=($(pkg-config --cflags --libs libpq libmariadb ldap sqlite3 libpcre2-8) -lfmt)
    dict="$root/test/fuzz/lookup.dict"
  fi
  if [ "$t" = header_rewrite_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/mail_address.cc"
             "$root/source/delivery/header_rewrite.cc")
    dict="$root/test/fuzz/header.dict"
  fi
  if [ "$t" = content_chain_fuzz ]; then
    sources=("$root"/source/content/*.cc)
    dict="$root/test/fuzz/header.dict"
  fi
  if [ "$t" = mime_parser_fuzz ]; then
    sources=("$root/source/content/mime_parser.cc")
    dict="$root/test/fuzz/header.dict"
  fi
  if [ "$t" = policy_service_fuzz ]; then
    sources=("$root"/source/core/*.cc "$root/source/policy/checks/access_action.cc"
             "$root/source/policy/checks/policy_service.cc")
    dict=""
  fi
  if [ "$t" = http_request_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/status/web.cc")
    dict=""
  fi
  if [ "$t" = milter_protocol_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/smtp/reply.cc" "$root"/source/content/*.cc
             "$root"/source/milter/*.cc)
    dict=""
  fi
  if [ "$t" = pipe_argument_fuzz ]; then
    sources=("$root"/source/core/*.cc "$root"/source/config/*.cc "$root/source/delivery/pipe_command.cc")
    libs=(-lyaml-cpp -lfmt)
    dict=""
  fi
  if [ "$t" = access_action_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/policy/checks/access_action.cc")
    dict=""
  fi
  if [ "$t" = dns_response_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/dns/wire.cc"
             "$root/source/dns/interpret.cc" "$root/source/dns/names.cc")
    libs=(-lldns -lfmt)
    dict=""  # binary input: no dictionary
  fi
  if [ "$t" = spf_record_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/cidr.cc"
             "$root/source/spf/record.cc" "$root/source/spf/macro.cc")
    dict="$root/test/fuzz/spf.dict"
  fi
  if [ "$t" = dkim_signature_fuzz ] || [ "$t" = dkim_key_record_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/base64.cc"
             "$root/source/dkim/tag_list.cc" "$root/source/dkim/signature.cc")
    dict=""
  fi
  if [ "$t" = dmarc_record_fuzz ] || [ "$t" = public_suffix_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/dmarc/record.cc"
             "$root/source/dmarc/from_domain.cc" "$root/source/dmarc/public_suffix.cc"
             "$root/source/content/header_section.cc")
    dict=""
  fi
  if [ "$t" = arc_fields_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/base64.cc"
             "$root/source/dkim/tag_list.cc" "$root/source/dkim/signature.cc"
             "$root/source/dkim/canonicalization.cc" "$root/source/dkim/verifier.cc"
             "$root/source/dkim/auth_results.cc" "$root/source/tls/crypto.cc" "$root/source/tls/ssl_helpers.cc"
             "$root/source/content/header_section.cc" "$root/source/arc/fields.cc"
             "$root/source/arc/validator.cc" "$root/source/arc/sealer.cc"
             "$root/source/dkim/signer.cc" "$root/source/server/arc_sealing.cc"
             "$root/source/log/mail_log.cc")
    libs=(-lssl -lcrypto -lfmt)
    dict="$root/test/fuzz/header.dict"
  fi
  if [ "$t" = vacation_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/base64.cc"
             "$root/source/content/header_section.cc" "$root"/source/sieve/*.cc
             "$root/source/delivery/vacation.cc")
    dict="$root/test/fuzz/header.dict"
  fi
  if [ "$t" = maildirsize_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/delivery/maildirsize.cc")
    dict=""
  fi
  if [ "$t" = maildir_name_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/delivery/maildirsize.cc"
             "$root/source/delivery/maildir.cc")
    libs=(-lfmt)
    dict=""
  fi
  if [ "$t" = srs_reverse_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/base64.cc"
             "$root/source/tls/crypto.cc" "$root/source/tls/ssl_helpers.cc"
             "$root/source/srs/srs.cc")
    libs=(-lssl -lcrypto -lfmt)
    dict=""
  fi
  if [ "$t" = sendmail_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/base64.cc"
             "$root/source/content/header_section.cc" "$root"/source/sieve/*.cc
             "$root/source/queue/maildrop.cc" "$root/source/cli/sendmail_message.cc"
             "$root/source/cli/sendmail_smtp.cc")
    dict="$root/test/fuzz/header.dict"
  fi
  if [ "$t" = sieve_script_fuzz ]; then
    sources=("$root/source/core/strings.cc" "$root/source/core/base64.cc"
             "$root/source/content/header_section.cc" "$root"/source/sieve/*.cc)
    dict=""
  fi
  if ! "$cxx" "${flags[@]}" "${sources[@]}" "$root/test/fuzz/$t.cc" "${libs[@]}" -o "$work/$t"; then
    echo "== $t: BUILD FAILED" >&2
    status=1
    continue
  fi
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  # A target that never crashed has no regressions/ directory (libFuzzer refuses a missing one).
  regressions=()
  if [ -d "$root/test/fuzz/regressions/$t" ]; then
    regressions=("$root/test/fuzz/regressions/$t")
  fi
  dict_arg=()
  if [ -n "$dict" ]; then dict_arg=(-dict="$dict"); fi
  if $replay; then
    echo "== $t: replaying regressions and seeds"
    run_args=(-runs=0 "$work/seeds/$t" "${regressions[@]}")
  else
    echo "== $t: running ${seconds}s"
    run_args=(-max_total_time="$seconds" "${dict_arg[@]}" "$work/corpus/$t" "$work/seeds/$t"
              "${regressions[@]}")
  fi
  if "$work/$t" -print_final_stats=1 -artifact_prefix="$work/artifacts/$t/" "${run_args[@]}" \
      >"$work/$t.log" 2>&1; then
    if $replay; then
      echo "== $t: ok"
    else
      grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done' "$work/$t.log" || true
      echo "== $t: ok ($(ls "$work/corpus/$t" | wc -l) corpus files)"
    fi
  else
    status=1
    tail -n 40 "$work/$t.log" >&2
    echo "== $t: FAILED; artifacts in $work/artifacts/$t/; replay: $work/$t <file>" >&2
  fi
done
exit "$status"
