#!/usr/bin/env bash
# The main job on a built-in default: installs the dependencies, builds, generates demo landing data
# for both pipelines (deterministic, seed 42) and runs each on it with 2 ranks. Outputs land in demo/:
# demo/out/ (STEDI) and demo/out-deloton/ (Deloton), with the Deloton report of the last day and
# the alert emails' outbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ranks="${RANKS:-2}"
mpirun=(mpirun --allow-run-as-root --oversubscribe -np "$ranks")
rm -rf demo
"${mpirun[@]}" build/mpilake generate --out demo/landing --customers "${CUSTOMERS:-2000}" \
  --readings-per-customer 200 --seed 42 --bad-line-rate 0.001
"${mpirun[@]}" build/mpilake run --landing demo/landing --out demo/out --rules privacy
echo
build/mpilake inspect demo/out/machine_learning_curated.h5 --rows 3

echo
"${mpirun[@]}" build/mpilake generate --pipeline deloton --out demo/landing-deloton --bikes "${BIKES:-60}" \
  --days 2 --streams 4 --seed 42 --bad-line-rate 0.0005
"${mpirun[@]}" build/mpilake run --pipeline deloton --landing demo/landing-deloton --out demo/out-deloton
echo
build/mpilake inspect demo/out-deloton/rides.h5 --rows 3

# What people use: the executive report of the demo's last day (charts and PDF), and the alert
# emails' outbox (written, not sent).
last_day=$(/usr/bin/python3 -c "import h5py; print(h5py.File('demo/out-deloton/daily.h5')['date'][-1].decode())")
echo
build/mpilake report --out demo/out-deloton --date "$last_day"
build/mpilake alerts --out demo/out-deloton
echo
echo "Next: build/mpilake serve --out demo/out-deloton   (API and live dashboard on http://127.0.0.1:8080/)"
