# A private MariaDB server holding the PostfixAdmin schema, for the `mysql` lookup-table tests.
#
# Source it after lib.sh (it uses $T, EXTRA_PIDS, log, fail, skip and wait_for), or run it
# directly: `bash test/integration/mariadb.sh start DIR` leaves a server running on
# 127.0.0.1:3306 with its files in DIR, `bash test/integration/mariadb.sh stop DIR` stops it.
#
# The server is Debian's mariadbd (package mariadb-server) run by hand: its own data directory,
# unix socket, pid file and error log under $MARIADB_DIR, no /etc/mysql config (--no-defaults),
# TCP on 127.0.0.1:3306 only, because config-examples/postfixadmin.yaml (the seed set-up) says
# 127.0.0.1:3306. Grants are enforced (no skip-grant-tables): the tests log in as
# postfixadmin / skoleni, as the example does. The administrator account is the OS user's own,
# by unix_socket authentication on the private socket. TLS is offered (clients choose) with a
# self-signed certificate for IP:127.0.0.1 that is its own CA: $MARIADB_CA.
#
# mariadb_start  first call: creates the data directory, starts the server, creates database
#                postfixadmin, user 'postfixadmin'@'127.0.0.1' and @'localhost' (password
#                skoleni), the PostfixAdmin tables domain, mailbox, alias and their rows (below);
#                later calls: starts the server again on the same data (after mariadb_stop)
# mariadb_stop   SIGTERM to the server it started, waits until it has exited
# mariadb_sql    runs SQL (argument or stdin) as the administrator in database postfixadmin,
#                prints rows tab-separated without headers
#
# The rows (PostfixAdmin keeps an alias row pointing to itself for each mailbox):
#   domains   example.test, example.org (local); backup.example.net (backupmx=1);
#             gone.example (active=0)
#   mailboxes alice@example.test, bob@example.test, carol@example.org; dave@example.test is
#             inactive; maildir is PostfixAdmin's "domain/user/"
#   aliases   each mailbox to itself; postmaster@example.test -> alice;
#             team@example.test -> "alice@example.test,bob@example.test" (one to many);
#             @example.org -> carol@example.org (catch-all); old@example.test inactive

MARIADB_PORT=3306
MARIADB_DIR="${MARIADB_DIR:-$T/mariadb}"
MARIADB_SOCKET="$MARIADB_DIR/mysqld.sock"
MARIADB_CA="$MARIADB_DIR/server.crt"
MARIADB_PID=""

# The server runs as the user who runs the test; as root mariadbd wants that said.
_mariadb_user_args() {
  if [[ "$(id -u)" -eq 0 ]]; then
    echo "--user=root"
  fi
}

_mariadb_need() {
  local t
  for t in mariadbd mariadb-install-db mariadb; do
    if ! command -v "$t" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$t" ]]; then
      skip "missing $t: install mariadb-server and mariadb-client (scripts/install-deps.sh)"
    fi
  done
}

_mariadbd() { if command -v mariadbd >/dev/null 2>&1; then echo mariadbd; else echo /usr/sbin/mariadbd; fi; }

mariadb_sql() {
  local sql="${1-}"
  if [[ -n "$sql" ]]; then
    mariadb --no-defaults --socket="$MARIADB_SOCKET" -u "$(id -un)" --batch --skip-column-names \
      postfixadmin -e "$sql"
  else
    mariadb --no-defaults --socket="$MARIADB_SOCKET" -u "$(id -un)" --batch --skip-column-names \
      postfixadmin
  fi
}

_mariadb_alive() {
  mariadb-admin --no-defaults --socket="$MARIADB_SOCKET" -u "$(id -un)" ping >/dev/null 2>&1
}

_mariadb_port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$MARIADB_PORT"
}

