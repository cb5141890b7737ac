# A pymilter (libmilter) test milter for t-92: answers at each SMTP stage as it happens.
# Listens on inet:PORT@127.0.0.1, writes one line per callback to LOG, and reads MODE_FILE at
# each connect (a missing file is mode "normal"):
#   connect  mode reject-connect: 550 5.7.1 (modes slow-rcpt, slow-eom: 5s asleep at RCPT, EOM)
#   helo     a name starting with reject-helo: 550 5.7.1
#   mail     reject-mail@...: 550 5.7.1; temp-mail@...: tempfail; discard-mail@...: discard
#   rcpt     bob@...: 550 5.7.1 (only that recipient); logs {rcpt_mailer} (error for the
#            recipients Petrel refused: it asks for them, SMFIP_RCPT_REJ)
#   eom      Subject with REPLACE: the body replaced (SMFIR_REPLBODY), X-Replaced added
import sys
import time
import Milter

port, log_path, mode_path = sys.argv[1], sys.argv[2], sys.argv[3]


def note(text):
    with open(log_path, "a") as f:
        f.write(text + "\n")


def mode():
    try:
        with open(mode_path) as f:
            return f.read().strip()
    except OSError:
        return "normal"


@Milter.rejected_recipients
class StageMilter(Milter.Base):
    def __init__(self):
        self.subject = ""
        self.mode = "normal"

    def connect(self, hostname, family, hostaddr):
        self.mode = mode()
        note("connect %s mode=%s" % (hostaddr[0], self.mode))
        if self.mode == "reject-connect":
            self.setreply("550", "5.7.1", "connection refused by the milter")
            return Milter.REJECT
        return Milter.CONTINUE

    def hello(self, heloname):
        note("helo %s" % heloname)
        if heloname.startswith("reject-helo"):
            self.setreply("550", "5.7.1", "HELO refused by the milter")
            return Milter.REJECT
        return Milter.CONTINUE

    def envfrom(self, mailfrom, *args):
        note("mail %s" % mailfrom)
        if "reject-mail@" in mailfrom:
            self.setreply("550", "5.7.1", "sender refused by the milter")
            return Milter.REJECT
        if "temp-mail@" in mailfrom:
            return Milter.TEMPFAIL
        if "discard-mail@" in mailfrom:
            return Milter.DISCARD
        return Milter.CONTINUE

    def envrcpt(self, to, *args):
        note("rcpt %s mailer=%s" % (to, self.getsymval("{rcpt_mailer}")))
        if self.mode == "slow-rcpt":
            time.sleep(5)
        if to.startswith("<bob@"):
            self.setreply("550", "5.7.1", "bob is refused by the milter")
            return Milter.REJECT
        return Milter.CONTINUE

    def header(self, name, value):
        if name.lower() == "subject":
            self.subject = value
        return Milter.CONTINUE

    def eom(self):
        note("eom")
        if self.mode == "slow-eom":
            time.sleep(5)
        if "REPLACE" in self.subject:
            self.replacebody(b"The milter's new body.\r\nSecond line.\r\n")
            self.addheader("X-Replaced", "yes")
        return Milter.CONTINUE

    def abort(self):
        note("abort")
        return Milter.CONTINUE

    def close(self):
        note("close")
        return Milter.CONTINUE


Milter.factory = StageMilter
Milter.set_flags(Milter.ADDHDRS | Milter.CHGBODY)
note("ready")
Milter.runmilter("t92", "inet:%s@127.0.0.1" % port, 30)
