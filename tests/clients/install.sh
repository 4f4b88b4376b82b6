#!/usr/bin/env bash
# Installs the packages of tests/clients/package-lock.json from the npm
# registry when the installed tree is missing or older than the lock file.
# Several tests use them and ctest runs tests in parallel: one install at a time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec 9>"$here/node_modules.lock"
flock 9
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
   [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
