#!/usr/bin/python3
"""An authoritative DNS server on loopback for the integration tests (Debian's python3-dnslib).

Usage: zone_dns.py PORT ZONE_FILE QUERY_LOG READY_FILE

Serves the records of ZONE_FILE (master-file syntax, absolute names, one record per line, as
dnslib's RR.fromZone reads it) on 127.0.0.1:PORT over UDP and TCP, and writes
"NAME TYPE" to QUERY_LOG for every query. A name with records answers them (following a CNAME
whose target is in the file), a name without records of the asked type but with others, or
with names below it, is NODATA, anything else NXDOMAIN (with the SOA of the closest enclosing
zone in the file, so negative answers are cached as RFC 2308 says). Two comment directives for failures:
  ;!silent NAME    queries for NAME (and names below it) are never answered
  ;!servfail NAME  queries for NAME (and names below it) are answered SERVFAIL
READY_FILE is created once both sockets listen. lib.sh's start_zone_dns starts it.
"""
import sys
import time

from dnslib import QTYPE, RCODE, RR, DNSRecord
from dnslib.server import BaseResolver, DNSError, DNSHandler, DNSLogger, DNSServer


def load(path):
    text = open(path).read()
    directives = {"silent": [], "servfail": []}
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0].startswith(";!") and words[0][2:] in directives:
            directives[words[0][2:]].append(words[1].lower().rstrip(".") + ".")
    return RR.fromZone(text), directives


RECORDS, DIRECTIVES = [], {}


def under(name, names):
    return any(name == n or name.endswith("." + n) for n in names)


def soa_for(name):
    """The SOA of the closest zone holding NAME (the file's first SOA when none does)."""
    soas = [rr for rr in RECORDS if rr.rtype == QTYPE.SOA]
    best = [rr for rr in soas if under(name, [str(rr.rname).lower()])]
    best.sort(key=lambda rr: -len(str(rr.rname)))
    return (best or soas)[:1]


class ZoneResolver(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).lower()
        if under(name, DIRECTIVES["servfail"]):
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        soa = soa_for(name)
        for _ in range(10):
            here = [rr for rr in RECORDS if str(rr.rname).lower() == name]
            wanted = [rr for rr in here if rr.rtype == request.q.qtype]
            if wanted:
                reply.add_answer(*wanted)
                return reply
            cname = [rr for rr in here if rr.rtype == QTYPE.CNAME]
            if cname:
                reply.add_answer(cname[0])
                name = str(cname[0].rdata.label).lower()
                continue
            below = any(str(rr.rname).lower().endswith("." + name) for rr in RECORDS)
            if not here and not below:
                reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(*soa)
            return reply
        return reply


class Handler(DNSHandler):
    udplen = 512  # no EDNS in dnslib: anything longer is truncated over UDP

    def get_reply(self, data):
        request = DNSRecord.parse(data)
        name = str(request.q.qname).lower()
        with open(sys.argv[3], "a") as log:
            log.write("%s %s\n" % (name.rstrip("."), QTYPE[request.q.qtype]))
        if under(name, DIRECTIVES["silent"]):
            raise DNSError("dropped on purpose")  # DNSHandler sends nothing
        return super().get_reply(data)


class QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data")


def main():
    global RECORDS, DIRECTIVES
    RECORDS, DIRECTIVES = load(sys.argv[2])
    servers = [DNSServer(ZoneResolver(), port=int(sys.argv[1]), address="127.0.0.1", tcp=tcp,
                         handler=Handler, logger=QuietLogger()) for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    with open(sys.argv[4], "w") as f:
        f.write("ready\n")
    while all(s.isAlive() for s in servers):
        time.sleep(0.2)


if __name__ == "__main__":
    main()
