#!/usr/bin/env bash
# Quick start: install what is needed, build, and run `petrel serve` on the quick-start
# config (SMTP 127.0.0.1:2525, status http://127.0.0.1:8025, state under ./var/).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" build
cd "$root"
[ -f build/build.ninja ] || meson setup build --buildtype=release -Dtests=false
ninja -C build petrel
exec build/petrel serve --config config-examples/quickstart.yaml
