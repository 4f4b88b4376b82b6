#!/usr/bin/env bash
# Runs the real-client scenarios (run.mjs) with the packages of
# package-lock.json, installed from the npm registry on first use.
#   tests/clients/run.sh EVENTIDE_BIN APPS_DIR [--only NAME]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"; apps="$2"; shift 2
# npm ci when the installed tree is missing or older than the lock file.
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/run.mjs" --bin "$bin" --apps "$apps" "$@"
