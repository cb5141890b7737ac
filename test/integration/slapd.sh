# A private OpenLDAP slapd for the ldap lookup-table scenarios; source it after lib.sh:
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#   source "$IT_DIR/slapd.sh"
#   need_slapd; slapd_init; start_slapd ... stop_slapd ... start_slapd
#
# It owns $SLAPD_DIR ($T/slapd: slapd.conf, the mdb database, the log) and the slapd process
# (run in the foreground with -d 0, so its PID is ours and lib.sh kills it on exit). The
# system slapd that the Debian package may run is left alone: this one listens on
# ldap://127.0.0.1:$SLAPD_PORT/ (StartTLS offered) and ldaps://127.0.0.1:$SLAPD_LDAPS_PORT/
# (free ports) only, and never touches /etc/ldap/slapd.d. Its certificate ($SLAPD_CA, its own
# CA: self-signed, subjectAltName IP:127.0.0.1 only, so "localhost" does not match it).
# Config is a slapd.conf read with -f (still supported by 2.5; no cn=config needed for a
# throw-away server); the data is loaded offline with slapadd before the first start and
# survives restarts.
#
# The directory (dc=example,dc=test), stock Debian schemas only (core, cosine, inetorgperson,
# misc):
#   cn=petrel                  the bind DN Petrel uses (password $SLAPD_BIND_PW); the ACLs let
#                              only it read anything (anonymous: nothing; userPassword: auth)
#   ou=people  uid=alice|bob|carol|dave  inetOrgPerson with `mail`; the Maildir path (relative
#                              to mail_root) is in `description`: a standard attribute every
#                              inetOrgPerson may have, so no schema of our own (a real site
#                              would use e.g. mailMessageStore from a qmail/courier schema).
#                              dave has a mail but no description (found entry, no value).
#   ou=aliases cn=...          nisMailAlias + inetLocalMailRecipient (misc.schema): the alias
#                              address in `mailLocalAddress`, targets in `rfc822MailMember`
#     postmaster@ -> alice; sales@ -> alice, bob (two values of one entry);
#     team@ -> carol and bob (two entries with the same mailLocalAddress)

SLAPD_DIR="$T/slapd"
SLAPD_PORT=""
SLAPD_URI=""
SLAPD_LDAPS_PORT=""
SLAPD_LDAPS_URI=""
SLAPD_CA="$SLAPD_DIR/server.crt"
SLAPD_PID=""
SLAPD_BASE="dc=example,dc=test"
SLAPD_BIND_DN="cn=petrel,dc=example,dc=test"
SLAPD_BIND_PW="petrel-secret"

# need_slapd: skip unless the server, its tools, the schemas and the mdb module are installed.
need_slapd() {
  local p
  for p in /usr/sbin/slapd /usr/sbin/slapadd /usr/sbin/slappasswd; do
    [[ -x "$p" ]] || skip "missing $p (Debian package slapd)"
  done
  need_tool ldapsearch
  [[ -f /etc/ldap/schema/misc.schema ]] || skip "missing /etc/ldap/schema (Debian package slapd)"
  [[ -e /usr/lib/ldap/back_mdb.so ]] || skip "missing /usr/lib/ldap/back_mdb.so (slapd)"
}

