"""Crash load and its count (t-96-crash-once, test/soak/crash-soak.sh).

    crash_load.py send OUTDIR SESSIONS [PAUSE]   # until OUTDIR/stop exists
    crash_load.py count OUTDIR            # prints the counts; exit 1 on a lost or doubled copy

`send` runs SESSIONS smtplib sessions against 127.0.0.1:$SMTP_PORT, each sending small messages
in a loop, reconnecting whenever the server is gone (it is killed with SIGKILL while they run).
Every message has its own Message-ID; every fourth goes to alice and bob in one transaction
(two recipients, two delivery keys), the next to bob, the others to alice; every fifth has
"[list]" in its Subject (the test's Sieve script files a :copy of it into the "Lists" folder as
well as INBOX). Each session writes, flushed line by line, "try <msgid> <rcpt,...> <list>"
before DATA and "ok <msgid>" once the server answered 250 to it: OUTDIR/session-N.log. With
PAUSE (seconds) each session waits that long after each message (CI keeps the volume small).

`count` reads those logs and every file in new/ and cur/ of the Maildirs under $MAIL_ROOT
(INBOX and folders) and counts copies per (Message-ID, Delivered-To, folder). A message
answered 250 must have exactly one copy in each place it was meant for; a message that was
tried but whose 250 the client never saw (the server died around the reply) may have one or
none; more than one copy anywhere is a duplicate. It prints one JSON line of counts.
"""
import json
import os
import re
import smtplib
import sys
import threading
import time

SMTP_PORT = int(os.environ.get("SMTP_PORT", "0"))
MAIL_ROOT = os.environ.get("MAIL_ROOT", "")
DOMAIN = "example.test"
USERS = ("alice", "bob")


def message(msgid, rcpts, listed, seq):
    subject = "%s crash load %d" % ("[list]" if listed else "plain", seq)
    lines = [
        "From: <sender@example.net>",
        "To: %s" % ", ".join("<%s>" % r for r in rcpts),
        "Subject: %s" % subject,
        "Message-ID: %s" % msgid,
        "Date: Mon, 01 Jan 2024 00:00:00 +0000",
        "",
        "message %s" % msgid,
    ] + ["line %d of the crash load body, to make it a few hundred octets" % i
         for i in range(seq % 7)]
    return ("\r\n".join(lines) + "\r\n").encode()


def session(outdir, n, stop_file, pause):
    log = open(os.path.join(outdir, "session-%d.log" % n), "a", buffering=1)
    seq = 0
    client = None
    while not os.path.exists(stop_file):
        try:
            if client is None:
                client = smtplib.SMTP("127.0.0.1", SMTP_PORT, timeout=20)
                client.ehlo("client.example.net")
            seq += 1
            rcpts = (["alice@example.test", "bob@example.test"] if seq % 4 == 0 else
                     ["bob@example.test"] if seq % 4 == 1 else ["alice@example.test"])
            listed = seq % 5 == 0
            msgid = "<crash-%d-%d-%d@example.net>" % (os.getpid(), n, seq)
            log.write("try %s %s %d\n" % (msgid, ",".join(rcpts), int(listed)))
            refused = client.sendmail("sender@example.net", rcpts, message(msgid, rcpts,
                                                                           listed, seq))
            if not refused:
                log.write("ok %s\n" % msgid)
            if pause > 0:
                time.sleep(pause)
        except (OSError, smtplib.SMTPException):
            # Killed (refused, reset, closed) or a 4xx while it starts: connect again.
            try:
                if client is not None:
                    client.close()
            except OSError:
                pass
            client = None
            time.sleep(0.05)
    if client is not None:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            pass
    log.close()


def send(outdir, sessions, pause):
    stop_file = os.path.join(outdir, "stop")
    threads = [threading.Thread(target=session, args=(outdir, n, stop_file, pause))
               for n in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


MSGID_RE = re.compile(rb"\nMessage-ID: (<[^>\n]+>)\n")
RCPT_RE = re.compile(rb"^Delivered-To: ([^\n]+)$", re.M)


def stored_copies():
    """(msgid, rcpt, folder) -> number of files, over every user's INBOX and folders."""
    copies = {}
    for user in USERS:
        box = os.path.join(MAIL_ROOT, DOMAIN, user)
        if not os.path.isdir(box):
            continue
        folders = [("INBOX", box)] + [(d[1:], os.path.join(box, d)) for d in os.listdir(box)
                                      if d.startswith(".") and d not in (".", "..")]
        for folder, path in folders:
            for sub in ("new", "cur"):
                d = os.path.join(path, sub)
                if not os.path.isdir(d):
                    continue
                for name in os.listdir(d):
                    data = open(os.path.join(d, name), "rb").read()
                    head = data[:4096]
                    m = MSGID_RE.search(head)
                    r = RCPT_RE.search(head)
                    key = (m.group(1).decode() if m else "?" + name,
                           r.group(1).decode() if r else "?", folder)
                    copies[key] = copies.get(key, 0) + 1
    return copies


def count(outdir):
    tried, acked = {}, set()
    for name in os.listdir(outdir):
        if not name.startswith("session-"):
            continue
        for line in open(os.path.join(outdir, name)):
            parts = line.split()
            if len(parts) == 4 and parts[0] == "try":
                tried[parts[1]] = (parts[2].split(","), parts[3] == "1")
            elif len(parts) == 2 and parts[0] == "ok":
                acked.add(parts[1])
    copies = stored_copies()
    expected = {}
    for msgid, (rcpts, listed) in tried.items():
        for r in rcpts:
            for folder in ["INBOX"] + (["Lists"] if listed else []):
                expected[(msgid, r, folder)] = msgid in acked
    lost = sorted(k for k, must in expected.items() if must and copies.get(k, 0) == 0)
    duplicated = sorted(k for k, n in copies.items() if n > 1)
    unexpected = sorted(k for k in copies if k not in expected)
    unacked_stored = sum(1 for k, must in expected.items() if not must and copies.get(k, 0))
    result = {
        "tried": len(tried), "acked": len(acked),
        "copies_expected": sum(1 for must in expected.values() if must),
        "files": sum(copies.values()),
        "lost": len(lost), "duplicated": len(duplicated), "unexpected": len(unexpected),
        "unacked_but_stored": unacked_stored,
    }
    print(json.dumps(result, sort_keys=True))
    for what, keys in (("lost", lost), ("duplicated", duplicated), ("unexpected", unexpected)):
        for k in keys[:20]:
            print("%s: %s to %s in %s (%d copies)" % (what, k[0], k[1], k[2], copies.get(k, 0)),
                  file=sys.stderr)
    return 0 if not lost and not duplicated and not unexpected else 1


def main(argv):
    if len(argv) in (4, 5) and argv[1] == "send":
        send(argv[2], int(argv[3]), float(argv[4]) if len(argv) == 5 else 0.0)
        return 0
    if len(argv) == 3 and argv[1] == "count":
        return count(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
