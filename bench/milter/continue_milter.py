#!/usr/bin/python3
"""A pymilter (libmilter) milter for bench/run-milter-bench.sh that only continues: every
callback answers CONTINUE and the end of message ACCEPT, so what is measured is the milter
protocol's round trips per message (connect, HELO, MAIL, RCPT, header fields, body chunks,
end of message), not any work of the milter's.

Usage: continue_milter.py PORT READY_FILE   (listens on inet:PORT@127.0.0.1)
"""
import sys

import Milter


class ContinueMilter(Milter.Base):
    # Each callback defined here: Milter.Base's defaults are @nocallback, which would ask the
    # MTA (SMFIP_NO*) not to send those steps at all.
    def connect(self, hostname, family, hostaddr):
        return Milter.CONTINUE

    def hello(self, heloname):
        return Milter.CONTINUE

    def envfrom(self, mailfrom, *args):
        return Milter.CONTINUE

    def envrcpt(self, to, *args):
        return Milter.CONTINUE

    def header(self, name, value):
        return Milter.CONTINUE

    def eoh(self):
        return Milter.CONTINUE

    def body(self, chunk):
        return Milter.CONTINUE

    def eom(self):
        return Milter.ACCEPT


port, ready = sys.argv[1], sys.argv[2]
Milter.factory = ContinueMilter
open(ready, "w").close()
Milter.runmilter("bench-continue", "inet:%s@127.0.0.1" % port, 30)
