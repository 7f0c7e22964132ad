#!/usr/bin/env bash
# mpilake benchmark (issue 3): builds in Release, generates >= 2 GB of landing data and measures, on
# the same files and in the same run:
#   - the floor: simdjson_floor, a simdjson-only pass that reads every file and extracts every field;
#   - mpilake (rules privacy) at 1 and 2 ranks (strong scaling), and 1 rank on half the data
#     (weak scaling: 1 rank x half the data vs 2 ranks x all of it);
#   - the peer: DuckDB (npm @duckdb/node-api) computing the same five zones into Parquet;
#   - Google Benchmark micro-benchmarks of the parser and of partition + serialise.
# It prints every run's `RESULT key=value` lines and ends with a table, the ratios and the targets.
#
# usage: bench/run_bench.sh [--bytes B] [--keep] [--data DIR] [--customers N] [--seed S]
#                           [--repeat N] [--no-micro] [--no-build] [--malloc-thp]
#   --bytes B      landing bytes of the full data set (default 2.2e9; the half set gets B/2)
#   --keep         keep the generated data and the outputs (default: delete them at the end)
#   --data DIR     where data and outputs go (default ${TMPDIR:-/tmp}/mpilake-bench); reused when it
#                  already holds data generated with the same --bytes/--customers/--seed
#   --customers N  customers in the full set (default 40000; the half set gets N/2)
#   --seed S       generator seed (default 1)
#   --repeat N     runs per configuration; the fastest is reported (default 3)
#   --no-micro     skip the micro-benchmarks
#   --no-build     use build-release/ as it is
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
MALLOC_THP=0
DATA="${TMPDIR:-/tmp}/mpilake-bench"

