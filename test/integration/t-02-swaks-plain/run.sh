#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); swaks (Debian) as the client, once plain and once with
#   --pipeline. Both ports are picked free at start.
# swaks sends a message file to bob; bob's Maildir holds it byte for byte (LF line ends, dots
# unstuffed), after the trace block naming swaks's HELO.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool swaks

write_config
start_petrel

for mode in plain pipeline; do
  printf '%s\n' \
    "From: <sender@example.net>" \
    "To: <bob@example.test>" \
    "Subject: swaks $mode" \
    "Message-ID: <swaks-$mode@example.net>" \
    "" \
    "Hello Bob, via swaks ($mode)." \
    ".leading dot" \
    "..." \
    "end" >"$T/msg-$mode.eml"
  # swaks ends DATA with CRLF.CRLF after the file, so a final newline in the file would add
  # an empty line to the message.
  truncate -s -1 "$T/msg-$mode.eml"
  args=(--server 127.0.0.1 --port "$SMTP_PORT" --helo swaks.example.net
        --from sender@example.net --to bob@example.test --data "@$T/msg-$mode.eml"
        --timeout 15)
  [[ $mode == pipeline ]] && args+=(--pipeline)
  swaks "${args[@]}" >"$T/swaks-$mode.out" 2>&1 || fail "swaks ($mode) failed: $(cat "$T/swaks-$mode.out")"
  assert_file_contains "$T/swaks-$mode.out" '<-+ +250 2\.0\.0 Ok: queued as [0-9A-F]+' "swaks ($mode) transcript"
done

wait_for 20 "2 messages in bob's Maildir" maildir_has example.test/bob 2

py <<'EOF'
import os
from lib import *
for f in maildir_files("example.test/bob"):
    data = open(f, "rb").read()
    mode = "plain" if b"<swaks-plain@" in data else "pipeline"
    sent = open(os.path.join(os.environ["T"], "msg-%s.eml" % mode), "rb").read()
    check_delivered(f, "sender@example.net", "bob@example.test", (sent + b"\n").replace(b"\n", b"\r\n"),
                    helo="swaks.example.net", for_addr="bob@example.test")
EOF
assert_eq 0 "$(count_maildir example.test/alice)" "messages in alice's Maildir"
wait_for 10 "the queue to be empty" queue_empty
stop_petrel
pass
