#!/usr/bin/env bash
# Before-queue content filter (issue 13, Postfix smtpd_proxy_filter): the mx listener relays
# each transaction to an aiosmtpd filter that hands accepted mail to a reinjection listener.
# Setup: proxy_filter.py (aiosmtpd) on 127.0.0.1:$FILTER_PORT; petrel's mx listener on
# $SMTP_PORT (proxy_filter, proxy_timeout 10s) and its reinjection listener on $REINJECT_PORT
# (plain, 127.0.0.1 is relay.mynetworks); smtplib as the client from 127.0.0.2 (outside
# mynetworks).
# - one session, two messages: the filter's own reply texts reach the client at MAIL, RCPT (its
#   550 for bob) and end of data (its 250; its 554 for a SPAM subject); the filter saw XFORWARD
#   with ADDR=127.0.0.2 and one connection for the session; alice's Maildir has the message
#   with the filter's X-Proxy-Filter field and our Received field; bob got nothing; the log has
#   proxy-accept and proxy-reject lines;
# - the filter killed: MAIL gets 451 4.3.0 "Error: queue file write error" (no detail of ours)
#   and the log a warning naming the filter;
# - a filter that never greets (a silent server on $SILENT, proxy_timeout 1s): the same 451
#   and a "timeout after 1s" warning;
# - the filter on a unix socket (proxy_filter: unix:$T/filter.sock; proxy_filter.py there):
#   the message reaches alice through it, and its XFORWARD names the client's real PORT.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd is not installed"

cd "$T"
FILTER_PORT=$(pick_port)
REINJECT_PORT=$(pick_port)
while [[ "$REINJECT_PORT" == "$FILTER_PORT" || "$REINJECT_PORT" == "$SMTP_PORT" ]]; do
  REINJECT_PORT=$(pick_port)
done
FILTER_LOG="$T/filter.log"
py_bg "$IT_DIR/t-85-proxy-filter/proxy_filter.py" "$FILTER_PORT" "$REINJECT_PORT" "$FILTER_LOG" </dev/null
FILTER_PID=$PY_BG_PID
wait_for 15 "the test filter on port $FILTER_PORT" port_open "$FILTER_PORT"

write_config "
listeners!:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT', proxy_filter: '127.0.0.1:$FILTER_PORT',
     proxy_timeout: 10s}
  - {name: reinject, address: '127.0.0.1:$REINJECT_PORT'}
"
start_petrel

out=$(py - "$SMTP_PORT" <<'PY'
import smtplib, sys
port = int(sys.argv[1])
def msg(subject):
    return ('From: Sender <sender@example.net>\r\nTo: alice@example.test\r\nSubject: %s\r\n'
            'Message-ID: <%s@t85>\r\n\r\nHello filter.\r\n.leading dot\r\n'
            % (subject, subject.replace(' ', '-'))).encode()
s = smtplib.SMTP('127.0.0.1', port, timeout=30, source_address=('127.0.0.2', 0))
s.ehlo('client.example.net')
for subject in ('clean one', 'cheap SPAM here'):
    print('mail', *s.mail('sender@example.net'))
    print('rcpt alice', *s.rcpt('alice@example.test'))
    print('rcpt bob', *s.rcpt('bob@example.test'))
    code, text = s.data(msg(subject))
    print('data', code, text)
s.quit()
PY
)
log "client saw:
$out"
expect_line() { grep -qF -- "$1" <<<"$out" || fail "the client did not see: $1"; }
expect_line "mail 250 b'2.1.0 Filter: sender ok'"
expect_line "rcpt alice 250 b'2.1.5 Filter: recipient ok'"
expect_line "rcpt bob 550 b'5.7.1 Filter: bob takes no mail today'"
expect_line "data 250 b'2.0.0 Ok: filtered and reinjected'"
expect_line "data 554 b'5.7.1 Filter: looks like spam'"

