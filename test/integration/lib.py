"""Python side of the integration helpers (lib.sh's `py` puts this directory on sys.path).

It owns a raw-socket SMTP client for the dialogues smtplib cannot speak (pipelined batches,
BDAT, bare LF, half-sent DATA), and the Maildir checks: what a delivered file must hold, byte
for byte, given what was sent. It deliberately does not start or stop petrel (lib.sh does) and
never retries: a test sees exactly what the server did.

Environment (set by lib.sh): SMTP_PORT, STATUS_PORT, MAIL_ROOT, STATE_DIR, CONF, PETREL.
"""
import base64
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

SMTP_PORT = int(os.environ.get("SMTP_PORT", "0"))
STATUS_PORT = int(os.environ.get("STATUS_PORT", "0"))
MAIL_ROOT = os.environ.get("MAIL_ROOT", "")
STATE_DIR = os.environ.get("STATE_DIR", "")
HOSTNAME = "mail.example.test"
TEST = os.path.basename(os.path.dirname(os.path.abspath(sys.argv[0]))) if sys.argv[0] else "py"


class Failure(Exception):
    pass


def fail(msg):
    """Ends the script with status 1 and a message saying what was wrong."""
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


# ---- raw SMTP ----------------------------------------------------------------------------


class Reply:
    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines  # text after "NNN " / "NNN-"
        self.raw = raw

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%r)" % self.raw.decode("utf-8", "replace")