mariadb_start() {
  _mariadb_need
  local fresh=0
  if [[ ! -d "$MARIADB_DIR/data/mysql" ]]; then
    fresh=1
    mkdir -p "$MARIADB_DIR/data" "$MARIADB_DIR/tmp"
    # shellcheck disable=SC2046
    mariadb-install-db --no-defaults --datadir="$MARIADB_DIR/data" $(_mariadb_user_args) \
      --auth-root-authentication-method=socket --skip-test-db \
      >"$MARIADB_DIR/install.log" 2>&1 ||
      fail "mariadb-install-db failed: $(tail -n 20 "$MARIADB_DIR/install.log")"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -subj "/CN=mariadb.example.test" -addext "subjectAltName=IP:127.0.0.1" \
      -keyout "$MARIADB_DIR/server.key" -out "$MARIADB_CA" >/dev/null 2>&1 ||
      fail "openssl req for the MariaDB certificate failed"
  fi
  # A server left over from elsewhere (a system MariaDB, another run) would answer instead.
  local deadline=$((SECONDS + 30))
  until _mariadb_port_free; do
    ((SECONDS < deadline)) ||
      fail "127.0.0.1:$MARIADB_PORT is in use (another MySQL/MariaDB server?); the PostfixAdmin example needs it"
    sleep 0.5
  done
  # shellcheck disable=SC2046
  "$(_mariadbd)" --no-defaults --datadir="$MARIADB_DIR/data" --socket="$MARIADB_SOCKET" \
    --port="$MARIADB_PORT" --bind-address=127.0.0.1 --pid-file="$MARIADB_DIR/mariadbd.pid" \
    --log-error="$MARIADB_DIR/error.log" --tmpdir="$MARIADB_DIR/tmp" $(_mariadb_user_args) \
    --skip-name-resolve --skip-log-bin --character-set-server=utf8mb4 \
    --collation-server=utf8mb4_general_ci --innodb-buffer-pool-size=16M \
    --innodb-log-file-size=8M --max-connections=200 --ssl-cert="$MARIADB_CA" \
    --ssl-key="$MARIADB_DIR/server.key" >>"$MARIADB_DIR/stdout.log" 2>&1 &
  MARIADB_PID=$!
  EXTRA_PIDS+=("$MARIADB_PID")
  deadline=$((SECONDS + 60))
  until _mariadb_alive; do
    if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
      fail "mariadbd exited at start: $(tail -n 20 "$MARIADB_DIR/error.log" 2>/dev/null)"
    fi
    ((SECONDS < deadline)) ||
      fail "mariadbd did not answer within 60s: $(tail -n 20 "$MARIADB_DIR/error.log" 2>/dev/null)"
    sleep 0.2
  done
  if [[ $fresh -eq 1 ]]; then
    _mariadb_load
  fi
}

mariadb_stop() {
  [[ -n "$MARIADB_PID" ]] || fail "mariadb_stop: no server running"
  kill -TERM "$MARIADB_PID" 2>/dev/null || true
  local deadline=$((SECONDS + 60))
  while kill -0 "$MARIADB_PID" 2>/dev/null &&
    [[ "$(ps -o stat= -p "$MARIADB_PID" 2>/dev/null)" != Z* ]]; do
    ((SECONDS < deadline)) || fail "mariadbd (pid $MARIADB_PID) did not stop within 60s"
    sleep 0.1
  done
  wait "$MARIADB_PID" 2>/dev/null || true
  local kept=() p
  for p in "${EXTRA_PIDS[@]}"; do
    [[ "$p" == "$MARIADB_PID" ]] || kept+=("$p")
  done
  EXTRA_PIDS=("${kept[@]}")
  MARIADB_PID=""
}

