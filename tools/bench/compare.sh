#!/usr/bin/env bash
# Eventide against Nginx + Nchan, measured in the same run with the same load
# generator (issue 4; figures in docs/PERFORMANCE.md):
#
#   tools/bench/compare.sh [BUILD_DIR] [OUT_DIR]
#
# Each server runs alone, pinned to core 0; eventide-load is pinned to core 1.
# Eventide runs with --fsync always (every event durable before anyone sees
# it); Nchan keeps its messages in memory.
#
#   fanout   SSE to 1, 100, 1,000 and 10,000 subscribers, WS to 1,000: rates
#            on a ladder, 5 s each; the highest with p99 < 50 ms and nothing
#            missing, duplicated or out of order is the figure, and the highest
#            delivered completely at all (p99 < 1 s) the throughput ceiling
#   idle     server RSS per idle connection, 10,000 SSE and 10,000 WS
#   catchup  a subscriber that missed 100,000 entries: time to receive them
#
# Every run's JSON line goes to OUT_DIR/runs.jsonl; a summary table is printed
# at the end. Only loopback; every process it starts it stops, by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
out="${2:-$(mktemp -d "${TMPDIR:-/tmp}/eventide-compare-XXXXXX")}"
mkdir -p "$out"
eventide="$build/src/server/eventide"
load="$build/tools/eventide-load"
runs="$out/runs.jsonl"
: > "$runs"
# Overrides for a quick smoke run: SECONDS_PER_RUN=1 CONFIGS="sse/10 ws/10"
# IDLE_N=100 CATCHUP_N=1000.
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
CONFIGS="${CONFIGS:-sse/1 sse/100 sse/1000 sse/10000 ws/1000}"
IDLE_N="${IDLE_N:-10000}"
CATCHUP_N="${CATCHUP_N:-100000}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { local p; for p in $(seq 19000 19999); do port_free "$p" && { echo "$p"; return; }; done; }

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# start_server eventide|nchan -> sets server_pid, port, sub_url, pub_args
start_server() {
  local kind="$1" dir="$out/$1-data-$RANDOM"
  port="$(pick_port)"
  if [ "$kind" = eventide ]; then
    mkdir -p "$dir"
    taskset -c 0 "$eventide" serve --apps "$root/apps" --data "$dir" \
      --listen "127.0.0.1:$port" --tls off --fsync always 2> "$dir.log" &
    server_pid=$!
    for _ in $(seq 100); do grep -q '"listening"' "$dir.log" 2>/dev/null && break; sleep 0.05; done
    sub_url="http://127.0.0.1:$port/realtime-demo/message"
    pub_args=()
    idle_args=()
  else
    server_pid="$("$root/tools/bench/nchan.sh" "$port" "$dir" 0)"
    new_channel
  fi
}

# Nchan: a fresh channel, so a run sees no message of an earlier one.
new_channel() {
  local chan="c$RANDOM$RANDOM"
  sub_url="http://127.0.0.1:$port/sub/$chan"
  pub_args=(--nchan-pub "/pub/$chan" --writers 1)
  idle_args=(--nchan)
}

# The ladder of write rates for N subscribers: up to ~4M deliveries/s.
ladder() {
  local n="$1" r
  for r in 10 20 50 100 200 500 1000 2000 5000 10000 20000 40000 80000; do
    [ $((r * n)) -le 4000000 ] && echo "$r"
  done
}

json_get() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" <<< "$1" | head -1; }
p99_of() { sed -n 's/.*"latency_ms":{[^}]*"p99":\([0-9.]*\).*/\1/p' <<< "$1"; }

# run_fanout KIND PROTO N RATE -> prints the JSON line (and logs a summary)
run_fanout() {
  local kind="$1" proto="$2" n="$3" rate="$4" line
  [ "$kind" = nchan ] && new_channel
  line="$("$load" fanout --url "$sub_url" "${pub_args[@]}" --protocol "$proto" -n "$n" \
    --rate "$rate" -d "${SECONDS_PER_RUN}s" --warmup 1s --cpu 1 --json 2>/dev/null | tail -1)" || true
  echo "{\"server\":\"$kind\",\"run\":$line}" >> "$runs"
  echo "$kind $proto n=$n rate=$rate achieved=$(json_get "$line" write_rate)" \
    "p99=$(p99_of "$line")ms missing=$(json_get "$line" missing)" \
    "dup=$(json_get "$line" duplicates) ooo=$(json_get "$line" out_of_order)" >&2
  echo "$line"
}

# verdict LINE RATE P99_LIMIT_MS -> 1 when the run sustained RATE (95% of it
# written), delivered everything exactly once in order, with p99 under the limit
verdict() {
  awk -v p="$(p99_of "$1")" -v a="$(json_get "$1" write_rate)" -v r="$2" -v lim="$3" \
    -v m="$(json_get "$1" missing)" -v d="$(json_get "$1" duplicates)" \
    -v o="$(json_get "$1" out_of_order)" \
    'BEGIN { print (p != "" && p + 0 < lim && a + 0 >= 0.95 * r && m == "0" && d == "0" && o == "0") ? 1 : 0 }'
}

