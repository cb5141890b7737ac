#!/usr/bin/env bash
# Setup: one `petrel serve` (quick-start config) on 127.0.0.1:$SMTP_PORT (SMTP) and
#   127.0.0.1:$STATUS_PORT (status); the petrel CLI talks to it over var/state/control.sock;
#   a raw Python socket sends mail; sqlite3 reads queue.db.
# With alice's Maildir path blocked by a regular file, two messages defer. `queue list --json`
# shows their envelope and retry state; `queue list` is mailq-like; `queue show` prints the
# envelope and the content. `queue hold` keeps one from delivery through a flush (held in the
# JSON, the text list and queue.db) while the other is delivered; `queue release` lets it go.
# `queue delete ID` and `queue delete ALL` remove deferred messages for good (spool included).
# Unknown ids are errors (exit 1).
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_tool sqlite3

write_config
mkdir -p "$MAIL_ROOT/example.test"
echo obstacle >"$MAIL_ROOT/example.test/alice"
start_petrel

py <<'EOF'
import os
from lib import *
T = os.environ["T"]
a = make_message("queued A", ["for the postmaster"], msgid="<queue-a@example.net>", to="postmaster@example.test")
b = make_message("queued B", ["for alice"], msgid="<queue-b@example.net>")
ida = send_message("a-sender@example.net", ["postmaster@example.test"], a)
idb = send_message("b-sender@example.net", ["alice@example.test"], b)
open(os.path.join(T, "ids"), "w").write("%s %s\n" % (ida, idb))
open(os.path.join(T, "a.eml"), "wb").write(a)
open(os.path.join(T, "b.eml"), "wb").write(b)
EOF
read -r IDA IDB <"$T/ids"
export IDA IDB
wait_for 15 "both messages to be deferred" eval \
  '[[ $(log_count "to=<alice@example\.test>, (orig_to=<[^>]*>, )?relay=virtual, .*status=deferred") -ge 2 ]]'

IDA="$IDA" IDB="$IDB" py <<'EOF'
import os, re, time
from lib import *
ida, idb = os.environ["IDA"], os.environ["IDB"]
q = {m["id"]: m for m in queue_list()}
check(sorted(q) == sorted([ida, idb]), "queue ids %r, want %r" % (sorted(q), [ida, idb]))
now = time.time()
log = open(os.path.join(os.environ["T"], "petrel.log")).read()
for qid, sender, orig in ((ida, "a-sender@example.net", "postmaster@example.test"),
                          (idb, "b-sender@example.net", "alice@example.test")):
    m = q[qid]
    check(m["sender"] == sender, "%s sender %r" % (qid, m["sender"]))
    check(m["held"] is False, "%s held %r" % (qid, m["held"]))
    check(m["client"] == "unknown[127.0.0.1]", "%s client %r" % (qid, m["client"]))
    check(abs(m["arrival"] - now) < 60, "%s arrival %r, now %d" % (qid, m["arrival"], now))
    size = re.search(r"%s: from=<[^>]*>, size=(\d+)" % qid, log)
    check(size and int(size.group(1)) == m["size"], "%s size %r, log says %r" % (qid, m["size"], size and size.group(1)))
    check(len(m["recipients"]) == 1, "%s recipients %r" % (qid, m["recipients"]))
    r = m["recipients"][0]
    check(r["address"] == "alice@example.test" and r["orig_address"] == orig,
          "%s recipient %r" % (qid, r))
    check(r["status"] == "deferred" and r["attempts"] == 1, "%s recipient state %r" % (qid, r))
    check(now + 200 < r["next_attempt"] < now + 400, "%s next_attempt %r (min_backoff 5m, now %d)" % (qid, r["next_attempt"], now))
    check(r["last_error"] != "", "%s last_error empty" % qid)

text = petrel("queue", "list")
check(text.startswith("-Queue ID-"), "queue list header: %r" % text[:80])
check(ida in text and idb in text and "a-sender@example.net" in text, "queue list: %r" % text)
check(re.search(r"^-- \d+ Kbytes in 2 Requests\.$", text, re.M), "queue list footer: %r" % text)

shown = petrel("queue", "show", ida)
head, _, content = shown.partition("--- message ---\n")
head, _, rcpts = head.partition("--- recipients ---\n")
check(json.loads(head)[0]["id"] == ida, "queue show envelope: %r" % head)
check(re.search(r"^\S+@\S+: (pending, not tried yet|deferred, \d+ attempts?, next attempt .* \(in \d+ s\))$",
                rcpts, re.M), "queue show recipients: %r" % rcpts)
