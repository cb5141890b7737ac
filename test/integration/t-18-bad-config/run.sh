#!/usr/bin/env bash
# Setup: no server process stays up: `petrel check-config` and `petrel serve` run in the
#   foreground against config files written by this test (listener 127.0.0.1:$SMTP_PORT,
#   status 127.0.0.1:$STATUS_PORT, both picked free and never bound).
# A config with an unknown key, one that is not valid YAML and one with bad values: each makes
# check-config exit 1 and print one `file:line:column: message` line per problem (exact line,
# column and text) plus a summary; `petrel serve` prints the same lines, refuses to start
# (exit 1) and binds nothing. The same config without the mistakes is valid.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

base() {  # 20 lines
  cat <<EOF
hostname: mail.example.test
mail_root: var/mail
state_dir: var/state
listeners:
  - name: mx
    address: "127.0.0.1:$SMTP_PORT"
domains:
  local: [example.test]
tables:
  mailboxes:
    type: inline
    map:
      alice@example.test: example.test/alice/
  aliases:
    type: inline
    map:
      postmaster@example.test: alice@example.test
mailboxes: mailboxes
aliases: aliases
status: {address: "127.0.0.1:$STATUS_PORT"}
EOF
}

mkdir -p "$T/cfg"
base >"$T/cfg/good.yaml"
base | sed 's/^mail_root:/mail_rot:/' >"$T/cfg/unknown.yaml"
printf 'limits:\n  mesage_size: 10M\n' >>"$T/cfg/unknown.yaml"                  # lines 21-22
base | sed 's|^state_dir: var/state$|state_dir: var/state: x|' >"$T/cfg/syntax.yaml"
base | sed "s/127.0.0.1:$SMTP_PORT/127.0.0.1:99999/" >"$T/cfg/values.yaml"
printf 'limits:\n  message_size: huge\n  connections: 0\nsmtp:\n  bare_line_endings: sometimes\n' \
  >>"$T/cfg/values.yaml"                                                             # lines 21-25

G="$T/cfg"
declare -A WANT
WANT[unknown]="$G/unknown.yaml:2:1: unknown key 'mail_rot' (did you mean 'mail_root'?)
$G/unknown.yaml:22:3: unknown key 'mesage_size' in limits (did you mean 'message_size'?)"
WANT[syntax]="$G/syntax.yaml:3:21: syntax error: illegal map value"
WANT[values]="$G/values.yaml:6:14: listeners[0].address: port must be a number from 1 to 65535, got '99999'
$G/values.yaml:22:17: limits.message_size: expected a size such as 25MB, 512k or 1000 (bytes), got 'huge'
$G/values.yaml:23:16: limits.connections: must be at least 1, got 0
$G/values.yaml:25:22: smtp.bare_line_endings: expected reject or normalize, got 'sometimes'"

out="$("$PETREL" check-config --config "$G/good.yaml" 2>&1)" || fail "check-config of the good config failed: $out"
assert_eq "petrel: configuration $G/good.yaml is valid" "$out" "check-config output for the good config"

for name in unknown syntax values; do
  f="$G/$name.yaml"
  n="$(printf '%s\n' "${WANT[$name]}" | wc -l)"
  errors="error"; [[ $n -gt 1 ]] && errors="errors"

  rc=0
  "$PETREL" check-config --config "$f" >"$T/out" 2>"$T/err" || rc=$?
  assert_eq 1 "$rc" "check-config exit status for $name.yaml"
  assert_eq "" "$(cat "$T/out")" "check-config stdout for $name.yaml"
  assert_eq "${WANT[$name]}
petrel: $n $errors in $f" "$(cat "$T/err")" "check-config stderr for $name.yaml"

  rc=0
  timeout 20 "$PETREL" serve --config "$f" >"$T/out" 2>"$T/err" || rc=$?
  assert_eq 1 "$rc" "petrel serve exit status for $name.yaml"
  assert_eq "${WANT[$name]}
petrel: fatal: invalid configuration, not starting" "$(cat "$T/err")" "petrel serve stderr for $name.yaml"
  port_open "$SMTP_PORT" && fail "petrel serve with $name.yaml left port $SMTP_PORT open"
  [[ ! -e "$G/var" ]] || fail "petrel serve with $name.yaml created $G/var"
done

rc=0
"$PETREL" check-config --config "$G/missing.yaml" >"$T/out" 2>"$T/err" || rc=$?
assert_eq 1 "$rc" "check-config exit status for a missing file"
assert_file_contains "$T/err" "^$G/missing\.yaml: cannot read: No such file or directory$" "check-config stderr for a missing file"
pass
