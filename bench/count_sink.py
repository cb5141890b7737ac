#!/usr/bin/python3
"""Print how many messages the relay scenarios' sink has received so far.

  count_sink.py COUNTER_FILE

COUNTER_FILE is the standard output of `smtp-sink -c` (Debian package postfix), which writes
its running counters as "sess=S quit=Q mesg=M" records, each ending in a carriage return,
whenever a session ends, a QUIT is executed, or a message's final "." is received. mesg=M is
the number of messages received since the sink started (one per message, whatever its number
of recipients). Only the last complete record counts: a record still being written is skipped.
Prints 0 while the file is missing or empty (the sink has received nothing yet).
"""
import os, re, sys

RECORD = re.compile(rb"sess=\d+ quit=\d+ mesg=(\d+)$")


def sink_count(path):
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 512))
            tail = f.read()
    except FileNotFoundError:
        return 0
    # Every record ends in "\r": the last element of the split is "" or a partial record.
    for rec in reversed(tail.split(b"\r")[:-1]):
        m = RECORD.search(rec.strip())
        if m:
            return int(m.group(1))
    if size > 512:
        raise SystemExit(f"count_sink: no counter record in the last 512 bytes of {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(sink_count(sys.argv[1]))
