#!/usr/bin/env bash
# What row policies cost in fan-out (issue 5; figures in docs/PERFORMANCE.md):
# 1,000 SSE subscribers, every one a different user (its own token), on a
# table whose read rule each subscriber's events are judged by, against the
# same fan-out on the same table layout without a rule, alternating, in one
# run, on one server.
#
#   tools/bench/policy.sh [BUILD_DIR] [OUT_DIR]
#
# The rule is "title = $auth.sub or content != null": the writer's records
# match no subscriber's subject, so both comparisons run for every
# subscriber, and every record is visible, so both tables deliver the same
# events to the same number of subscribers: the difference is the rule.
#
# Two measures, ROUNDS times each (alternating ruled and open):
#   cpu   at a fixed RATE: the server's CPU seconds (utime + stime from
#         /proc) over the run, per million deliveries
#   max   at a saturating MAX_RATE: deliveries per second reached
# The server is pinned to core 0, eventide-load to core 1; --fsync always.
# Only loopback; the server it starts it stops, by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
out="${2:-$(mktemp -d "${TMPDIR:-/tmp}/eventide-policy-XXXXXX")}"
mkdir -p "$out"
eventide="$build/src/server/eventide"
load="$build/tools/eventide-load"
N="${N:-1000}"
RATE="${RATE:-500}"
MAX_RATE="${MAX_RATE:-5000}"
ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
secret="policy-bench-secret"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

apps="$out/apps"
for app in open ruled; do
  mkdir -p "$apps/$app"
  printf 'app_id: %s\nauth: optional\nschemas:\n  - s.graphql\n' "$app" > "$apps/$app/config.yaml"
done
table='  id: ID! @primaryKey\n  title: String\n  content: String\n}\n'
printf "type Message @table @export(name: \"message\", sse: true) {\n$table" > "$apps/open/s.graphql"
printf "type Message @table @export(name: \"message\", sse: true)\n  @policy(read: \"title = \$auth.sub or content != null\") {\n$table" \
  > "$apps/ruled/s.graphql"
printf 'jwt_secret: %s\n' "$secret" > "$out/server.yaml"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for p in $(seq 19000 19999); do port_free "$p" && { port="$p"; break; }; done
taskset -c 0 "$eventide" serve --config "$out/server.yaml" --apps "$apps" --data "$out/data" \
  --listen "127.0.0.1:$port" --tls off --fsync always 2> "$out/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '"listening"' "$out/server.log" 2>/dev/null && break; sleep 0.05; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz="$(getconf CLK_TCK)"
runs="$out/runs.jsonl"
: > "$runs"
run() {  # app rate -> appends {"app":…,"rate":…,"cpu_s":…, …load json…}
  local app="$1" rate="$2" before after line
  before="$(cpu_ticks)"
  line="$(taskset -c 1 "$load" fanout --url "http://127.0.0.1:$port/$app/message" \
    --subscribers "$N" --rate "$rate" --duration "${SECONDS_PER_RUN}s" --warmup 1s \
    --jwt-secret "$secret" --json || true)"
  after="$(cpu_ticks)"
  echo "{\"app\":\"$app\",\"rate\":$rate,\"cpu_s\":$(awk "BEGIN{print ($after-$before)/$hz}"),\"load\":$line}" \
    | tee -a "$runs"
}
for _ in $(seq "$ROUNDS"); do
  for app in ruled open; do run "$app" "$RATE"; run "$app" "$MAX_RATE"; done
done

python3 - "$runs" "$RATE" "$MAX_RATE" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
rate, max_rate = float(sys.argv[2]), float(sys.argv[3])
def med(app, r, f):
    return statistics.median(f(x) for x in runs if x["app"] == app and x["rate"] == r)
cpu = {a: med(a, rate, lambda x: x["cpu_s"] / max(x["load"]["deliveries"], 1) * 1e6) for a in ("open", "ruled")}
p99 = {a: med(a, rate, lambda x: x["load"]["latency_ms"]["p99"]) for a in ("open", "ruled")}
top = {a: med(a, max_rate, lambda x: x["load"]["deliveries_per_second"]) for a in ("open", "ruled")}
bad = sum(x["load"]["missing"] + x["load"]["duplicates"] + x["load"]["out_of_order"] for x in runs)
print(f"| measure | no rule | rule per subscriber | ratio |")
print(f"|---|---|---|---|")
print(f"| server CPU s per 1M deliveries at {rate:.0f}/s | {cpu['open']:.3f} | {cpu['ruled']:.3f} | {cpu['ruled']/cpu['open']:.2f} |")
print(f"| p99 latency at {rate:.0f}/s (ms) | {p99['open']:.1f} | {p99['ruled']:.1f} | {p99['ruled']/p99['open']:.2f} |")
print(f"| deliveries/s offered {max_rate:.0f}/s | {top['open']:.0f} | {top['ruled']:.0f} | {top['ruled']/top['open']:.2f} |")
print(f"missing + duplicates + out of order over all runs: {bad}")
PY
