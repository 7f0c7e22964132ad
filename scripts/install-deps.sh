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
)

exec bash "$(dirname "$0")/apt-install.sh" install-deps "${packages[@]}"
