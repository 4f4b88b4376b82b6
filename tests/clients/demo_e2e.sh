#!/usr/bin/env bash
# Runs the realtime-demo browser test (demo_e2e.mjs) with the packages of
# package-lock.json, installed from the npm registry on first use, as run.sh
# does for the real-client scenarios.
#   tests/clients/demo_e2e.sh EVENTIDE_BIN APPS_DIR [--artifacts DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"; apps="$2"; shift 2
"$here/install.sh"
exec node "$here/demo_e2e.mjs" --bin "$bin" --apps "$apps" "$@"
