#!/usr/bin/env bash
# Fan-out at the delivery ceiling, two server builds side by side and HTTP/2
# beside HTTP/1.1 (docs/PERFORMANCE.md, "HTTP/2"):
#
#   tools/bench/fanout_pair.sh OLD_EVENTIDE NEW_EVENTIDE [LOAD]
#
# ROUNDS rounds (3); in each, for each build and each transport, a fresh
# `eventide serve --tls off --fsync always` pinned to core 0 and eventide-load
# fanout pinned to core 1: SUBSCRIBERS (1000) SSE subscribers, as 10 HTTP/2
# connections of 100 streams or as 1000 HTTP/1.1 connections, RATE (2000)
# writes/s for 5 s. Prints, per run, deliveries/s, latency p50/p99/max, the
# server's and the load tool's CPU seconds. Loopback only; each server is
# stopped by its PID, each load run under `timeout`.
set -euo pipefail
old=$1 new=$2
root="$(cd "$(dirname "$0")/../.." && pwd)"
load=${3:-$root/build/tools/eventide-load}
ROUNDS=${ROUNDS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-2000}
hz=$(getconf CLK_TCK)
spid=
work=$(mktemp -d /tmp/eventide-fanout-pair-XXXXXX)
cleanup() {
  [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }

run() {  # run LABEL EVENTIDE PROTO
  local label=$1 bin=$2 proto=$3 port line s0 s1 args=()
  rm -rf "$work/data"
  port=$((30000 + RANDOM % 2000))
  taskset -c 0 "$bin" serve --apps "$root/apps" --data "$work/data" \
    --listen "127.0.0.1:$port" --tls off --fsync always 2> "$work/server.log" &
  spid=$!
  for _ in $(seq 100); do grep -q '"listening"' "$work/server.log" && break; sleep 0.05; done
  [ "$proto" = h2 ] && args=(--http2 --h2-connections 10)
  s0=$(ticks "$spid")
  line=$(/usr/bin/time -f "%U %S" -o "$work/client.time" timeout 120 "$load" fanout \
    --url "http://127.0.0.1:$port/realtime-demo/message" -n "$SUBSCRIBERS" --rate "$RATE" \
    -d 5s --warmup 1s --server-pid "$spid" --max-in-flight 256 --drain 5s --cpu 1 --json \
    "${args[@]}" 2>/dev/null | tail -1) || true
  s1=$(ticks "$spid")
  kill -TERM "$spid"
  wait "$spid" || true
  spid=
  python3 - "$label" "$proto" "$line" "$(( s1 - s0 ))" "$hz" "$(cat "$work/client.time")" <<'EOF'
import json, sys
label, proto, line, ticks, hz, client = sys.argv[1:7]
try:
    d = json.loads(line)
except ValueError:
    print(f"{label} {proto} failed"); sys.exit(0)
u, s = (float(x) for x in client.split())
l = d["latency_ms"]
print(f"{label} {proto} deliveries/s {d['deliveries_per_second']:.0f} p50 {l['p50']:.1f} "
      f"p99 {l['p99']:.1f} max {l['max']:.1f} ms, missing {d['missing']}, "
      f"server cpu {int(ticks) / int(hz):.2f} s, load cpu {u + s:.2f} s")
EOF
}

for r in $(seq "$ROUNDS"); do
  for proto in h2 h1; do
    if [ $((r % 2)) -eq 1 ]; then
      run "r$r old" "$old" "$proto"; run "r$r new" "$new" "$proto"
    else
      run "r$r new" "$new" "$proto"; run "r$r old" "$old" "$proto"
    fi
  done
done
