#!/usr/bin/env bash
# Memory-budget benchmark (issue 20): one pipeline on the same generated files, measured in one run:
#   - mpilake with no limit (--memory-limit off) and under --memory-limit BUDGET (default one eighth
#     of the landing bytes), at --ranks ranks;
#   - the peer, DuckDB (npm @duckdb/node-api) with 2 threads, once without a limit and once with the
#     same memory_limit and a temp_directory beside the outputs.
# Peak memory is measured from outside: each mpilake rank runs under /usr/bin/time (its maximum
# resident set) and the ranks' peaks are added up, as the budget is that of all the ranks of a node
# together; DuckDB's process likewise. When DuckDB runs out of memory under the budget, it is run
# again under 2x, 4x and 8x the budget until it finishes, and compared at the least of those. It ends
# with a table: wall time and summed peak per run, the ratios and the targets (mpilake under the
# budget >= 3x faster than DuckDB under the same budget; the budgeted run <= 2x the unlimited run's
# time; the summed peak within the budget plus a fixed overhead). A run that refuses the budget is
# reported with its one-line error, not as a time.
#
# usage: bench/budget_bench.sh [--pipeline stedi|deloton] [--bytes B] [--budget BYTES] [--ranks N]
#                              [--seed S] [--data DIR] [--keep] [--no-build] [--no-peer]
#   --bytes B      landing bytes to generate (default 1e9)
#   --budget BYTES the memory limit of the budgeted runs (default: the landing bytes / 8)
#   --ranks N      mpilake ranks (default 2); DuckDB gets 2 threads
#   --data DIR     where data and outputs go (default ${TMPDIR:-/tmp}/mpilake-budget-bench)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-release"
PIPELINE=stedi
BYTES=1000000000
BUDGET=""
RANKS=2
SEED=1
KEEP=0
BUILD_IT=1
PEER=1
DATA="${TMPDIR:-/tmp}/mpilake-budget-bench"

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_parse --pipeline=PIPELINE --bytes=BYTES:bytes --budget=BUDGET:bytes --ranks=RANKS --seed=SEED --data=DATA \
  --keep=KEEP=1 --no-build=BUILD_IT=0 --no-peer=PEER=0 -- "$@"
case "$PIPELINE" in stedi | deloton) ;; *) die "--pipeline must be stedi or deloton" ;; esac
[ "$RANKS" -ge 1 ] 2>/dev/null || die "--ranks must be >= 1"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed to measure peak memory (apt-get install time)"
log() { printf '\n== %s\n' "$*" >&2; }
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)

# 1. Build.
MPILAKE="$BUILD/mpilake"
if [ "$BUILD_IT" = 1 ]; then
  log "build (Release) into $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DMPILAKE_BUILD_TESTS=OFF -UMPILAKE_ARCH >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target mpilake
fi
[ -x "$MPILAKE" ] || die "no mpilake binary at $MPILAKE (run without --no-build)"

# 2. Data (reused when the same options made it).
LANDING="$DATA/landing-$PIPELINE"
STAMP="$LANDING.options"
if [ "$PIPELINE" = stedi ]; then GENERATE=(--target-bytes "$BYTES" --seed "$SEED"); else
  GENERATE=(--pipeline deloton --bikes 64 --streams 8 --target-bytes "$BYTES" --seed "$SEED")
fi
mkdir -p "$DATA"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "${GENERATE[*]}" ]; then
  log "generate ${GENERATE[*]}"
  rm -rf "$LANDING" "$STAMP"
  "${MPIRUN[@]}" -np 2 "$MPILAKE" generate --out "$LANDING" "${GENERATE[@]}" >/dev/null
  echo "${GENERATE[*]}" >"$STAMP"
