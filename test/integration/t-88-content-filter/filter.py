# A test after-queue content filter, as amavis plays it behind Postfix (FILTER_README): an
# aiosmtpd server on 127.0.0.1:PORT that offers XFORWARD, records each message with the
# XFORWARD attributes it was given (one JSON line per message in OUT/messages.jsonl), counts
# the SMTP sessions open at the same time (OUT/max_sessions), holds each message a moment so
# that sessions overlap, adds "X-Filtered: NAME" on top and re-injects the message with
# smtplib into Petrel's reinjection listener (127.0.0.1:REINJECT); it answers 250 only once
# the reinjection was accepted, 451 otherwise, as amavis does.
#
# Usage: filter.py PORT REINJECT OUT NAME
import asyncio
import json
import os
import smtplib
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

PORT, REINJECT, OUT, NAME = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.makedirs(OUT, exist_ok=True)
state = {"open": 0, "max": 0}


def xtext_decode(v):
    out, i = bytearray(), 0
    b = v.encode()
    while i < len(b):
        if b[i:i + 1] == b"+" and i + 2 < len(b):
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.decode("utf-8", "replace")


class FilterSMTP(SMTP):
    def connection_made(self, transport):
        state["open"] += 1
        state["max"] = max(state["max"], state["open"])
        with open(os.path.join(OUT, "max_sessions"), "w") as f:
            f.write(str(state["max"]))
        super().connection_made(transport)

    def connection_lost(self, error):
        state["open"] -= 1
        super().connection_lost(error)

    async def smtp_XFORWARD(self, arg):
        attrs = getattr(self.session, "xforward", {})
        for item in (arg or "").split():
            if "=" not in item:
                await self.push("501 5.5.4 Syntax: XFORWARD attribute=value...")
                return
            k, v = item.split("=", 1)
            attrs[k.upper()] = xtext_decode(v)
        self.session.xforward = attrs
        await self.push("250 2.0.0 Ok")


class Handler:
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return responses[:-1] + ["250-XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE",
                                 responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        content = b"X-Filtered: " + NAME.encode() + b"\r\n" + envelope.content
        record = {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                  "xforward": getattr(session, "xforward", {}),
                  "peer": session.peer[0], "at": time.time()}
        await asyncio.sleep(0.5)  # scanning: lets sessions overlap

        def reinject():
            with smtplib.SMTP("127.0.0.1", REINJECT, timeout=30) as s:
                s.sendmail(envelope.mail_from, envelope.rcpt_tos, content)

        try:
            await asyncio.get_running_loop().run_in_executor(None, reinject)
        except Exception as e:  # noqa: BLE001 - any failure means: keep it queued upstream
            record["reinject_error"] = str(e)
            with open(os.path.join(OUT, "messages.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\n")
            return "451 4.3.0 reinjection failed"
        with open(os.path.join(OUT, "messages.jsonl"), "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 2.0.0 Ok: queued by " + NAME


class FilterController(Controller):
    def factory(self):
        return FilterSMTP(self.handler, **self.SMTP_kwargs)


controller = FilterController(Handler(), hostname="127.0.0.1", port=PORT,
                              server_hostname="filter-" + NAME)
controller.start()
with open(os.path.join(OUT, "ready"), "w") as f:
    f.write("ok")
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
