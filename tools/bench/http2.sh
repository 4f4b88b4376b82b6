#!/usr/bin/env bash
# HTTP/2 against HTTP/1.1 on the same server, in the same run (the figures of
# docs/PERFORMANCE.md, section "HTTP/2"):
#
#   tools/bench/http2.sh [BUILD_DIR] [OUT_DIR]
#
# ROUNDS rounds; in each, servers are `eventide serve --tls off --fsync
# always` on 127.0.0.1 pinned to core 0, the load tools pinned to core 1:
#
#   REST    one server: GET of one record and POST of new ones, 16 connections,
#           with h2load over HTTP/2 (prior knowledge, http://) and over
#           HTTP/1.1 (--h1), and wrk (HTTP/1.1); DEPTH requests in flight per
#           connection (HTTP/2 streams, HTTP/1.1 pipelining), and POST also
#           with one in flight
#   fanout  SUBSCRIBERS SSE subscribers (eventide-load fanout, at each of RATES):
#           as HTTP/2 streams spread over H2_CONNECTIONS connections, and on as
#           many HTTP/1.1 connections; each on a fresh server, whose RSS before
#           and after subscribing gives the memory per subscriber, and whose
#           utime+stime over the measured window the CPU per delivery. HTTP/2
#           runs with eventide-load's default receive window (15 MiB, a
#           browser's), then (SMALL_WINDOW=1, the default) once more with 192
#           KiB, below the server's 256 KiB output high-water mark, where the
#           server is paced by the client's WINDOW_UPDATEs (docs/LOAD.md,
#           HTTP/2)
#   switch  after those, SWITCH_ROUNDS rounds (5; 0 skips them) of the HTTP/1.1
#           path's cost of HTTP/2 being on: wrk GET of one record, CONNECTIONS
#           connections, one request in flight each, SWITCH_SECONDS (4) against
#           a fresh server with `--http2 on` (every connection starts in a
#           ProtocolSwitch that looks at its first bytes) and one with
#           `--http2 off`, alternating which goes first. ROUNDS=0 runs only
#           these.
#
# h2 and h1 alternate which goes first from one round to the next. Every
# figure goes to OUT_DIR/results.tsv (fan-out JSON lines to runs.jsonl); the
# table printed at the end holds the medians over the rounds and the h2/h1
# ratios taken pair by pair within a round, then their median.
#
# Only loopback. Every tool runs under `timeout`, so the script stops by itself
# (about 90 s a round at the defaults, and 45 s for the switch rounds); it kills
# only the servers it started,
# by PID.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
out="${2:-$(mktemp -d "${TMPDIR:-/tmp}/eventide-http2-XXXXXX")}"
mkdir -p "$out"
eventide="$build/src/server/eventide"
load="$build/tools/eventide-load"
ROUNDS="${ROUNDS:-3}"
SECONDS_PER_RUN="${SECONDS_PER_RUN:-5}"
CONNECTIONS="${CONNECTIONS:-16}"
DEPTH="${DEPTH:-10}"
SUBSCRIBERS="${SUBSCRIBERS:-1000}"
H2_CONNECTIONS="${H2_CONNECTIONS:-10}"
# Write rates for the fan-out: the first one both transports sustain (latency
# and CPU compared at equal work), the second beyond (the delivery ceiling).
RATES="${RATES:-500 2000}"
# PUTs in flight: with fsync always an answer takes 10-100 ms on this machine,
# and eventide-load's default of 64 would cap the writes below 2,000/s.
MAX_IN_FLIGHT="${MAX_IN_FLIGHT:-256}"
# Grace after the last answer for deliveries to arrive: long enough that a
# backlog drains, so what is still missing after it was held back.
DRAIN="${DRAIN:-5s}"
SWITCH_ROUNDS="${SWITCH_ROUNDS:-5}"
SWITCH_SECONDS="${SWITCH_SECONDS:-4}"
secs="$SECONDS_PER_RUN"
results="$out/results.tsv"
runs="$out/runs.jsonl"
: > "$results"
: > "$runs"
for tool in h2load wrk curl taskset timeout python3; do
  command -v "$tool" >/dev/null || { echo "http2.sh: $tool is missing (make deps)" >&2; exit 2; }
