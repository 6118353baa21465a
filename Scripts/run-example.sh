#!/usr/bin/env bash
# The README's first command: installs the system libraries when missing, builds `bld` in release mode and
# edits the bundled example (Examples/lake.png inside Examples/lake-mask.png) with the built-in
# demonstration model, writing edited-example.png. Extra arguments go to `bld edit`
# (e.g. --model /path/to/stable-diffusion-2-1-base for a real edit).
set -euo pipefail
cd "$(dirname "$0")/.."
Scripts/install-dependencies.sh
swift build -c release --product bld
.build/release/bld edit --image Examples/lake.png --mask Examples/lake-mask.png \
  --prompt "a wooden rowing boat on the lake" --seed 42 --background paste \
  --output edited-example.png --overwrite "$@"
echo "wrote edited-example.png"
