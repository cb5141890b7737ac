#!/usr/bin/env bash
# Setup: no server, no ports. Dovecot's Pigeonhole `sieve-test` (Debian dovecot-sieve) is the
#   oracle, run with a private dovecot.conf (mail_uid: the caller, or nobody when root) and
#   sieve_global pointing at test/testdata/sieve/include/global/.
# Every script of test/testdata/sieve/*.sieve (the course's globalsieverc among them) runs
# against every message of test/testdata/sieve/messages/*.eml through `petrel sieve test` and
# `sieve-test`, envelope from sender@example.org to bob+lists@example.com. Both outputs are
# normalised to one line per action ("store FOLDER [flags]", "redirect ADDR", "discard",
# "reject", "vacation SECONDS SUBJECT"; keep and the implicit keep are "store INBOX"), sorted,
# and compared; each case is reported passed/failed, and any failure fails the test.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

need_tool sieve-test
DATA="$PETREL_SOURCE_ROOT/test/testdata/sieve"
FROM=sender@example.org
TO=bob+lists@example.com

# sieve-test drops privileges to mail_uid and writes compiled binaries next to the scripts:
# it gets copies in a directory it may write.
mkdir -p "$T/oracle/global"
cp "$DATA"/*.sieve "$T/oracle/"
cp "$DATA"/include/global/*.sieve "$T/oracle/global/"
cp -r "$DATA/messages" "$T/oracle/messages"
if [ "$(id -u)" -eq 0 ]; then uid=65534 gid=65534; else uid=$(id -u) gid=$(id -g); fi
chmod -R a+rwX "$T/oracle"
chmod a+rx "$T"
cat >"$T/oracle/dovecot.conf" <<CONF
mail_uid = $uid
mail_gid = $gid
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:$T/oracle/mail
plugin {
  sieve_global = $T/oracle/global
}
CONF

normalise_petrel() {
  /usr/bin/python3 -c '
import re, sys
out = []
for line in sys.stdin.read().splitlines():
    m = re.match(r"^(keep|fileinto)(.*?)(?: \"((?:[^\"\\\\]|\\\\.)*)\")?$", line)
    if line.startswith(("keep", "fileinto")):
        flags = re.search(r":flags \"((?:[^\"\\\\]|\\\\.)*)\"", line)
        fl = " ".join(sorted(f.lower() for f in flags.group(1).replace(chr(92) * 2, chr(92)).split())) if flags else ""
        folder = "INBOX"
        if line.startswith("fileinto"):
            folder = re.search(r"\"((?:[^\"\\\\]|\\\\.)*)\"$", line).group(1)
        out.append(("store " + folder + " " + fl).strip())
    elif line.startswith("redirect"):
        out.append("redirect " + re.search(r"\"(.*)\"$", line).group(1))
    elif line == "discard":
        out.append("discard")
    elif line.startswith(("reject", "ereject")):
        out.append("reject")
    elif line.startswith("vacation"):
        secs = re.search(r":days (\d+)", line)
        secs = int(secs.group(1)) * 86400 if secs else int(re.search(r":seconds (\d+)", line).group(1))
        subj = re.search(r":subject \"((?:[^\"\\\\]|\\\\.)*)\"", line)
        out.append("vacation %d %s" % (secs, subj.group(1) if subj else ""))
    else:
        out.append("?" + line)
print("\n".join(sorted(out)))
'
}

normalise_oracle() {
  /usr/bin/python3 -c '
import re, sys
out = []
cur = None
for line in sys.stdin.read().splitlines():
    m = re.match(r"^ \* (.*)$", line)
    if m:
        a = m.group(1)
        if a.startswith("store message in folder: "):
            cur = ["store", a[len("store message in folder: "):], ""]
        elif a.startswith("redirect message to: "):
            cur = ["redirect", a[len("redirect message to: "):].strip("<>"), ""]
        elif a == "discard":
            cur = ["discard", "", ""]
        elif a.startswith("reject message"):
            cur = ["reject", "", ""]
        elif a.startswith("send vacation message"):
            cur = ["vacation", "", ""]
        else:
            cur = ["?" + a, "", ""]
        out.append(cur)
        continue
    m = re.match(r"^\s+\+ add IMAP flags: (.*)$", line)
    if m and cur is not None:
        cur[2] = " ".join(sorted(f.lower() for f in m.group(1).split()))
    m = re.match(r"^\s+=> seconds : (\d+)", line)
    if m and cur is not None:
        cur[1] = m.group(1)
    m = re.match(r"^\s+=> subject : (.*)$", line)
    if m and cur is not None:
        cur[2] = m.group(1)
lines = []
for kind, a, b in out:
    if kind == "vacation":
        lines.append("vacation %s %s" % (a, b))
    else:
        lines.append(" ".join(x for x in (kind, a, b) if x))
print("\n".join(sorted(lines)))
'
}

passed=0
failed=0
cases=0
for script in "$T"/oracle/*.sieve; do
  name=$(basename "$script" .sieve)
  for msg in "$T"/oracle/messages/*.eml; do
    cases=$((cases + 1))
    case_name="$name x $(basename "$msg")"
    RC=0
    "$PETREL" sieve test "$DATA/$name.sieve" "$msg" --from "$FROM" --to "$TO" \
      --global-dir "$DATA/include/global" >"$T/petrel.out" 2>"$T/petrel.err" || RC=$?
    ours=$(normalise_petrel <"$T/petrel.out")
    ORC=0
    timeout 20 sieve-test -c "$T/oracle/dovecot.conf" -f "$FROM" -r "$TO" -a "$TO" \
      "$script" "$msg" >"$T/oracle.out" 2>"$T/oracle.err" || ORC=$?
    theirs=$(normalise_oracle <"$T/oracle.out")
    if [ "$ORC" -ne 0 ]; then
      theirs="sieve-test failed ($ORC): $(head -c 300 "$T/oracle.err" | tr '\n' ' ')"
    fi
    if [ "$ours" = "$theirs" ] && [ "$RC" -eq 0 ]; then
      passed=$((passed + 1))
      printf 'passed: %s\n' "$case_name" >&2
    else
      failed=$((failed + 1))
      printf 'FAILED: %s\n  petrel (exit %s): %s\n  sieve-test: %s\n' "$case_name" "$RC" \
        "$(echo "$ours" | tr '\n' '|')" "$(echo "$theirs" | tr '\n' '|')" >&2
      sed 's/^/  petrel stderr: /' "$T/petrel.err" >&2
    fi
  done
done
printf '%s: %d cases, %d passed, %d failed\n' "$TEST_NAME" "$cases" "$passed" "$failed" >&2
[ "$cases" -ge 80 ] || fail "only $cases cases (want 20+ scripts x 4 messages)"
[ "$failed" -eq 0 ] || fail "$failed of $cases cases differ from sieve-test"
pass
