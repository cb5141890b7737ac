#!/usr/bin/python3
"""The outside world for the outbound relay tests (t-41.., see relay_lib.sh): a DNS server and
SMTP peers in one background process, and the checks the tests run on what the peers received.

Run as a program (relay_lib.sh's start_harness does this):

    relay_lib.py serve SPEC.yaml OUTDIR NAME

serves what SPEC.yaml describes until killed, records everything below OUTDIR, and creates
OUTDIR/NAME.ready once every socket listens. SPEC.yaml:

    dns:                               # optional
      address: 127.0.0.1:5353          # UDP and TCP
      ttl: 300                         # of every record (negative answers: the SOA minimum, 1 s)
      zones:                           # name -> records, or a special answer for the whole name
        remote.test:    {MX: ["10 mx1.remote.test", [20, mx2.remote.test]]}
        mx1.remote.test: {A: [127.0.0.3], AAAA: ["2001:db8::3"]}
        nullmx.test:    {MX: ["0 ."]}               # RFC 7505 null MX
        broken.test:    SERVFAIL                    # SERVFAIL | REFUSED | DROP (never answered)
        halfbroken.test: {MX: SERVFAIL, A: [127.0.0.9]}   # the same, per type
    peers:                             # optional
      - name: mx2                      # files go to OUTDIR/mx2/
        address: 127.0.0.4:25
        hostname: mx2.remote.test      # greeting and EHLO name (default: the name)
        starttls: {cert: c.crt, key: c.key}   # offer STARTTLS with this certificate (default: not);
                                       # max_version: TLSv1_1 makes every handshake fail
        require_tls: false             # 530 to everything but EHLO/NOOP/QUIT before STARTTLS
        auth:                          # offer AUTH (default: not)
          user: relayuser
          password: secret
          mechanisms: [PLAIN, LOGIN]   # offered (default both)
          require_tls: true            # offered only over TLS (default true)
          required: true               # MAIL needs AUTH first (default true)
        rcpt:                          # per recipient (lower case), "@domain", or "*"
          bad@remote.test: reject      # 550 5.1.1
          later@remote.test: tempfail_once   # 451 4.3.0 the first time, then accepted
          slow@remote.test: tempfail   # 451 4.3.0 always
          odd@remote.test: "552 5.2.2 Mailbox full"   # any reply, as written
        mail_reply: null               # a reply to every MAIL instead of 250 (e.g. "451 4.3.0 ...")
        data_reply: null               # a reply after DATA instead of 250 (nothing is recorded)
        smtputf8: true                 # announce SMTPUTF8 (RFC 6531; default true)
        data_size_limit: 20000         # announce "SIZE 20000" and refuse bigger DATA with 552
                                       # (default: aiosmtpd's 32 MiB)
        silent: false                  # true: no SMTP at all; accept TCP, read and record what
                                       # comes, never send a byte (a peer that hangs at greeting)
      - name: v6                       # IPv6 addresses are written in brackets
        address: "[::1]:25"

Records under OUTDIR:
    dns-queries.log     one line per DNS question: "udp|tcp NAME TYPE" (NAME without the dot)
    PEER/events.log     "conn N: C: <command>" / "conn N: S: <reply line>" / "conn N: connect
                        from IP", "... TLS up (TLSv1.3)", "... disconnect"; AUTH arguments
                        are written as "***"
    PEER/NNNN.eml       a message as received (after dot-unstuffing), byte for byte, CRLF
    PEER/NNNN.json      its envelope: {"id", "seq", "conn", "client", "helo", "tls",
                        "tls_version", "auth_user", "auth_mechanism", "mail_from",
                        "mail_options", "rcpt_tos", "rcpt_options", "size"}; written after
                        the .eml, so a .json means the message is complete.
    PEER/connections.log "TIME open|end CONN live=N": a connection opened, or ended (its QUIT
                        was read, or it closed, whichever came first: a client may open its
                        next connection once it has the reply to QUIT); TIME is time.time(),
                        live the number of connections open after the event. See
                        peer_connections.
The peer answers DATA with "250 2.0.0 Ok: queued as <ID>", ID = "<NAME>-<NNNN>" upper-cased
(MX2-0001), so a test can match petrel's "status=sent (250 ...)" log line to the message.

Imported (lib.sh's `py` puts this directory on sys.path), it gives the checks: peer_messages,
wait_peer, check_relayed, parse_dsn, check_dsn, dns_ask, peer_connections.
"""
import asyncio
import email
import email.header
import email.policy
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time