done
[ -x "$eventide" ] && [ -x "$load" ] || { echo "http2.sh: build $build first" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { local p; for p in $(seq 19400 19999); do port_free "$p" && { echo "$p"; return; }; done; }

server_pid="" data_dir=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
  # The server's log stays (DIR.log); its records go.
  if [ -n "$data_dir" ]; then rm -rf "$data_dir"; data_dir=""; fi
}
trap stop_server EXIT

# start_server [on|off] -> server_pid, base (http://127.0.0.1:PORT); HTTP/2 on
# unless told
start_server() {
  local dir="$out/data-$RANDOM$RANDOM" port
  port="$(pick_port)"
  mkdir -p "$dir"
  data_dir="$dir"
  taskset -c 0 "$eventide" serve --apps "$root/apps" --data "$dir" \
    --listen "127.0.0.1:$port" --tls off --fsync always --http2 "${1:-on}" 2> "$dir.log" &
  server_pid=$!
  for _ in $(seq 100); do grep -q '"listening"' "$dir.log" 2>/dev/null && break; sleep 0.05; done
  base="http://127.0.0.1:$port"
}

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$results"; }

# The server's utime+stime in clock ticks (/proc/PID/stat fields 14 and 15,
# counted after the parenthesised name).
hz="$(getconf CLK_TCK)"
cpu_ticks() { sed 's/^.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 }'; }

# rest_figures ROUND CASE REQUESTS TICKS_BEFORE WALL_US: the server's CPU per
# request over the whole run, and how busy its core was (1 = saturated, so
# req/s is the server's ceiling, not the load tool's).
rest_figures() {
  local ticks=$(( $(cpu_ticks) - $4 ))
  record "$1" "$2.cpu_us" "$(awk -v t="$ticks" -v hz="$hz" -v n="$3" \
    'BEGIN { print (n > 0 ? t / hz * 1e6 / n : 0) }')"
  record "$1" "$2.busy" "$(awk -v t="$ticks" -v hz="$hz" -v w="$5" 'BEGIN { print t / hz / (w / 1e6) }')"
}
now_us() { echo $(( $(date +%s%N) / 1000 )); }

# h2load_run ROUND CASE ARGS… : records req/s, and any failed/non-2xx answers
h2load_run() {
  local round="$1" case="$2" text rps total ok t0 w0
  shift 2
  # No --warm-up-time: the counts then cover the whole run, as the CPU does.
  t0="$(cpu_ticks)" w0="$(now_us)"
  text="$(taskset -c 1 timeout $((secs + 30)) h2load -c "$CONNECTIONS" -D "$secs" "$@" 2>&1)" ||
    true
  rps="$(sed -n 's/^finished in [0-9.]*m\?s, \([0-9.]*\) req\/s.*/\1/p' <<< "$text")"
  total="$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' <<< "$text")"
  ok="$(sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' <<< "$text")"
  record "$round" "$case" "${rps:-0}"
  rest_figures "$round" "$case" "${total:-0}" "$t0" $(( $(now_us) - w0 ))
  if [ -z "$ok" ] || [ "${total:-0}" != "$ok" ]; then
    record "$round" "$case.errors" "$(( ${total:-0} - ${ok:-0} ))"
    echo "http2.sh: $case: $(grep -E '^(requests|status codes):' <<< "$text" | tr '\n' ' ')" >&2
  fi
  echo "round $round $case ${rps:-?} req/s" >&2
}

