#!/usr/bin/env bash
# Deloton benchmark (issue 10): builds in Release, generates >= 2 GB of Deloton landing data and
# measures, on the same files and in the same run:
#   - the floor: simdjson_floor --pipeline deloton, a simdjson-only pass that reads every file and
#     extracts every record's log string (one core);
#   - mpilake run --pipeline deloton at 1 and 2 ranks: MB/s per stage, bytes exchanged, peak memory
#     per rank;
#   - the peer: DuckDB (npm @duckdb/node-api, bench/duckdb/deloton.mjs) computing the same five zones
#     with regular expressions and window functions into Parquet, with 2 threads; its zone row counts
#     are checked equal to mpilake's.
# It prints every run's `RESULT key=value` lines and ends with a table, the ratios and the targets:
#   end to end at 2 ranks >= 3x the peer; parse >= 60 % of the floor per rank; peak memory per rank
#   <= 2x the landing bytes per rank.
#
# usage: bench/deloton_bench.sh [--bytes B] [--bikes N] [--streams P] [--seed S] [--repeat N]
#                               [--data DIR] [--keep] [--no-build] [--no-peer]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-release"
BYTES=2200000000
BIKES=400
STREAMS=4
SEED=1
REPEAT=3
KEEP=0
BUILD_IT=1
PEER=1
DATA="${TMPDIR:-/tmp}/mpilake-deloton-bench"

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_parse --bytes=BYTES:bytes --bikes=BIKES --streams=STREAMS --seed=SEED --repeat=REPEAT --data=DATA \
  --keep=KEEP=1 --no-build=BUILD_IT=0 --no-peer=PEER=0 -- "$@"
[ "$REPEAT" -ge 1 ] 2>/dev/null || die "--repeat must be >= 1"
log() { printf '\n== %s\n' "$*" >&2; }
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)

# 1. Build.
MPILAKE="$BUILD/mpilake"
FLOOR="$BUILD/bench/simdjson_floor"
if [ "$BUILD_IT" = 1 ]; then
  log "build (Release) into $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DMPILAKE_BUILD_TESTS=OFF -DMPILAKE_BUILD_BENCH=ON -UMPILAKE_ARCH >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target mpilake simdjson_floor
fi

# 2. Data (reused when the same options made it).
LANDING="$DATA/landing"
STAMP="$DATA/landing.options"
OPTIONS="--bikes $BIKES --streams $STREAMS --seed $SEED --target-bytes $BYTES"
mkdir -p "$DATA"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$OPTIONS" ]; then
  log "generate $OPTIONS"
  rm -rf "$LANDING" "$STAMP"
  # shellcheck disable=SC2086
  "${MPIRUN[@]}" -np 2 "$MPILAKE" generate --pipeline deloton --out "$LANDING" $OPTIONS
  echo "$OPTIONS" >"$STAMP"
fi
LANDING_BYTES=$(du -sb --apparent-size "$LANDING/deloton" | cut -f1)
warm() { find "$LANDING/deloton" -type f -exec cat {} + >/dev/null; }

results() { grep '^RESULT ' "$1" | sed 's/^RESULT //'; }
value() { sed -n "s/^RESULT $2=//p" "$1" | head -n 1; }

# 3. The floor.
log "floor: simdjson only, one core"
warm
"$FLOOR" "$LANDING" --pipeline deloton --repeat "$REPEAT" >"$DATA/floor.txt"
results "$DATA/floor.txt"

# 4. mpilake at 1 and 2 ranks, the fastest of --repeat runs each.
best_run() {  # best_run RANKS -> $DATA/mpilake-RANKS.txt holds the fastest run's RESULT lines
  local ranks="$1" best="" i t
  for i in $(seq "$REPEAT"); do
    warm
    local t0; t0=$(date +%s.%N)
    "${MPIRUN[@]}" -np "$ranks" "$MPILAKE" run --pipeline deloton --landing "$LANDING" --out "$DATA/out-$ranks" \
      --overwrite --quiet --results >"$DATA/run.txt"
    echo "RESULT command_seconds=$(awk "BEGIN{print $(date +%s.%N) - $t0}")" >>"$DATA/run.txt"
    t=$(value "$DATA/run.txt" total_seconds)
    if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; cp "$DATA/run.txt" "$DATA/mpilake-$ranks.txt"; fi
  done
}
for ranks in 1 2; do
  log "mpilake --pipeline deloton at $ranks rank(s)"
  best_run "$ranks"
  results "$DATA/mpilake-$ranks.txt" | grep -E 'seconds|mb_per_s|exchange|peak|zone_'
done