# Two figures per size, on one ladder of rates: the highest rate with p99 <
# 50 ms and nothing missing (the comparison's criterion), and the highest rate
# delivered completely at all (p99 < 1 s): the throughput ceiling. A rung that
# fails is run once more before the ladder stops (the machine is shared).
declare -A best_rate best_deliv best_p99 ceil_rate ceil_deliv ceil_p99 first_p99
for kind in eventide nchan; do
  for cfg in $CONFIGS; do
    proto="${cfg%/*}" n="${cfg#*/}" key="$kind/$cfg"
    start_server "$kind"
    best_rate[$key]=0 best_deliv[$key]=0 best_p99[$key]=-
    ceil_rate[$key]=0 ceil_deliv[$key]=0 ceil_p99[$key]=- first_p99[$key]=-
    for rate in $(ladder "$n"); do
      line="$(run_fanout "$kind" "$proto" "$n" "$rate")"
      [ "${first_p99[$key]}" = - ] && first_p99[$key]="$(p99_of "$line")"
      if [ "$(verdict "$line" "$rate" 1000)" != 1 ]; then
        line="$(run_fanout "$kind" "$proto" "$n" "$rate")"
        [ "$(verdict "$line" "$rate" 1000)" = 1 ] || break
      fi
      ceil_rate[$key]="$rate" ceil_deliv[$key]="$(json_get "$line" deliveries_per_second)"
      ceil_p99[$key]="$(p99_of "$line")"
      if [ "$(verdict "$line" "$rate" 50)" = 1 ]; then
        best_rate[$key]="$rate" best_deliv[$key]="$(json_get "$line" deliveries_per_second)"
        best_p99[$key]="$(p99_of "$line")"
      fi
    done
    stop_server
  done
done

declare -A rss
for kind in eventide nchan; do
  for proto in sse ws; do
    start_server "$kind"
    line="$("$load" idle --url "$sub_url" --protocol "$proto" -c "$IDLE_N" --hold 3s \
      --server-pid "$server_pid" "${idle_args[@]}" --cpu 1 --json 2>/dev/null | tail -1)" || true
    echo "{\"server\":\"$kind\",\"run\":$line}" >> "$runs"
    rss[$kind/$proto]="$(json_get "$line" rss_per_connection_bytes)"
    echo "$kind idle $proto: ${rss[$kind/$proto]} B/connection" >&2
    stop_server
  done
done

declare -A catchup
for kind in eventide nchan; do
  start_server "$kind"
  nchan_pub=()
  [ "$kind" = nchan ] && nchan_pub=(--nchan-pub "${pub_args[1]}")
  line="$("$load" catchup --url "$sub_url" "${nchan_pub[@]}" -n "$CATCHUP_N" --write-rate 30000 \
    --cpu 1 --json 2>/dev/null | tail -1)" || true
  echo "{\"server\":\"$kind\",\"run\":$line}" >> "$runs"
  catchup[$kind]="$(json_get "$line" seconds) s ($(json_get "$line" received) received)"
  echo "$kind catchup: ${catchup[$kind]}" >&2
  stop_server
done

echo
echo "Highest rate with p99 < 50 ms and nothing missing (rate, deliveries/s, p99):"
echo "| fan-out | Eventide (fsync always) | Nchan | p99 at the lowest rate (E / N) |"
echo "|---|---|---|---|"
for cfg in $CONFIGS; do
  e="eventide/$cfg" c="nchan/$cfg"
  echo "| $cfg | ${best_rate[$e]}/s, ${best_deliv[$e]}, ${best_p99[$e]} ms |" \
    "${best_rate[$c]}/s, ${best_deliv[$c]}, ${best_p99[$c]} ms | ${first_p99[$e]} / ${first_p99[$c]} ms |"
done
echo
echo "Highest rate delivered completely (p99 < 1 s): the throughput ceiling:"
echo "| fan-out | Eventide (fsync always) | Nchan |"
echo "|---|---|---|"
for cfg in $CONFIGS; do
  e="eventide/$cfg" c="nchan/$cfg"
  echo "| $cfg | ${ceil_rate[$e]}/s, ${ceil_deliv[$e]}, ${ceil_p99[$e]} ms |" \
    "${ceil_rate[$c]}/s, ${ceil_deliv[$c]}, ${ceil_p99[$c]} ms |"
done
echo
echo "| idle, $IDLE_N connections | Eventide B/connection | Nchan B/connection |"
echo "|---|---|---|"
for proto in sse ws; do echo "| $proto | ${rss[eventide/$proto]} | ${rss[nchan/$proto]} |"; done
echo
echo "catchup of $CATCHUP_N missed entries: Eventide ${catchup[eventide]}, Nchan ${catchup[nchan]}"
echo "runs: $runs"
