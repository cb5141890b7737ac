#!/usr/bin/env bash
# A private PostgreSQL server with the PostfixAdmin schema subset, for the pgsql lookup-table
# scenarios (t-51-pgsql-tables) and for trying config-examples/postfixadmin-pgsql.yaml by hand.
#
#   test/integration/postgresql.sh start DIR [PORT]   (PORT: Default 5432)
#   test/integration/postgresql.sh stop DIR
#
# start: the first time, creates a cluster in DIR/data (initdb), then starts it listening on
# 127.0.0.1:PORT and on a unix socket in DIR/sock, waits until it accepts connections, and the
# first time creates the role postfixadmin (password skoleni) and its database postfixadmin and
# loads postfixadmin-pgsql.sql (next to this script) as that role over TCP, so the password
# works. A later start reuses DIR/data (same port, same data): a restart. stop: a fast
# shutdown (pg_ctl stop -m fast), waiting until the server is gone; nothing if not running.
# The server log is DIR/postgresql.log. TLS is on (clients choose: sslmode), with a
# self-signed certificate for IP:127.0.0.1 that is its own CA: DIR/data/server.crt.
#
# It owns DIR and the server process only: the system cluster of the Debian package (if any)
# is left alone and pg_ctlcluster is not used. initdb refuses to run as root, so as root the
# server runs as the postgres user (runuser) and DIR is given to it: DIR must then be
# reachable by postgres (e.g. made by `mktemp -d /tmp/petrel-pg.XXXXXX`, not inside another
# private directory). Durability is switched off (fsync, full_page_writes): test data only.
# Binaries: $PG_BIN, else /usr/lib/postgresql/15/bin, else the newest installed version.
# Exit status: 0 done, 1 failed (with the log's tail on stderr), 2 usage, 77 PostgreSQL is
# not installed (Debian package postgresql; scripts/install-deps.sh test installs it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCHEMA="$HERE/postfixadmin-pgsql.sql"
DB=postfixadmin
DB_USER=postfixadmin
DB_PASSWORD=skoleni

usage() {
  echo "usage: $0 start DIR [PORT] | stop DIR" >&2
  exit 2
}

[[ $# -ge 2 ]] || usage
cmd="$1"
dir="$2"
port="${3:-5432}"

if [[ -z "${PG_BIN:-}" ]]; then
  PG_BIN=/usr/lib/postgresql/15/bin
  if [[ ! -x "$PG_BIN/postgres" ]]; then
    PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  fi
fi
if [[ -z "$PG_BIN" || ! -x "$PG_BIN/postgres" || ! -x "$PG_BIN/initdb" || ! -x "$PG_BIN/pg_ctl" ]]; then
  echo "$0: PostgreSQL server binaries not found (install the Debian package postgresql)" >&2
  exit 77
fi
PSQL="$PG_BIN/psql"
[[ -x "$PSQL" ]] || PSQL="$(command -v psql || true)"
[[ -n "$PSQL" ]] || { echo "$0: psql not found (Debian package postgresql-client)" >&2; exit 77; }

# as_server CMD...: runs CMD as the user that owns the cluster (postgres when we are root).
as_server() {
  if [[ "$(id -u)" -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

die() {
  echo "$0: $*" >&2
  if [[ -f "$dir/postgresql.log" ]]; then
    echo "---- last lines of $dir/postgresql.log ----" >&2
    tail -n 30 "$dir/postgresql.log" >&2
  fi
  exit 1
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    first=false
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      first=true
      mkdir -p "$dir/sock"
      if [[ "$(id -u)" -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no postgres user (Debian package postgresql)"
        chown postgres: "$dir" "$dir/sock"
        runuser -u postgres -- test -w "$dir" ||
          die "$dir is not writable by the postgres user (is a parent directory private?)"
      fi
      # Local connections of the superuser are trusted (this script's own psql); everyone
      # else gives a password, over the socket and over TCP.
      as_server "$PG_BIN/initdb" -D "$dir/data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; die "initdb failed"; }
      as_server tee "$dir/data/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       postgres                trust
local   all       all                     scram-sha-256
host    all       all       127.0.0.1/32  scram-sha-256
EOF
      as_server openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -days 30 -subj "/CN=postgresql.example.test" -addext "subjectAltName=IP:127.0.0.1" \
        -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >/dev/null 2>&1 ||
        die "openssl req for the server certificate failed"
      as_server chmod 600 "$dir/data/server.key"
      as_server tee -a "$dir/data/postgresql.conf" >/dev/null <<EOF
# test/integration/postgresql.sh
ssl = on
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
unix_socket_permissions = 0777
max_connections = 50
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %u@%d '
log_connections = on
log_disconnections = on
EOF
    fi
    if as_server "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      die "a server is already running on $dir/data"
    fi
    port="$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$dir/data/postgresql.conf" | tail -n 1)"
    as_server "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 30 start \
      >/dev/null || die "pg_ctl start failed"
    if $first; then
      su_psql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$port" -U postgres "$@"; }
      su_psql -d postgres -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'" ||
        die "cannot create role $DB_USER"
      su_psql -d postgres -c "CREATE DATABASE $DB OWNER $DB_USER ENCODING 'UTF8'" ||
        die "cannot create database $DB"
      PGPASSWORD="$DB_PASSWORD" "$PSQL" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
        -U "$DB_USER" -d "$DB" -f "$SCHEMA" >/dev/null || die "cannot load $SCHEMA"
    fi
    pid="$(head -n 1 "$dir/data/postmaster.pid")"
    echo "postgresql: pid $pid, 127.0.0.1:$port and $dir/sock, database $DB user $DB_USER"
    ;;
  stop)
    [[ -d "$dir/data" ]] || exit 0
    if as_server "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_server "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null ||
        die "pg_ctl stop failed"
    fi
    ;;
  *)
    usage
    ;;
esac
