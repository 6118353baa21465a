#!/usr/bin/env bash
# Installs the Debian packages BlendedLatent builds against, only those that are missing.
set -euo pipefail
packages=(libopenblas-dev liblapacke-dev pkg-config libpng-dev libjpeg-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
