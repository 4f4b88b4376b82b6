#!/usr/bin/env bash
# Pairs two eventide binaries (e.g. built before and after a change to the
# HTTP session) on pipelined REST traffic: each serves its own temporary data
# dir (fsync always) on 127.0.0.1, pinned to core 0; the generators run on
# core 1. ROUNDS rounds, alternating old/new, of
#   post  eventide-load POST,    16 connections x 16 pipelined
#   get   eventide-load GET one record, 16 x 16
#   wrk   wrk GET one record, 16 connections, 16 pipelined (tools/bench/pipeline.lua)
# Prints one line per run: round, binary, case, requests/s. Stops both servers.
#
#   tools/bench/pipeline_pair.sh OLD_EVENTIDE NEW_EVENTIDE [EVENTIDE_LOAD]
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 OLD_EVENTIDE NEW_EVENTIDE [EVENTIDE_LOAD]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
load=${3:-$src/build/tools/eventide-load}
secs=${SECONDS_PER_RUN:-3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/eventide-pipeline.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

start() {  # name binary port
  mkdir -p "$tmp/$1/data"
  cp -r "$src/apps" "$tmp/$1/apps"
  taskset -c 0 "$2" serve --apps "$tmp/$1/apps" --data "$tmp/$1/data" \
    --listen "127.0.0.1:$3" --tls off --fsync always 2>"$tmp/$1.log" &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$3/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fs -X PUT -H 'Content-Type: application/json' \
    -d '{"id":"r1","title":"t","content":"c"}' \
    "http://127.0.0.1:$3/realtime-demo/message/r1" >/dev/null
}
start old "$1" 19301
start new "$2" 19302

rps() { sed -n 's/.*"requests_per_second":\([0-9.]*\).*/\1/p'; }
for round in $(seq 1 "${ROUNDS:-3}"); do
  for which in old new; do
    port=19301; [ "$which" = new ] && port=19302
    url=http://127.0.0.1:$port/realtime-demo/message
    post=$(taskset -c 1 "$load" rest --url "$url" -c 16 -p 16 -d "${secs}s" --json \
      --body '{"title":"load {seq}","content":"from {conn}"}' | rps)
    get=$(taskset -c 1 "$load" rest --url "$url/r1" --method GET -c 16 -p 16 -d "${secs}s" --json | rps)
    wrk=$(taskset -c 1 wrk -t1 -c16 -d"${secs}s" -s "$here/pipeline.lua" "$url/r1" -- 16 |
      sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p')
    echo "round $round $which post $post get $get wrk $wrk"
  done
done