die() { echo "run_bench.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --bytes) BYTES="$(printf '%.0f' "${2:?}")"; shift 2 ;;
    --customers) CUSTOMERS="${2:?}"; shift 2 ;;
    --seed) SEED="${2:?}"; shift 2 ;;
    --repeat) REPEAT="${2:?}"; shift 2 ;;
    --data) DATA="${2:?}"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --no-micro) MICRO=0; shift ;;
    --no-build) BUILD_IT=0; shift ;;
    --malloc-thp) MALLOC_THP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
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
  log "npm install (DuckDB) in bench/duckdb"
  (cd "$ROOT/bench/duckdb" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
fi
for binary in "$MPILAKE" "$FLOOR"; do [ -x "$binary" ] || die "missing $binary (run without --no-build)"; done
[ -d "$ROOT/bench/duckdb/node_modules/@duckdb/node-api" ] || die "DuckDB not installed (run without --no-build)"

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
generate "$HALF" "$HALF_BYTES" "$HALF_CUSTOMERS"
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
# input given in $INPUT), keeps the output of the fastest run in $RESULTS/NAME.txt with the
# command's wall time (wall_seconds, from outside: process start-up included).
run_best() {
  local name="$1" key="$2"
  shift 2
  local best="" i
  for i in $(seq "$REPEAT"); do
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
    if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then
      best="$t"
      mv "$out" "$RESULTS/$name.txt"
    fi
    rm -f "$out" "$out.stdout" "$out.stderr"
  done
  echo "RESULT run=$name"
  cat "$RESULTS/$name.txt"
}

mpilake_run() {  # name ranks landing
  local out="$OUTS/$1"
  local args=(run --landing "$3" --out "$out" --rules privacy --quiet --overwrite)
  [ "$HAS_RESULTS" = 1 ] && args+=(--results)
  INPUT="$3" SUMMARY_OF="$out" run_best "$1" total_seconds \
    "${MPIRUN[@]}" ${MPILAKE_ENV[@]+"${MPILAKE_ENV[@]}"} -np "$2" "$MPILAKE" "${args[@]}"
}

log "floor: simdjson On-Demand only, one core (iterate_many per 1 MB batch; best of $REPEAT)"
INPUT="$FULL" run_best floor floor_seconds "$FLOOR" "$FULL" --mode many
log "floor variant: one simdjson iterate() per line, as mpilake parses (information)"
INPUT="$FULL" run_best floor_per_line floor_seconds "$FLOOR" "$FULL" --mode lines
log "mpilake, 1 rank, full data"
mpilake_run mpilake_np1 1 "$FULL"
log "mpilake, 2 ranks, full data"
mpilake_run mpilake_np2 2 "$FULL"
log "mpilake, 1 rank, half data (weak scaling)"
mpilake_run mpilake_np1_half 1 "$HALF"
log "DuckDB $(node -p "require('$ROOT/bench/duckdb/node_modules/@duckdb/node-api/package.json').version"), default threads"
INPUT="$FULL" run_best duckdb duckdb_total_seconds node "$ROOT/bench/duckdb/stedi_privacy.mjs" --landing "$FULL" --out "$OUTS/duckdb"
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
    for line in open(os.path.join(results, name + ".txt")):
        if line.startswith("RESULT ") and "=" in line:
            key, value = line[7:].rstrip("\n").split("=", 1)
            values.setdefault(key, value)
    return values

floor, floor_lines = load("floor"), load("floor_per_line")
np1, np2, half, duck = load("mpilake_np1"), load("mpilake_np2"), load("mpilake_np1_half"), load("duckdb")
f = lambda d, k: float(d[k])
MB = 1e6
full_bytes, half_bytes = f(np2, "landing_bytes"), f(half, "landing_bytes")
# The stages mpilake reports (split, parse, shuffle, join, write; newer builds add e.g. sort), in order.
STAGES = [k[len("stage_"):-len("_seconds")] for k in np2 if k.startswith("stage_") and k.endswith("_seconds")]
out = []
p = out.append

p(f"landing: {full_bytes / MB:,.1f} MB (half set {half_bytes / MB:,.1f} MB), seed {seed}, {customers} customers; "
  f"{nproc} cores; warm page cache; fastest of {repeat} runs each"
  + ("; mpilake with GLIBC_TUNABLES=glibc.malloc.hugetlb=1" if malloc_thp else ""))
p(f"floor: simdjson On-Demand, kernel {floor.get('floor_kernel', '?')}, one core; "
  f"DuckDB {duck.get('duckdb_version', '?')}, threads={duck.get('duckdb_threads', '?')}")
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
engine_row("mpilake 1 rank", np1, 1)
engine_row("mpilake 2 ranks", np2, 2)
engine_row("mpilake 1 rank, half", half, 1)
dt = f(duck, "duckdb_total_seconds")
p(f"{'DuckDB (' + duck.get('duckdb_threads', '?') + ' threads)':<22} {dt:9.3f} {f(duck, 'wall_seconds'):8.3f} "
  f"{f(duck, 'duckdb_landing_bytes') / MB / dt:8.1f}   load {f(duck, 'duckdb_load_seconds'):.3f} s, "
  f"zones {f(duck, 'duckdb_zones_seconds'):.3f} s, parquet {f(duck, 'duckdb_write_seconds'):.3f} s; "
  f"peak RSS {f(duck, 'duckdb_peak_rss_bytes') / MB:,.0f} MB")
for label, d in (("floor (iterate_many)", floor), ("floor (per line)", floor_lines)):
    p(f"{label:<22} {f(d, 'floor_seconds'):9.3f} {f(d, 'wall_seconds'):8.3f} {f(d, 'floor_mb_per_s'):8.1f}   "
      f"(read {f(d, 'floor_read_seconds'):.3f} s of it; {int(d['floor_lines']):,} lines, "
      f"{int(d['floor_failed_lines'])} failed; per source MB/s: customer {f(d, 'floor_customer_mb_per_s'):.0f}, "
      f"accelerometer {f(d, 'floor_accelerometer_mb_per_s'):.0f}, step_trainer {f(d, 'floor_step_trainer_mb_per_s'):.0f})")
p("  engine s: the program's own clock (mpilake: slowest rank, MPI_Init to summary; DuckDB: script start "
  "to last Parquet file); wall s: the whole command from outside (mpirun / node start-up included).")
p("  stage columns: seconds (slowest rank), MB/s of all landing bytes below; RSS/rank: largest rank's peak.")

# Zone row counts: DuckDB against mpilake (the same data, the same rules).
p("")
zones = ["customer_trusted", "accelerometer_trusted", "customer_curated", "step_trainer_trusted",
         "machine_learning_curated"]
mismatch = False
p(f"{'zone':<26} {'mpilake 1':>12} {'mpilake 2':>12} {'DuckDB':>12}")
for z in zones:
    a, b, c = np1.get(f"zone_{z}_rows"), np2.get(f"zone_{z}_rows"), duck.get(f"duckdb_zone_{z}_rows")
    ok = a == b == c and a is not None
    mismatch |= not ok
    p(f"{z:<26} {int(a or -1):>12,} {int(b or -1):>12,} {int(c or -1):>12,}  {'match' if ok else 'MISMATCH'}")

# Ratios and targets.
t1, t2, th = f(np1, "total_seconds"), f(np2, "total_seconds"), f(half, "total_seconds")
w2 = f(np2, "wall_seconds")
floor_mbs = f(floor, "floor_mb_per_s")
parse_rank1 = full_bytes / MB / f(np1, "stage_parse_seconds")
parse_rank2 = full_bytes / 2 / MB / f(np2, "stage_parse_seconds")
speedup = t1 / t2
weak = (full_bytes / 2 / t2) / (half_bytes / th)  # per-rank throughput at 2 ranks over that at 1 rank
rss1 = f(np1, "peak_rss_bytes_max") / full_bytes
rss2 = f(np2, "peak_rss_bytes_max") / (full_bytes / 2)
rows = [
    ("DuckDB time / mpilake 2-rank time (engine)", dt / t2, ">= 5.0x", dt / t2 >= 5.0, "x"),
    ("DuckDB time / mpilake 2-rank time (wall)", f(duck, "wall_seconds") / w2, ">= 5.0x",
     f(duck, "wall_seconds") / w2 >= 5.0, "x"),
    ("DuckDB time / mpilake 1-rank time (engine)", dt / t1, "(info)", None, "x"),
    ("parse MB/s per rank / floor MB/s, 1 rank", parse_rank1 / floor_mbs, ">= 60%", parse_rank1 / floor_mbs >= 0.6, "%"),
    ("parse MB/s per rank / floor MB/s, 2 ranks", parse_rank2 / floor_mbs, ">= 60%", parse_rank2 / floor_mbs >= 0.6, "%"),
    ("parse per rank / per-line floor, 1 rank", parse_rank1 / f(floor_lines, "floor_mb_per_s"), "(info)", None, "%"),
    ("mpilake 1-rank time / floor time", t1 / f(floor, "floor_seconds"), "(info)", None, "x"),
    ("mpilake 2-rank time / floor time", t2 / f(floor, "floor_seconds"), "(info)", None, "x"),
    ("strong scaling: 1-rank / 2-rank time", speedup, ">= 1.8x", speedup >= 1.8, "x"),
    ("weak scaling: per-rank MB/s, 2 ranks x full / 1 x half", weak, ">= 90%", weak >= 0.9, "%"),
    ("peak RSS / landing bytes per rank, 1 rank", rss1, "<= 2.0", rss1 <= 2.0, ""),
    ("peak RSS / landing bytes per rank, 2 ranks", rss2, "<= 2.0", rss2 <= 2.0, ""),
]
p("")
p(f"{'ratio':<56} {'value':>9}  {'target':<8} verdict")
for label, value, target, met, unit in rows:
    text = f"{value * 100:8.0f}%" if unit == "%" else f"{value:8.2f}{unit}"
    verdict = "" if met is None else ("met" if met else "MISSED")
    p(f"{label:<56} {text:>9}  {target:<8} {verdict}")
p(f"  per-rank parse MB/s: {parse_rank1:.0f} (1 rank), {parse_rank2:.0f} (2 ranks); floor {floor_mbs:.0f} MB/s "
  f"(per-line floor {f(floor_lines, 'floor_mb_per_s'):.0f} MB/s)")
for label, value in (("ratio_duckdb_over_mpilake_np2", dt / t2), ("ratio_duckdb_over_mpilake_np1", dt / t1),
                     ("ratio_mpilake_np1_over_floor", t1 / f(floor, "floor_seconds")),
                     ("ratio_mpilake_np2_over_floor", t2 / f(floor, "floor_seconds")),
                     ("ratio_parse_per_rank_over_floor_np1", parse_rank1 / floor_mbs),
                     ("ratio_parse_per_rank_over_floor_np2", parse_rank2 / floor_mbs),
                     ("strong_scaling_speedup", speedup), ("weak_scaling_efficiency", weak),
                     ("peak_rss_over_landing_per_rank_np1", rss1), ("peak_rss_over_landing_per_rank_np2", rss2),
                     ("zone_counts_match", 0 if mismatch else 1)):
    p(f"RESULT {label}={value:.4f}" if isinstance(value, float) else f"RESULT {label}={value}")
print("\n".join(out))
sys.exit(1 if mismatch else 0)
PY
