#!/usr/bin/env bash
# mpilake benchmark (issues 3 and 13): builds in Release, generates >= 1 GB of landing data and
# measures, on the same files and in the same run:
#   - the floor: simdjson_floor, a simdjson-only pass that reads every file and extracts every field;
#   - mpilake (rules privacy) at 1 and 2 ranks (strong scaling), and 1 rank on half the data
#     (weak scaling: 1 rank x half the data vs 2 ranks x all of it);
#   - the peers, each with 2 threads, computing the same five zones into Parquet: DuckDB (npm
#     @duckdb/node-api), Polars (npm nodejs-polars) and chDB (npm chdb, embedded ClickHouse);
#   - Google Benchmark micro-benchmarks of the hot operations.
# It prints every run's `RESULT key=value` lines and ends with a table, the zone counts of every engine
# side by side, the ratios and the targets.
#
# usage: bench/run_bench.sh [--bytes B] [--keep] [--data DIR] [--customers N] [--seed S]
#                           [--repeat N] [--no-micro] [--no-build] [--no-scaling] [--baseline BIN]
#                           [--malloc-thp]
#   --bytes B      landing bytes of the full data set (default 2.2e9; the half set gets B/2)
#   --keep         keep the generated data and the outputs (default: delete them at the end)
#   --data DIR     where data and outputs go (default ${TMPDIR:-/tmp}/mpilake-bench); reused when it
#                  already holds data generated with the same --bytes/--customers/--seed
#   --customers N  customers in the full set (default 40000; the half set gets N/2)
#   --seed S       generator seed (default 1)
#   --repeat N     runs per configuration; the median run is reported (default 3)
#   --no-micro     skip the micro-benchmarks
#   --no-build     use build-release/ as it is
#   --no-scaling   skip the 1-rank runs (full and half set): only the 2-rank run against the peers
#   --baseline BIN also run another mpilake binary (e.g. a copy of an older build) at 2 ranks, in
#                  turn with the others, as "mpilake before" (its zone counts must match too)
#   --malloc-thp   run mpilake with GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (glibc >= 2.35: transparent
#                  huge pages for malloc's large blocks; an experiment, see bench/README.md)
# The page cache cannot be dropped without privileges, so every measurement follows a warm-up read of
# its input: all runs see a warm cache (reported as such).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-release"
BYTES=2200000000
CUSTOMERS=40000
SEED=1
REPEAT=3
KEEP=0
MICRO=1
BUILD_IT=1
SCALING=1
BASELINE=""
PEER_THREADS=2
MALLOC_THP=0
DATA="${TMPDIR:-/tmp}/mpilake-bench"

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_parse --bytes=BYTES:bytes --customers=CUSTOMERS --seed=SEED --repeat=REPEAT --data=DATA --keep=KEEP=1 \
  --no-micro=MICRO=0 --no-build=BUILD_IT=0 --no-scaling=SCALING=0 --baseline=BASELINE:path \
  --malloc-thp=MALLOC_THP=1 -- "$@"
[ "$REPEAT" -ge 1 ] 2>/dev/null || die "--repeat must be >= 1"
[ "$CUSTOMERS" -ge 2 ] 2>/dev/null || die "--customers must be >= 2"
PY="$(command -v /usr/bin/python3 || command -v python3)" || die "python3 is needed"
NPROC="$(nproc)"
log() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# 1. Build (Release) mpilake, simdjson_floor and micro_benchmarks into build-release/.
# ---------------------------------------------------------------------------------------------
MPILAKE="$BUILD/mpilake"
FLOOR="$BUILD/bench/simdjson_floor"
MICRO_BIN="$BUILD/bench/micro_benchmarks"
if [ "$BUILD_IT" = 1 ]; then
  log "build (Release) into $BUILD"
  # -UMPILAKE_ARCH: re-detect the -march this machine runs (a stale cached value can silently select
  # simdjson's scalar fallback kernel).
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DMPILAKE_BUILD_TESTS=OFF -DMPILAKE_BUILD_BENCH=ON -UMPILAKE_ARCH >/dev/null
  if grep -q 'add_subdirectory(bench)' "$ROOT/CMakeLists.txt"; then
    cmake --build "$BUILD" -j "$NPROC" --target mpilake simdjson_floor micro_benchmarks
  else
    # A top level without the MPILAKE_BUILD_BENCH hook: build bench/ through a throwaway top level
    # that adds the project and bench/ side by side.
    cmake --build "$BUILD" -j "$NPROC" --target mpilake
    SHIM="$BUILD/bench-shim"
    mkdir -p "$SHIM/src"
    cat >"$SHIM/src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(mpilake_bench_shim LANGUAGES C CXX)