# wrk_run ROUND CASE URL [post] : records req/s (DEPTH pipelined per connection)
wrk_run() {
  local text rps total t0 w0
  t0="$(cpu_ticks)" w0="$(now_us)"
  text="$(taskset -c 1 timeout $((secs + 30)) wrk -t1 -c"$CONNECTIONS" -d"${secs}s" \
    -s "$root/tools/bench/pipeline.lua" "$3" -- "$DEPTH" "${4:-get}" 2>&1)" || true
  rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<< "$text")"
  total="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<< "$text")"
  record "$1" "$2" "${rps:-0}"
  rest_figures "$1" "$2" "${total:-0}" "$t0" $(( $(now_us) - w0 ))
  if grep -q -E '^ *(Non-2xx|Socket errors)' <<< "$text"; then
    echo "http2.sh: $2: $(grep -E '^ *(Non-2xx|Socket errors)' <<< "$text" | tr '\n' ' ')" >&2
    record "$1" "$2.errors" 1
  fi
  echo "round $1 $2 ${rps:-?} req/s" >&2
}

# create_record -> table, url (of a record just created on the server)
create_record() {
  local body="$out/body.json" id
  printf '{"title":"t","content":"c"}' > "$body"
  table="$base/realtime-demo/message"
  id="$(curl -fs -X POST -H 'Content-Type: application/json' --data-binary @"$body" "$table" |
    sed -n 's/.*"id":"\([^"]*\)".*/\1/p')"
  [ -n "$id" ] || { echo "http2.sh: could not create a record" >&2; exit 1; }
  url="$table/$id"
}

rest_round() {
  local round="$1" order="$2" body="$out/body.json" url table
  start_server
  create_record
  for proto in $order; do
    if [ "$proto" = h2 ]; then
      h2load_run "$round" get.h2 -m "$DEPTH" "$url"
      h2load_run "$round" post.h2 -m "$DEPTH" -d "$body" -H 'content-type: application/json' "$table"
      h2load_run "$round" post1.h2 -m 1 -d "$body" -H 'content-type: application/json' "$table"
    else
      h2load_run "$round" get.h1 --h1 -m "$DEPTH" "$url"
      wrk_run "$round" get.wrk "$url"
      # h2load --h1 sends one POST at a time per connection whatever -m says.
      h2load_run "$round" post1.h1 --h1 -m 1 -d "$body" -H 'content-type: application/json' \
        "$table"
      wrk_run "$round" post.wrk "$table" post
    fi
  done
  stop_server
}

# switch_round ROUND ORDER: wrk GET, one request in flight per connection,
# against a server with --http2 on and one with --http2 off
switch_round() {
  local round="$1" mode text rps total t0 w0 url table
  for mode in $2; do
    start_server "$mode"
    create_record
    t0="$(cpu_ticks)" w0="$(now_us)"
    text="$(taskset -c 1 timeout $((SWITCH_SECONDS + 30)) wrk -t1 -c"$CONNECTIONS" \
      -d"${SWITCH_SECONDS}s" "$url" 2>&1)" || true
    rps="$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<< "$text")"
    total="$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<< "$text")"
    record "$round" "switch.$mode" "${rps:-0}"
    rest_figures "$round" "switch.$mode" "${total:-0}" "$t0" $(( $(now_us) - w0 ))
    if grep -q -E '^ *(Non-2xx|Socket errors)' <<< "$text"; then
      echo "http2.sh: switch.$mode: $(grep -E '^ *(Non-2xx|Socket errors)' <<< "$text" |
        tr '\n' ' ')" >&2
      record "$round" "switch.$mode.errors" 1
    fi
    echo "round $round switch --http2 $mode ${rps:-?} req/s" >&2
    stop_server
  done
}

fanout_run() {
  local round="$1" proto="$2" rate="$3" line tag="r$3.$2"
  local args=()
  case "$proto" in
    # eventide-load's default window, a browser's (15 MiB): above the server's
    # 256 KiB output high-water mark, so the socket paces the server.
    h2) args=(--http2 --h2-connections "$H2_CONNECTIONS") ;;
    # 192 KiB: below the mark, so the client's WINDOW_UPDATEs pace it.
    h2small) args=(--http2 --h2-connections "$H2_CONNECTIONS" --h2-window-bytes 196608) ;;
  esac
  start_server
  line="$(timeout $((secs + 150)) "$load" fanout --url "$base/realtime-demo/message" \
    -n "$SUBSCRIBERS" --rate "$rate" -d "${secs}s" --warmup 1s --server-pid "$server_pid" \
    --max-in-flight "$MAX_IN_FLIGHT" --drain "$DRAIN" --cpu 1 --json "${args[@]}" 2>/dev/null | tail -1)" || true
  stop_server
  echo "{\"round\":$round,\"case\":\"$tag\",\"run\":${line:-null}}" >> "$runs"
  python3 - "$round" "$tag" "$line" >> "$results" <<'EOF'
