#!/usr/bin/env bash
# Lints the Swift sources against the committed .swift-format configuration (swift-format that ships with the
# toolchain, `swift format`); exits non-zero on any diagnostic. To fix what it reports:
#   swift format --in-place --recursive Sources Tests Benchmarks Examples/Client Package.swift
set -euo pipefail
cd "$(dirname "$0")/.."
swift format lint --strict --recursive --parallel Sources Tests Benchmarks Examples/Client/Sources Examples/Client/Package.swift \
  Package.swift "$@"
