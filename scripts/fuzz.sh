#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR/fuzz/ for SECONDS each, one after
# another, and fails if any of them finds a crash, a leak, a timeout or an
# out-of-memory.
#
#   scripts/fuzz.sh BUILD_DIR SECONDS
#
# For a target NAME_fuzzer it uses:
#   fuzz/corpus/NAME/       the seed corpus; the fuzzer runs over a scratch copy,
#                           so nothing new is ever written into the repository;
#   fuzz/NAME.dict          the dictionary, when present;
#   fuzz/regressions/NAME/  inputs that once crashed it: each is run first, and
#                           must pass.
# Reproducers and logs go to BUILD_DIR/fuzz-artifacts/NAME_fuzzer/ (cleared
# when the target starts). Reproduce a crash with: BUILD_DIR/fuzz/NAME_fuzzer FILE
set -uo pipefail

if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ]; then
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
fi
build_dir=$(cd "$1" 2>/dev/null && pwd) || { echo "fuzz: no build directory $1" >&2; exit 2; }
seconds=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

targets=()
for bin in "$build_dir"/fuzz/*_fuzzer; do
  [ -f "$bin" ] && [ -x "$bin" ] && targets+=("$bin")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no *_fuzzer binaries in $build_dir/fuzz (run make fuzz-build)" >&2
  exit 2
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/eventide-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

failed=()
for bin in "${targets[@]}"; do
  target=$(basename "$bin")
  name=${target%_fuzzer}
  artifacts="$build_dir/fuzz-artifacts/$target"
  rm -rf "$artifacts"
  mkdir -p "$artifacts"
  log="$artifacts/fuzz.log"

  # Files the target has crashed on before: each must pass now.
  regressions=()
  if [ -d "$root/fuzz/regressions/$name" ]; then
    while IFS= read -r -d '' f; do regressions+=("$f"); done \
      < <(find "$root/fuzz/regressions/$name" -type f -print0 | sort -z)
  fi
  for f in "${regressions[@]}"; do
    if ! TMPDIR="$scratch" timeout 60 "$bin" "$f" >"$artifacts/regression.log" 2>&1; then
      echo "FAIL $target: regression input $f"
      grep -vE '^(INFO:|[[:space:]]*#[0-9]+ 0x|NOTE:|[[:space:]]*Combine libFuzzer|[[:space:]]*$)' \
        "$artifacts/regression.log" | tail -n 15 | sed 's/^/    /'
      echo "    reproduce: $bin $f"
      failed+=("$target")
      continue 2
    fi
  done

  corpus="$scratch/corpus-$name"
  mkdir -p "$corpus" "$scratch/tmp"
  if [ -d "$root/fuzz/corpus/$name" ]; then cp -r "$root/fuzz/corpus/$name/." "$corpus/"; fi
  args=(-max_total_time="$seconds" -max_len=1048576 -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [ -f "$root/fuzz/$name.dict" ]; then args+=(-dict="$root/fuzz/$name.dict"); fi

  echo "fuzz: $target for ${seconds}s ($(find "$corpus" -type f | wc -l) seed inputs${regressions:+, ${#regressions[@]} regressions})"
  # libFuzzer stops itself after max_total_time; the outer timeout only
  # catches a fuzzer that does not.
  TMPDIR="$scratch/tmp" timeout -k 10 $((seconds + 120)) "$bin" "${args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    stats=$(grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb):' "$log" |
            sed 's/^stat:://' | tr -s ' \n' ' ')
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    echo "ok   $target: $cov $stats"
    continue
  fi
  failed+=("$target")
  echo "FAIL $target (exit $rc)"
  grep -E '^(==[0-9]+==ERROR|SUMMARY|.*check failed|.*round trip)' "$log" | head -n 10 | sed 's/^/    /'
  found=0
  for f in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*; do
    [ -e "$f" ] || continue
    found=1
    echo "    reproducer: $f"
    echo "    reproduce:  $bin $f"
  done
  [ $found -eq 1 ] || echo "    no reproducer written (exit $rc; killed by the outer timeout?)"
  echo "    log: $log"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets passed (${seconds}s each)"
