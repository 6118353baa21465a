#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages BlendedLatent builds against — only those that are missing.
#   OpenBLAS + LAPACKE (TensorCore's GEMM), pkg-config (SwiftPM finds the libraries through it),
#   libpng and libjpeg-turbo (image files).
# Runs `apt-get update` only when a missing package has no install candidate yet.
# Usage: Scripts/install-dependencies.sh            (as root, or with sudo available)
set -euo pipefail

packages=(libopenblas-dev liblapacke-dev pkg-config libpng-dev libjpeg-dev)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-dependencies: not a Debian/Ubuntu system; install these yourself: ${packages[*]}" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-dependencies: all present (${packages[*]})" >&2
  exit 0
fi

run() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

needs_update=0
for package in "${missing[@]}"; do
  candidate="$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ { print $2 }')"
  if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then needs_update=1; fi
done
if [ "$needs_update" -eq 1 ]; then
  echo "install-dependencies: apt-get update" >&2
  run env DEBIAN_FRONTEND=noninteractive apt-get update -q
fi
echo "install-dependencies: installing ${missing[*]}" >&2
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