# slapd_init: writes the config, picks the port and loads the directory (slapadd, offline).
slapd_init() {
  mkdir -p "$SLAPD_DIR/db"
  pick_ports SLAPD_PORT SLAPD_LDAPS_PORT
  SLAPD_URI="ldap://127.0.0.1:$SLAPD_PORT/"
  SLAPD_LDAPS_URI="ldaps://127.0.0.1:$SLAPD_LDAPS_PORT/"
  export SLAPD_URI SLAPD_PORT SLAPD_LDAPS_URI SLAPD_LDAPS_PORT SLAPD_CA SLAPD_BASE SLAPD_BIND_DN \
    SLAPD_BIND_PW
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=ldap.example.test" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$SLAPD_DIR/server.key" -out "$SLAPD_CA" >/dev/null 2>&1 ||
    fail "openssl req for slapd's certificate failed"
  cat >"$SLAPD_DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/misc.schema
pidfile $SLAPD_DIR/slapd.pid
argsfile $SLAPD_DIR/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile $SLAPD_CA
TLSCertificateFile $SLAPD_CA
TLSCertificateKeyFile $SLAPD_DIR/server.key

database mdb
suffix "$SLAPD_BASE"
directory $SLAPD_DIR/db
maxsize 10485760
index objectClass eq
index mail,mailLocalAddress eq
# Only Petrel's bind DN reads; anonymous clients may only bind.
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact="$SLAPD_BIND_DN" read
  by * none
EOF
  local hash
  hash="$(/usr/sbin/slappasswd -h '{SSHA}' -s "$SLAPD_BIND_PW")" || fail "slappasswd failed"
  cat >"$SLAPD_DIR/data.ldif" <<EOF
dn: $SLAPD_BASE
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: $SLAPD_BIND_DN
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: petrel
userPassword: $hash

dn: ou=people,$SLAPD_BASE
objectClass: organizationalUnit
ou: people

dn: ou=aliases,$SLAPD_BASE
objectClass: organizationalUnit
ou: aliases
EOF
  local u
  for u in alice bob carol; do
    cat >>"$SLAPD_DIR/data.ldif" <<EOF

dn: uid=$u,ou=people,$SLAPD_BASE
objectClass: inetOrgPerson
uid: $u
cn: $u
sn: $u
mail: $u@example.test
description: example.test/$u/
EOF
  done
  cat >>"$SLAPD_DIR/data.ldif" <<EOF

dn: uid=dave,ou=people,$SLAPD_BASE
objectClass: inetOrgPerson
uid: dave
cn: dave
sn: dave
mail: dave@example.test

dn: cn=postmaster,ou=aliases,$SLAPD_BASE
objectClass: nisMailAlias
objectClass: inetLocalMailRecipient
cn: postmaster
mailLocalAddress: postmaster@example.test
rfc822MailMember: alice@example.test

dn: cn=sales,ou=aliases,$SLAPD_BASE
objectClass: nisMailAlias
objectClass: inetLocalMailRecipient
cn: sales
mailLocalAddress: sales@example.test
rfc822MailMember: alice@example.test
rfc822MailMember: bob@example.test

dn: cn=team-1,ou=aliases,$SLAPD_BASE
objectClass: nisMailAlias
objectClass: inetLocalMailRecipient
cn: team-1
mailLocalAddress: team@example.test
rfc822MailMember: carol@example.test

dn: cn=team-2,ou=aliases,$SLAPD_BASE
objectClass: nisMailAlias
objectClass: inetLocalMailRecipient
cn: team-2
mailLocalAddress: team@example.test
rfc822MailMember: bob@example.test
EOF
  /usr/sbin/slapadd -q -f "$SLAPD_DIR/slapd.conf" -l "$SLAPD_DIR/data.ldif" \
    >>"$SLAPD_DIR/slapadd.log" 2>&1 || fail "slapadd failed: $(tail -n 20 "$SLAPD_DIR/slapadd.log")"
}

# slapd_answers: true when a search bound as Petrel's DN works.
slapd_answers() {
  ldapsearch -x -LLL -o nettimeout=2 -l 2 -H "$SLAPD_URI" -D "$SLAPD_BIND_DN" \
    -w "$SLAPD_BIND_PW" -b "$SLAPD_BASE" -s base dn >/dev/null 2>&1
}

# start_slapd: starts slapd in the foreground (-d 0: no detaching, no debug output) and waits
# until it answers a bound search.
start_slapd() {
  [[ -z "$SLAPD_PID" ]] || fail "start_slapd: slapd is already running (pid $SLAPD_PID)"
  /usr/sbin/slapd -d 0 -f "$SLAPD_DIR/slapd.conf" -h "$SLAPD_URI $SLAPD_LDAPS_URI" \
    >>"$SLAPD_DIR/slapd.log" 2>&1 &
  SLAPD_PID=$!
  EXTRA_PIDS+=("$SLAPD_PID")
  disown "$SLAPD_PID"  # killed by lib.sh on exit; no "Killed" notice from bash
  local deadline=$((SECONDS + 15))
  until slapd_answers; do
    kill -0 "$SLAPD_PID" 2>/dev/null ||
      fail "slapd exited during start: $(tail -n 20 "$SLAPD_DIR/slapd.log")"
    ((SECONDS < deadline)) || fail "timed out after 15s waiting for slapd on $SLAPD_URI to answer"
    sleep 0.1
  done
}

# stop_slapd: SIGTERM to our slapd (by PID), waits until it exited and the port is closed.
stop_slapd() {
  [[ -n "$SLAPD_PID" ]] || fail "stop_slapd: slapd is not running"
  kill -TERM "$SLAPD_PID" 2>/dev/null || true
  wait_for 15 "slapd (pid $SLAPD_PID) to exit after SIGTERM" not_running "$SLAPD_PID"
  wait_for 5 "port $SLAPD_PORT to close" port_closed "$SLAPD_PORT"
  SLAPD_PID=""
}

port_closed() { ! port_open "$1"; }