import json, sys
round_, proto, line = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    d = json.loads(line)
except ValueError:
    print(f"{round_}\tfanout.{proto}.failed\t1")
    sys.exit(0)
clean = (d["connected"] == d["subscribers"] and d["missing"] == 0 and d["duplicates"] == 0
         and d["out_of_order"] == 0 and d["disconnects"] == 0 and d["write_errors"] == 0
         and d["deliveries"] == d["expected_deliveries"])
for key, value in [("write_rate", d["write_rate"]),
                   ("deliveries_per_second", d["deliveries_per_second"]),
                   ("p50_ms", d["latency_ms"]["p50"]), ("p99_ms", d["latency_ms"]["p99"]),
                   ("max_ms", d["latency_ms"]["max"]),
                   ("cpu_us_per_delivery", d["server_cpu_us_per_delivery"]),
                   ("rss_per_subscriber_bytes", d["rss_per_subscriber_bytes"]),
                   ("connect_seconds", d["connect_seconds"]), ("missing", d["missing"]),
                   ("complete_in_order", 1 if clean else 0)]:
    print(f"{round_}\tfanout.{proto}.{key}\t{value}")
EOF
  echo "round $round fanout $tag: $(grep -F "$(printf '%s\tfanout.%s.' "$round" "$tag")" "$results" |
    cut -f2,3 | sed "s/fanout\.$tag\.//" | tr '\t\n' '= ')" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  order="h2 h1"
  [ $((round % 2)) -eq 0 ] && order="h1 h2"
  rest_round "$round" "$order"
  for rate in $RATES; do
    for proto in $order; do fanout_run "$round" "$proto" "$rate"; done
    if [ "${SMALL_WINDOW:-1}" = 1 ]; then fanout_run "$round" h2small "$rate"; fi
  done
done
for round in $(seq 1 "$SWITCH_ROUNDS"); do
  order="on off"
  [ $((round % 2)) -eq 0 ] && order="off on"
  switch_round "$round" "$order"
done

python3 - "$results" "$ROUNDS" "$CONNECTIONS" "$DEPTH" "$SUBSCRIBERS" "$H2_CONNECTIONS" "$RATES" \
  "$SWITCH_ROUNDS" "$SWITCH_SECONDS" <<'EOF'
import collections, statistics, sys
path, rounds, conns, depth, subs, h2c, rates, switch_rounds, switch_secs = sys.argv[1:10]
rates = rates.split() if int(rounds) > 0 else []
by = collections.defaultdict(dict)  # case -> round -> value
for row in open(path):
    r, case, value = row.rstrip("\n").split("\t")
    by[case][r] = float(value)

def med(case):
    v = list(by.get(case, {}).values())
    return statistics.median(v) if v else float("nan")

def ratio(a, b):
    pairs = [by[a][r] / by[b][r] for r in by.get(a, {}) if r in by.get(b, {}) and by[b][r]]
    if not pairs:
        return "–"
    return f"{statistics.median(pairs):.2f}× ({min(pairs):.2f}–{max(pairs):.2f})"

def fmt(x, digits=0):
    return f"{x:,.{digits}f}"

cases = [(f"GET one record, {depth} in flight (h1: h2load --h1, pipelined)", "get.h2", "get.h1"),
         (f"GET one record, {depth} in flight (h1: wrk, pipelined)", "get.h2", "get.wrk"),
         (f"POST, {depth} in flight (h1: wrk, pipelined)", "post.h2", "post.wrk"),
         ("POST, 1 in flight (h2load both)", "post1.h2", "post1.h1")]
