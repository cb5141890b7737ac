#!/usr/bin/env bash
# Installs every Debian package Petrel needs to build, run its tests and its benchmark.
# Idempotent: packages already present are skipped, so a second run costs a dpkg query.
# Usage: scripts/install-deps.sh [build|test|bench|heavy]   (build, test and bench each include
# the ones before; heavy adds its set to test's)
set -euo pipefail
level=${1:-test}

build_pkgs=(meson ninja-build pkg-config g++ libuv1-dev libldns-dev libsqlite3-dev
            libyaml-cpp-dev libfmt-dev libcrypt-dev libssl-dev libpcre2-dev libmariadb-dev libldap-dev
            libpq-dev libsystemd-dev)
# swaks needs the two Perl TLS modules for --tls; msmtp, smtplib, openssl s_client and a
# real Dovecot are the TLS/AUTH peers; aiosmtpd is the "foreign" sink of the relay tests;
# slapd and ldap-utils the private OpenLDAP server of t-53-ldap-tables (slapd.sh);
# dnslib is the DNS server of t-40-dns; mariadb-server the MySQL server of t-52-mysql-tables.
# The BoringSSL build the tests also make links libpq statically: postgresql-server-dev-15 has
# its libpgcommon/libpgport archives, libkrb5-dev the GSSAPI library libpq needs. clang
# builds the fuzz targets, whose regressions the tests replay.
# postfix-policyd-spf-python and postgrey are the real policy services of
# t-63-policy-service (check_policy_service), socat puts policyd-spf on a TCP port.
# python3-spf (pyspf) is the SPF oracle of t-70-spf-check, over python3-dnspython (its DNS
# driver that reports SERVFAIL as temperror, as RFC 7208 4.4 asks; pydns does not).
test_pkgs=(libgtest-dev libgmock-dev swaks libnet-ssleay-perl libio-socket-ssl-perl msmtp
           openssl pflogsumm python3 python3-yaml python3-aiosmtpd python3-dnslib sqlite3 curl
           procps android-libboringssl-dev postgresql-server-dev-15 libkrb5-dev clang
           dovecot-core mariadb-server
           mariadb-client
           slapd ldap-utils
           postgresql
           postfix-policyd-spf-python postgrey socat)
test_pkgs+=(python3-spf python3-dnspython)
# DKIM oracles for t-72: dkimpy signs and verifies (ed25519 through python3-nacl), opendkim
# (-t with TestPublicKeys) verifies; opendkim-tools for opendkim-testmsg/-genkey.
test_pkgs+=(python3-dkim python3-nacl opendkim opendkim-tools)
# publicsuffix is the Public Suffix List DMARC reads at run time (dmarc.public_suffix_list;
# the unit tests run the publicsuffix project's cases against it); python3-authheaders is the
# DMARC oracle of t-73-dmarc-oracle.
test_pkgs+=(publicsuffix python3-authheaders)
# ARC peer of t-76-arc: dkimpy's arc_sign needs the authres module (python3-dkim is above).
test_pkgs+=(python3-authres)
# Sieve oracle of t-80-sieve-oracle: Pigeonhole's sieve-test (dovecot-sieve, on dovecot-core).
test_pkgs+=(dovecot-sieve)
# The test milter of t-79-milter: pymilter, on the real libmilter (the protocol's reference).
test_pkgs+=(python3-milter)
# The LMTP server and IMAP of t-89-lmtp-dovecot: Petrel's lmtp agent delivers to Dovecot, whose
# IMAP then lists what its Sieve (dovecot-sieve, above) and Petrel's Sieve filed; IMAP also for
# t-84-quota (GETQUOTAROOT reports the maildirsize Petrel keeps).
test_pkgs+=(dovecot-lmtpd dovecot-imapd)
# SRS oracles of t-83-srs: python3-srs (Shevek's scheme in Python) and postsrsd (libsrs2 over
# Postfix's tcp_table protocol; the test starts its own on loopback ports).
test_pkgs+=(python3-srs postsrsd)
# Real callers of `sendmail` for t-95-sendmail: bsd-mailx's mail(1) and git send-email (which
# needs Mail::Address from libmailtools-perl, only a Recommends of git-email).
test_pkgs+=(bsd-mailx git-email libmailtools-perl)
bench_pkgs=(postfix libbenchmark-dev)
# Heavy peers (suite 'heavy', scripts/test.sh's last step): the course's after-queue filter
# stack of t-87-amavis-stack (test/integration/amavis.sh): amavisd-new with SpamAssassin and
# its packaged rules (no sa-update), clamd with clamdscan (no freshclam: the test writes its
# own EICAR signature). amavis decodes with file, pax and cpio (plus the Perl archive modules
# amavisd-new depends on). 42 packages, 37 MB on a machine with the test set; amavis with
# SpamAssassin is ~150 MB resident per process.
heavy_pkgs=(amavisd-new clamav-daemon clamdscan spamassassin file pax cpio)
# Headless browser of t-86-dashboard: loads the dashboard's pages, dumps the DOM, screenshots.
heavy_pkgs+=(chromium)

pkgs=("${build_pkgs[@]}")
case "$level" in
  build) ;;
  test) pkgs+=("${test_pkgs[@]}") ;;
  bench) pkgs+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  heavy) pkgs+=("${test_pkgs[@]}" "${heavy_pkgs[@]}") ;;
  *) echo "usage: $0 [build|test|bench|heavy]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# Postfix (bench peer only) must not ask questions nor grab port 25.
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
# slapd (t-53 runs its own) must not ask for a domain nor set up a system directory.
echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
# The database and directory servers are for the tests, which start private instances (port
# 3306 for t-52 among them): the packages must not start system services. Docker images
# already forbid that with policy-rc.d; elsewhere one is put in place for the install only.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod 755 /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get update -qq || true
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
