#!/usr/bin/env bash
# Runs one libFuzzer harness of Fuzz/ (a separate package using BlendedLatent by path) for SECONDS seconds:
#
#   Scripts/fuzz.sh safetensors|configuration|tokenizer|image|single-file|server-requests SECONDS [libFuzzer options…]
#
# `Scripts/fuzz.sh all SECONDS` runs every target for SECONDS each (what Scripts/test.sh does in CI); it fails on
# the first target that crashes.
#
# The harnesses are built with `-sanitize=fuzzer,address` (C targets with coverage and ASan too) in .build-fuzz
# (git-ignored). The committed seeds in Fuzz/Corpus/TARGET are copied into a scratch corpus, so the run's own
# inputs never land in the repository; crashes are written as .build-fuzz/artifacts/TARGET/crash-…, and the final
# line reports executions and seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
targets="safetensors configuration tokenizer image single-file server-requests"
target="${1:?usage: Scripts/fuzz.sh ${targets// /|}|all SECONDS}"
seconds="${2:?usage: Scripts/fuzz.sh TARGET SECONDS}"
shift 2
scratch="$PWD/.build-fuzz"
build() {
  nice -n 10 swift build -c release --package-path Fuzz --scratch-path "$scratch" "$@" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xcc -fsanitize=fuzzer-no-link,address
}
if [[ "$target" == all ]]; then
  build
  for each in $targets; do BLD_FUZZ_BUILT=1 "$0" "$each" "$seconds" "$@"; done
  exit 0
fi
case "$target" in
  safetensors) product=FuzzSafetensors ;;
  configuration) product=FuzzConfiguration ;;
  tokenizer) product=FuzzTokenizer ;;
  image) product=FuzzImage ;;
  single-file) product=FuzzSingleFile ;;
  server-requests) product=FuzzServerRequests ;;
  *) echo "fuzz.sh: unknown target '$target'" >&2; exit 64 ;;
esac
[[ -n "${BLD_FUZZ_BUILT:-}" ]] || build --product "$product"
corpus="$scratch/corpus/$target"
artifacts="$scratch/artifacts/$target"
mkdir -p "$corpus" "$artifacts"
cp -n Fuzz/Corpus/"$target"/* "$corpus"/ 2>/dev/null || true
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
start=$(date +%s)
nice -n 10 "$scratch/release/$product" "$corpus" -max_total_time="$seconds" -print_final_stats=1 \
  -rss_limit_mb=4096 -timeout=20 -artifact_prefix="$artifacts/" "$@"
echo "fuzz.sh: $target ran $(( $(date +%s) - start )) s"