if int(rounds) > 0:
    print()
    print(f"REST, {conns} connections, medians of {rounds} rounds; h2/h1 taken pair by pair in a "
          "round (median, min–max). Server CPU: utime+stime per request over the run, and in "
          "brackets the share of its core it used (≈1: the server is the bottleneck).")
    print("| case | HTTP/2 req/s | HTTP/1.1 req/s | h2 / h1 | server CPU µs/req, HTTP/2 | HTTP/1.1 "
          "| h2 / h1 |")
    print("|---|---|---|---|---|---|---|")
else:
    cases = []
for label, a, b in cases:
    print(f"| {label} | {fmt(med(a))} | {fmt(med(b))} | {ratio(a, b)} | "
          f"{fmt(med(a + '.cpu_us'), 2)} ({fmt(med(a + '.busy'), 2)}) | "
          f"{fmt(med(b + '.cpu_us'), 2)} ({fmt(med(b + '.busy'), 2)}) | "
          f"{ratio(a + '.cpu_us', b + '.cpu_us')} |")
rows = [("writes/s answered", "write_rate", 0), ("deliveries/s", "deliveries_per_second", 0), ("p50 latency, ms", "p50_ms", 2),
        ("p99 latency, ms", "p99_ms", 2), ("max latency, ms", "max_ms", 0),
        ("server CPU per delivery, µs", "cpu_us_per_delivery", 3),
        ("server RSS per subscriber, bytes", "rss_per_subscriber_bytes", 0),
        ("time to subscribe all, s", "connect_seconds", 3),
        ("deliveries missing at the end", "missing", 0)]
for rate in rates:
    small = f"fanout.r{rate}.h2small.missing" in by
    print()
    print(f"Fan-out, {subs} SSE subscribers, {rate} writes/s offered ({int(subs) * int(rate):,} "
          f"deliveries/s): HTTP/2 = {subs} streams on {h2c} connections, HTTP/1.1 = {subs} "
          f"connections; medians of {rounds} rounds, h2/h1 pair by pair:")
    print("| | HTTP/1.1 | HTTP/2, 15 MiB window | h2 / h1 |" +
          (" HTTP/2, 192 KiB window | h2 / h1 |" if small else ""))
    print("|---|---|---|---|" + ("---|---|" if small else ""))
    for label, key, digits in rows:
        a, b, c = (f"fanout.r{rate}.{p}.{key}" for p in ("h2", "h1", "h2small"))
        ra = ratio(a, b) if key != "missing" else ""
        rc = ratio(c, b) if key != "missing" else ""
        print(f"| {label} | {fmt(med(b), digits)} | {fmt(med(a), digits)} | {ra} |" +
              (f" {fmt(med(c), digits)} | {rc} |" if small else ""))
    ok = {p: sum(by.get(f"fanout.r{rate}.{p}.complete_in_order", {}).values())
          for p in ("h2", "h1", "h2small")}
    print(f"| runs with every event delivered once, in order | {ok['h1']:.0f} of {rounds} | "
          f"{ok['h2']:.0f} of {rounds} | |" + (f" {ok['h2small']:.0f} of {rounds} | |" if small else ""))
if "switch.on" in by:
    print()
    print(f"HTTP/1.1 with HTTP/2 on (ProtocolSwitch first) against off: wrk GET of one record, "
          f"{conns} connections, 1 in flight each, {switch_secs} s; medians of {switch_rounds} "
          "rounds, on/off pair by pair (median, min–max):")
    print("| | --http2 on | --http2 off | on / off |")
    print("|---|---|---|---|")
    for label, key, digits in [("req/s", "", 0), ("server CPU µs/req", ".cpu_us", 2),
                               ("share of its core", ".busy", 2)]:
        a, b = "switch.on" + key, "switch.off" + key
        print(f"| {label} | {fmt(med(a), digits)} | {fmt(med(b), digits)} | {ratio(a, b)} |")
errors = sorted(c for c in by if c.endswith(".errors") or c.endswith(".failed"))
if errors:
    print("\nwith errors: " + ", ".join(errors))
EOF
echo "results: $results, fan-out runs: $runs"