set(MPILAKE_BUILD_TESTS OFF CACHE BOOL "" FORCE)
add_subdirectory("$ROOT" mpilake)
add_subdirectory("$ROOT/bench" bench)
EOF
    cmake -S "$SHIM/src" -B "$SHIM/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$SHIM/build" -j "$NPROC" --target simdjson_floor micro_benchmarks
    FLOOR="$SHIM/build/bench/simdjson_floor"
    MICRO_BIN="$SHIM/build/bench/micro_benchmarks"
  fi
  for peer in duckdb polars chdb; do
    log "npm install in bench/$peer"
    (cd "$ROOT/bench/$peer" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  done
fi
for binary in "$MPILAKE" "$FLOOR"; do [ -x "$binary" ] || die "missing $binary (run without --no-build)"; done
for module in duckdb/node_modules/@duckdb/node-api polars/node_modules/nodejs-polars chdb/node_modules/chdb; do
  [ -d "$ROOT/bench/$module" ] || die "bench/$module is not installed (run without --no-build)"
done

MPIRUN=(mpirun --bind-to none)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
[ "$NPROC" -lt 2 ] && MPIRUN+=(--oversubscribe)
MPILAKE_ENV=()
[ "$MALLOC_THP" = 1 ] && MPILAKE_ENV=(-x GLIBC_TUNABLES=glibc.malloc.hugetlb=1)
# mpilake prints RESULT lines itself with --results; older builds only write summary.json.
HAS_RESULTS=0
"$MPILAKE" run --help 2>/dev/null | grep -q -- '--results' && HAS_RESULTS=1

# ---------------------------------------------------------------------------------------------
# 2. Data: the full set and the half set (same seed, half the customers, half the bytes).
# ---------------------------------------------------------------------------------------------
HALF_BYTES=$((BYTES / 2))
HALF_CUSTOMERS=$((CUSTOMERS / 2))
FULL="$DATA/full"
HALF="$DATA/half"
OUTS="$DATA/out"
RESULTS="$DATA/results"
mkdir -p "$DATA"
cleanup() {
  if [ "$KEEP" = 0 ]; then rm -rf "$FULL" "$HALF" "$OUTS"; fi
}
trap cleanup EXIT

need=$(( (BYTES + HALF_BYTES) * 2 ))  # landing + zones written back (<= landing) + slack
have=$(df --output=avail -B1 "$DATA" | tail -1 | tr -d ' ')
existing=$(du -sb "$DATA" 2>/dev/null | cut -f1)
if [ $((have + existing)) -lt "$need" ]; then
  die "not enough space under $DATA: need about $((need / 1000000000)) GB, have $((have / 1000000000)) GB (df -h)"
fi

generate() {  # folder bytes customers
  local stamp="bytes=$2 customers=$3 seed=$SEED"
  if [ -f "$1/.bench-stamp" ] && [ "$(cat "$1/.bench-stamp")" = "$stamp" ]; then
    echo "reusing $1 ($stamp)" >&2
    return
  fi
  rm -rf "$1"
  "${MPIRUN[@]}" -np 2 "$MPILAKE" generate --out "$1" --target-bytes "$2" --customers "$3" --seed "$SEED" >&2
  echo "$stamp" >"$1/.bench-stamp"
}
log "generate landing data into $DATA (seed $SEED)"
generate "$FULL" "$BYTES" "$CUSTOMERS"
[ "$SCALING" = 1 ] && generate "$HALF" "$HALF_BYTES" "$HALF_CUSTOMERS"
rm -rf "$RESULTS" "$OUTS"
mkdir -p "$RESULTS" "$OUTS"

warm() {  # read every landing file once so the measured run sees a warm page cache
  find "$1" -type f -name '*.json' -exec cat {} + >/dev/null
}
now() { date +%s.%N; }

# ---------------------------------------------------------------------------------------------
# 3. Measurements. Each configuration runs --repeat times; the fastest run's lines are kept.
# ---------------------------------------------------------------------------------------------
# Prints RESULT lines from OUT/summary.json (the same keys as `mpilake run --results`).
summary_results() {
  "$PY" - "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1] + "/summary.json"))
out = []
line = lambda k, v: out.append(f"RESULT {k}={v}")
mb = s["landing_bytes"] / 1e6
line("rules", s["rules"]); line("ranks", s["ranks"]); line("landing_bytes", s["landing_bytes"])
line("total_seconds", f'{s["total_seconds"]:.6f}')
line("total_mb_per_s", f'{mb / s["total_seconds"] if s["total_seconds"] > 0 else 0:.6f}')
for stage, v in s["stages"].items():
    line(f"stage_{stage}_seconds", f'{v["seconds"]:.6f}')
    line(f"stage_{stage}_mb_per_s", f'{mb / v["seconds"] if v["seconds"] > 0 else 0:.6f}')
line("exchange_bytes_sent", s["exchange"]["bytes_sent"]); line("exchange_rounds", s["exchange"]["rounds"])
line("peak_rss_bytes_max", s["peak_rss_bytes_max"])
for name, v in s["sources"].items():
    line(f"source_{name}_lines", v["lines"]); line(f"source_{name}_quarantined", v["quarantined"])
for zone, v in s["zones"].items():
    line(f"zone_{zone}_rows", v["rows"])
print("\n".join(out))
PY
}

# run_best NAME SECONDS_KEY COMMAND...: runs COMMAND --repeat times (after a warm-up read of the
# input given in $INPUT), keeps the output of the median run (by SECONDS_KEY) in $RESULTS/NAME.txt with
# the command's wall time (wall_seconds, from outside: process start-up included); every run's time
# goes to $RESULTS/NAME.times. With $FRESH_OUT set, that folder (the engine's output) is removed before
# each run, outside the timing: every engine writes into a fresh folder (replacing a previous run's
# files costs the kernel the freeing of their cached pages, in proportion to the bytes written).
run_best() {
  local name="$1" key="$2"
  shift 2
  local i
  : >"$RESULTS/$name.times"
  for i in $(seq "$REPEAT"); do
    if [ -n "${FRESH_OUT:-}" ]; then rm -rf "$FRESH_OUT"; fi
    warm "$INPUT"
    local start end out="$RESULTS/$name.try"
    start=$(now)
    "$@" >"$out.stdout" 2>"$out.stderr" || { cat "$out.stderr" >&2; die "$name failed"; }
    end=$(now)
    if [ -n "${SUMMARY_OF:-}" ] && ! grep -q '^RESULT total_seconds=' "$out.stdout"; then
      summary_results "$SUMMARY_OF" >>"$out.stdout"
    fi
    grep '^RESULT ' "$out.stdout" >"$out" || true
    echo "RESULT wall_seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.6f", b - a }')" >>"$out"
    local t
    t=$(grep "^RESULT $key=" "$out" | head -1 | cut -d= -f2)
    [ -n "$t" ] || { cat "$out.stdout" "$out.stderr" >&2; die "$name printed no $key"; }
    echo "  $name run $i/$REPEAT: $key=$t" >&2
    echo "$t $i" >>"$RESULTS/$name.times"
    mv "$out" "$RESULTS/$name.run$i"
    rm -f "$out.stdout" "$out.stderr"
  done
  local median
  median=$(sort -g "$RESULTS/$name.times" | sed -n "$(( (REPEAT + 1) / 2 ))p" | cut -d' ' -f2)
  mv "$RESULTS/$name.run$median" "$RESULTS/$name.txt"
  rm -f "$RESULTS/$name".run*
  echo "RESULT run=$name"
  cat "$RESULTS/$name.txt"
}

