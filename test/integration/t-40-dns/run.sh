#!/usr/bin/env bash
# Setup: dns_server.py (Debian's python3-dnslib) authoritative for example.test, other.test and
#   in-addr.arpa on 127.0.0.1:$DNS_PORT, UDP and TCP; petrel-dns-probe (the dns::Resolver on a
#   libuv loop; `petrel` does not link ldns yet) as the client, pointed at it with --server.
#   $DEAD_PORT is a port nothing listens on. At the end `petrel serve` (quick-start config, two
#   workers, each with its own resolver) on 127.0.0.1:$SMTP_PORT with dns.servers at the same
#   DNS server, reloaded with other dns.servers.
# Checks: MX (three records, two of equal preference), A, AAAA, TXT (strings concatenated), PTR,
# null MX, an in-zone CNAME answered in one response, an out-of-zone CNAME chased with a second
# query, NXDOMAIN and NODATA with the SOA's negative TTL, a TXT too big for UDP fetched over TCP,
# REFUSED as a temporary failure, the second round served from the cache (no new queries),
# a name the server never answers (2 tries x 300 ms, then TempFail), a dead server (ICMP: fast
# TempFail), and failover from a dead server to a live one. petrel serve: a reload that changes
# dns.servers replaces the relay's and every worker's resolver ("reload --"), one with a bad
# entry is refused (by the config loader) and changes nothing, and the daemon still serves and drains (exit 0) after.
# (That each worker's resolver answers on its own loop is test/unit/server/worker_test.cc.)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The lead registers this test with PETREL_DNS_PROBE=<build>/test/petrel-dns-probe.
PROBE="${PETREL_DNS_PROBE:-$(dirname "$PETREL")/test/petrel-dns-probe}"
[[ -x "$PROBE" ]] || skip "petrel-dns-probe not found at $PROBE (built only with -Dtls=openssl; set PETREL_DNS_PROBE)"
"$PYTHON" -c 'import dnslib' 2>/dev/null || skip "missing Python module dnslib (python3-dnslib)"

pick_ports DNS_PORT DEAD_PORT
QUERY_LOG="$T/queries.log"
: >"$QUERY_LOG"
"$PYTHON" "$HERE/dns_server.py" "$DNS_PORT" "$QUERY_LOG" "$T/dns.ready" >"$T/dns_server.out" 2>&1 &
DNS_PID=$!
EXTRA_PIDS+=("$DNS_PID")
disown "$DNS_PID"  # killed by lib.sh on exit; no "Killed" notice from bash
dns_ready() {
  [[ -f "$T/dns.ready" ]] && return 0
  kill -0 "$DNS_PID" 2>/dev/null || fail "dns_server.py exited: $(cat "$T/dns_server.out")"
  return 1
}
wait_for 10 "dns_server.py to listen on 127.0.0.1:$DNS_PORT" dns_ready

# probe ARGS...: runs the probe (bounded by timeout), output in $T/probe.out.
probe() {
  timeout 15 "$PROBE" "$@" >"$T/probe.out" 2>"$T/probe.err" ||
    fail "petrel-dns-probe $* failed (exit $?): $(cat "$T/probe.err" "$T/probe.out")"
}
expect() {  # PATTERN WHAT: a line of the last probe output matches the extended regex
  grep -Eq -- "$1" "$T/probe.out" || fail "$2: no line matches /$1/ in:
$(cat "$T/probe.out")"
}
queries_for() { grep -c " $1\$" "$QUERY_LOG" || true; }  # "NAME TYPE" lines in the server log

SERVER="127.0.0.1:$DNS_PORT"

# ---- everything at once, then again from the cache ------------------------------------------
probe --server "$SERVER" --timeout-ms 1000 --attempts 2 --again \
  example.test MX  mx1.example.test A  mx1.example.test AAAA  example.test TXT \
  nullmx.example.test MX  www.example.test A  alias.example.test MX  3.0.0.127.in-addr.arpa PTR \
  nope.example.test A  mx1.example.test MX  big.example.test TXT  refused.example.test A

