#!/usr/bin/env bash
# What serving the demo page costs (issue 6; figures in docs/PERFORMANCE.md):
# the built bundle of apps/realtime-demo (run `make ui` first) fetched as a
# browser would, in three ways, against GET /healthz (the smallest answer) as
# the baseline, alternating, in one run, on one server:
#   plain  Accept-Encoding: identity   the whole bundle
#   gzip   Accept-Encoding: gzip       the copy compressed at start-up
#   etag   If-None-Match: <its ETag>   a reload: 304, no body
# Plus the bytes on the wire for the whole page (index.html, JS, CSS).
#
#   tools/bench/static.sh [BUILD_DIR]
#
# The server is pinned to core 0, eventide-load to core 1; plain HTTP; only
# loopback; the server it starts it stops, by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-3}"
web="$root/apps/realtime-demo/web"
js="$(cd "$web" && ls assets/*.js | head -1)"
css="$(cd "$web" && ls assets/*.css | head -1)"
[ -n "$js" ] || { echo "no bundle in $web: run make ui" >&2; exit 2; }
data="$(mktemp -d "${TMPDIR:-/tmp}/eventide-static-XXXXXX")"
port=$((20000 + RANDOM % 20000))
taskset -c 0 "$build/src/server/eventide" serve --apps "$root/apps" --data "$data" \
  --listen "127.0.0.1:$port" --tls off > "$data/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"
etag="$(curl -sI "$base/realtime-demo/$js" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')"

echo "bytes on the wire for the page (index.html + JS + CSS):"
for ae in identity gzip; do
  total=0
  for f in "" "$js" "$css"; do
    n=$(curl -s -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $ae" "$base/realtime-demo/$f")
    total=$((total + n))
  done
  echo "  $ae: $total"
done

run() {  # NAME URL [HEADER]
  local h=()
  [ -n "${3:-}" ] && h=(-H "$3")
  taskset -c 1 "$build/tools/eventide-load" rest --url "$2" --method GET -c 8 \
    -d "${SECONDS_PER_RUN}s" "${h[@]}" --json |
    sed -n 's/.*"requests_per_second":\([0-9.]*\).*"p50":\([0-9.]*\).*/\1 \2/p' |
    { read -r rps p50; printf '  %-8s %10.0f req/s  p50 %s ms\n' "$1" "$rps" "$p50"; }
}
for r in $(seq "$ROUNDS"); do
  echo "round $r:"
  run healthz "$base/healthz"
  run plain "$base/realtime-demo/$js" "Accept-Encoding: identity"
  run gzip "$base/realtime-demo/$js" "Accept-Encoding: gzip"
  run etag "$base/realtime-demo/$js" "If-None-Match: $etag"
done