mpilake_run() {  # name ranks landing [binary]
  local out="$OUTS/$1" binary="${4:-$MPILAKE}"
  local args=(run --landing "$3" --out "$out" --rules privacy --quiet --overwrite)
  "$binary" run --help 2>/dev/null | grep -q -- '--results' && args+=(--results)
  INPUT="$3" SUMMARY_OF="$out" FRESH_OUT="$out" run_best "$1" total_seconds \
    "${MPIRUN[@]}" ${MPILAKE_ENV[@]+"${MPILAKE_ENV[@]}"} -np "$2" "$binary" "${args[@]}"
}

log "floor: simdjson On-Demand only, one core (iterate_many per 1 MB batch; best of $REPEAT)"
INPUT="$FULL" run_best floor floor_seconds "$FLOOR" "$FULL" --mode many
log "floor variant: one simdjson iterate() per line, as mpilake parses (information)"
INPUT="$FULL" run_best floor_per_line floor_seconds "$FLOOR" "$FULL" --mode lines
if [ "$SCALING" = 1 ]; then
  log "mpilake, 1 rank, full data"
  mpilake_run mpilake_np1 1 "$FULL"
fi
if [ -n "$BASELINE" ]; then
  log "mpilake before ($BASELINE), 2 ranks, full data"
  mpilake_run mpilake_base_np2 2 "$FULL" "$BASELINE"
