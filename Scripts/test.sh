#!/usr/bin/env bash
# The README's test command: installs the system libraries when missing, checks the formatting (.swift-format),
# runs every test in release mode (the numeric tests are too slow in debug builds), builds and runs the example
# client package (Examples/Client, which depends on this package by path), checks the public API list
# (API/public-api.txt), and runs each libFuzzer harness of Fuzz/ briefly (BLD_FUZZ_SECONDS each, default 10; 0
# skips them): a crash on the committed seeds or in those seconds fails the command.
#
#   Scripts/test.sh [--sanitize] [swift test options…]
#
# `--sanitize` also runs Scripts/sanitize.sh at the end: the C kernels and image shims under AddressSanitizer and
# UndefinedBehaviorSanitizer over the kernel and image tests (its own build, about 9 minutes on 2 cores, which is
# why CI leaves it out).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
if [[ "${1:-}" == --sanitize ]]; then
  sanitize=1
  shift
fi
Scripts/install-dependencies.sh
Scripts/check-format.sh
swift test -c release "$@"
swift build -c release --package-path Examples/Client
client_dir=$(mktemp -d)
trap 'rm -rf "$client_dir"' EXIT
(cd "$client_dir" && "$OLDPWD/Examples/Client/.build/release/Client")
Scripts/public-api.sh
fuzz_seconds="${BLD_FUZZ_SECONDS:-10}"
if [[ "$fuzz_seconds" != 0 ]]; then
  Scripts/fuzz.sh all "$fuzz_seconds"
fi
if [[ "$sanitize" == 1 ]]; then
  Scripts/sanitize.sh
fi
