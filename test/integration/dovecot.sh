# Sourced by integration tests (after lib.sh) that need a real Dovecot (Debian dovecot-core,
# dovecot-imapd; dovecot-lmtpd for LMTP) on loopback, over the same Maildirs Petrel writes.
#
#   start_dovecot USERS [EXTRA_CONF]   starts `dovecot -F` as root under $T/dovecot with
#       IMAP on $DOVECOT_IMAP_PORT (a free loopback port) and the quota plugin
#       (`quota = maildir:User quota`, imap_quota); USERS is a passwd-file written as given:
#       "user:{PLAIN}password::::HOME::userdb_quota_rule=*:bytes=N" lines, HOME being the
#       user's Maildir (mail_location = maildir:~; uid and gid empty: mail_uid nobody). EXTRA_CONF is appended to dovecot.conf
#       (an LMTP test adds `protocols = $protocols lmtp` and its `service lmtp` listener).
#       Sets DOVECOT_DIR, DOVECOT_PID, DOVECOT_IMAP_PORT; waits until IMAP answers.
#   stop_dovecot                       stops it (TERM, then KILL after 10 s).
#   dovecot_own DIR                    hands DIR (the mail root) to Dovecot's mail user, with
#       its parents traversable: run it after Petrel delivered and before Dovecot reads.
#   dovecot_log                        prints its log (for a failure message).
# Skips the test (77) when Dovecot or its IMAP server is missing, or when not root.

start_dovecot() {
  local users="$1" extra="${2:-}"
  need_tool dovecot
  [[ -x /usr/lib/dovecot/imap ]] || skip "dovecot-imapd is not installed (/usr/lib/dovecot/imap)"
  [[ "$(id -u)" -eq 0 ]] || skip "dovecot -F reading root's Maildirs needs root"
  DOVECOT_DIR="$T/dovecot"
  DOVECOT_IMAP_PORT="$(pick_port)"
  mkdir -p "$DOVECOT_DIR/run" "$DOVECOT_DIR/state"
  chmod 755 "$T" "$DOVECOT_DIR"
  printf '%s\n' "$users" >"$DOVECOT_DIR/users"
  cat >"$DOVECOT_DIR/dovecot.conf" <<DCEOF
# Written by test/integration/dovecot.sh for $TEST_NAME.
protocols = imap
listen = 127.0.0.1
base_dir = $DOVECOT_DIR/run
state_dir = $DOVECOT_DIR/state
log_path = $DOVECOT_DIR/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Dovecot never accesses mail as root: the Maildirs are handed to nobody (dovecot_own)
# before Dovecot reads them, as a vmail user owns them on a real host.
mail_uid = nobody
mail_gid = nogroup
default_internal_user = nobody
default_login_user = nobody
mail_location = maildir:~
mail_plugins = \$mail_plugins quota
passdb {
  driver = passwd-file
  args = $DOVECOT_DIR/users
}
userdb {
  driver = passwd-file
  args = $DOVECOT_DIR/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
}
protocol imap {
  mail_plugins = \$mail_plugins imap_quota
}
plugin {
  quota = maildir:User quota
}
$extra
DCEOF
  dovecot -F -c "$DOVECOT_DIR/dovecot.conf" >>"$DOVECOT_DIR/stdout.log" 2>&1 &
  DOVECOT_PID=$!
  EXTRA_PIDS+=("$DOVECOT_PID")
  _dovecot_up() {
    kill -0 "$DOVECOT_PID" 2>/dev/null || fail "dovecot exited: $(dovecot_log)"
    port_open "$DOVECOT_IMAP_PORT"
  }
  wait_for 20 "Dovecot's IMAP on 127.0.0.1:$DOVECOT_IMAP_PORT" _dovecot_up
}

stop_dovecot() {
  [[ -n "${DOVECOT_PID:-}" ]] || return 0
  kill "$DOVECOT_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$DOVECOT_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$DOVECOT_PID" 2>/dev/null || true
  wait "$DOVECOT_PID" 2>/dev/null || true
  DOVECOT_PID=""
}

dovecot_own() {
  chown -R nobody:nogroup "$1"
  local dir="$1"
  while [[ "$dir" != "$T" && "$dir" != / ]]; do
    dir="$(dirname "$dir")"
    chmod o+x "$dir"
  done
}

dovecot_log() { cat "$DOVECOT_DIR/stdout.log" "$DOVECOT_DIR/dovecot.log" 2>/dev/null | tail -30; }
