#!/usr/bin/env bash
# Setup: no server process: `petrel table query` and `petrel check-config` run in the
#   foreground against the quick-start config (listener 127.0.0.1:$SMTP_PORT, never bound)
#   plus a regexp and a cidr table under $T/maps. When Postfix's postmap is installed, it
#   answers the same queries from the same files (config directory $T/postfix, nothing runs).
# `petrel table query NAME KEY` answers like `postmap -q`: the value on stdout and exit 0 when
# found, nothing and exit 1 when not found, a message and exit 75 when the table cannot be read,
# exit 78 for an unknown table or type. NAME is a table under tables: or an inline reference
# (relative paths relative to the config file). The files are the examples of regexp_table(5)
# and cidr_table(5) plus a bad line, which is warned about on stderr with its line number and
# skipped. An edited file is read afresh by the next query.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

mkdir -p "$T/maps"
cat >"$T/maps/access.regexp" <<'EOF'
# regexp_table(5), EXAMPLE SMTPD ACCESS MAP
/[%!@].*[%!@]/       550 Sender-specified routing rejected
/^postmaster@/       OK
if !/^owner-/
/^(.*)-outgoing@(.*)$/  550 Use ${1}@${2} instead
endif
/^(.+)\+(.+)@(.+)$/  $1@$3
  (extension $2)
EOF
cat >"$T/maps/clients.cidr" <<'EOF'
# cidr_table(5), EXAMPLE SMTPD ACCESS MAP
192.168.1.1             OK
192.168.0.0/16          REJECT
2001:db8::1             OK
2001:db8::/32           REJECT
10.0.0.1/8              host bits set: skipped
!10.0.0.0/8             NOT-TEN
EOF

write_config "$(cat <<'EOF'
tables:
  access: {type: regexp, path: maps/access.regexp}
  clients: {type: cidr, path: maps/clients.cidr}
EOF
)"

out="$(petrel check-config 2>&1)" || fail "check-config with regexp and cidr tables failed: $out"

# expect NAME KEY RC STDOUT: one query with its exit status and output; stderr must be empty
# unless the query was expected to fail.
expect() {
  table_query "$1" "$2"
  assert_eq "$3" "$RC" "exit status of table query $1 '$2' (stderr: $ERR)"
  assert_eq "$4" "$OUT" "stdout of table query $1 '$2'"
}

CIDR_WARNING="warning: table cidr:$T/maps/clients.cidr: line 6: non-null host address bits in \"10.0.0.1/8\", perhaps you should use \"10.0.0.0/8\" instead: skipping"

# regexp: first match wins, substitution, negated if, case-insensitive by default,
# continuation line.
expect access "postmaster@example.test" 0 "OK"
expect access "POSTMASTER@example.test" 0 "OK"
expect access "alice%example.net@example.org" 0 "550 Sender-specified routing rejected"
expect access "list-outgoing@example.org" 0 "550 Use list@example.org instead"
expect access "owner-list-outgoing@example.org" 1 ""
expect access "bob+lists@example.org" 0 "bob@example.org  (extension lists)"
expect access "bob@example.org" 1 ""
assert_eq "" "$ERR" "stderr of a regexp query with a clean file"

# cidr: first match in file order, IPv4 and IPv6, bare addresses, negation, bad line warned.
expect clients 192.168.1.1 0 "OK"
expect clients 192.168.77.1 0 "REJECT"
expect clients 2001:db8::1 0 "OK"
expect clients 2001:DB8:0:1::1 0 "REJECT"
expect clients 10.0.0.1 1 ""
assert_eq "$CIDR_WARNING" "$ERR" "stderr of a cidr query (the bad line)"
expect clients 172.16.0.1 0 "NOT-TEN"
expect clients 2001:db9::1 1 ""
expect clients not-an-address 1 ""

# Inline references: relative to the config file's directory, or absolute.
expect "cidr:maps/clients.cidr" 192.168.1.1 0 "OK"
expect "regexp:$T/maps/access.regexp" "list-outgoing@example.org" 0 \
  "550 Use list@example.org instead"

# Every query reads the file as it is now.
printf '192.168.1.1 CHANGED\n' >"$T/maps/clients.cidr"
expect clients 192.168.1.1 0 "CHANGED"

# Temporary failure: an unreadable table. Config problems: exit 78.
table_query "cidr:$T/maps/missing.cidr" 192.168.1.1
assert_eq 75 "$RC" "exit status for a missing table file"
assert_eq "" "$OUT" "stdout for a missing table file"
assert_eq "petrel: temporary failure: table cidr:$T/maps/missing.cidr: cannot open: No such file or directory" \
  "$ERR" "stderr for a missing table file"
table_query nope x
assert_eq 78 "$RC" "exit status for an unknown table"
assert_eq "petrel: unknown table 'nope' (declared: access, aliases, clients, mailboxes)" "$ERR" "stderr for an unknown table"
table_query "nis:/etc/x" x
assert_eq 78 "$RC" "exit status for an unknown table type"
assert_eq "petrel: unknown table type 'nis' (known: inline, file, regexp, pcre, cidr, sqlite, pgsql, mysql, ldap)" "$ERR" \
  "stderr for an unknown table type"
rc=0
petrel table query clients >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "exit status for table query without a key"

# The same answers from Postfix itself, for the keys where Petrel means to agree with it.
if command -v postmap >/dev/null 2>&1; then
  mkdir -p "$T/postfix"
  : >"$T/postfix/main.cf"
  cat >"$T/maps/compare.cidr" <<'EOF'
192.168.1.1             OK
192.168.0.0/16          REJECT
2001:db8::1             OK
2001:db8::/32           REJECT
!10.0.0.0/8             NOT-TEN
if 172.16.0.0/12
172.16.1.0/24           INNER
endif
EOF
  for pair in "regexp:$T/maps/access.regexp postmaster@example.test" \
              "regexp:$T/maps/access.regexp list-outgoing@example.org" \
              "regexp:$T/maps/access.regexp owner-list-outgoing@example.org" \
              "regexp:$T/maps/access.regexp bob+lists@example.org" \
              "regexp:$T/maps/access.regexp alice%example.net@example.org" \
              "cidr:$T/maps/compare.cidr 192.168.1.1" "cidr:$T/maps/compare.cidr 192.168.9.9" \
              "cidr:$T/maps/compare.cidr 2001:db8::1" "cidr:$T/maps/compare.cidr 2001:db8:5::1" \
              "cidr:$T/maps/compare.cidr 10.1.1.1" "cidr:$T/maps/compare.cidr 172.16.1.1" \
              "cidr:$T/maps/compare.cidr 2001:db9::1" "cidr:$T/maps/compare.cidr foo"; do
    table="${pair% *}" key="${pair##* }"
    want_rc=0
    want="$(postmap -c "$T/postfix" -q "$key" "$table" 2>/dev/null)" || want_rc=$?
    table_query "$table" "$key"
    assert_eq "$want_rc" "$RC" "exit status of table query $table '$key' versus postmap -q"
    assert_eq "$want" "$OUT" "answer of table query $table '$key' versus postmap -q"
  done
else
  log "postmap not installed: not comparing with Postfix"
fi
pass