# 5. The peer.
PEER_SECONDS=""
if [ "$PEER" = 1 ]; then
  if command -v node >/dev/null && (cd "$ROOT/bench/duckdb" && { [ -d node_modules/@duckdb ] || npm install --silent >/dev/null 2>&1; }); then
    log "peer: DuckDB, 2 threads"
    warm
    t0=$(date +%s.%N)
    node "$ROOT/bench/duckdb/deloton.mjs" --landing "$LANDING" --out "$DATA/duckdb" --threads 2 >"$DATA/duckdb.txt"
    PEER_COMMAND=$(awk "BEGIN{print $(date +%s.%N) - $t0}")
    results "$DATA/duckdb.txt"
    PEER_SECONDS=$(value "$DATA/duckdb.txt" duckdb_seconds)
    for zone in riders rides readings heart_rate_alerts daily; do
      ours=$(value "$DATA/mpilake-2.txt" "zone_${zone}_rows")
      theirs=$(value "$DATA/duckdb.txt" "duckdb_zone_${zone}_rows")
      if [ "$ours" = "$theirs" ]; then echo "counts equal: $zone $ours"; else echo "COUNTS DIFFER: $zone mpilake=$ours duckdb=$theirs"; fi
    done
  else
    echo "peer skipped: node or @duckdb/node-api not available"
  fi
fi

# 6. The table.
F="$DATA/floor.txt"; M1="$DATA/mpilake-1.txt"; M2="$DATA/mpilake-2.txt"
FLOOR_MBS=$(value "$F" floor_mb_per_s)
{
  echo
  printf 'Deloton benchmark: %.2f GB landing (%s), %s, warm page cache, best of %s\n' \
    "$(awk "BEGIN{print $LANDING_BYTES/1e9}")" "$OPTIONS" "$(nproc) cores" "$REPEAT"
  printf '%-34s %10s %10s\n' "" "1 rank" "2 ranks"
  for stage in split parse rides ids build write; do
    printf '%-34s %10.3f %10.3f\n' "stage $stage (s)" "$(value "$M1" stage_${stage}_seconds)" "$(value "$M2" stage_${stage}_seconds)"
  done
  printf '%-34s %10.3f %10.3f\n' "total (s)" "$(value "$M1" total_seconds)" "$(value "$M2" total_seconds)"
  printf '%-34s %10.1f %10.1f\n' "total MB/s" "$(value "$M1" total_mb_per_s)" "$(value "$M2" total_mb_per_s)"
  p1=$(awk "BEGIN{print $(value "$M1" landing_bytes)/1e6/$(value "$M1" stage_parse_seconds)}")
  p2=$(awk "BEGIN{print $(value "$M2" landing_bytes)/1e6/$(value "$M2" stage_parse_seconds)/2}")
  printf '%-34s %10.1f %10.1f\n' "parse MB/s per rank" "$p1" "$p2"
  printf '%-34s %10.1f\n' "floor MB/s (simdjson only, 1 core)" "$FLOOR_MBS"
  printf '%-34s %9.0f%% %9.0f%%   (target >= 80%%)\n' "parse per rank / floor" \
    "$(awk "BEGIN{print 100*$p1/$FLOOR_MBS}")" "$(awk "BEGIN{print 100*$p2/$FLOOR_MBS}")"
  printf '%-34s %10.1f %10.1f\n' "exchanged MB" "$(awk "BEGIN{print $(value "$M1" exchange_bytes_sent)/1e6}")" \
    "$(awk "BEGIN{print $(value "$M2" exchange_bytes_sent)/1e6}")"
  printf '%-34s %10.2f %10.2f   (target <= 2)\n' "peak memory per rank / landing" \
    "$(awk "BEGIN{print $(value "$M1" peak_rss_bytes_max)/$LANDING_BYTES}")" \
    "$(awk "BEGIN{print $(value "$M2" peak_rss_bytes_max)/($LANDING_BYTES/2)}")"
  if [ -n "$PEER_SECONDS" ]; then
    printf '%-34s %10.3f   (2 threads)\n' "DuckDB (s)" "$PEER_SECONDS"
    printf '%-34s %10.2fx  (target >= 12x)\n' "engine clock, 2 ranks vs DuckDB" \
      "$(awk "BEGIN{print $PEER_SECONDS/$(value "$M2" total_seconds)}")"
    printf '%-34s %10.3f %10.3f   (DuckDB %.3f)\n' "whole command (s)" "$(value "$M1" command_seconds)" \
      "$(value "$M2" command_seconds)" "$PEER_COMMAND"
    printf '%-34s %10.2fx  (target >= 10x)\n' "whole command, 2 ranks vs DuckDB" \
      "$(awk "BEGIN{print $PEER_COMMAND/$(value "$M2" command_seconds)}")"
  fi
} | tee "$DATA/table.txt"

if [ "$KEEP" = 0 ]; then rm -rf "$DATA/out-1" "$DATA/out-2" "$DATA/duckdb"; fi
