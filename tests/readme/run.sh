#!/usr/bin/env bash
# Runs the README's commands against a live server (run.mjs says how).
#   tests/readme/run.sh EVENTIDE_BIN BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
"$root/tests/clients/install.sh"   # the README's WebSocket snippet uses `ws`
exec node "$here/run.mjs" --bin "$1" --build "$2" --root "$root"
