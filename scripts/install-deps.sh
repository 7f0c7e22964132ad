#!/usr/bin/env bash
# Installs mpilake's build and test dependencies from Debian's packages. Idempotent: does nothing
# when everything is already installed. Needs root (or sudo).
set -euo pipefail

packages=(
  cmake g++ make
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libboost-mpi-dev libboost-program-options-dev libboost-serialization-dev
  libsimdjson-dev
  libgtest-dev libbenchmark-dev
  python3-h5py python3-numpy python3-sklearn
  # the PyTorch reader and scripts/train_torch.py (python/mpilake), CPU build
  python3-torch
  # the people-facing parts: report, alert emails, PostgreSQL export, the API server
  libcurl4-openssl-dev libssl-dev libpq-dev postgresql-15 libcpp-httplib-dev nlohmann-json3-dev libjs-chart.js
  python3-matplotlib python3-jinja2 weasyprint poppler-utils fonts-dejavu-core fonts-lato
  # their tests and benchmarks: an SMTP server, a PostgreSQL client, a browser, a load generator
  python3-aiosmtpd python3-psycopg2 chromium wrk
  # the Debian package (cpack -G DEB finds the library packages with dpkg-shlibdeps)
  dpkg-dev
)

# Node.js and npm (the browser test's playwright-core, the benchmark peers): the machine's own when
# it has one (CI images ship NodeSource's), else Debian's.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

bash "$(dirname "$0")/apt-install.sh" install-deps "${packages[@]}"

# The browser test's playwright-core (tests/browser, pinned in its package-lock.json), from the npm
# registry; it drives Debian's chromium, so no browser is downloaded. Offline: the test skips.
browser_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ] && command -v npm >/dev/null 2>&1; then
  npm ci --prefix "$browser_tests" --no-audit --no-fund ||
    echo "install-deps: npm ci in tests/browser failed (offline?); the browser test will be skipped" >&2
fi
