"""Decoding of the golden-dialog escapes (\\r \\n \\t \\\\ \\xHH and {{N*c}}), shared by the
fuzz seed generators in run.sh; the C++ side is test/unit/smtp/session_transcript.h."""
import re


def unescape(s):
    s = re.sub(r'\{\{(\d+)\*(.)\}\}', lambda m: m.group(2) * int(m.group(1)), s)
    b = bytearray(); i = 0; raw = s.encode()
    while i < len(raw):
        c = raw[i]
        if c == 0x5c and i + 1 < len(raw):
            n = chr(raw[i + 1])
            if n in 'rnt\\':
                b += {'r': b'\r', 'n': b'\n', 't': b'\t', '\\': b'\\'}[n]; i += 2; continue
            if n == 'x':
                b.append(int(raw[i + 2:i + 4], 16)); i += 4; continue
        b.append(c); i += 1
    return bytes(b)