try:
    from lib import check, fail, Failure  # noqa: F401 (re-exported for the test scripts)
except ImportError:  # run as a program from elsewhere
    def fail(msg):
        sys.stderr.write("FAIL: %s\n" % msg)
        sys.exit(1)

    def check(cond, msg):
        if not cond:
            fail(msg)


# ---- DNS ---------------------------------------------------------------------------------

SPECIAL_ANSWERS = ("SERVFAIL", "REFUSED", "DROP", "NXDOMAIN")


def _fqdn(name):
    name = str(name).strip().lower()
    return name if name.endswith(".") else name + "."


class Zones:
    """The records of a spec's dns.zones, with dnslib RRs per (name, type)."""

    def __init__(self, zones, ttl=300):
        from dnslib import RR
        self.ttl = ttl
        self.special = {}      # (name, type or None) -> "SERVFAIL" | ...
        self.rrs = {}          # name -> [RR]
        lines = []
        for name, recs in (zones or {}).items():
            fq = _fqdn(name)
            self.rrs.setdefault(fq, [])
            if isinstance(recs, str):
                self._special(fq, None, recs)
                continue
            for rtype, values in (recs or {}).items():
                rtype = rtype.upper()
                if isinstance(values, str) and values.upper() in SPECIAL_ANSWERS:
                    self._special(fq, rtype, values)
                    continue
                if not isinstance(values, list):
                    values = [values]
                for v in values:
                    lines.append("%s %d IN %s %s" % (fq, ttl, rtype, self._rdata(rtype, v)))
        for rr in RR.fromZone("\n".join(lines)) if lines else []:
            self.rrs.setdefault(str(rr.rname).lower(), []).append(rr)

    def _special(self, name, rtype, value):
        value = value.upper()
        if value not in SPECIAL_ANSWERS:
            raise ValueError("unknown special answer %r for %s (known: %s)"
                             % (value, name, ", ".join(SPECIAL_ANSWERS)))
        self.special[(name, rtype)] = value

    @staticmethod
    def _rdata(rtype, v):
        if rtype == "MX":
            if isinstance(v, (list, tuple)):
                pref, host = v
            else:
                pref, host = str(v).split(None, 1)
            return "%d %s" % (int(pref), _fqdn(host))
        if rtype in ("CNAME", "NS", "PTR"):
            return _fqdn(v)
        if rtype == "TXT" and not str(v).startswith('"'):
            return '"%s"' % v
        return str(v)

    def exists(self, name):
        """A name exists when it has records or is an empty non-terminal above one."""
        return any(n == name or n.endswith("." + name) for n in self.rrs)

    def soa(self, name):
        """A synthetic SOA of the name's top-level domain, minimum 1 s (negative answers)."""
        from dnslib import RR
        labels = name.rstrip(".").split(".")
        zone = labels[-1] + "." if labels and labels[-1] else "."
        return RR.fromZone("%s 1 IN SOA ns.%s hostmaster.%s 1 7200 900 1209600 1"
                           % (zone, zone if zone != "." else "", zone if zone != "." else ""))

    def answer(self, request):
        """The reply to a request, or None to drop it."""
        from dnslib import QTYPE, RCODE
        reply = request.reply()
        name = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        special = self.special.get((name, qtype)) or self.special.get((name, None))
        if special == "DROP":
            return None
        if special in ("SERVFAIL", "REFUSED"):
            reply.header.rcode = getattr(RCODE, special)
            return reply
        if special == "NXDOMAIN" or not self.exists(name):
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(*self.soa(name))
            return reply
        seen = set()
        while True:
            here = self.rrs.get(name, [])
            wanted = [rr for rr in here if QTYPE[rr.rtype] == qtype]
            if wanted:
                reply.add_answer(*wanted)
                return reply
            cname = [rr for rr in here if rr.rtype == QTYPE.CNAME]
            if not cname or name in seen:
                if not reply.rr:
                    reply.add_auth(*self.soa(name))  # NODATA
                return reply
            seen.add(name)
            reply.add_answer(cname[0])
            name = str(cname[0].rdata.label).lower()