wait_for 20 "alice's copy" maildir_has example.test/alice 1 || fail "nothing reached alice"
f=$(ls "$MAIL_ROOT"/example.test/alice/new/*)
grep -q '^X-Proxy-Filter: passed' "$f" || fail "no X-Proxy-Filter field: $(head -8 "$f")"
grep -q 'by mail\.example\.test (Petrel) with ESMTP' "$f" || grep -q '(Petrel)' "$f" ||
  fail "no Received field of ours"
grep -q '^Subject: clean one' "$f" || fail "the clean message is not the one delivered"
grep -q '^\.leading dot' "$f" || fail "dot-stuffing broke the body: $(tail -3 "$f")"
sleep 1
maildir_has example.test/alice 1 || fail "the SPAM message was delivered"
[[ "$(count_maildir example.test/bob)" -eq 0 ]] || fail "bob got mail"

grep -q '^xforward .*ADDR=127\.0\.0\.2' "$FILTER_LOG" ||
  fail "the filter saw no XFORWARD ADDR=127.0.0.2: $(cat "$FILTER_LOG")"
grep -q '^xforward .*HELO=client\.example\.net' "$FILTER_LOG" || fail "no XFORWARD HELO="
grep -q '^xforward .*SOURCE=REMOTE' "$FILTER_LOG" || fail "no XFORWARD SOURCE=REMOTE"
# One EHLO for both transactions: the connection was reused (the port probes and aiosmtpd's
# own start-up check connect too, but say no EHLO).
[[ "$(grep -c '^ehlo mail\.example\.test' "$FILTER_LOG")" -eq 1 ]] ||
  fail "the session did not reuse one filter connection: $(grep '^ehlo' "$FILTER_LOG")"
grep -q '^rcpt <bob@example.test>' "$FILTER_LOG" || fail "bob's RCPT did not reach the filter"
assert_log 'NOQUEUE: proxy-accept: END-OF-MESSAGE from unknown\[127\.0\.0\.2\]: 250 2\.0\.0 Ok: filtered and reinjected; from=<sender@example\.net> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.net>' \
  "the proxy-accept line"
assert_log 'NOQUEUE: proxy-reject: END-OF-MESSAGE from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 Filter: looks like spam' \
  "the proxy-reject line"

# The filter goes away: a generic 451 for the client, the detail in the log.
kill "$FILTER_PID"
wait_for 10 "the test filter to stop" not_running "$FILTER_PID"
out=$(py - "$SMTP_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30, source_address=('127.0.0.2', 0))
s.ehlo('client.example.net')
print('mail', *s.mail('sender@example.net'))
s.quit()
PY
)
log "with the filter down: $out"
[[ "$out" == "mail 451 b'4.3.0 Error: queue file write error'" ]] ||
  fail "with the filter down MAIL answered: $out"
assert_log "warning: unknown\[127\.0\.0\.2\]: proxy filter 127\.0\.0\.1:$FILTER_PORT: connect: " \
  "the warning naming the filter"
queue_empty || fail "something was queued on the proxy listener"

# A filter that never greets: proxy_timeout, then the same generic 451.
stop_petrel
SILENT=$(pick_port)
start_silent_server "$SILENT"
write_config "
listeners!:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT', proxy_filter: 'inet:127.0.0.1:$SILENT',
     proxy_timeout: 1s}
"
start_petrel
out=$(py - "$SMTP_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30, source_address=('127.0.0.2', 0))
s.ehlo('client.example.net')
print('mail', *s.mail('sender@example.net'))
s.quit()
PY
)
[[ "$out" == "mail 451 b'4.3.0 Error: queue file write error'" ]] ||
  fail "with a silent filter MAIL answered: $out"
assert_log "warning: unknown\[127\.0\.0\.2\]: proxy filter inet:127\.0\.0\.1:$SILENT: timeout after 1s" \
  "the timeout warning"

# The filter on a unix socket (Postfix smtpd_proxy_filter = unix:...): the same dialog.
stop_petrel
SOCK="$T/filter.sock"
UNIX_LOG="$T/filter-unix.log"
py_bg "$IT_DIR/t-85-proxy-filter/proxy_filter.py" "unix:$SOCK" "$REINJECT_PORT" "$UNIX_LOG" \
  </dev/null
wait_for 15 "the test filter on $SOCK" grep -q '^ready' "$UNIX_LOG" ||
  fail "the unix socket filter did not start"
write_config "
listeners!:
  - {name: mx, address: '127.0.0.1:$SMTP_PORT', proxy_filter: 'unix:$SOCK', proxy_timeout: 10s}
  - {name: reinject, address: '127.0.0.1:$REINJECT_PORT'}
"
start_petrel
out=$(py - "$SMTP_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30, source_address=('127.0.0.2', 0))
s.ehlo('client.example.net')
print('port', s.sock.getsockname()[1])
s.mail('sender@example.net')
s.rcpt('alice@example.test')
code, text = s.data(b'From: sender@example.net\r\nTo: alice@example.test\r\n'
                    b'Subject: over unix\r\n\r\nHello socket.\r\n')
print('data', code, text)
s.quit()
PY
)
log "through the unix socket filter: $out"
grep -qF "data 250 b'2.0.0 Ok: filtered and reinjected'" <<<"$out" ||
  fail "the unix socket filter did not take the message: $out"
wait_for 20 "the message through the unix socket" maildir_has example.test/alice 2 ||
  fail "nothing reached alice through the unix socket filter"
unix_copy=$(grep -l '^Subject: over unix' "$MAIL_ROOT"/example.test/alice/new/*)
grep -q '^X-Proxy-Filter: passed' "$unix_copy" ||
  fail "the unix socket copy has no X-Proxy-Filter field"
client_port=$(sed -n 's/^port //p' <<<"$out")
grep -q "^xforward .*PORT=$client_port\b" "$UNIX_LOG" ||
  fail "the filter saw no XFORWARD PORT=$client_port: $(grep '^xforward' "$UNIX_LOG")"
pass
