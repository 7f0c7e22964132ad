#!/usr/bin/env bash
# Installs the given Debian packages if any is missing (idempotent; apt-get update only then).
# Waits for another apt/dpkg run instead of failing on its lock. Needs root (or sudo).
# usage: apt-install.sh LABEL PACKAGE...
set -euo pipefail
label="$1"
shift
missing=()
for package in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$label: all $# packages already installed"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
apt_opts=(-o DPkg::Lock::Timeout=300)
echo "$label: installing ${missing[*]}"
$sudo apt-get "${apt_opts[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"