check("Message-ID: <queue-a@example.net>" in content and "for the postmaster" in content,
      "queue show content: %r" % content)
EOF

# hold A, unblock, flush: B is delivered, A stays.
petrel queue hold "$IDA" >/dev/null || fail "queue hold $IDA failed"
assert_eq 1 "$(sqlite3 -readonly "$STATE_DIR/queue.db" "SELECT held FROM messages WHERE id='$IDA'")" "queue.db held flag of $IDA"
petrel queue list --json | py -c 'import json,sys,os; q={m["id"]:m["held"] for m in json.load(sys.stdin)}; sys.exit(0 if q=={os.environ["IDA"]:True, os.environ["IDB"]:False} else "held flags: %r" % q)' \
  || fail "held flags in queue list --json are wrong"
petrel queue list | grep "^$IDA! " >/dev/null || fail "queue list does not mark $IDA as held with '!': $(petrel queue list)"
rm "$MAIL_ROOT/example.test/alice"
petrel queue flush >/dev/null
wait_for 15 "B in alice's Maildir" maildir_has example.test/alice 1
sleep 1.5
assert_eq 1 "$(count_maildir example.test/alice)" "messages delivered while A is held"
assert_eq "$IDA" "$(petrel queue list --json | py -c 'import json,sys; print(" ".join(m["id"] for m in json.load(sys.stdin)))')" "queue after the flush"

# release A: delivered without another flush.
petrel queue release "$IDA" >/dev/null || fail "queue release $IDA failed"
wait_for 15 "A in alice's Maildir after release" maildir_has example.test/alice 2
wait_for 10 "the queue to be empty" queue_empty
py <<'EOF'
import os
from lib import *
T = os.environ["T"]
files = maildir_files("example.test/alice")
for f in files:
    fields = parse_delivered(f)[0]
    if fields["for"] == "postmaster@example.test":
        check_delivered(f, "a-sender@example.net", "alice@example.test", open(os.path.join(T, "a.eml"), "rb").read())
    else:
        check_delivered(f, "b-sender@example.net", "alice@example.test", open(os.path.join(T, "b.eml"), "rb").read())
EOF

# delete ID and delete ALL on deferred messages (one of them large enough for the spool).
echo obstacle >"$MAIL_ROOT/example.test/bob"
py <<'EOF'
import os
from lib import *
ids = [send_message("sender@example.net", ["bob@example.test"], make_message("del %d" % i, ["y" * 900] * (1 if i else 2000))) for i in range(3)]
open(os.path.join(os.environ["T"], "ids"), "w").write(" ".join(ids) + "\n")
EOF
read -r ID1 ID2 ID3 <"$T/ids"
wait_for 15 "3 deferred messages for bob" eval '[[ $(log_count "to=<bob@example\.test>, relay=virtual, .*status=deferred") -ge 3 ]]'
[[ "$(spool_count)" -ge 1 ]] || fail "test bug: the large message is not in the spool"
out="$(petrel queue delete "$ID1")" || fail "queue delete $ID1 failed"
assert_eq "1 message deleted" "$out" "queue delete output"
assert_eq 2 "$(queue_count)" "messages after deleting one"
out="$(petrel queue delete ALL)" || fail "queue delete ALL failed"
assert_eq "2 messages deleted" "$out" "queue delete ALL output"
assert_eq 0 "$(queue_count)" "messages after delete ALL"
assert_eq 0 "$(db_count messages)" "queue.db messages after delete ALL"
assert_eq 0 "$(db_count recipients)" "queue.db recipients after delete ALL"
wait_for 5 "the spool to be empty after delete" eval '[[ $(spool_count) -eq 0 ]]'
rm "$MAIL_ROOT/example.test/bob"
petrel queue flush >/dev/null
sleep 1.5
assert_eq 0 "$(count_maildir example.test/bob)" "deleted messages delivered anyway"

# Unknown ids.
for cmd in hold release delete show; do
  rc=0
  petrel queue "$cmd" 0123456789AB >"$T/out" 2>"$T/err" || rc=$?
  assert_eq 1 "$rc" "exit status of queue $cmd with an unknown id"
  assert_file_contains "$T/err" '^petrel: error: 0123456789AB: no such message$' "queue $cmd with an unknown id"
done
stop_petrel
pass
