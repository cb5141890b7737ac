"""A before-queue test filter for t-85-proxy-filter (aiosmtpd): offers and records XFORWARD,
refuses bob at RCPT with 550, refuses messages whose Subject contains SPAM at end of data with
554, and otherwise adds X-Proxy-Filter and hands the message by smtplib to Petrel's
reinjection listener.

Usage: proxy_filter.py PORT|unix:PATH REINJECT_PORT LOG
"""
import asyncio
import smtplib
import sys
import time

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.smtp import SMTP

WHERE, REINJECT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def record(line):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(line + "\n")


class FilterSMTP(SMTP):
    async def smtp_XFORWARD(self, arg):
        record("xforward " + (arg or ""))
        await self.push("250 2.0.0 Ok")

    def connection_made(self, transport):
        record("connect")
        super().connection_made(transport)


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        record("ehlo " + hostname)
        return responses[:-1] + ["250-XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE",
                                 responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, options):
        record("mail <%s>" % address)
        envelope.mail_from = address
        return "250 2.1.0 Filter: sender ok"

    async def handle_RCPT(self, server, session, envelope, address, options):
        record("rcpt <%s>" % address)
        if address.startswith("bob@"):
            return "550 5.7.1 Filter: bob takes no mail today"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Filter: recipient ok"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content
        header = content.split(b"\r\n\r\n", 1)[0]
        record("data %d octets, received=%s" % (len(content), b"(Petrel)" in header))
        for line in header.split(b"\r\n"):
            if line.lower().startswith(b"subject:") and b"SPAM" in line:
                return "554 5.7.1 Filter: looks like spam"
        with smtplib.SMTP("127.0.0.1", REINJECT, timeout=30,
                          source_address=("127.0.0.1", 0)) as s:
            s.sendmail(envelope.mail_from, envelope.rcpt_tos,
                       b"X-Proxy-Filter: passed\r\n" + content)
        return "250 2.0.0 Ok: filtered and reinjected"


class FilterController(Controller):
    def factory(self):
        return FilterSMTP(self.handler, decode_data=False, hostname="filter.test")


class UnixFilterController(UnixSocketController):
    def factory(self):
        return FilterSMTP(self.handler, decode_data=False, hostname="filter.test")


if WHERE.startswith("unix:"):
    c = UnixFilterController(Handler(), unix_socket=WHERE[5:])
else:
    c = FilterController(Handler(), hostname="127.0.0.1", port=int(WHERE))
c.start()
record("ready")
try:
    while True:
        time.sleep(1)
finally:
    c.stop()
