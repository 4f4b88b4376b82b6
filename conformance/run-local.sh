#!/usr/bin/env bash
# Runs the conformance suite against a server of its own: starts the given
# eventide binary on a free 127.0.0.1 port with a temporary data dir (a copy of
# the source tree's apps/, TLS off, fsync always, SSE pings every 200 ms), runs
# `node conformance/run.mjs`, stops the server and exits with the suite's code.
# Builds nothing.
#
#   conformance/run-local.sh BUILD/src/server/eventide SOURCE_DIR [--tls] [run.mjs options...]
#
# --http2 (a run.mjs option) runs the suite over HTTP/2 by prior knowledge;
# --tls starts the server with TLS (`--tls auto`: its self-signed certificate)
# and runs the suite over HTTP/2 by ALPN (https://, implies --http2).
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 EVENTIDE_BINARY SOURCE_DIR [run.mjs options...]" >&2
  exit 2
fi
bin=$1
src=$2
shift 2
ping_ms=200
tls=off
scheme=http
args=()
for a in "$@"; do
  if [ "$a" = "--tls" ]; then
    tls=auto
    scheme=https
    args+=(--http2)
  else
    args+=("$a")
  fi
done

if ! command -v node >/dev/null 2>&1; then
  echo "run-local: node is not installed (scripts/deps.sh installs it)" >&2
  exit 2
fi
[ -x "$bin" ] || { echo "run-local: $bin is not an executable" >&2; exit 2; }
[ -d "$src/apps" ] || { echo "run-local: $src/apps is missing" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/eventide-conformance.XXXXXX")
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp -r "$src/apps" "$tmp/apps"
# The compatibility dialects' app (docs/DIALECTS.md; checks/dialects.mjs).
mkdir -p "$tmp/apps/blog"
cat > "$tmp/apps/blog/config.yaml" <<EOF
app_id: blog
schemas:
  - schema.graphql
EOF
cat > "$tmp/apps/blog/schema.graphql" <<EOF
type Post @table @export(name: "posts", rest: true, sse: true, ws: true) {
  id: ID! @primaryKey
  title: String!
  published: Boolean
}
type Comment @table @export(name: "comments", rest: true, sse: true, ws: true) {
  id: ID! @primaryKey
  post_id: String
  body: String!
}
EOF
# Static files for rest.static-etag-304 (--web blog): an index and a script
# large and repetitive enough to get a gzip copy (docs/HTTP.md "Static files").
mkdir -p "$tmp/apps/blog/web"
cat > "$tmp/apps/blog/web/index.html" <<EOF
<!doctype html><title>conformance</title><script src="app.js"></script>
EOF
for i in $(seq 1 40); do echo "console.log('conformance static file, line $i');"; done > "$tmp/apps/blog/web/app.js"
cat > "$tmp/server.yaml" <<EOF
streams:
  sse_ping_ms: $ping_ms
compat_app: blog
EOF

# Port 0: the server picks a free port and logs it in its "listening" line.
"$bin" serve --apps "$tmp/apps" --data "$tmp/data" --listen 127.0.0.1:0 \
  --tls "$tls" --fsync always --config "$tmp/server.yaml" 2>"$tmp/server.log" &
pid=$!

addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$tmp/server.log" | head -n 1)
  [ -n "$addr" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run-local: the server exited during start-up:" >&2
    cat "$tmp/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$addr" ]; then
  echo "run-local: the server did not log a listening address within 10 s:" >&2
  cat "$tmp/server.log" >&2
  exit 1
fi

set +e
node "$src/conformance/run.mjs" "$scheme://$addr" --ping-ms "$ping_ms" --compat blog --web blog ${args[@]+"${args[@]}"}
code=$?
set -e
if ! kill -0 "$pid" 2>/dev/null; then
  echo "run-local: the server died during the suite; its log:" >&2
  cat "$tmp/server.log" >&2
  [ "$code" -eq 0 ] && code=1
fi
exit "$code"
