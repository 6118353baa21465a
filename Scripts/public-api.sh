#!/usr/bin/env bash
# Checks the public API of the library modules (TensorCore, Networks, BlendedLatent, BlendedLatentServer) against the committed list
# API/public-api.txt, so that growing or changing the public surface is a visible decision in a diff.
# Needs a release build (Scripts/test.sh runs this after the tests). `Scripts/public-api.sh --update` rewrites
# the list instead of comparing.
set -euo pipefail
cd "$(dirname "$0")/.."
build=.build/release
graphs=$(mktemp -d)
trap 'rm -rf "$graphs"' EXIT
maps=()
for map in "$build"/*.build/module.modulemap Sources/COpenBLAS/module.modulemap Sources/CPNG/module.modulemap \
  Sources/CJPEG/module.modulemap $(find .build/checkouts/*/Sources -name module.modulemap); do
  maps+=(-Xcc "-fmodule-map-file=$map")
done
for module in TensorCore Networks BlendedLatent BlendedLatentServer; do
  swift-symbolgraph-extract -module-name "$module" -I "$build/Modules" "${maps[@]}" \
    -target "$(uname -m)-unknown-linux-gnu" -minimum-access-level public -output-dir "$graphs"
done
swift Scripts/PublicAPI.swift "$graphs" > "$graphs/public-api.txt"
if [[ "${1:-}" == "--update" ]]; then
  mkdir -p API
  cp "$graphs/public-api.txt" API/public-api.txt
  echo "API/public-api.txt: $(wc -l < API/public-api.txt) public declarations"
elif ! diff -u API/public-api.txt "$graphs/public-api.txt"; then
  echo "The public API differs from API/public-api.txt (diff above). If the change is intended, run" >&2
  echo "Scripts/public-api.sh --update and commit the list with the change." >&2
  exit 1
else
  echo "public API unchanged: $(wc -l < API/public-api.txt) declarations"
fi
