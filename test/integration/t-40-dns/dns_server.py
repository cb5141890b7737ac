#!/usr/bin/python3
"""A small authoritative DNS server for t-40-dns, built on Debian's python3-dnslib.

Usage: dns_server.py PORT QUERY_LOG READY_FILE

Serves the zones below on 127.0.0.1:PORT over UDP and TCP, writes "udp|tcp NAME TYPE" to
QUERY_LOG for every query it receives, and creates READY_FILE once both sockets listen.
Like a real authoritative server it follows a CNAME only inside the zone that holds it
(www.example.test), and leaves an out-of-zone target (alias.example.test -> other.test) to the
resolver. Special names:
  silent.example.test   never answered (the query is dropped)
  refused.example.test  answered REFUSED
  big.example.test      TXT larger than 512 octets: truncated over UDP (TC=1, no question
                        section, as dnslib does), complete over TCP
"""
import os
import sys
import threading
import time

from dnslib import QTYPE, RCODE, RR, DNSLabel
from dnslib.server import BaseResolver, DNSError, DNSHandler, DNSLogger, DNSServer

BIG = " ".join('"%s"' % (chr(ord("a") + i) * 250) for i in range(6))

ZONE = """
example.test.            300 IN SOA  ns.example.test. hostmaster.example.test. 1 7200 900 1209600 60
example.test.            300 IN MX   10 mx1.example.test.
example.test.            300 IN MX   10 mx2.example.test.
example.test.            300 IN MX   20 mx3.example.test.
example.test.            300 IN TXT  "v=spf1 " "ip4:127.0.0.0/8 -all"
mx1.example.test.        300 IN A    127.0.0.3
mx1.example.test.        300 IN AAAA 2001:db8::3
mx2.example.test.        300 IN A    127.0.0.4
mx3.example.test.        300 IN A    127.0.0.5
nullmx.example.test.     300 IN MX   0 .
www.example.test.        120 IN CNAME mx1.example.test.
alias.example.test.      100 IN CNAME target.other.test.
big.example.test.        300 IN TXT  %s
other.test.              300 IN SOA  ns.other.test. hostmaster.other.test. 1 7200 900 1209600 30
target.other.test.       200 IN MX   5 mail.other.test.
in-addr.arpa.            300 IN SOA  ns.example.test. hostmaster.example.test. 1 7200 900 1209600 60
3.0.0.127.in-addr.arpa.  300 IN PTR  mx1.example.test.
""" % BIG

RECORDS = RR.fromZone(ZONE)
ZONES = [str(rr.rname).lower() for rr in RECORDS if rr.rtype == QTYPE.SOA]
SILENT = "silent.example.test."
REFUSED = "refused.example.test."


def zone_of(name):
    best = None
    for z in ZONES:
        if (name == z or name.endswith("." + z)) and (best is None or len(z) > len(best)):
            best = z
    return best


def soa_of(zone):
    return [rr for rr in RECORDS if rr.rtype == QTYPE.SOA and str(rr.rname).lower() == zone]


class ZoneResolver(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        if name == REFUSED:
            reply.header.rcode = RCODE.REFUSED
            return reply
        qtype = request.q.qtype
        zone = zone_of(name)
        for _ in range(10):
            here = [rr for rr in RECORDS if str(rr.rname).lower() == name]
            if not here:
                reply.header.rcode = RCODE.NXDOMAIN
                reply.add_auth(*soa_of(zone_of(name) or zone))
                return reply
            wanted = [rr for rr in here if rr.rtype == qtype]
            if wanted:
                reply.add_answer(*wanted)
                return reply
            cname = [rr for rr in here if rr.rtype == QTYPE.CNAME]
            if not cname:
                reply.add_auth(*soa_of(zone_of(name)))  # NODATA
                return reply
            reply.add_answer(cname[0])
            target = str(cname[0].rdata.label).lower()
            if zone_of(target) != zone_of(name):
                return reply  # out of zone: the resolver asks for the target itself
            name = target
        return reply


class Handler(DNSHandler):
    udplen = 512  # no EDNS in dnslib: anything longer is truncated over UDP

    def get_reply(self, data):
        from dnslib import DNSRecord
        request = DNSRecord.parse(data)
        name = str(request.q.qname).lower()
        with open(sys.argv[2], "a") as log:
            log.write("%s %s %s\n" % (self.protocol, name.rstrip("."), QTYPE[request.q.qtype]))
        if name == SILENT:
            raise DNSError("dropped on purpose")  # DNSHandler sends nothing
        return super().get_reply(data)


class QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data")


def main():
    port = int(sys.argv[1])
    resolver = ZoneResolver()
    servers = [DNSServer(resolver, port=port, address="127.0.0.1", tcp=tcp, handler=Handler,
                         logger=QuietLogger()) for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    with open(sys.argv[3], "w") as f:
        f.write("ready\n")
    while all(s.isAlive() for s in servers):
        time.sleep(0.2)


if __name__ == "__main__":
    main()
