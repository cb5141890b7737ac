#!/usr/bin/env bash
# Setup: zone_dns.py on loopback serving SPF TXT records for *.spf.test (pass, fail with exp=,
#   softfail, neutral, none, two records, a SERVFAIL name, an include chain, a HELO name); a
#   config (not served) whose dns.servers is that server. No Petrel server runs.
# `petrel spf check` evaluates each case with live DNS and prints the result, the record chain
# and the lookups; pyspf (Debian python3-spf, spf.check2 with its DNS pointed at the same
# server) is the oracle: the same result for every case, and the same explanation for fail.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import spf, dns.resolver' 2>/dev/null ||
  skip "python3-spf (pyspf) or python3-dnspython is not installed"

cat >"$T/zone.txt" <<'ZONE'
spf.test.                60 IN SOA ns.spf.test. h.spf.test. 1 7200 900 1209600 60
pass.spf.test.           60 IN TXT "v=spf1 ip4:192.0.2.10 " "ip6:2001:db8::/32 -all"
pass.spf.test.           60 IN TXT "google-site-verification=abc"
fail.spf.test.           60 IN TXT "v=spf1 ip4:192.0.2.10 -all exp=why.fail.spf.test"
why.fail.spf.test.       60 IN TXT "%{i} may not send mail for %{d} (from %{l})"
soft.spf.test.           60 IN TXT "v=spf1 ip4:192.0.2.10 ~all"
neutral.spf.test.        60 IN TXT "v=spf1 ?all"
none.spf.test.           60 IN MX  10 mx.none.spf.test.
mx.none.spf.test.        60 IN A   192.0.2.10
two.spf.test.            60 IN TXT "v=spf1 -all"
two.spf.test.            60 IN TXT "v=spf1 +all"
bad.spf.test.            60 IN TXT "v=spf1 ip4:192.0.2.300 -all"
temp.spf.test.           60 IN TXT "v=spf1 include:down.spf.test -all"
chain.spf.test.          60 IN TXT "v=spf1 a:mail.chain.spf.test include:inc1.spf.test -all"
mail.chain.spf.test.     60 IN A   192.0.2.40
inc1.spf.test.           60 IN TXT "v=spf1 include:inc2.spf.test ~all"
inc2.spf.test.           60 IN TXT "v=spf1 mx/24 -all"
inc2.spf.test.           60 IN MX  10 mx.inc2.spf.test.
mx.inc2.spf.test.        60 IN A   192.0.2.20
redir.spf.test.          60 IN TXT "v=spf1 redirect=chain.spf.test"
helo.spf.test.           60 IN TXT "v=spf1 a -all"
helo.spf.test.           60 IN A   192.0.2.30
;!servfail down.spf.test
;!servfail servfail.spf.test
ZONE
start_zone_dns "$T/zone.txt"
write_config "
dns: {servers: ['127.0.0.1:$DNS_PORT']}
"

# name ip sender helo expected-result
cat >"$T/cases.txt" <<'CASES'
pass-v4 192.0.2.10 alice@pass.spf.test mx.example.org pass
pass-v6 2001:db8::25 alice@pass.spf.test mx.example.org pass
fail-exp 192.0.2.99 bob@fail.spf.test mx.example.org fail
softfail 192.0.2.99 bob@soft.spf.test mx.example.org softfail
neutral 192.0.2.99 bob@neutral.spf.test mx.example.org neutral
none 192.0.2.10 bob@none.spf.test mx.example.org none
nxdomain 192.0.2.10 bob@nothere.spf.test mx.example.org none
two-records 192.0.2.10 bob@two.spf.test mx.example.org permerror
syntax 192.0.2.10 bob@bad.spf.test mx.example.org permerror
temperror-include 192.0.2.99 bob@temp.spf.test mx.example.org temperror
temperror-top 192.0.2.99 bob@servfail.spf.test mx.example.org temperror
include-chain 192.0.2.21 carol@chain.spf.test mx.example.org pass
include-chain-miss 198.51.100.9 carol@chain.spf.test mx.example.org fail
redirect 192.0.2.40 carol@redir.spf.test mx.example.org pass
helo-identity 192.0.2.30 <> helo.spf.test pass
helo-identity-fail 192.0.2.31 <> helo.spf.test fail
CASES

