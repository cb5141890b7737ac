# A pymilter (libmilter) test milter for t-79: listens on inet:PORT@127.0.0.1 (or on the unix
# socket PATH when given one instead of a port) and writes what
# it was told to LOG (one line per callback). At the end of each message, by its Subject:
#   REJECTME   setreply 550 5.7.1 and reject     TEMPME     tempfail
#   DISCARDME  discard                           HOLDME     quarantine, accept
#   REPLACEBODY  (as well as the rest of "otherwise") the body replaced (SMFIR_REPLBODY)
#   otherwise  add X-Test-Milter at the end, insert X-Top at the top, change Subject, delete
#              X-Remove-Me, add the recipient bob@example.test, accept
import sys
import Milter

where, log_path = sys.argv[1], sys.argv[2]
socket_spec = "unix:" + where if where.startswith("/") else "inet:%s@127.0.0.1" % where


def note(text):
    with open(log_path, "a") as f:
        f.write(text + "\n")


class TestMilter(Milter.Base):
    def __init__(self):
        self.subject = ""

    def connect(self, hostname, family, hostaddr):
        note("connect %s %s daemon_name=%s j=%s" % (hostname, hostaddr[0],
                                                    self.getsymval("{daemon_name}"),
                                                    self.getsymval("j")))
        return Milter.CONTINUE

    def hello(self, heloname):
        note("helo %s" % heloname)
        return Milter.CONTINUE

    def envfrom(self, mailfrom, *args):
        note("mail %s auth_type=%s" % (mailfrom, self.getsymval("{auth_type}")))
        return Milter.CONTINUE

    def envrcpt(self, to, *args):
        note("rcpt %s rcpt_addr=%s" % (to, self.getsymval("{rcpt_addr}")))
        return Milter.CONTINUE

    def header(self, name, value):
        note("header %s: %s" % (name, value))
        if name.lower() == "subject":
            self.subject = value
        return Milter.CONTINUE

    def eoh(self):
        note("eoh")
        return Milter.CONTINUE

    def body(self, chunk):
        note("body %d" % len(chunk))
        return Milter.CONTINUE

    def eom(self):
        note("eom i=%s" % self.getsymval("i"))
        s = self.subject
        if "REJECTME" in s:
            self.setreply("550", "5.7.1", "Rejected by the test milter")
            return Milter.REJECT
        if "TEMPME" in s:
            return Milter.TEMPFAIL
        if "DISCARDME" in s:
            return Milter.DISCARD
        if "HOLDME" in s:
            self.quarantine("held by the test milter")
            return Milter.ACCEPT
        if "REPLACEBODY" in s:
            self.replacebody(b"Replaced by the test milter.\r\n")
        self.addheader("X-Test-Milter", "added")
        self.addheader("X-Top", "first", 0)
        self.chgheader("Subject", 1, "changed: " + s)
        self.chgheader("X-Remove-Me", 1, "")
        self.addrcpt("<bob@example.test>")
        return Milter.ACCEPT

    def close(self):
        return Milter.CONTINUE


Milter.factory = TestMilter
Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.ADDRCPT | Milter.DELRCPT |
                 Milter.QUARANTINE | Milter.CHGBODY)
note("ready")
Milter.runmilter("t79", socket_spec, 30)
