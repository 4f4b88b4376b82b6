#!/usr/bin/env bash
# Why a WAL node's catch-up of its own 100,000 fresh writes is slower than a
# cluster node's (docs/PERFORMANCE.md, "Catch-up"): the same catch-up read
# at once after the writes vs after a pause (--read-after), on a fresh WAL
# node (--fsync always) per run, the two kinds alternating round by round.
#
#   tools/bench/catchup_settle.sh [BUILD_DIR]     (ROUNDS=5 PAUSE=5s PREFILL=0s)
#
# PREFILL: before the catch-up, this long of REST writes of new records
# (16 connections), as the node of tools/bench/cluster.sh has taken by its
# catch-up section: a bigger projection, so a bigger checkpoint.
#
# Everything runs on 127.0.0.1; each server is stopped by its PID.
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${ROUNDS:-5}
PAUSE=${PAUSE:-5s}
PREFILL=${PREFILL:-0s}
EVENTIDE=$BUILD/src/server/eventide
LOAD=$BUILD/tools/eventide-load
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/eventide-catchup-bench-XXXXXX)
PID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# run LABEL READ_AFTER [serve flags...]: a fresh node, one catch-up, stop.
run() {
  local label=$1 after=$2; shift 2
  rm -rf "$WORK/data"
  "$EVENTIDE" serve --apps "$ROOT/apps" --data "$WORK/data" --listen 127.0.0.1:29200 \
    --tls off --fsync always "$@" > "$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 300); do
    grep -q '"listening"' "$WORK/server.log" && break
    sleep 0.05
  done
  if [ "$PREFILL" != 0s ]; then
    "$LOAD" rest --url http://127.0.0.1:29200/realtime-demo/message -c 16 -d "$PREFILL" \
      --json > /dev/null
    sleep 2  # the checkpoints the prefill set off are over
  fi
  printf '%-14s ' "$label"
  "$LOAD" catchup --url http://127.0.0.1:29200/realtime-demo/message -n 100000 \
    --read-after "$after" --json | tail -1
  grep -o '"msg":"checkpoint written"[^}]*' "$WORK/server.log" | sed 's/^/    /' || true
  kill -TERM "$PID"
  wait "$PID" || true
  PID=
}

for r in $(seq "$ROUNDS"); do
  run "r$r at-once" 0s
  run "r$r after-$PAUSE" "$PAUSE"
done
