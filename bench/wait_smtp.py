#!/usr/bin/python3
"""Wait, with a timeout, until an SMTP server on HOST:PORT sends its 220 greeting.

  wait_smtp.py 127.0.0.1:2727 --timeout 30 --what "Petrel SMTP listener" [--pid PID]
      exit 0 once a 220 greeting arrives (then sends QUIT);
      exit 1 on timeout; exit 3 if --pid names a process that died meanwhile.
  wait_smtp.py 127.0.0.1:2727 --free
      exit 0 if nothing accepts connections on HOST:PORT, 1 if something does.
"""
import argparse, os, socket, sys, time


def alive(pid):
    """True if pid exists and is not a zombie (an exited child not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def greet(host, port, timeout):
    """Return the first reply line of the server, or None if it cannot be had."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            buf = b""
            while b"\n" not in buf and len(buf) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            line = buf.split(b"\n", 1)[0].decode("latin-1").strip()
            # A 220 greeting may be multi-line ("220-..."); QUIT is fine either way.
            try:
                s.sendall(b"QUIT\r\n")
                s.recv(4096)
            except OSError:
                pass
            return line
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target", help="host:port")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait in all")
    ap.add_argument("--what", default="SMTP server", help="what is waited for (for messages)")
    ap.add_argument("--pid", type=int, default=0, help="give up early if this process dies")
    ap.add_argument("--free", action="store_true", help="only check that nothing listens")
    a = ap.parse_args()
    host, port = a.target.rsplit(":", 1)
    port = int(port)

    if a.free:
        try:
            with socket.create_connection((host, port), timeout=2):
                pass
        except OSError:
            return 0
        print(f"wait_smtp: something already listens on {a.target} ({a.what})", file=sys.stderr)
        return 1

    print(f"wait_smtp: waiting up to {a.timeout:g} s for {a.what} to greet on {a.target}",
          file=sys.stderr, flush=True)
    t0 = time.monotonic()
    deadline = t0 + a.timeout
    last = None
    while True:
        if a.pid and not alive(a.pid):
            print(f"wait_smtp: process {a.pid} ({a.what}) exited before greeting on {a.target}",
                  file=sys.stderr)
            return 3
        left = deadline - time.monotonic()
        line = greet(host, port, max(0.5, min(5.0, left)))
        if line is not None and line.startswith("220"):
            print(f"wait_smtp: {a.what} ready after {time.monotonic() - t0:.1f} s: {line}",
                  file=sys.stderr)
            return 0
        if line is not None:
            last = line
        if time.monotonic() >= deadline:
            extra = f" (last reply: {last!r})" if last else ""
            print(f"wait_smtp: timed out after {a.timeout:g} s waiting for {a.what} "
                  f"on {a.target}{extra}", file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