fi
LANDING_BYTES=$(du -sb --apparent-size "$LANDING" | cut -f1)
[ -n "$BUDGET" ] || BUDGET=$((LANDING_BYTES / 8))
BUDGET_MIB=$((BUDGET / 1048576))
[ "$BUDGET_MIB" -ge 1 ] || die "--budget must be at least 1 MiB"
# The landing in the page cache, and the previous run's outputs on disk (their write-back would
# otherwise land in the next run's time).
warm() {
  find "$LANDING" -type f -exec cat {} + >/dev/null
  sync
}
value() { sed -n "s/^RESULT $2=//p" "$1" | head -n 1; }

# 3. Runs. Each writes $DATA/NAME.txt: the tool's RESULT lines plus wall_seconds, peak_kb (summed over
#    the processes) and exit; a failed run's last error line goes to $DATA/NAME.error.
run_mpilake() {  # run_mpilake NAME LIMIT
  local name="$1" limit="$2" t0 rc=0
  rm -f "$DATA/rss-$name".*
  warm
  t0=$(date +%s.%N)
  # shellcheck disable=SC2016  # $0, $@ and the rank are the wrapper shell's
  "${MPIRUN[@]}" -np "$RANKS" sh -c 'exec /usr/bin/time -f "%M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' "$DATA/rss-$name" \
    "$MPILAKE" run --pipeline "$PIPELINE" --landing "$LANDING" --out "$DATA/out-$name" --overwrite --quiet --results \
    --memory-limit "$limit" >"$DATA/$name.txt" 2>"$DATA/$name.stderr" || rc=$?
  {
    echo "RESULT wall_seconds=$(awk "BEGIN{print $(date +%s.%N) - $t0}")"
    echo "RESULT peak_kb=$(cat "$DATA/rss-$name".* 2>/dev/null | awk '/^[0-9]+$/ {s += $1} END {print s + 0}')"
    echo "RESULT exit=$rc"
  } >>"$DATA/$name.txt"
  grep '^mpilake: error' "$DATA/$name.stderr" | tail -n 1 >"$DATA/$name.error" || true
}
run_duckdb() {  # run_duckdb NAME [--memory-limit X --temp-directory DIR]
  local name="$1" t0 rc=0
  shift
  local script=stedi_privacy.mjs
  [ "$PIPELINE" = deloton ] && script=deloton.mjs
  warm
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$DATA/rss-$name.0" node "$ROOT/bench/duckdb/$script" --landing "$LANDING" \
    --out "$DATA/out-$name" --threads 2 "$@" >"$DATA/$name.txt" 2>"$DATA/$name.stderr" || rc=$?
  {
    echo "RESULT wall_seconds=$(awk "BEGIN{print $(date +%s.%N) - $t0}")"
    echo "RESULT peak_kb=$(grep -E '^[0-9]+$' "$DATA/rss-$name.0" | tail -n 1)"
    echo "RESULT exit=$rc"
  } >>"$DATA/$name.txt"
  # Node's own lines (the stack) surround DuckDB's error: keep the error's first line.
  { grep -m 1 -E 'Error' "$DATA/$name.stderr" || tail -n 1 "$DATA/$name.stderr"; } | sed 's/^\[//' >"$DATA/$name.error"
}

log "mpilake --pipeline $PIPELINE, $RANKS ranks, no limit"
run_mpilake unlimited off
log "mpilake --pipeline $PIPELINE, $RANKS ranks, --memory-limit ${BUDGET_MIB}M"
run_mpilake budget "${BUDGET_MIB}M"
NAMES=(unlimited budget)
if [ "$PEER" = 1 ]; then
  if command -v node >/dev/null && (cd "$ROOT/bench/duckdb" && { [ -d node_modules/@duckdb ] || npm install --silent >/dev/null 2>&1; }); then
    log "peer: DuckDB, 2 threads, no limit"
    run_duckdb duckdb_unlimited
    log "peer: DuckDB, 2 threads, memory_limit ${BUDGET_MIB}MiB"
    run_duckdb duckdb_budget --memory-limit "${BUDGET_MIB}MiB" --temp-directory "$DATA/duckdb-temp"
    rm -rf "$DATA/duckdb-temp"
    NAMES+=(duckdb_unlimited duckdb_budget)
    # DuckDB out of memory under the budget: the least of 2x, 4x, 8x the budget it finishes in, so
    # that the table still has a time to compare with (and says how much more DuckDB needed).
    if [ "$(value "$DATA/duckdb_budget.txt" exit)" != 0 ]; then
      for times in 2 4 8; do
        log "peer: DuckDB, 2 threads, memory_limit $((BUDGET_MIB * times))MiB (${times}x the budget)"
        run_duckdb "duckdb_budget_${times}x" --memory-limit "$((BUDGET_MIB * times))MiB" --temp-directory "$DATA/duckdb-temp"
        rm -rf "$DATA/duckdb-temp"
        NAMES+=("duckdb_budget_${times}x")
        if [ "$(value "$DATA/duckdb_budget_${times}x.txt" exit)" = 0 ]; then
          DUCK_LEAST="${times}"
          break
        fi
      done
    fi
  else
    echo "peer skipped: node or @duckdb/node-api not available"
  fi
