#!/usr/bin/env bash
# Setup: zone_dns.py on loopback serving _dmarc TXT records for a set of domains (reject,
#   quarantine, none, strict alignment, sp=, pct=, a record only at the organizational domain,
#   a .co.uk domain for the Public Suffix List, several records, a SERVFAIL name, syntax
#   errors); a config (not served) whose dns.servers is that server. No Petrel server runs.
# `petrel dmarc check` evaluates each case (From domain, SPF result and domain, DKIM result
# and d=) with live DNS; python3-authheaders (Debian) is the oracle: dmarc_per_from with a
# dnsfunc that asks the same server, over the same Debian Public Suffix List, and check_dmarc
# on whole messages for the From: cases. Every case is reported; each must give the expected
# result, and the oracle must agree unless the case names why it cannot judge it (authheaders
# reads one TXT string per name, has no temperror, reads a record without p= as no record
# where RFC 7489 11.2 says permerror, applies sp= at the From domain itself, takes an unlisted
# TLD as the organizational domain, picks among several From domains by p= alone, and fails
# on a From: without an address). The domains have no '-': authheaders' get_domain_part()
# drops everything from a '-' in the SPF domain on.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import authheaders, authres, dns.resolver' 2>/dev/null ||
  skip "python3-authheaders (with authres and dnspython) is not installed"
[[ -r /usr/share/publicsuffix/public_suffix_list.dat ]] ||
  skip "the Public Suffix List of Debian's publicsuffix package is missing"

cat >"$T/zone.txt" <<'ZONE'
com.                         60 IN SOA ns.com. h.com. 1 7200 900 1209600 60
_dmarc.rejectexample.com.          60 IN TXT "v=DMARC1; p=reject; rua=mailto:agg@rejectexample.com"
_dmarc.quarexample.com.            60 IN TXT "v=DMARC1; p=quarantine"
_dmarc.noneexample.com.            60 IN TXT "v=DMARC1; p=none"
_dmarc.strictexample.com.          60 IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"
_dmarc.subexample.com.             60 IN TXT "v=DMARC1; p=reject; sp=quarantine"
_dmarc.own.subexample.com.         60 IN TXT "v=DMARC1; p=none"
_dmarc.pctexample.com.             60 IN TXT "v=DMARC1; p=reject; pct=0"
_dmarc.upperexample.com.           60 IN TXT "v=DMARC1; p=REJECT; ADKIM=S"
_dmarc.spacesexample.com.          60 IN TXT "v=DMARC1 ;  p = quarantine ; " "aspf = r"
_dmarc.splitexample.com.           60 IN TXT "v=DMARC1; " "p=reject"
_dmarc.spfonlyexample.com.        60 IN TXT "v=spf1 -all"
_dmarc.nopexample.com.             60 IN TXT "v=DMARC1; rua=mailto:agg@nopexample.com"
_dmarc.noruaexample.com.       60 IN TXT "v=DMARC1; adkim=r"
_dmarc.twoexample.com.             60 IN TXT "v=DMARC1; p=reject"
_dmarc.twoexample.com.             60 IN TXT "v=DMARC1; p=none"
_dmarc.example.co.uk.        60 IN TXT "v=DMARC1; p=reject"
mail.example.co.uk.          60 IN A   192.0.2.1
;!servfail _dmarc.tempexample.com
test.                        60 IN SOA ns.test. h.test. 1 7200 900 1209600 60
_dmarc.reject.test.          60 IN TXT "v=DMARC1; p=reject"
ZONE
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
"