fi
log "mpilake, 2 ranks, full data"
mpilake_run mpilake_np2 2 "$FULL"
if [ "$SCALING" = 1 ]; then
  log "mpilake, 1 rank, half data (weak scaling)"
  mpilake_run mpilake_np1_half 1 "$HALF"
fi
log "DuckDB $(node -p "require('$ROOT/bench/duckdb/node_modules/@duckdb/node-api/package.json').version"), $PEER_THREADS threads"
INPUT="$FULL" FRESH_OUT="$OUTS/duckdb" run_best duckdb duckdb_total_seconds node "$ROOT/bench/duckdb/stedi_privacy.mjs" --landing "$FULL" --out "$OUTS/duckdb" --threads "$PEER_THREADS"
log "Polars $(node -p "require('$ROOT/bench/polars/node_modules/nodejs-polars/package.json').version"), $PEER_THREADS threads"
INPUT="$FULL" FRESH_OUT="$OUTS/polars" run_best polars polars_total_seconds node "$ROOT/bench/polars/stedi_privacy.mjs" --landing "$FULL" --out "$OUTS/polars" --threads "$PEER_THREADS"
log "chDB $(node -p "require('$ROOT/bench/chdb/node_modules/chdb/package.json').version"), $PEER_THREADS threads"
INPUT="$FULL" FRESH_OUT="$OUTS/chdb" run_best chdb chdb_total_seconds node "$ROOT/bench/chdb/stedi_privacy.mjs" --landing "$FULL" --out "$OUTS/chdb" --threads "$PEER_THREADS"
du -sh "$OUTS"/* >&2 || true

if [ "$MICRO" = 1 ] && [ -x "$MICRO_BIN" ]; then
  log "micro-benchmarks (Google Benchmark)"
  "$MICRO_BIN" --benchmark_min_time=0.5 2>&1 | grep -v "Library was built as DEBUG"
fi

# ---------------------------------------------------------------------------------------------
# 4. Table, ratios and targets.
# ---------------------------------------------------------------------------------------------
log "summary"
"$PY" - "$RESULTS" "$REPEAT" "$NPROC" "$SEED" "$CUSTOMERS" "$MALLOC_THP" <<'PY'
import os, sys

results, repeat, nproc, seed, customers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
malloc_thp = sys.argv[6] == "1"

def load(name):
    values = {}
    path = os.path.join(results, name + ".txt")
    if not os.path.exists(path):
        return None
    for line in open(path):
        if line.startswith("RESULT ") and "=" in line:
            key, value = line[7:].rstrip("\n").split("=", 1)
            values.setdefault(key, value)
    return values

def times(name):  # every run's time, in run order
    path = os.path.join(results, name + ".times")
    return [float(l.split()[0]) for l in open(path)] if os.path.exists(path) else []

floor, floor_lines = load("floor"), load("floor_per_line")
np1, np2, half = load("mpilake_np1"), load("mpilake_np2"), load("mpilake_np1_half")
base2 = load("mpilake_base_np2")
PEERS = [("duckdb", "DuckDB"), ("polars", "Polars"), ("chdb", "chDB")]
peers = {key: load(key) for key, _ in PEERS}
f = lambda d, k: float(d[k])
MB = 1e6
full_bytes = f(np2, "landing_bytes")
# The stages mpilake reports (split, parse, shuffle, join, sort, write), in order.
STAGES = [k[len("stage_"):-len("_seconds")] for k in np2 if k.startswith("stage_") and k.endswith("_seconds")]
out = []
p = out.append

p(f"landing: {full_bytes / MB:,.1f} MB, seed {seed}, {customers} customers; {nproc} cores; warm page cache; "
  f"median of {repeat} runs each (all runs' times below)"
  + ("; mpilake with GLIBC_TUNABLES=glibc.malloc.hugetlb=1" if malloc_thp else ""))
p(f"floor: simdjson On-Demand, kernel {floor.get('floor_kernel', '?')}, one core; peers: "
  + ", ".join(f"{label} {peers[key].get(key + '_version', '?')} ({peers[key].get(key + '_threads', '?')} threads)"
              for key, label in PEERS))
p("")
hdr = f"{'run':<22} {'engine s':>9} {'wall s':>8} {'MB/s':>8} " + " ".join(f"{s:>8}" for s in STAGES) + \
      f" {'exch MB':>8} {'RSS/rank MB':>11} {'land/rank MB':>12} {'RSS/land':>8}"
p(hdr)
p("-" * len(hdr))
def engine_row(label, d, ranks):
    total = f(d, "total_seconds")
    landing = f(d, "landing_bytes")
    stages = " ".join(f"{float(d.get(f'stage_{s}_seconds', 'nan')):8.3f}" for s in STAGES)
    rss = f(d, "peak_rss_bytes_max")
    per_rank = landing / ranks
    p(f"{label:<22} {total:9.3f} {f(d, 'wall_seconds'):8.3f} {landing / MB / total:8.1f} {stages} "
      f"{f(d, 'exchange_bytes_sent') / MB:8.1f} {rss / MB:11.1f} {per_rank / MB:12.1f} {rss / per_rank:8.2f}")
    p(f"{'':<22} {'':>9} {'':>8} {'  MB/s:':>8} " +
      " ".join(f"{landing / MB / float(d.get(f'stage_{s}_seconds', 'nan')) if float(d.get(f'stage_{s}_seconds', 0)) > 0 else 0:8.0f}"
               for s in STAGES))
for label, d, ranks in (("mpilake before, 2 ranks", base2, 2), ("mpilake 1 rank", np1, 1), ("mpilake 2 ranks", np2, 2),
                        ("mpilake 1 rank, half", half, 1)):
    if d is not None:
        engine_row(label, d, ranks)
for key, label in PEERS:
    d = peers[key]
    t = f(d, f"{key}_total_seconds")
    p(f"{label + ' (' + d.get(key + '_threads', '?') + ' threads)':<22} {t:9.3f} {f(d, 'wall_seconds'):8.3f} "
      f"{f(d, key + '_landing_bytes') / MB / t:8.1f}   load {f(d, key + '_load_seconds'):.3f} s, "
      f"zones {f(d, key + '_zones_seconds'):.3f} s, parquet {f(d, key + '_write_seconds'):.3f} s; "
      f"peak RSS {f(d, key + '_peak_rss_bytes') / MB:,.0f} MB")
for label, d in (("floor (iterate_many)", floor), ("floor (per line)", floor_lines)):
    p(f"{label:<22} {f(d, 'floor_seconds'):9.3f} {f(d, 'wall_seconds'):8.3f} {f(d, 'floor_mb_per_s'):8.1f}   "
      f"(read {f(d, 'floor_read_seconds'):.3f} s of it; {int(d['floor_lines']):,} lines, "
      f"{int(d['floor_failed_lines'])} failed; per source MB/s: customer {f(d, 'floor_customer_mb_per_s'):.0f}, "
      f"accelerometer {f(d, 'floor_accelerometer_mb_per_s'):.0f}, step_trainer {f(d, 'floor_step_trainer_mb_per_s'):.0f})")
p("  engine s: the program's own clock (mpilake: slowest rank, MPI_Init to summary; peers: script start "
  "to last Parquet file); wall s: the whole command from outside (mpirun / node start-up included).")
p("  stage columns: seconds (slowest rank), MB/s of all landing bytes below; RSS/rank: largest rank's peak.")
p("  every run's seconds (noise): " + "; ".join(
    f"{name} " + " ".join(f"{t:.2f}" for t in times(name))
    for name in ("mpilake_base_np2", "mpilake_np1", "mpilake_np2", "mpilake_np1_half", "duckdb", "polars", "chdb",
                 "floor") if times(name)))

# Zone row counts: every engine against mpilake (the same data, the same rules).
p("")
zones = ["customer_trusted", "accelerometer_trusted", "customer_curated", "step_trainer_trusted",
         "machine_learning_curated"]
mismatch = False
columns = [("before 2", base2, "zone_{}_rows"), ("mpilake 1", np1, "zone_{}_rows"), ("mpilake 2", np2, "zone_{}_rows")] + \
          [(label, peers[key], key + "_zone_{}_rows") for key, label in PEERS]
columns = [c for c in columns if c[1] is not None]
p(f"{'zone':<26} " + " ".join(f"{label:>12}" for label, _, _ in columns))
for z in zones:
    counts = [d.get(pattern.format(z)) for _, d, pattern in columns]
    ok = counts[0] is not None and all(c == counts[0] for c in counts)
    mismatch |= not ok
    p(f"{z:<26} " + " ".join(f"{int(c or -1):>12,}" for c in counts) + f"  {'match' if ok else 'MISMATCH'}")

# Ratios and targets (issue 13), then the older ones for information.
t2, w2 = f(np2, "total_seconds"), f(np2, "wall_seconds")
peer_times = {label: f(peers[key], f"{key}_total_seconds") for key, label in PEERS}
peer_walls = {label: f(peers[key], "wall_seconds") for key, label in PEERS}
fastest = min(peer_times, key=peer_times.get)
fastest_wall = min(peer_walls, key=peer_walls.get)
floor_mbs = f(floor, "floor_mb_per_s")
parse_rank2 = full_bytes / 2 / MB / f(np2, "stage_parse_seconds")
join_share = f(np2, "stage_join_seconds") / t2
rss2 = f(np2, "peak_rss_bytes_max") / (full_bytes / 2)
rows = [
    (f"fastest peer ({fastest}) / mpilake 2 ranks (engine)", peer_times[fastest] / t2, ">= 3.0x",
     peer_times[fastest] / t2 >= 3.0, "x"),
    (f"fastest peer ({fastest_wall}) / mpilake 2 ranks (wall)", peer_walls[fastest_wall] / w2, ">= 3.0x",
     peer_walls[fastest_wall] / w2 >= 3.0, "x"),
]
rows += [(f"{label} / mpilake 2 ranks (engine)", peer_times[label] / t2, "(info)", None, "x") for _, label in PEERS]
rows += [
    ("parse MB/s per rank / floor MB/s, 2 ranks", parse_rank2 / floor_mbs, ">= 80%", parse_rank2 / floor_mbs >= 0.8, "%"),
    ("join seconds / engine seconds, 2 ranks", join_share, "<= 15%", join_share <= 0.15, "%"),
    ("peak RSS / landing bytes per rank, 2 ranks", rss2, "<= 0.90", rss2 <= 0.905, ""),
    ("parse per rank / per-line floor, 2 ranks", parse_rank2 / f(floor_lines, "floor_mb_per_s"), "(info)", None, "%"),
    ("mpilake 2-rank time / floor time", t2 / f(floor, "floor_seconds"), "(info)", None, "x"),
]
if base2 is not None:
    rows.insert(0, ("mpilake before / mpilake now, 2 ranks (engine)", f(base2, "total_seconds") / t2, "(info)", None, "x"))
    rows.insert(1, (f"fastest peer ({fastest}) / mpilake before, 2 ranks (engine)",
                    peer_times[fastest] / f(base2, "total_seconds"), "(info)", None, "x"))
extra = {}
if np1 is not None and half is not None:
    t1, th = f(np1, "total_seconds"), f(half, "total_seconds")
    half_bytes = f(half, "landing_bytes")
    parse_rank1 = full_bytes / MB / f(np1, "stage_parse_seconds")
    extra = {"strong_scaling_speedup": t1 / t2, "weak_scaling_efficiency": (full_bytes / 2 / t2) / (half_bytes / th),
             "ratio_parse_per_rank_over_floor_np1": parse_rank1 / floor_mbs,
             "peak_rss_over_landing_per_rank_np1": f(np1, "peak_rss_bytes_max") / full_bytes}
    rows += [
        ("parse MB/s per rank / floor MB/s, 1 rank", parse_rank1 / floor_mbs, "(info)", None, "%"),
        ("strong scaling: 1-rank / 2-rank time", t1 / t2, "(info)", None, "x"),
        ("weak scaling: per-rank MB/s, 2 ranks x full / 1 x half", extra["weak_scaling_efficiency"], "(info)", None, "%"),
    ]
p("")
p(f"{'ratio':<56} {'value':>9}  {'target':<8} verdict")
for label, value, target, met, unit in rows:
    text = f"{value * 100:8.0f}%" if unit == "%" else f"{value:8.2f}{unit}"
    verdict = "" if met is None else ("met" if met else "MISSED")
    p(f"{label:<56} {text:>9}  {target:<8} {verdict}")
p(f"  per-rank parse MB/s at 2 ranks: {parse_rank2:.0f}; floor {floor_mbs:.0f} MB/s "
  f"(per-line floor {f(floor_lines, 'floor_mb_per_s'):.0f} MB/s)")
figures = {"ratio_fastest_peer_over_mpilake_np2": peer_times[fastest] / t2,
           **{f"ratio_{key}_over_mpilake_np2": peer_times[label] / t2 for key, label in PEERS},
           "ratio_parse_per_rank_over_floor_np2": parse_rank2 / floor_mbs,
           "join_share_np2": join_share, "peak_rss_over_landing_per_rank_np2": rss2, **extra}
for label, value in figures.items():
    p(f"RESULT {label}={value:.4f}")
p(f"RESULT fastest_peer={fastest}")
p(f"RESULT zone_counts_match={0 if mismatch else 1}")
print("\n".join(out))
sys.exit(1 if mismatch else 0)
PY
