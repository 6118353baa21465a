#!/usr/bin/env bash
# The soaks of issue 16.
#
#   Scripts/soak.sh            the library soak: 20 edits with the tiny SD 2 model in one test process, RSS after
#                              edit 2 and after edit 20 (growth ≤ 5 %); builds the tests in release if needed and
#                              runs only EditSoakTests.
#   Scripts/soak.sh server [N] the server soak: N (default 200) requests to one `bld serve` process on a loopback
#                              port with the tiny SD 2 model (every fourth an edit, through the AUTOMATIC1111,
#                              native and OpenAI routes in turn; the rest cheap endpoints), RSS after request 20 and
#                              after request N (growth ≤ 5 %); builds `bld` in release if needed and runs
#                              Scripts/server_soak.py, which always stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == server ]]; then
  nice -n 10 swift build -c release --product bld
  exec nice -n 10 python3 Scripts/server_soak.py .build/release/bld "${2:-200}"
fi
nice -n 10 swift build -c release --build-tests
BLD_SOAK=1 nice -n 10 swift test -c release --skip-build --filter EditSoakTests