# name from-domain spf-result spf-domain dkim(result:d or -) expected-result expected-policy oracle
# policy "-" means none found; oracle: "compare", or the reason the oracle cannot judge it.
cat >"$T/cases.txt" <<'CASES'
reject-spf-aligned      rejectexample.com        pass mail.rejectexample.com   -                       pass reject compare
reject-spf-unaligned    rejectexample.com        pass otherexample.com         -                       fail reject compare
reject-spf-fail         rejectexample.com        fail rejectexample.com        -                       fail reject compare
reject-dkim-aligned     rejectexample.com        fail otherexample.com         pass:rejectexample.com        pass reject compare
reject-dkim-fail        rejectexample.com        pass otherexample.com         fail:rejectexample.com        fail reject compare
reject-dkim-unaligned   rejectexample.com        fail otherexample.com         pass:reject.example     fail reject compare
org-record-relaxed      news.rejectexample.com   fail otherexample.com         pass:rejectexample.com        pass reject compare
org-record-fail         news.rejectexample.com   pass otherexample.com         -                       fail reject compare
strict-dkim-sub         strictexample.com        fail otherexample.com         pass:mail.strictexample.com   fail reject compare
strict-dkim-exact       strictexample.com        fail otherexample.com         pass:strictexample.com        pass reject compare
strict-spf-sub          strictexample.com        pass mail.strictexample.com   -                       fail reject compare
strict-spf-exact        strictexample.com        pass strictexample.com        -                       pass reject compare
strict-from-sub         a.strictexample.com      pass strictexample.com        -                       fail reject compare
subdomain-policy        a.subexample.com         fail a.subexample.com         -                       fail quarantine compare
subdomain-deep          x.y.subexample.com       fail otherexample.com         pass:otherexample.com         fail quarantine compare
subdomain-own-record    own.subexample.com       fail otherexample.com         -                       fail none compare
org-itself-sp-unused    subexample.com           fail otherexample.com         -                       fail reject authheaders-applies-sp=-at-the-From-domain-itself
quarantine              quarexample.com          softfail quarexample.com      fail:quarexample.com          fail quarantine compare
policy-none             noneexample.com          neutral noneexample.com       -                       fail none compare
no-record               nodmarcexample.com       pass nodmarcexample.com       -                       none - compare
no-record-sub           a.nodmarcexample.com     fail otherexample.com         -                       none - compare
txt-not-dmarc           spfonlyexample.com      fail otherexample.com         -                       none - compare
pct-zero                pctexample.com           fail otherexample.com         -                       fail reject compare
upper-case              upperexample.com         fail otherexample.com         pass:mail.upperexample.com    fail reject compare
whitespace              spacesexample.com        pass bounce.spacesexample.com -                       pass quarantine compare
split-strings           splitexample.com         fail otherexample.com         -                       fail reject compare
psl-co-uk-relaxed       mail.example.co.uk pass bounce.example.co.uk -                     pass reject compare
psl-co-uk-cross         example.co.uk      fail otherexample.com         pass:other.co.uk        fail reject compare
psl-co-uk-sub-dkim      a.example.co.uk    fail otherexample.com         pass:b.example.co.uk    pass reject compare
null-sender-helo        rejectexample.com        pass mx.rejectexample.com     -                       pass reject compare
no-p-with-rua           nopexample.com           fail otherexample.com         -                       fail none authheaders-reads-a-record-without-p=-as-none
no-p-no-rua             noruaexample.com     fail otherexample.com         -                       permerror - authheaders-reads-a-record-without-p=-as-none
two-records             twoexample.com           fail otherexample.com         -                       none - authheaders'-dnsfunc-returns-one-TXT-string
unlisted-tld            news.reject.test   fail other.test         pass:reject.test        pass reject authheaders'-publicsuffix2-takes-the-unlisted-TLD-as-the-org-domain
temperror               tempexample.com          fail otherexample.com         -                       temperror - authheaders-has-no-temperror
CASES
sed -i 's/ pass reject compare/ pass reject compare/' "$T/cases.txt"

# The oracle: authheaders.dmarc_per_from over the same DNS server.
/usr/bin/python3 - "$DNS_PORT" "$T/cases.txt" >"$T/oracle.txt" 2>"$T/oracle.err" <<'PY' || fail "authheaders oracle failed: $(cat "$T/oracle.err")"
import sys
import dns.resolver
from authres import SPFAuthenticationResult, DKIMAuthenticationResult
from authheaders import dmarc_per_from

resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ['127.0.0.1']
resolver.port = int(sys.argv[1])

def dnsfunc(name):
    # authheaders' test dnsfunc contract: one TXT record's text, or None.
    try:
        answer = resolver.resolve(name, 'TXT', lifetime=5)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    texts = [b''.join(r.strings).decode() for r in answer]
    dmarc = [t for t in texts if t.startswith('v=DMARC1')]
    return (dmarc or texts)[0]

for line in open(sys.argv[2]):
    name, frm, spf, spf_domain, dkim, _, _, oracle = line.split()
    if oracle != 'compare':
        print(name, '-', '-', sep='\t')
        continue
    spf_res = SPFAuthenticationResult(result=spf, smtp_mailfrom='postmaster@' + spf_domain)
    dkim_res = None
    if dkim != '-':
        r, d = dkim.split(':', 1)
        dkim_res = DKIMAuthenticationResult(result=r, header_d=d)
    result, comment, _, policy = dmarc_per_from(frm, spf_res, dkim_res, dnsfunc=dnsfunc)
    print(name, result, policy or '-', sep='\t')
PY

