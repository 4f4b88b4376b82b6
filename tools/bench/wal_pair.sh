#!/usr/bin/env bash
# Pairs two wal_bench binaries (e.g. one built from main before a change to wal/,
# one after) on the same disk: ROUNDS rounds, alternating, of the closed-loop
# always-mode appends at 1 and 256 appenders. Compare the x_raw column (appends/s
# over the raw fdatasync rate measured around each run).
#
#   tools/bench/wal_pair.sh OLD_WAL_BENCH NEW_WAL_BENCH
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 OLD_WAL_BENCH NEW_WAL_BENCH" >&2; exit 2; }
export EVENTIDE_BENCH_SECONDS=${EVENTIDE_BENCH_SECONDS:-3}
filter=${FILTER:-'BM_Append/payload:100/sync:0/outstanding:(1|256)/'}
for round in $(seq 1 "${ROUNDS:-3}"); do
  for which in old new; do
    bin=$1; [ "$which" = new ] && bin=$2
    echo "== round $round $which"
    "$bin" --benchmark_filter="$filter" --benchmark_counters_tabular=true 2>&1 |
      grep -E '^(Benchmark|BM_)'
  done
done
