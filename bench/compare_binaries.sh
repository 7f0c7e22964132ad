#!/usr/bin/env bash
# Before / after of mpilake builds on the same landing data: runs every binary once per round, in
# turn (so the machine's noise falls on all of them alike), for --rounds rounds, and prints each
# one's median stage seconds (and every run's total).
#
# usage: bench/compare_binaries.sh --landing DIR [--ranks P] [--rounds N] [--rules R] LABEL=BINARY...
#   e.g. bench/compare_binaries.sh --landing /tmp/d/full base=/tmp/base/mpilake new=build-release/mpilake
set -euo pipefail
LANDING="" RANKS=2 ROUNDS=3 RULES=privacy
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
BENCH_POSITIONAL=1 bench_parse --landing=LANDING --ranks=RANKS --rounds=ROUNDS --rules=RULES -- "$@"
set -- "${BENCH_ARGS[@]}"
[ -n "$LANDING" ] && [ $# -ge 1 ] || die "give --landing DIR and at least one LABEL=BINARY"
MPIRUN=(mpirun --bind-to none)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
[ "$(nproc)" -lt "$RANKS" ] && MPIRUN+=(--oversubscribe)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mpilake-compare.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
for round in $(seq "$ROUNDS"); do
  for pair in "$@"; do
    label="${pair%%=*}" binary="${pair#*=}"
    find "$LANDING" -type f -name '*.json' -exec cat {} + >/dev/null  # warm page cache
    "${MPIRUN[@]}" -np "$RANKS" "$binary" run --landing "$LANDING" --out "$WORK/out-$label" --rules "$RULES" \
      --quiet --overwrite --results | grep '^RESULT ' >"$WORK/$label.$round"
    echo "  round $round $label: $(grep -h '^RESULT total_seconds=' "$WORK/$label.$round" | cut -d= -f2) s" >&2
  done
done
/usr/bin/python3 - "$WORK" "$ROUNDS" "$@" <<'PY'
import statistics, sys
work, rounds, pairs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
labels = [p.split("=", 1)[0] for p in pairs]
runs = {}
for label in labels:
    runs[label] = []
    for r in range(1, rounds + 1):
        values = {}
        for line in open(f"{work}/{label}.{r}"):
            key, value = line[7:].strip().split("=", 1)
            values[key] = value
        runs[label].append(values)
keys = ["total"] + [k[len("stage_"):-len("_seconds")] for k in runs[labels[0]][0]
                    if k.startswith("stage_") and k.endswith("_seconds")]
def seconds(values, key):
    return float(values["total_seconds" if key == "total" else f"stage_{key}_seconds"])
print(f"{'median s':<14}" + "".join(f"{k:>9}" for k in keys) + f"{'RSS MB':>9}   every run's total")
for label in labels:
    med = [statistics.median(seconds(v, k) for v in runs[label]) for k in keys]
    rss = statistics.median(float(v["peak_rss_bytes_max"]) for v in runs[label]) / 1e6
    totals = " ".join(f"{seconds(v, 'total'):.2f}" for v in runs[label])
    print(f"{label:<14}" + "".join(f"{m:9.3f}" for m in med) + f"{rss:9.0f}   {totals}")
PY