fi

# 4. The table.
seconds_of() { [ "$(value "$DATA/$1.txt" exit)" = 0 ] && value "$DATA/$1.txt" wall_seconds; }
{
  echo
  printf 'Budget benchmark: %s, %.2f GB landing, budget %s MiB (%.3f of the landing), %s ranks / DuckDB 2 threads, %s cores, warm page cache, one run each\n' \
    "$PIPELINE" "$(awk "BEGIN{print $LANDING_BYTES/1e9}")" "$BUDGET_MIB" \
    "$(awk "BEGIN{print $BUDGET_MIB*1048576/$LANDING_BYTES}")" "$RANKS" "$(nproc)"
  printf '%-26s %12s %16s  %s\n' "run" "wall (s)" "peak, sum (MB)" "note"
  for name in "${NAMES[@]}"; do
    f="$DATA/$name.txt"
    if [ "$(value "$f" exit)" = 0 ]; then
      printf '%-26s %12.3f %16.1f\n' "$name" "$(value "$f" wall_seconds)" "$(awk "BEGIN{print $(value "$f" peak_kb)*1024/1e6}")"
    else
      printf '%-26s %12s %16s  exit %s: %s\n' "$name" "-" "-" "$(value "$f" exit)" "$(cut -c1-160 "$DATA/$name.error")"
    fi
  done
  budget_s=$(seconds_of budget || true)
  unlimited_s=$(seconds_of unlimited || true)
  duck_s=$(seconds_of duckdb_budget 2>/dev/null || true)
  if [ -n "$budget_s" ] && [ -n "$unlimited_s" ]; then
    printf '%-42s %8.2fx  (target <= 2x)\n' "budgeted / unlimited time (mpilake)" "$(awk "BEGIN{print $budget_s/$unlimited_s}")"
    printf '%-42s %8.2f   (the budget plus a stated overhead)\n' "summed peak / budget (mpilake)" \
      "$(awk "BEGIN{print $(value "$DATA/budget.txt" peak_kb)*1024/($BUDGET_MIB*1048576)}")"
  else
    echo "budgeted / unlimited time (mpilake): not measured (a run failed: see the notes above)"
  fi
  if [ -n "$budget_s" ] && [ -n "$duck_s" ]; then
    printf '%-42s %8.2fx  (target >= 3x)\n' "DuckDB / mpilake, same budget" "$(awk "BEGIN{print $duck_s/$budget_s}")"
  elif [ -n "$budget_s" ] && [ -n "${DUCK_LEAST:-}" ]; then
    least_s=$(seconds_of "duckdb_budget_${DUCK_LEAST}x")
    printf '%-42s %8.2fx  (DuckDB ran out of memory under the budget; target >= 3x)\n' \
      "DuckDB at ${DUCK_LEAST}x the budget / mpilake" "$(awk "BEGIN{print $least_s/$budget_s}")"
  fi
} | tee "$DATA/table.txt"

if [ "$KEEP" = 0 ]; then rm -rf "$DATA"/out-*; fi