# The oracle: pyspf over the same server.
/usr/bin/python3 - "$DNS_PORT" "$T/cases.txt" >"$T/pyspf.txt" 2>"$T/pyspf.err" <<'PY' || fail "pyspf oracle failed: $(cat "$T/pyspf.err")"
import sys
import dns.resolver
import spf
# pyspf prefers dnspython, which reports SERVFAIL as an error (temperror); point it at the zone.
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ['127.0.0.1']
resolver.port = int(sys.argv[1])
dns.resolver.default_resolver = resolver
assert spf.DNSLookup is spf.DNSLookup_dnspython
for line in open(sys.argv[2]):
    name, ip, sender, helo, _ = line.split()
    s = '' if sender == '<>' else sender
    result, explanation = spf.check2(i=ip, s=s, h=helo, timeout=10)
    print(name, result, explanation if result == 'fail' else '-', sep='\t')
PY

failed=0
while read -r name ip sender helo expected; do
  RC=0
  petrel spf check --ip "$ip" --sender "$sender" --helo "$helo" --json >"$T/$name.json" \
    2>"$T/$name.err" || RC=$?
  [[ -s "$T/$name.json" ]] || fail "$name: no output (exit $RC): $(cat "$T/$name.err")"
  got="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"])' "$T/$name.json")"
  exp_got="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["explanation"] or "-")' "$T/$name.json")"
  oracle="$(awk -F'\t' -v n="$name" '$1 == n {print $2}' "$T/pyspf.txt")"
  oracle_exp="$(awk -F'\t' -v n="$name" '$1 == n {print $3}' "$T/pyspf.txt")"
  want_rc=1
  [[ "$expected" == pass ]] && want_rc=0
  [[ "$expected" == temperror ]] && want_rc=75
  log "$name: petrel $got, pyspf $oracle, expected $expected (exit $RC)"
  if [[ "$got" != "$expected" || "$oracle" != "$expected" || "$RC" != "$want_rc" ]]; then
    log "$name: MISMATCH"; failed=1
  fi
  if [[ "$expected" == fail && "$exp_got" != "$oracle_exp" && "$oracle_exp" != "SPF fail - not authorized" ]]; then
    log "$name: explanation '$exp_got' vs pyspf '$oracle_exp'"; failed=1
  fi
done <"$T/cases.txt"
[[ "$failed" == 0 ]] || fail "petrel spf check and pyspf disagree (see above)"

# The explanation, expanded, and the text report: chain of records and the lookups.
assert_file_contains "$T/fail-exp.json" '"explanation":"192\.0\.2\.99 may not send mail for fail\.spf\.test \(from bob\)"' \
  "the exp= explanation with its macros expanded"
RC=0
petrel spf check --ip 192.0.2.21 --sender carol@chain.spf.test >"$T/chain.txt" 2>&1 || RC=$?
assert_eq 0 "$RC" "exit status of a pass"
assert_file_contains "$T/chain.txt" '^result: pass$' "the result line"
assert_file_contains "$T/chain.txt" '^mechanism: include:inc1\.spf\.test$' "the deciding term"
assert_file_contains "$T/chain.txt" '^  check_host chain\.spf\.test: v=spf1 a:mail\.chain\.spf\.test include:inc1\.spf\.test -all$' "the first record"
assert_file_contains "$T/chain.txt" '^  include inc1\.spf\.test: v=spf1 include:inc2\.spf\.test ~all$' "the included record"
assert_file_contains "$T/chain.txt" '^  include inc2\.spf\.test: v=spf1 mx/24 -all$' "the nested include"
assert_file_contains "$T/chain.txt" '^  mx\.inc2\.spf\.test A -> 192\.0\.2\.20$' "the MX host's address lookup"
assert_file_contains "$T/chain.txt" 'DNS terms 4/10' "the count of DNS terms (a, include, include, mx)"
grep -q 'inc2.spf.test MX' "$DNS_QUERY_LOG" || fail "the zone server never saw the MX query"
RC=0
petrel spf check --ip 192.0.2.99 --sender bob@servfail.spf.test >"$T/temp.txt" 2>&1 || RC=$?
assert_eq 75 "$RC" "exit status of a temperror"
RC=0
petrel spf check --ip 300.1.1.1 --sender bob@pass.spf.test >"$T/badip.txt" 2>&1 || RC=$?
assert_eq 2 "$RC" "exit status for a malformed --ip"
pass
