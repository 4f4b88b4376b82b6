#!/usr/bin/env bash
# Runs the HTTP/2 browser test (h2_browser.mjs) with the packages of
# package-lock.json, installed from the npm registry on first use, as run.sh
# does for the real-client scenarios.
#   tests/clients/h2_browser.sh EVENTIDE_BIN APPS_DIR [--artifacts DIR] [--only h2|h1]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"; apps="$2"; shift 2
"$here/install.sh"
exec node "$here/h2_browser.mjs" --bin "$bin" --apps "$apps" "$@"