class Client:
    """One SMTP connection over a plain socket. Every read has a timeout."""

    def __init__(self, port=None, timeout=15, host="127.0.0.1", greet=True, source=None,
                 implicit_tls=False):
        """SOURCE: local address to connect from (like "127.0.0.2"). IMPLICIT_TLS: run TLS
        from the first byte (port 465 style, no certificate verification)."""
        self.sock = socket.create_connection((host, port or SMTP_PORT), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.settimeout(timeout)
        self.buf = b""
        if implicit_tls:
            self.wrap_tls()
        self.banner = self.read_reply() if greet else None

    def wrap_tls(self, server_hostname=None, context=None):
        """Runs the TLS handshake on the socket as it is (after a 220 to STARTTLS, or at once
        for implicit TLS). Bytes already buffered in plaintext are an error: they would be
        replies the server sent before TLS and the client could mistake for TLS ones."""
        check(self.buf == b"", "plaintext bytes buffered before the TLS handshake: %r" % self.buf)
        self.sock = (context or tls_context()).wrap_socket(self.sock,
                                                           server_hostname=server_hostname)
        return self.sock

    def starttls(self, server_hostname=None, context=None):
        """STARTTLS (expects 220 2.0.0), then the handshake. Send EHLO again afterwards."""
        r = self.expect("STARTTLS", 220, "2.0.0")
        self.wrap_tls(server_hostname, context)
        return r

    def peer_cert_der(self):
        """The server's certificate (DER bytes) once in TLS."""
        return self.sock.getpeercert(binary_form=True)

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Failure("timed out waiting for a reply (have %r)" % self.buf[:200])
        if not chunk:
            raise EOFError("connection closed by the server (have %r)" % self.buf[:200])
        self.buf += chunk

    def read_reply(self):
        """Reads one (possibly multi-line) reply."""
        lines = []
        raw = b""
        code = None
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            line, self.buf = self.buf.split(b"\r\n", 1)
            raw += line + b"\r\n"
            check(len(line) >= 3 and line[:3].isdigit(), "malformed reply line %r" % line)
            code = int(line[:3])
            lines.append(line[4:].decode("utf-8", "replace"))
            if len(line) == 3 or line[3:4] == b" ":
                return Reply(code, lines, raw)

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.read_reply()

    def expect(self, line, code, enhanced=None):
        """Sends LINE (None: sends nothing) and asserts the reply code (and enhanced code)."""
        r = self.cmd(line) if line is not None else self.read_reply()
        expect_reply(r, code, enhanced, line)
        return r

    def expect_raw(self, data, code, enhanced=None):
        """Sends DATA exactly as given (no CRLF added) and asserts the reply."""
        self.send(data)
        r = self.read_reply()
        expect_reply(r, code, enhanced, data[:60])
        return r

    def ehlo(self, name="client.example.net"):
        return self.expect("EHLO " + name, 250)

    def is_closed(self, timeout=10):
        """True when the server closes the connection within TIMEOUT (after any buffered data)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except socket.timeout:
            return False
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def expect_reply(r, code, enhanced=None, what=None):
    check(r.code == code, "%s: expected %d, got %r" % (what or "reply", code, r))
    if enhanced is not None:
        check(r.lines[-1].startswith(enhanced + " "),
              "%s: expected enhanced code %s, got %r" % (what or "reply", enhanced, r))
    return r


def queued_id(reply):
    m = re.search(r"queued as ([0-9A-F]+)", reply.text)
    check(m is not None, "250 reply without a queue id: %r" % reply)
    return m.group(1)


def dot_stuff(body):
    """CRLF body -> DATA payload ending in CRLF.CRLF."""
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", body)
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out + b".\r\n"


def send_message(sender, rcpts, body, helo="client.example.net", mail_params=""):
    """One transaction over a raw socket; returns the queue id."""
    c = Client()
    c.ehlo(helo)
    c.expect("MAIL FROM:<%s>%s" % (sender, mail_params), 250)
    for r in rcpts:
        c.expect("RCPT TO:<%s>" % r, 250)
    c.expect("DATA", 354)
    r = c.expect_raw(dot_stuff(body), 250, "2.0.0")
    c.expect("QUIT", 221)
    c.close()
    return queued_id(r)


# ---- messages ----------------------------------------------------------------------------


def make_message(subject, body_lines, msgid=None, sender="sender@example.net",
                 to="alice@example.test", extra_headers=()):
    """An RFC 5322 message with CRLF line ends, as bytes."""
    msgid = msgid or "<%s.%d@example.net>" % (subject.replace(" ", "-"), time.time_ns())
    head = [
        "From: <%s>" % sender,
        "To: <%s>" % to,
        "Subject: %s" % subject,
        "Message-ID: %s" % msgid,
        "Date: Mon, 01 Jan 2024 00:00:00 +0000",
    ] + list(extra_headers)
    text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(body_lines) + "\r\n"
    return text.encode("utf-8")


def crlf_to_lf(data):
    return data.replace(b"\r\n", b"\n")


# ---- Maildir -----------------------------------------------------------------------------


def maildir_files(box):
    """Files in MAIL_ROOT/BOX/new, oldest name first."""
    d = os.path.join(MAIL_ROOT, box, "new")
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d))


def wait_maildir(box, n, timeout=30):
    """Waits until BOX holds at least N files; returns them."""
    deadline = time.time() + timeout
    while True:
        files = maildir_files(box)
        if len(files) >= n:
            return files
        if time.time() > deadline:
            fail("timed out after %ds waiting for %d message(s) in %s/%s/new (have %d)"
                 % (timeout, n, MAIL_ROOT, box, len(files)))
        time.sleep(0.1)


PREFIX_RE = re.compile(
    rb"\AReturn-Path: <(?P<sender>[^>\n]*)>\n"
    rb"Delivered-To: (?P<rcpt>[^\n]*)\n"
    rb"Received: from (?P<helo>[^ \n]+) \(unknown \[127\.0\.0\.1\]\)\n"
    rb"\tby (?P<host>[^ \n]+) \(Petrel\) with (?P<proto>[A-Z0-9]+) id (?P<id>[0-9A-F]+)"
    rb"(?:\n\tfor <(?P<for>[^>\n]*)>)?;\n"
    rb"\t(?P<date>[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4})\n")


def parse_delivered(path):
    """Splits a delivered file into (trace fields dict, the message as delivered)."""
    with open(path, "rb") as f:
        data = f.read()
    m = PREFIX_RE.match(data)
    if m is None:
        fail("%s: trace header block not as expected:\n%r" % (path, data[:600]))
    fields = {k: (v.decode("utf-8") if v is not None else None) for k, v in m.groupdict().items()}
    return fields, data[m.end():], data


def check_delivered(path, sender, rcpt, message, helo="client.example.net", proto="ESMTP",
                    for_addr=None, queue_id=None):
    """Asserts the Maildir file PATH holds the trace block for this delivery followed by
    MESSAGE (as sent on the wire, CRLF, unstuffed) with CRLF converted to LF, byte for byte,
    and that its name ends in ,S=<size>."""
    fields, rest, data = parse_delivered(path)
    check(fields["sender"] == sender, "%s: Return-Path <%s>, want <%s>" % (path, fields["sender"], sender))
    check(fields["rcpt"] == rcpt, "%s: Delivered-To %s, want %s" % (path, fields["rcpt"], rcpt))
    check(fields["helo"] == helo, "%s: Received from %s, want %s" % (path, fields["helo"], helo))
    check(fields["host"] == HOSTNAME, "%s: Received by %s, want %s" % (path, fields["host"], HOSTNAME))
    check(fields["proto"] == proto, "%s: Received with %s, want %s" % (path, fields["proto"], proto))
    if for_addr is not None:
        check(fields["for"] == for_addr, "%s: Received for <%s>, want <%s>" % (path, fields["for"], for_addr))
    if queue_id is not None:
        check(fields["id"] == queue_id, "%s: Received id %s, want %s" % (path, fields["id"], queue_id))
    want = crlf_to_lf(message)
    if rest != want:
        i = next((k for k in range(min(len(rest), len(want))) if rest[k] != want[k]),
                 min(len(rest), len(want)))
        fail("%s: message bytes differ from what was sent at offset %d (have %d bytes, want %d)\n"
             "  have: %r\n  want: %r" % (path, i, len(rest), len(want), rest[max(0, i - 40):i + 80],
                                         want[max(0, i - 40):i + 80]))
    m = re.search(r",S=(\d+)$", path)
    check(m is not None, "%s: Maildir name lacks ,S=<size>" % path)
    check(int(m.group(1)) == len(data), "%s: ,S=%s but the file has %d bytes" % (path, m.group(1), len(data)))
    return fields


# ---- CLI and status endpoint --------------------------------------------------------------


def petrel(*args, check_rc=True):
    """Runs the petrel CLI with --config $CONF; returns stdout (str)."""
    p = subprocess.run([os.environ["PETREL"], *args, "--config", os.environ["CONF"]],
                       capture_output=True, timeout=60)
    if check_rc and p.returncode != 0:
        fail("petrel %s exited %d: %s" % (" ".join(args), p.returncode, p.stderr.decode()))
    return p.stdout.decode("utf-8")


def queue_list():
    return json.loads(petrel("queue", "list", "--json"))


def http_get(path, timeout=10):
    """(status, body str) of GET http://127.0.0.1:STATUS_PORT/PATH."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (STATUS_PORT, path),
                                    timeout=timeout) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def metrics():
    """The /metrics samples as {'name{labels}': float}."""
    status, body = http_get("/metrics")
    check(status == 200, "/metrics answered %d" % status)
    out = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


