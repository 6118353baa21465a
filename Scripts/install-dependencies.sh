#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages BlendedLatent builds against — only those that are missing.
#   OpenBLAS + LAPACKE (TensorCore's GEMM), pkg-config (SwiftPM finds the libraries through it),
#   libpng and libjpeg-turbo (image files); for the `bld serve` client tests: headless Chromium and its
#   WebDriver, Firefox ESR (driven through its built-in Marionette server), python3-venv; then a Python
#   environment in .build/client-venv (git-ignored) with webuiapi, selenium, marionette_driver and requests from
#   PyPI (Tests/Clients/requirements.txt).
# Runs `apt-get update` only when a missing package has no install candidate yet.
# Usage: Scripts/install-dependencies.sh            (as root, or with sudo available)
set -euo pipefail

packages=(libopenblas-dev liblapacke-dev pkg-config libpng-dev libjpeg-dev chromium chromium-driver firefox-esr
  python3-venv)
cd "$(dirname "$0")/.."

# The client environment of the server tests (Tests/Clients), made once.
client_environment() {
  local venv=.build/client-venv
  if [ -x "$venv/bin/python" ] \
    && "$venv/bin/python" -c "import webuiapi, selenium, marionette_driver, requests" 2>/dev/null; then
    return 0
  fi
  echo "install-dependencies: making $venv (webuiapi, selenium, marionette_driver, requests)" >&2
  mkdir -p .build
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r Tests/Clients/requirements.txt
}

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
  client_environment
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
client_environment
