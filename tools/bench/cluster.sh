#!/usr/bin/env bash
# The cluster figures of docs/PERFORMANCE.md, paired in one run on this machine:
# a 3-node nats-server cluster on 127.0.0.1 and Eventide nodes on it, against the
# embedded WAL (--fsync always) measured in the same run.
#
#   tools/bench/cluster.sh [BUILD_DIR]      (ROUNDS=3 DURATION=5s by default)
#
# 1. writes/s and ack latency (p50/p99): WAL vs JetStream R1 vs R3, at 1, 16 and
#    256 connections, rounds interleaved so drift hits every configuration alike;
# 2. write on node A, event on node B (fanout --write-url) vs both on one node;
# 3. fan-out: 1000 SSE subscribers on one node vs split over two;
# 4. catch-up of 100,000 missed events on a node other than the one written to,
#    vs the WAL node catching up its own.
# Everything runs on 127.0.0.1, bounded in time; every process is stopped by PID.
set -euo pipefail
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
EVENTIDE=$BUILD/src/server/eventide
LOAD=$BUILD/tools/eventide-load
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/eventide-cluster-bench-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# NATS: three servers, one cluster, JetStream on each.
for i in 0 1 2; do
  cat > "$WORK/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((24220 + i))
max_payload: 8MB
jetstream { store_dir: "$WORK/store$i" }
cluster {
  name: bench
  listen: 127.0.0.1:$((26220 + i))
  routes: [nats-route://127.0.0.1:26220, nats-route://127.0.0.1:26221, nats-route://127.0.0.1:26222]
}
CONF
  nats-server -c "$WORK/n$i.conf" > "$WORK/n$i.log" 2>&1 &
  PIDS+=($!)
done
NATS=nats://127.0.0.1:24220,nats://127.0.0.1:24221,nats://127.0.0.1:24222
for _ in $(seq 100); do grep -q "metadata leader" "$WORK"/n*.log && break; sleep 0.1; done
sleep 1

# node NAME PORT [flags...]: an Eventide node with its own data dir.
node() {
  local name=$1 port=$2; shift 2
  mkdir -p "$WORK/$name"
  "$EVENTIDE" serve --apps "$ROOT/apps" --data "$WORK/$name/data" --listen "127.0.0.1:$port" \
    --tls off --fsync always --node "$name" "$@" > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do
    grep -q '"listening"' "$WORK/$name.log" && return 0
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$WORK/$name.log" >&2; return 1; }
    sleep 0.05
  done
  return 1
}
node wal 29100
node r1 29101 --log jetstream --nats "$NATS" --stream BENCH_R1 --replicas 1
node r3a 29102 --log jetstream --nats "$NATS" --stream BENCH_R3 --replicas 3
node r3b 29103 --log jetstream --nats "$NATS" --stream BENCH_R3 --replicas 3
url() { echo "http://127.0.0.1:$1/realtime-demo/message"; }

summary() {  # json line -> "rps p50 p99"
  python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); l=d["latency_ms"]; print("%.0f %.2f %.2f %s" % (d["requests_per_second"], l["p50"], l["p99"], json.dumps(d["status"])))'
}

echo "== 1. REST POST writes: writes/s, ack p50 ms, p99 ms (round by round)"
for c in 1 16 256; do
  for r in $(seq "$ROUNDS"); do
    for cfg in wal:29100 r1:29101 r3:29102; do
      name=${cfg%%:*}; port=${cfg##*:}
      printf 'c=%-3s round %s %-3s ' "$c" "$r" "$name"
      "$LOAD" rest --url "$(url "$port")" -c "$c" -d "$DURATION" --json | summary
    done
  done
done

echo "== 2. write on A, event on B (R3): fanout, 10 subscribers, 200 writes/s"
for r in $(seq "$ROUNDS"); do
  printf 'round %s same-node  ' "$r"
  "$LOAD" fanout --url "$(url 29102)" -n 10 --rate 200 -d "$DURATION" --json | tail -1
  printf 'round %s cross-node ' "$r"
  "$LOAD" fanout --url "$(url 29103)" --write-url "$(url 29102)" -n 10 --rate 200 \
    -d "$DURATION" --json | tail -1
  printf 'round %s wal        ' "$r"
  "$LOAD" fanout --url "$(url 29100)" -n 10 --rate 200 -d "$DURATION" --json | tail -1
done

echo "== 3. fan-out: 1000 SSE subscribers, 100 writes/s, on one node vs split over two (R3)"
for r in $(seq "$ROUNDS"); do
  printf 'round %s one-node ' "$r"
  "$LOAD" fanout --url "$(url 29102)" -n 1000 --rate 100 -d "$DURATION" --json | tail -1
  printf 'round %s two-node ' "$r"
  "$LOAD" fanout --url "$(url 29102)" --url "$(url 29103)" --write-url "$(url 29102)" \
    -n 1000 --rate 100 -d "$DURATION" --json | tail -1
done

echo "== 4. catch-up of 100,000 missed events"
for r in $(seq "$ROUNDS"); do
  printf 'round %s wal (own writes)   ' "$r"
  "$LOAD" catchup --url "$(url 29100)" -n 100000 --json | tail -1
  printf 'round %s r3 written on A, read on B ' "$r"
  "$LOAD" catchup --url "$(url 29103)" --write-url "$(url 29102)" -n 100000 --json | tail -1
done

if command -v wrk >/dev/null 2>&1; then
  echo "== 5. independent check (wrk): POST, 16 connections"
  for r in $(seq "$ROUNDS"); do
    for cfg in wal:29100 r1:29101 r3:29102; do
      name=${cfg%%:*}; port=${cfg##*:}
      printf 'round %s %-3s ' "$r" "$name"
      wrk -t1 -c16 -d"$DURATION" --latency -s "$ROOT/tools/bench/post.lua" "$(url "$port")" |
        awk '/Requests\/sec/{rps=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} END{print rps" req/s p50 "p50" p99 "p99}'
    done
  done
fi