failed=0
count=0
agreed=0
while read -r name from spf spf_domain dkim expected expected_policy oracle; do
  count=$((count + 1))
  args=(--from-domain "$from" --spf "$spf" --spf-domain "$spf_domain" --json)
  [[ "$dkim" != - ]] && args+=(--dkim "$dkim")
  RC=0
  petrel dmarc check "${args[@]}" >"$T/$name.json" 2>"$T/$name.err" || RC=$?
  [[ -s "$T/$name.json" ]] || fail "$name: no output (exit $RC): $(cat "$T/$name.err")"
  read -r got got_policy < <(/usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["result"], j["policy"] or "-")' "$T/$name.json")
  want_rc=1
  [[ "$expected" == pass ]] && want_rc=0
  [[ "$expected" == temperror ]] && want_rc=75
  verdict=ok
  if [[ "$got" != "$expected" || "$got_policy" != "$expected_policy" || "$RC" != "$want_rc" ]]; then
    verdict="MISMATCH (expected $expected/$expected_policy, exit $want_rc)"
    failed=1
  fi
  if [[ "$oracle" == compare ]]; then
    o_result="$(awk -F'\t' -v n="$name" '$1 == n {print $2}' "$T/oracle.txt")"
    o_policy="$(awk -F'\t' -v n="$name" '$1 == n {print $3}' "$T/oracle.txt")"
    if [[ "$o_result" == "$got" && "$o_policy" == "$got_policy" ]]; then
      agreed=$((agreed + 1))
    else
      verdict="$verdict; ORACLE DISAGREES"
      failed=1
    fi
    log "$name: petrel $got/$got_policy, authheaders $o_result/$o_policy: $verdict"
  else
    log "$name: petrel $got/$got_policy, authheaders not asked (${oracle//-/ }): $verdict"
  fi
done <"$T/cases.txt"
log "$count cases, $agreed compared with authheaders and agreeing"
[[ "$failed" == 0 ]] || fail "petrel dmarc check and the expectations or authheaders disagree (see above)"

# From: fields against authheaders' check_dmarc over whole messages (its own address parser
# and its choice among several From domains). name|From bodies (";;" between fields)|spf
# result|spf domain|result|policy|header.from|oracle
cat >"$T/from-cases.txt" <<'CASES'
display-name|Alice <alice@rejectexample.com>|fail|rejectexample.com|fail|reject|rejectexample.com|compare
quoted-comma|"Smith, Alice" <a@quarexample.com>|fail|quarexample.com|fail|quarantine|quarexample.com|compare
comment|a@noneexample.com (the none one)|fail|noneexample.com|fail|none|noneexample.com|compare
case|Bob <BOB@RejectExample.COM>|fail|other.com|fail|reject|rejectexample.com|compare
several-strictest|a@noneexample.com, b@rejectexample.com|fail|noneexample.com|fail|reject|rejectexample.com|compare
several-with-no-record|a@nodmarcexample.com, b@noneexample.com|fail|other.com|fail|none|noneexample.com|compare
two-fields|a@noneexample.com;;b@quarexample.com|fail|noneexample.com|fail|quarantine|quarexample.com|compare
pass-and-fail|a@rejectexample.com, b@quarexample.com|pass|rejectexample.com|fail|quarantine|quarexample.com|authheaders-picks-the-domain-with-the-strictest-p=-even-when-it-passed-and-fails-on-an-SPF-pass-with-several-From-domains
undisclosed|undisclosed-recipients:;|fail|other.com|permerror|-|-|authheaders-fails-on-a-From-without-an-address
CASES
/usr/bin/python3 - "$DNS_PORT" "$T/from-cases.txt" >"$T/from-oracle.txt" 2>"$T/from-oracle.err" <<'PY' || fail "authheaders From: oracle failed: $(cat "$T/from-oracle.err")"
import sys
import dns.resolver
from authres import SPFAuthenticationResult
from authheaders import check_dmarc

resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ['127.0.0.1']
resolver.port = int(sys.argv[1])

def dnsfunc(name):
    try:
        answer = resolver.resolve(name, 'TXT', lifetime=5)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    texts = [b''.join(r.strings).decode() for r in answer]
    return ([t for t in texts if t.startswith('v=DMARC1')] or texts)[0]

for line in open(sys.argv[2]):
    name, froms, spf, spf_domain, _, _, _, oracle = line.rstrip('\n').split('|')
    if oracle != 'compare':
        print(name, '-', '-', '-', sep='\t')
        continue
    msg = b''.join(b'From: ' + f.encode() + b'\r\n' for f in froms.split(';;'))
    msg += b'Subject: x\r\n\r\nbody\r\n'
    spf_res = SPFAuthenticationResult(result=spf, smtp_mailfrom='postmaster@' + spf_domain)
    r = check_dmarc(msg, spf_res, None, dnsfunc=dnsfunc)
    print(name, r.result, r.policy or '-', r.header_from or '-', sep='\t')