# The database, its user and the PostfixAdmin tables. Column types and character sets are
# those PostfixAdmin's setup (public/upgrade.php) ends with on MySQL: addresses latin1
# (latin1_general_ci, case-insensitive), the human-readable name and description utf8mb4,
# flags tinyint(1).
_mariadb_load() {
  mariadb --no-defaults --socket="$MARIADB_SOCKET" -u "$(id -un)" --batch <<'EOF' ||
CREATE DATABASE postfixadmin;
CREATE USER 'postfixadmin'@'127.0.0.1' IDENTIFIED BY 'skoleni';
CREATE USER 'postfixadmin'@'localhost' IDENTIFIED BY 'skoleni';
GRANT SELECT, INSERT, UPDATE, DELETE ON postfixadmin.* TO 'postfixadmin'@'127.0.0.1';
GRANT SELECT, INSERT, UPDATE, DELETE ON postfixadmin.* TO 'postfixadmin'@'localhost';
USE postfixadmin;

CREATE TABLE `domain` (
  `domain` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `description` varchar(255) CHARACTER SET utf8mb4 NOT NULL,
  `aliases` int(10) NOT NULL DEFAULT '0',
  `mailboxes` int(10) NOT NULL DEFAULT '0',
  `maxquota` bigint(20) NOT NULL DEFAULT '0',
  `quota` bigint(20) NOT NULL DEFAULT '0',
  `transport` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL DEFAULT '',
  `backupmx` tinyint(1) NOT NULL DEFAULT '0',
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `modified` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT '1',
  `password_expiry` int(11) DEFAULT '0',
  PRIMARY KEY (`domain`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci
  COMMENT='Postfix Admin - Virtual Domains';

CREATE TABLE `mailbox` (
  `username` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `password` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `name` varchar(255) CHARACTER SET utf8mb4 NOT NULL,
  `maildir` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `quota` bigint(20) NOT NULL DEFAULT '0',
  `local_part` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `domain` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `modified` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT '1',
  `phone` varchar(30) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  `email_other` varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  `token` varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  `token_validity` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `password_expiry` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  PRIMARY KEY (`username`),
  KEY `domain` (`domain`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci
  COMMENT='Postfix Admin - Virtual Mailboxes';

CREATE TABLE `alias` (
  `address` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `goto` text CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `domain` varchar(255) CHARACTER SET latin1 COLLATE latin1_general_ci NOT NULL,
  `created` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `modified` datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
  `active` tinyint(1) NOT NULL DEFAULT '1',
  PRIMARY KEY (`address`),
  KEY `domain` (`domain`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_general_ci
  COMMENT='Postfix Admin - Virtual Aliases';

INSERT INTO domain (domain, description, aliases, mailboxes, backupmx, active) VALUES
  ('example.test', 'Example office', 0, 0, 0, 1),
  ('example.org', 'Example org, catch-all', 0, 0, 0, 1),
  ('backup.example.net', 'We are its backup MX', 0, 0, 1, 1),
  ('gone.example', 'Deactivated', 0, 0, 0, 0);

INSERT INTO mailbox (username, password, name, maildir, quota, local_part, domain, active) VALUES
  ('alice@example.test', '{SHA512-CRYPT}x', 'Alice Liddell', 'example.test/alice/', 0, 'alice', 'example.test', 1),
  ('bob@example.test', '{SHA512-CRYPT}x', 'Bob Kovář', 'example.test/bob/', 0, 'bob', 'example.test', 1),
  ('carol@example.org', '{SHA512-CRYPT}x', 'Carol', 'example.org/carol/', 0, 'carol', 'example.org', 1),
  ('dave@example.test', '{SHA512-CRYPT}x', 'Dave (left)', 'example.test/dave/', 0, 'dave', 'example.test', 0);

INSERT INTO alias (address, goto, domain, active) VALUES
  ('alice@example.test', 'alice@example.test', 'example.test', 1),
  ('bob@example.test', 'bob@example.test', 'example.test', 1),
  ('carol@example.org', 'carol@example.org', 'example.org', 1),
  ('dave@example.test', 'dave@example.test', 'example.test', 0),
  ('postmaster@example.test', 'alice@example.test', 'example.test', 1),
  ('team@example.test', 'alice@example.test,bob@example.test', 'example.test', 1),
  ('@example.org', 'carol@example.org', 'example.org', 1),
  ('old@example.test', 'alice@example.test', 'example.test', 0);
EOF
    fail "loading the PostfixAdmin schema into MariaDB failed"
}

# Run directly: start or stop a server whose files live in DIR.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  log() { printf 'mariadb.sh: %s\n' "$*" >&2; }
  fail() { printf 'mariadb.sh: FAIL: %s\n' "$*" >&2; exit 1; }
  skip() { printf 'mariadb.sh: SKIP: %s\n' "$*" >&2; exit 77; }
  EXTRA_PIDS=()
  [[ $# -eq 2 ]] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
  MARIADB_DIR="$(mkdir -p "$2" && cd "$2" && pwd)"
  MARIADB_SOCKET="$MARIADB_DIR/mysqld.sock"
  case "$1" in
    start)
      mariadb_start
      echo "$MARIADB_PID" >"$MARIADB_DIR/server.pid"
      log "running: pid $MARIADB_PID, 127.0.0.1:$MARIADB_PORT, socket $MARIADB_SOCKET"
      ;;
    stop)
      MARIADB_PID="$(cat "$MARIADB_DIR/server.pid")"
      kill -TERM "$MARIADB_PID" 2>/dev/null || true
      while kill -0 "$MARIADB_PID" 2>/dev/null; do sleep 0.1; done
      rm -f "$MARIADB_DIR/server.pid"
      ;;
    *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
  esac
fi
