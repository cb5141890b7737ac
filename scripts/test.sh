#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: unit tests (GoogleTest) and the
# integration tests that drive the real binary with real clients (swaks, smtplib, openssl
# s_client, Dovecot, pflogsumm), then builds every fuzz target and replays its regressions
# and seeds. The TLS area is built and tested twice: against OpenSSL 3
# (the default build, everything runs) and against BoringSSL (the TLS, DNS and SQL table unit
# tests, the TLS integration tests, t-40-dns and the PostgreSQL/MariaDB tests t-51 and t-52:
# there ldns, libpq and libmariadb are sealed with their OpenSSL 3 next to BoringSSL,
# docs/tls.md). Heavy peers (suite 'heavy': the amavis + ClamAV + SpamAssassin stack) run in a
# last step of their own, which installs their packages (scripts/install-deps.sh heavy) first
# and prints how long it took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" test
cd "$root"
[ -f build-test/build.ninja ] || meson setup build-test --buildtype=debugoptimized
ninja -C build-test
meson test -C build-test --print-errorlogs --num-processes 1 --no-suite heavy "$@"

# Every fuzz target builds (clang, ASan + UBSan) and no input that once crashed one crashes it
# again; no fuzzing here (test/fuzz/README.md: test/fuzz/run.sh SECONDS does that).
test/fuzz/run.sh --replay

[ -f build-test-boringssl/build.ninja ] ||
  meson setup build-test-boringssl --buildtype=debugoptimized -Dtls=boringssl
ninja -C build-test-boringssl
build-test-boringssl/test/petrel-unit --gtest_filter='Tls*:*Tls*:*StartTls*:Dns*:Pgsql*:Mysql*'
meson test -C build-test-boringssl --print-errorlogs --num-processes 1 --suite tls

# Heavy peers: tests against big real programs (amavisd-new with SpamAssassin, clamd), whose
# packages only this step installs; timed, so the cost of the step stays visible.
heavy_start=$EPOCHREALTIME
"$root/scripts/install-deps.sh" heavy
heavy_rc=0
meson test -C build-test --print-errorlogs --num-processes 1 --suite heavy || heavy_rc=$?
echo "heavy peers: $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $heavy_start }")s" \
  "(install-deps heavy + meson test --suite heavy, exit $heavy_rc)"
exit "$heavy_rc"
