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

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