# ---- TLS and AUTH ------------------------------------------------------------------------


def tls_context(minimum=None, maximum=None):
    """A client context that does not verify the server (test certificates are self-signed).
    MINIMUM / MAXIMUM: ssl.TLSVersion bounds, when a test needs a given version."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def b64(text):
    if isinstance(text, str):
        text = text.encode("utf-8")
    return base64.b64encode(text).decode("ascii")


def auth_plain(user, password, authzid=""):
    """The AUTH PLAIN initial response (RFC 4616): base64(authzid NUL user NUL password)."""
    return b64("%s\0%s\0%s" % (authzid, user, password))


def ehlo_keywords(reply):
    """{KEYWORD: "params"} of an EHLO reply (the first line, the greeting, is skipped)."""
    out = {}
    for line in reply.lines[1:]:
        kw, _, params = line.partition(" ")
        out[kw.upper()] = params
    return out


def received_headers(path):
    """The Received: fields of a delivered file, each unfolded to one line, top first."""
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    head = data.split("\n\n", 1)[0]
    fields = re.split(r"\n(?=\S)", head)
    return [re.sub(r"\n[ \t]+", " ", f) for f in fields if f.lower().startswith("received:")]


def petrel_log():
    """The text of the petrel log ($T/petrel.log) so far."""
    with open(os.path.join(os.environ["T"], "petrel.log"), encoding="utf-8",
              errors="replace") as f:
        return f.read()


def wait_log(pattern, timeout=15, what=None):
    """Waits until the petrel log has a line matching the regex PATTERN; returns the match."""
    deadline = time.time() + timeout
    rx = re.compile(pattern, re.M)
    while True:
        m = rx.search(petrel_log())
        if m:
            return m
        if time.time() > deadline:
            fail("timed out after %ds waiting for %s (no log line matches /%s/)"
                 % (timeout, what or "a log line", pattern))
        time.sleep(0.1)
