#!/usr/bin/env bash
# Runs the C kernels (Sources/CTensorKernels) and the image codec shims (Sources/CImageShims) under
# AddressSanitizer and UndefinedBehaviorSanitizer: a release build in its own scratch folder (.build-sanitize,
# git-ignored) with ASan for every target (`--sanitize=address`) and UBSan for the C targets (`-fsanitize=undefined`:
# swiftc has no UBSan on Linux, and the C code is what it is for), then the kernel tests (TensorCoreTests) and the
# image tests (decoding, resampling, geometry, limits). Any ASan report or UBSan "runtime error" fails the run.
#
#   Scripts/sanitize.sh            # the default filter below
#   Scripts/sanitize.sh 'Winograd' # another swift-testing --filter
set -euo pipefail
cd "$(dirname "$0")/.."
filter="${1:-TensorCoreTests|ImageDecodingTests|ImageResamplingTests|ImageGeometryTests|LibraryInputLimitTests|MaskTests}"
scratch=.build-sanitize
flags=(--scratch-path "$scratch" --sanitize=address -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined
  -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined)
nice -n 10 swift build -c release --build-tests "${flags[@]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Leak detection is off: the Swift runtime's and Foundation's process-lifetime caches are reported as leaks.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
nice -n 10 swift test -c release --skip-build "${flags[@]}" --filter "$filter" 2>&1 | tee "$log" || status=$?
if grep -E "ERROR: AddressSanitizer|runtime error:" "$log" >/dev/null; then
  echo "sanitize.sh: sanitizer reports above" >&2
  exit 1
fi
exit "$status"
