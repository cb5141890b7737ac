#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: unit tests (GoogleTest) and the
# integration tests that drive the real binary with real clients (swaks, smtplib, openssl
# s_client, Dovecot, pflogsumm). The TLS area is built and tested twice: against OpenSSL 3
# (the default build, everything runs) and against BoringSSL (the TLS and DNS unit tests, the
# TLS integration tests and t-40-dns: there ldns and its OpenSSL 3 are a sealed object next to
# BoringSSL, docs/dns.md).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" test
cd "$root"
[ -f build-test/build.ninja ] || meson setup build-test --buildtype=debugoptimized
ninja -C build-test
meson test -C build-test --print-errorlogs --num-processes 1 "$@"

[ -f build-test-boringssl/build.ninja ] ||
  meson setup build-test-boringssl --buildtype=debugoptimized -Dtls=boringssl
ninja -C build-test-boringssl
build-test-boringssl/test/petrel-unit --gtest_filter='Tls*:*Tls*:*StartTls*:Dns*'
meson test -C build-test-boringssl --print-errorlogs --num-processes 1 --suite tls
