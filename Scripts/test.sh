#!/usr/bin/env bash
# The README's test command: installs the system libraries when missing, then runs every test in release
# mode (the numeric tests are too slow in debug builds).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-dependencies.sh
swift test -c release "$@"
