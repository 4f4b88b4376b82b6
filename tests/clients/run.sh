#!/usr/bin/env bash
# Runs the real-client scenarios (run.mjs), or another script of this folder
# (--script, e.g. demo_e2e.mjs), with the packages of package-lock.json,
# installed from the npm registry on first use.
#   tests/clients/run.sh [--script NAME.mjs] EVENTIDE_BIN APPS_DIR [script options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
script=run.mjs
if [ "${1-}" = --script ]; then script="$2"; shift 2; fi
bin="$1"; apps="$2"; shift 2
# npm ci when the installed tree is missing or older than the lock file.
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
exec node "$here/$script" --bin "$bin" --apps "$apps" "$@"
