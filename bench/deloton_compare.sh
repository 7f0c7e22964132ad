#!/usr/bin/env bash
# Deloton twin of `compare_runs.py --matrix`: runs two mpilake binaries on the same Deloton landings
# (the real samples in ../shared/data/deloton/landing when present, and a generated fleet with 2 % bad
# lines and re-sent lines) at 1, 2, 3 and 4 ranks and proves every pair of output folders equal with
# compare_runs.py (every .h5 dataset's bytes and attributes but created_utc, quarantine.jsonl).
#
# usage: bench/deloton_compare.sh BASE_BINARY NEW_BINARY WORK_DIR [--bikes N] [--target-bytes B]
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bench/deloton_compare.sh BASE_BINARY NEW_BINARY WORK_DIR [--bikes N] [--target-bytes B]" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$1" NEW="$2" WORK="$3"
shift 3
BIKES=24 BYTES=40000000
while [ $# -gt 0 ]; do
  case "$1" in
    --bikes) BIKES="$2"; shift 2 ;;
    --target-bytes) BYTES="$2"; shift 2 ;;
    *) echo "deloton_compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
mkdir -p "$WORK"
landings=()
SAMPLES="$ROOT/../shared/data/deloton/landing"
if [ -d "$SAMPLES" ]; then  # the samples are flat files: a landing whose deloton/ is their folder
  mkdir -p "$WORK/samples"
  ln -sfn "$(cd "$SAMPLES" && pwd)" "$WORK/samples/deloton"
  landings+=("$WORK/samples")
fi
if [ ! -d "$WORK/generated/deloton" ]; then
  "${MPIRUN[@]}" -np 2 "$NEW" generate --pipeline deloton --out "$WORK/generated" --bikes "$BIKES" --streams 3 \
    --seed 7 --bad-line-rate 0.02 --duplicate-rate 0.002 --target-bytes "$BYTES" >/dev/null
fi
landings+=("$WORK/generated")
status=0
for landing in "${landings[@]}"; do
  for ranks in 1 2 3 4; do
    for which in base new; do
      binary="$BASE"; [ "$which" = new ] && binary="$NEW"
      "${MPIRUN[@]}" -np "$ranks" "$binary" run --pipeline deloton --landing "$landing" --out "$WORK/out-$which" \
        --overwrite --quiet >/dev/null
    done
    if /usr/bin/python3 "$ROOT/bench/compare_runs.py" "$WORK/out-base" "$WORK/out-new" >"$WORK/compare.txt"; then
      echo "equal: $landing at $ranks rank(s)"
    else
      echo "DIFFERENT: $landing at $ranks rank(s)"; head -n 20 "$WORK/compare.txt"; status=1
    fi
  done
done
exit "$status"
