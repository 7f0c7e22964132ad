#!/usr/bin/env bash
# Installs the dependencies, builds, and runs the whole test suite (unit, MPI at 1/2/4 ranks,
# end-to-end). The starter-data tests read ../shared/data/stedi and are skipped when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
