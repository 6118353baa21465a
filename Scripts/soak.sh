#!/usr/bin/env bash
# The library soak of issue 16: 20 edits with the tiny SD 2 model in one test process, RSS after edit 2 and after
# edit 20 (growth ≤ 5 %). Builds the tests in release if needed and runs only EditSoakTests.
set -euo pipefail
cd "$(dirname "$0")/.."
nice -n 10 swift build -c release --build-tests
BLD_SOAK=1 nice -n 10 swift test -c release --skip-build --filter EditSoakTests