expect '^example\.test MX: Found ttl=300 ' "MX answer"
expect '^example\.test MX: mx 10 mx1\.example\.test$' "MX 10 mx1"
expect '^example\.test MX: mx 10 mx2\.example\.test$' "MX 10 mx2"
expect '^example\.test MX: mx 20 mx3\.example\.test$' "MX 20 mx3"
expect '^mx1\.example\.test A: address 127\.0\.0\.3$' "A record"
expect '^mx1\.example\.test AAAA: address 2001:db8::3$' "AAAA record"
expect '^example\.test TXT: txt "v=spf1 ip4:127\.0\.0\.0/8 -all"$' "TXT strings concatenated"
expect '^nullmx\.example\.test MX: mx 0 \.$' "null MX"
expect '^www\.example\.test A: Found ttl=120 ms=[0-9]+ canonical=mx1\.example\.test$' "in-zone CNAME"
expect '^www\.example\.test A: address 127\.0\.0\.3$' "in-zone CNAME target address"
expect '^alias\.example\.test MX: Found ttl=100 ms=[0-9]+ canonical=target\.other\.test$' "chased CNAME"
expect '^alias\.example\.test MX: mx 5 mail\.other\.test$' "chased CNAME target MX"
expect '^3\.0\.0\.127\.in-addr\.arpa PTR: ptr mx1\.example\.test$' "PTR"
expect '^nope\.example\.test A: NxDomain ttl=60 ' "NXDOMAIN with the SOA minimum as TTL"
expect '^mx1\.example\.test MX: NoData ttl=60 ' "NODATA with the SOA minimum as TTL"
expect '^big\.example\.test TXT: Found ' "big TXT"
[[ "$(grep -c '^big\.example\.test TXT: txt "' "$T/probe.out")" == 2 ]] ||
  fail "big TXT: want the record in both rounds: $(grep '^big' "$T/probe.out")"
expect "^big\\.example\\.test TXT: txt \"a{250}b{250}c{250}d{250}e{250}f{250}\"\$" "big TXT content"
expect '^refused\.example\.test A: TempFail ttl=0 .* error=.*REFUSED from 127\.0\.0\.1:' "REFUSED is a temporary failure"
expect '^stats: queries=24 cache_hits=11 coalesced=0 tries=16 .* tcp_fallbacks=1$' "second round from the cache except REFUSED, one TCP fallback"

# What the server saw: each name once (the second round was cached), except REFUSED (asked
# twice per round: not cached), the chased alias (the alias and its target), big (UDP + TCP).
assert_eq 1 "$(queries_for 'example.test MX')" "queries for example.test MX"
assert_eq 1 "$(queries_for 'alias.example.test MX')" "queries for alias.example.test MX"
assert_eq 1 "$(queries_for 'target.other.test MX')" "queries for the chased target"
assert_eq 1 "$(grep -c '^udp big.example.test TXT$' "$QUERY_LOG")" "UDP queries for big TXT"
assert_eq 1 "$(grep -c '^tcp big.example.test TXT$' "$QUERY_LOG")" "TCP queries for big TXT"
assert_eq 4 "$(queries_for 'refused.example.test A')" "queries for the REFUSED name (2 tries x 2 rounds)"

# ---- a name that is never answered -----------------------------------------------------------
probe --server "$SERVER" --timeout-ms 300 --attempts 2 silent.example.test MX
expect '^silent\.example\.test MX: TempFail ttl=0 ms=[0-9]+ canonical=- error=silent\.example\.test MX: timeout after 300 ms from 127\.0\.0\.1:' "silent name"
ms="$(sed -n 's/^silent\.example\.test MX: TempFail ttl=0 ms=\([0-9]*\) .*/\1/p' "$T/probe.out")"
((ms >= 550 && ms < 3000)) || fail "silent name: answered after ${ms} ms, want about 600 (2 x 300)"
assert_eq 2 "$(queries_for 'silent.example.test MX')" "queries for the silent name"
expect '^stats: .* tries=2 timeouts=2 ' "two tries, two timeouts"

# ---- a dead server: ICMP port unreachable ends the try at once ------------------------------
probe --server "127.0.0.1:$DEAD_PORT" --timeout-ms 2000 --attempts 2 example.test MX
expect '^example\.test MX: TempFail ttl=0 ms=([0-9]{1,3}) .*error=.*connection refused' "dead server"
expect '^stats: .* timeouts=0 network_errors=2 ' "dead server: refused twice, no timeout"

# ---- failover: dead first, live second -------------------------------------------------------
probe --server "127.0.0.1:$DEAD_PORT" --server "$SERVER" --timeout-ms 2000 mx2.example.test A
expect '^mx2\.example\.test A: address 127\.0\.0\.4$' "failover to the second server"
expect '^mx2\.example\.test A: Found ttl=300 ms=([0-9]{1,3}) ' "failover without waiting for a timeout"

# ---- a bad --server entry is a config error --------------------------------------------------
if "$PROBE" --server dns.example.test example.test MX >"$T/bad.out" 2>&1; then
  fail "a host name as --server was accepted"
fi
assert_file_contains "$T/bad.out" "bad DNS server 'dns\\.example\\.test'" "bad --server entry"

# ---- petrel serve: reloads that change dns.servers -------------------------------------------
write_config "dns: {servers: ['$SERVER']}"
start_petrel
write_config "dns: {servers: ['127.0.0.1:$DEAD_PORT', '$SERVER']}"
kill -HUP "$PETREL_PID"
wait_for 10 "the 'reload --' line after changing dns.servers" log_has 'petrel/master\[[0-9]+\]: reload -- '
write_config "dns: {servers: ['dns.example.test']}"
kill -HUP "$PETREL_PID"
wait_for 10 "the refused reload of a bad dns.servers entry" log_has 'reload failed: keeping the running configuration'
assert_log "reload: .*dns\\.servers\\[0\\]: 'dns\\.example\\.test' is not a server address" "the bad entry named"
assert_eq 1 "$(log_count 'reload -- ')" "reloads done"
wait_for 10 "SMTP port $SMTP_PORT to accept connections after the reloads" port_open "$SMTP_PORT"
stop_petrel
assert_log 'daemon stopped' "stop log line"

pass