PY
from_failed=0
while IFS='|' read -r name froms spf spf_domain expected expected_policy expected_from oracle; do
  args=(--spf "$spf" --spf-domain "$spf_domain" --json)
  IFS=$'\n' read -r -d '' -a fields < <(printf '%s' "${froms//;;/$'\n'}"; printf '\0') || true
  for f in "${fields[@]}"; do args+=(--from " $f"); done
  RC=0
  petrel dmarc check "${args[@]}" >"$T/from-$name.json" 2>"$T/from-$name.err" || RC=$?
  [[ -s "$T/from-$name.json" ]] || fail "from $name: no output (exit $RC): $(cat "$T/from-$name.err")"
  read -r got got_policy got_from < <(/usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["result"], j["policy"] or "-", j["from_domain"] or "-")' "$T/from-$name.json")
  verdict=ok
  if [[ "$got $got_policy $got_from" != "$expected $expected_policy $expected_from" ]]; then
    verdict="MISMATCH (expected $expected/$expected_policy/$expected_from)"
    from_failed=1
  fi
  if [[ "$oracle" == compare ]]; then
    o="$(awk -F'\t' -v n="$name" '$1 == n {print $2 "/" $3 "/" $4}' "$T/from-oracle.txt")"
    [[ "$o" == "$got/$got_policy/$got_from" ]] || { verdict="$verdict; ORACLE DISAGREES"; from_failed=1; }
    log "from $name: petrel $got/$got_policy/$got_from, authheaders $o: $verdict"
  else
    log "from $name: petrel $got/$got_policy/$got_from, authheaders not asked (${oracle//-/ }): $verdict"
  fi
done <"$T/from-cases.txt"
[[ "$from_failed" == 0 ]] || fail "From: handling disagrees with the expectations or authheaders (see above)"

# The text report of one case: record, organizational domain, alignment, action, header.
RC=0
petrel dmarc check --from-domain news.rejectexample.com --spf pass --spf-domain otherexample.com \
  >"$T/text.txt" 2>&1 || RC=$?
assert_eq 1 "$RC" "exit status of a fail"
assert_file_contains "$T/text.txt" '^result: fail$' "the result line"
assert_file_contains "$T/text.txt" '^org domain: rejectexample\.com$' "the organizational domain"
assert_file_contains "$T/text.txt" '^record: _dmarc\.rejectexample\.com "v=DMARC1; p=reject; rua=mailto:agg@rejectexample\.com"$' "the record and where it was found"
assert_file_contains "$T/text.txt" '^alignment: spf relaxed no, dkim relaxed no$' "the alignment"
assert_file_contains "$T/text.txt" '^action: reject \(550 5\.7\.1 rejected by DMARC policy for news\.rejectexample\.com\)$' "the action"
assert_file_contains "$T/text.txt" '^authentication-results: dmarc=fail \(p=reject dis=reject\) header\.from=news\.rejectexample\.com$' "the Authentication-Results part"
grep -q '_dmarc.news.rejectexample.com TXT' "$DNS_QUERY_LOG" || fail "the From domain's record was not asked"
grep -q '_dmarc.rejectexample.com TXT' "$DNS_QUERY_LOG" || fail "the organizational domain's record was not asked"

# Several From: addresses: the strictest counts; no address: permerror.
RC=0
petrel dmarc check --from 'a@noneexample.com, "B" <b@rejectexample.com>' --spf pass --spf-domain noneexample.com \
  >"$T/multi.txt" 2>&1 || RC=$?
assert_file_contains "$T/multi.txt" '^from domain: rejectexample\.com \(the strictest of noneexample\.com, rejectexample\.com\)$' "the strictest From domain"
assert_file_contains "$T/multi.txt" '^disposition: reject$' "its disposition"
RC=0
petrel dmarc check --from 'undisclosed-recipients:;' >"$T/nofrom.txt" 2>&1 || RC=$?
assert_eq 1 "$RC" "exit status without a From domain"
assert_file_contains "$T/nofrom.txt" '^result: permerror$' "permerror without a From domain"
# The configured actions: on_reject quarantine with on_quarantine hold.
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
dmarc: {on_reject: quarantine, on_quarantine: hold}
"
RC=0
petrel dmarc check --from-domain rejectexample.com --spf fail --spf-domain rejectexample.com \
  >"$T/hold.txt" 2>&1 || RC=$?
assert_file_contains "$T/hold.txt" '^action: hold$' "on_reject: quarantine + on_quarantine: hold"
assert_file_contains "$T/hold.txt" 'dis=quarantine' "dis= says what was applied"
# A missing Public Suffix List is a config error naming the file.
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
dmarc: {public_suffix_list: $T/nonexistent.dat}
"
RC=0
petrel dmarc check --from-domain rejectexample.com >"$T/nopsl.txt" 2>&1 || RC=$?
assert_eq 78 "$RC" "exit status with an unreadable Public Suffix List"
assert_file_contains "$T/nopsl.txt" "public suffix list $T/nonexistent.dat: cannot read it" "the error names the file"
pass
