#!/usr/bin/env bash
# Setup: one `petrel serve` on 127.0.0.1:$SMTP_PORT (SMTP) and 127.0.0.1:$STATUS_PORT
#   (status); quick-start config with limits.connections_per_client: 3 and
#   limits.connections: 5; raw Python sockets bound to source addresses 127.0.0.1, 127.0.0.2
#   and 127.0.0.3 as clients.
# The 4th connection from one IP gets "421 4.7.0" and is closed while the first three keep
# working and another IP still gets in; closing one frees its slot. The 6th connection in
# total gets 421 4.7.0 whatever its IP.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

write_config 'limits: {connections_per_client: 3, connections: 5}'
start_petrel

py <<'EOF'
import socket, time
from lib import *

def connect(src):
    s = socket.socket()
    s.settimeout(15)
    s.bind((src, 0))
    s.connect(("127.0.0.1", SMTP_PORT))
    c = Client.__new__(Client)
    c.sock, c.buf = s, b""
    c.banner = c.read_reply()
    return c

first = [connect("127.0.0.1") for _ in range(3)]
for c in first:
    expect_reply(c.banner, 220, None, "banner of connections 1-3")
fourth = connect("127.0.0.1")
r = expect_reply(fourth.banner, 421, "4.7.0", "banner of the 4th connection from 127.0.0.1")
check("too many connections from 127.0.0.1" in r.text, "421 text: %r" % r)
check(fourth.is_closed(), "4th connection not closed after 421")
for c in first:
    c.ehlo()
other = connect("127.0.0.2")
expect_reply(other.banner, 220, None, "banner from 127.0.0.2")

# A freed slot can be used again.
first[0].expect("QUIT", 221)
check(first[0].is_closed(), "QUIT did not close")
deadline = time.time() + 10
while True:
    again = connect("127.0.0.1")
    if again.banner.code == 220 or time.time() > deadline:
        break
    again.close()
    time.sleep(0.1)
expect_reply(again.banner, 220, None, "banner after a slot was freed")

# 3 (127.0.0.1) + 2 (127.0.0.2) = 5 = limits.connections; the 6th is refused from any IP.
other2 = connect("127.0.0.2")
expect_reply(other2.banner, 220, None, "5th connection")
sixth = connect("127.0.0.3")
r = expect_reply(sixth.banner, 421, "4.7.0", "6th connection (127.0.0.3)")
check("too many connections in total" in r.text, "421 text: %r" % r)
check(sixth.is_closed(), "6th connection not closed after 421")
for c in first[1:] + [again, other, other2]:
    c.expect("NOOP", 250)
    c.expect("QUIT", 221)
EOF

assert_log 'petrel/smtpd\[[0-9]+\]: warning: unknown\[127\.0\.0\.1\]: too many connections from 127\.0\.0\.1 \(3\)' "per-client warning"
assert_log 'petrel/smtpd\[[0-9]+\]: warning: unknown\[127\.0\.0\.3\]: too many connections in total \(5\)' "total warning"
stop_petrel
pass