def start_dns(spec, outdir):
    """Starts the UDP and TCP servers of SPEC (the dns: mapping) in threads; returns them."""
    from dnslib import DNSRecord, QTYPE
    from dnslib.server import BaseResolver, DNSError, DNSHandler, DNSLogger, DNSServer

    zones = Zones(spec.get("zones"), int(spec.get("ttl", 300)))
    qlog = os.path.join(outdir, "dns-queries.log")
    lock = threading.Lock()

    class Resolver(BaseResolver):
        def resolve(self, request, handler):
            return zones.answer(request)

    class Handler(DNSHandler):
        udplen = 512

        def get_reply(self, data):
            request = DNSRecord.parse(data)
            name = str(request.q.qname).lower().rstrip(".")
            with lock, open(qlog, "a") as f:
                f.write("%s %s %s\n" % (self.protocol, name, QTYPE[request.q.qtype]))
            reply = zones.answer(request)
            if reply is None:
                raise DNSError("dropped on purpose")  # DNSHandler sends nothing
            rdata = reply.pack()
            if self.protocol == "udp" and len(rdata) > self.udplen:
                reply = reply.truncate()
                rdata = reply.pack()
            return rdata

    class Quiet(DNSLogger):
        def __init__(self):
            super().__init__(log="-recv,-send,-request,-reply,-truncated,-error,-data")

    host, port = split_address(spec["address"])
    servers = [DNSServer(Resolver(), port=port, address=host, tcp=tcp, handler=Handler,
                         logger=Quiet()) for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    return servers


def split_address(addr):
    host, _, port = str(addr).rpartition(":")
    return host.strip("[]"), int(port)


# ---- SMTP peers --------------------------------------------------------------------------


class PeerState:
    """What one peer remembers across connections: counters and its output directory."""

    def __init__(self, cfg, outdir):
        self.cfg = cfg
        self.name = cfg["name"]
        self.dir = os.path.join(outdir, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.conns = 0
        self.live = set()      # connections open now (connections.log)
        self.seq = 0
        self.rcpt_seen = {}
        self.rcpt_rules = {str(k).lower(): v for k, v in (cfg.get("rcpt") or {}).items()}
        auth = cfg.get("auth")
        self.auth = None
        if auth:
            self.auth = {"user": str(auth["user"]), "password": str(auth["password"]),
                         "mechanisms": [m.upper() for m in auth.get("mechanisms", ["PLAIN", "LOGIN"])],
                         "require_tls": bool(auth.get("require_tls", True)),
                         "required": bool(auth.get("required", True))}
        self.tls_context = None
        if cfg.get("starttls"):
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cfg["starttls"]["cert"], cfg["starttls"]["key"])
            if cfg["starttls"].get("max_version"):  # "TLSv1_1": a handshake modern clients refuse
                ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                ctx.maximum_version = getattr(ssl.TLSVersion, cfg["starttls"]["max_version"])
            self.tls_context = ctx

    def event(self, conn, text):
        with open(os.path.join(self.dir, "events.log"), "a") as f:
            f.write("conn %d: %s\n" % (conn, text))

    def conn_opened(self, conn):
        self.live.add(conn)
        self._conn_log("open", conn)

    def conn_ended(self, conn):
        """At QUIT and again at the close: counted once, at the first."""
        if conn in self.live:
            self.live.discard(conn)
            self._conn_log("end", conn)

    def _conn_log(self, what, conn):
        with open(os.path.join(self.dir, "connections.log"), "a") as f:
            f.write("%.6f %s %d live=%d\n" % (time.time(), what, conn, len(self.live)))

    def rcpt_reply(self, address):
        addr = address.lower()
        domain = "@" + addr.rpartition("@")[2]
        rule = self.rcpt_rules.get(addr, self.rcpt_rules.get(domain, self.rcpt_rules.get("*", "accept")))
        n = self.rcpt_seen.get(addr, 0)
        self.rcpt_seen[addr] = n + 1
        if rule == "accept" or (rule == "tempfail_once" and n > 0):
            return None
        if rule in ("tempfail", "tempfail_once"):
            return "451 4.3.0 <%s>: Temporary failure, try again later" % address
        if rule == "reject":
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        if re.match(r"^[2-5]\d\d[ -]", str(rule)):
            return str(rule)
        raise ValueError("peer %s: unknown rcpt behaviour %r" % (self.name, rule))


def make_peer_protocol(state, loop):
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

    class Handler:
        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            if state.cfg.get("mail_reply"):
                return state.cfg["mail_reply"]
            envelope.mail_from = address
            envelope.mail_options.extend(mail_options)
            return "250 2.1.0 Ok"

        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            reply = state.rcpt_reply(address)
            if reply is not None:
                return reply
            envelope.rcpt_tos.append(address)
            server.rcpt_options.append(list(rcpt_options))
            return "250 2.1.5 Ok"

        async def handle_DATA(self, server, session, envelope):
            if state.cfg.get("data_reply"):
                return state.cfg["data_reply"]
            state.seq += 1
            qid = ("%s-%04d" % (state.name, state.seq)).upper()
            base = os.path.join(state.dir, "%04d" % state.seq)
            content = envelope.original_content or b""
            with open(base + ".eml", "wb") as f:
                f.write(content)
            sslobj = server.transport.get_extra_info("ssl_object") if server.tls_up else None
            meta = {
                "id": qid, "seq": state.seq, "conn": server.conn_id,
                "client": session.peer[0] if session.peer else None,
                "helo": session.host_name, "tls": server.tls_up,
                "tls_version": sslobj.version() if sslobj else None,
                "auth_user": server.login_user, "auth_mechanism": server.login_mech,
                "mail_from": envelope.mail_from, "mail_options": list(envelope.mail_options),
                "rcpt_tos": list(envelope.rcpt_tos), "rcpt_options": list(server.rcpt_options),
                "size": len(content),
            }
            with open(base + ".json.tmp", "w") as f:
                json.dump(meta, f, indent=1)
            os.rename(base + ".json.tmp", base + ".json")
            return "250 2.0.0 Ok: queued as %s" % qid

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == state.auth["user"].encode()
              and auth_data.password == state.auth["password"].encode())
        login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else "?"
        state.event(server.conn_id, "AUTH %s user=%s %s%s" % (
            mechanism, login, "ok" if ok else "failed",
            "" if server.tls_up else " (in plaintext)"))
        if ok:
            server.login_user = login
            server.login_mech = mechanism
        return AuthResult(success=ok, handled=False)

    auth_kw = {}
    if state.auth:
        excluded = [m for m in ("PLAIN", "LOGIN") if m not in state.auth["mechanisms"]]
        auth_kw = dict(authenticator=authenticator, auth_require_tls=state.auth["require_tls"],
                       auth_required=state.auth["required"],
                       auth_exclude_mechanism=excluded)
    else:
        auth_kw = dict(auth_exclude_mechanism=["PLAIN", "LOGIN"])

    size_kw = {}
    if state.cfg.get("data_size_limit") is not None:
        size_kw["data_size_limit"] = int(state.cfg["data_size_limit"])

    logged = ("EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "QUIT", "NOOP")

    class Peer(SMTP):
        def __init__(self):
            state.conns += 1
            self.conn_id = state.conns
            self.tls_up = False
            self.login_user = None
            self.login_mech = None
            self.rcpt_options = []
            super().__init__(Handler(), hostname=state.cfg.get("hostname") or state.name,
                             ident="PeerSMTP", tls_context=state.tls_context,
                             require_starttls=bool(state.cfg.get("require_tls")),
                             enable_SMTPUTF8=bool(state.cfg.get("smtputf8", True)),
                             decode_data=False, timeout=30, loop=loop, **size_kw, **auth_kw)

        def _set_rset_state(self):
            super()._set_rset_state()
            self.rcpt_options = []

        def _set_post_data_state(self):
            super()._set_post_data_state()
            self.rcpt_options = []

        def connection_made(self, transport):
            first = self.transport is None
            super().connection_made(transport)
            if first:
                state.event(self.conn_id, "connect from %s" % (self.session.peer,))
                state.conn_opened(self.conn_id)

        def connection_lost(self, error):
            state.event(self.conn_id, "disconnect%s" % ("" if error is None else " (%s)" % error))
            state.conn_ended(self.conn_id)
            super().connection_lost(error)

        async def push(self, status):
            text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
            for line in text.split("\r\n"):
                state.event(self.conn_id, "S: %s" % line)
            await super().push(status)

        async def smtp_STARTTLS(self, arg):
            state.event(self.conn_id, "C: STARTTLS%s" % (" " + arg if arg else ""))
            try:
                await super().smtp_STARTTLS(arg)
            except Exception as e:
                state.event(self.conn_id, "TLS handshake failed: %r" % (e.__cause__ or e))
                raise
            if self.tls_context and not arg and self._tls_protocol is not None:
                self.tls_up = True
                sslobj = self.transport.get_extra_info("ssl_object")
                state.event(self.conn_id, "TLS up (%s)" % (sslobj.version() if sslobj else "?"))

    def logging_method(cmd):
        orig = getattr(SMTP, "smtp_" + cmd)

        async def method(self, arg):
            shown = arg
            if cmd == "AUTH" and arg:
                shown = arg.split()[0] + (" ***" if len(arg.split()) > 1 else "")
            state.event(self.conn_id, "C: %s%s" % (cmd, " " + shown if shown else ""))
            if cmd == "QUIT" and not arg:
                state.conn_ended(self.conn_id)
            return await orig(self, arg)
        method.__name__ = "smtp_" + cmd
        if hasattr(orig, "__smtp_syntax__"):
            method.__smtp_syntax__ = orig.__smtp_syntax__
        for attr in ("__smtp_syntax_extended__", "__smtp_syntax_when__"):
            if hasattr(orig, attr):
                setattr(method, attr, getattr(orig, attr))
        return method

    for cmd in logged:
        if cmd != "STARTTLS":
            setattr(Peer, "smtp_" + cmd, logging_method(cmd))
    return Peer


def make_silent_protocol(state):
    """A TCP server that never says anything (silent: true): it records the connection and
    whatever the client sends ("C: <bytes, repr>"), and waits for the client to give up."""

    class Silent(asyncio.Protocol):
        def connection_made(self, transport):
            state.conns += 1
            self.conn_id = state.conns
            self.transport = transport
            state.event(self.conn_id, "connect from %s" % (transport.get_extra_info("peername"),))
            state.conn_opened(self.conn_id)

        def data_received(self, data):
            state.event(self.conn_id, "C: %r" % data)

        def connection_lost(self, error):
            state.event(self.conn_id, "disconnect%s" % ("" if error is None else " (%s)" % error))
            state.conn_ended(self.conn_id)

    return Silent


async def serve(spec, outdir, name):
    loop = asyncio.get_running_loop()
    keep = []
    if spec.get("dns"):
        keep.append(start_dns(spec["dns"], outdir))
    for cfg in spec.get("peers") or []:
        state = PeerState(cfg, outdir)
        host, port = split_address(cfg["address"])
        if cfg.get("silent"):
            proto = make_silent_protocol(state)
        else:
            proto = make_peer_protocol(state, loop)
        server = await loop.create_server(proto, host=host, port=port, reuse_address=True)
        keep.append(server)
    with open(os.path.join(outdir, name + ".ready.tmp"), "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(os.path.join(outdir, name + ".ready.tmp"), os.path.join(outdir, name + ".ready"))
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()


def main(argv):
    if len(argv) != 5 or argv[1] != "serve":
        sys.stderr.write("usage: relay_lib.py serve SPEC.yaml OUTDIR NAME\n")
        return 2
    import yaml
    with open(argv[2], encoding="utf-8") as f:
        spec = yaml.safe_load(f) or {}
    os.makedirs(argv[3], exist_ok=True)
    asyncio.run(serve(spec, argv[3], argv[4]))
    return 0


# ---- checks (imported by the test scripts) -----------------------------------------------


def relay_dir():
    return os.path.join(os.environ["T"], "relay")


def peer_messages(peer):
    """[(envelope dict, content bytes)] that PEER has received, in order."""
    d = os.path.join(relay_dir(), peer)
    if not os.path.isdir(d):
        return []
    out = []
    for n in sorted(os.listdir(d)):
        if n.endswith(".json"):
            with open(os.path.join(d, n)) as f:
                meta = json.load(f)
            with open(os.path.join(d, n[:-5] + ".eml"), "rb") as f:
                out.append((meta, f.read()))
    return out


def peer_events(peer):
    p = os.path.join(relay_dir(), peer, "events.log")
    if not os.path.exists(p):
        return ""
    with open(p) as f:
        return f.read()


def peer_connections(peer):
    """PEER's connections.log: {"events": [(time, "open"|"end", conn, live)], "count": number
    of connections opened, "max_live": most open at once, "open": {conn: time},
    "end": {conn: time}}."""
    p = os.path.join(relay_dir(), peer, "connections.log")
    events = []
    if os.path.exists(p):
        with open(p) as f:
            for line in f:
                t, what, conn, live = line.split()
                events.append((float(t), what, int(conn), int(live.split("=")[1])))
    return {"events": events,
            "count": sum(1 for e in events if e[1] == "open"),
            "max_live": max([e[3] for e in events], default=0),
            "open": {e[2]: e[0] for e in events if e[1] == "open"},
            "end": {e[2]: e[0] for e in events if e[1] == "end"}}


def wait_peer(peer, n, timeout=20):
    """Waits until PEER has received at least N messages; returns peer_messages(PEER)."""
    deadline = time.time() + timeout
    while True:
        msgs = peer_messages(peer)
        if len(msgs) >= n:
            return msgs
        if time.time() > deadline:
            fail("timed out after %ds waiting for %d message(s) at peer %s (have %d)"
                 % (timeout, n, peer, len(msgs)))
        time.sleep(0.1)


RELAY_RECEIVED_RE = re.compile(
    rb"\AReceived: from (?P<helo>[^ \r\n]+) \(unknown \[(?P<ip>[0-9.:a-f]+)\]\)\r\n"
    rb"\tby (?P<host>[^ \r\n]+) \(Petrel\) with (?P<proto>[A-Z0-9]+) id (?P<id>[0-9A-F]+)"
    rb"(?:\r\n\tfor <(?P<for>[^>\r\n]*)>)?;\r\n"
    rb"\t(?P<date>[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4})\r\n")


def check_relayed(content, message, where, queue_id=None, helo="client.example.net",
                  hostname="mx.petrel.test", proto="ESMTP", for_addr=None, client_ip="127.0.0.1"):
    """Asserts CONTENT (what a peer received) is petrel's Received: header for this message
    followed by MESSAGE (as submitted, CRLF) byte for byte. FOR_ADDR: the "for <...>" clause
    the header must have (None: it must have none, as with several recipients)."""
    m = RELAY_RECEIVED_RE.match(content)
    if m is None:
        fail("%s: does not start with petrel's Received: header:\n%r" % (where, content[:400]))
    f = {k: (v.decode() if v is not None else None) for k, v in m.groupdict().items()}
    check(f["helo"] == helo, "%s: Received from %s, want %s" % (where, f["helo"], helo))
    check(f["ip"] == client_ip, "%s: Received [%s], want [%s]" % (where, f["ip"], client_ip))
    check(f["host"] == hostname, "%s: Received by %s, want %s" % (where, f["host"], hostname))
    check(f["proto"] == proto, "%s: Received with %s, want %s" % (where, f["proto"], proto))
    if queue_id is not None:
        check(f["id"] == queue_id, "%s: Received id %s, want %s" % (where, f["id"], queue_id))
    check(f["for"] == for_addr, "%s: Received for <%s>, want %s" % (
        where, f["for"], "<%s>" % for_addr if for_addr else "no for clause"))
    rest = content[m.end():]
    if rest != message:
        i = next((k for k in range(min(len(rest), len(message))) if rest[k] != message[k]),
                 min(len(rest), len(message)))
        fail("%s: content differs from what was submitted at offset %d (have %d bytes, want %d)\n"
             "  have: %r\n  want: %r" % (where, i, len(rest), len(message),
                                         rest[max(0, i - 40):i + 80], message[max(0, i - 40):i + 80]))
    return f


def parse_dsn(path):
    """Parses a DSN delivered to a Maildir. Returns a dict: "msg" (the email.message.Message),
    "text" (the human-readable part), "per_message" (dict of the first delivery-status
    block, lower-case keys), "recipients" ([dict] per recipient block, lower-case keys,
    values as written), "headers" (the returned header part, str)."""
    with open(path, "rb") as f:
        data = f.read()
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    check(msg.get_content_type() == "multipart/report",
          "%s: Content-Type %r, want multipart/report" % (path, msg.get("Content-Type")))
    check(msg.get_param("report-type") == "delivery-status",
          "%s: report-type %r, want delivery-status" % (path, msg.get_param("report-type")))
    parts = msg.get_payload()
    check(isinstance(parts, list) and len(parts) >= 2, "%s: %d MIME parts" % (path, len(parts)))
    check(parts[0].get_content_type() == "text/plain",
          "%s: first part is %s, want text/plain" % (path, parts[0].get_content_type()))
    check(parts[1].get_content_type() == "message/delivery-status",
          "%s: second part is %s, want message/delivery-status" % (path, parts[1].get_content_type()))
    blocks = parts[1].get_payload()
    check(isinstance(blocks, list) and len(blocks) >= 2,
          "%s: delivery-status has %d blocks, want per-message + per-recipient" % (path, len(blocks)))

    def text(v):
        # compat32 hands raw 8-bit values (a UTF-8 address in Final-Recipient) over as Header
        # objects of charset unknown-8bit: decode those bytes as UTF-8.
        if isinstance(v, email.header.Header):
            return "".join(b.decode("utf-8", "replace") if isinstance(b, bytes) else b
                           for b, _ in email.header.decode_header(v))
        return v

    def fields(block):
        return {k.lower(): re.sub(r"\s*\n\s*", " ", text(v)).strip() for k, v in block.items()}
    headers = ""
    if len(parts) >= 3:
        check(parts[2].get_content_type() in ("text/rfc822-headers", "message/rfc822"),
              "%s: third part is %s" % (path, parts[2].get_content_type()))
        p = parts[2].get_payload()
        headers = p if isinstance(p, str) else (p[0].as_string() if isinstance(p, list) else str(p))
    return {"msg": msg, "text": parts[0].get_payload(decode=True).decode("utf-8", "replace"),
            "per_message": fields(blocks[0]), "recipients": [fields(b) for b in blocks[1:]],
            "headers": headers}


def check_dsn(path, sender, failures, hostname="mx.petrel.test", original_subject=None):
    """Asserts the Maildir file PATH is a non-delivery report from <> to SENDER about exactly
    the recipients in FAILURES: {address: {"status": "5.1.1", "diagnostic": REGEX or None,
    "action": "failed", "remote_mta": "dns; mx.example.test"}}. A "diagnostic" regex is
    matched (re.search) against the whole Diagnostic-Code value (like "smtp; 550 5.1.1 ...").
    "remote_mta" is checked when given (None: the field must be absent). A "status" starting
    with "^" is a regex. Returns parse_dsn's dict."""
    with open(path, "rb") as f:
        first = f.readline()
    check(first == b"Return-Path: <>\n", "%s: not from the null sender: %r" % (path, first))
    d = parse_dsn(path)
    msg = d["msg"]
    check(msg["To"] is not None and sender in msg["To"], "%s: To: %r, want <%s>" % (path, msg["To"], sender))
    check(msg["From"] is not None and ("MAILER-DAEMON@%s" % hostname).lower() in msg["From"].lower(),
          "%s: From: %r" % (path, msg["From"]))
    check(msg["Auto-Submitted"] is not None and msg["Auto-Submitted"].startswith("auto-replied"),
          "%s: Auto-Submitted: %r" % (path, msg["Auto-Submitted"]))
    pm = d["per_message"]
    check(pm.get("reporting-mta") == "dns; %s" % hostname,
          "%s: Reporting-MTA %r, want 'dns; %s'" % (path, pm.get("reporting-mta"), hostname))
    got = {}
    for r in d["recipients"]:
        fr = r.get("final-recipient", "")
        m = re.match(r"(?i)rfc822;\s*(.*)$", fr)
        check(m is not None, "%s: Final-Recipient %r is not 'rfc822; address'" % (path, fr))
        got[m.group(1).lower()] = r
    check(sorted(got) == sorted(a.lower() for a in failures),
          "%s: DSN names %s, want %s" % (path, sorted(got), sorted(failures)))
    for addr, want in failures.items():
        r = got[addr.lower()]
        action = want.get("action", "failed")
        check(r.get("action") == action, "%s: %s Action %r, want %r" % (path, addr, r.get("action"), action))
        if want["status"].startswith("^"):
            check(re.search(want["status"], r.get("status") or ""),
                  "%s: %s Status %r does not match /%s/" % (path, addr, r.get("status"), want["status"]))
        else:
            check(r.get("status") == want["status"],
                  "%s: %s Status %r, want %r" % (path, addr, r.get("status"), want["status"]))
        if want.get("diagnostic"):
            diag = r.get("diagnostic-code")
            check(diag is not None and re.search(want["diagnostic"], diag),
                  "%s: %s Diagnostic-Code %r does not match /%s/" % (path, addr, diag, want["diagnostic"]))
        if "remote_mta" in want:
            check(r.get("remote-mta") == want["remote_mta"],
                  "%s: %s Remote-MTA %r, want %r" % (path, addr, r.get("remote-mta"), want["remote_mta"]))
    if original_subject is not None:
        check(re.search(r"(?m)^Subject: %s$" % re.escape(original_subject), d["headers"]),
              "%s: the original headers (Subject: %s) are not returned: %r"
              % (path, original_subject, d["headers"][:500]))
    return d


def dns_ask(name, qtype, port, host="127.0.0.1", tcp=False, timeout=3):
    """Asks the test DNS server; returns the dnslib DNSRecord reply (None on timeout)."""
    from dnslib import DNSRecord
    q = DNSRecord.question(name, qtype)
    try:
        return DNSRecord.parse(q.send(host, port, tcp=tcp, timeout=timeout))
    except socket.timeout:
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
