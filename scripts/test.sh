#!/usr/bin/env bash
# Installs what the tests need, builds, and runs every test: unit tests (GoogleTest) and the
# integration tests that drive the real binary with real clients (swaks, smtplib, pflogsumm).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" test
cd "$root"
[ -f build-test/build.ninja ] || meson setup build-test --buildtype=debugoptimized
ninja -C build-test
meson test -C build-test --print-errorlogs --num-processes 1 "$@"
