// swift-tools-version: 6.0
import PackageDescription

// libFuzzer harnesses for the package's parsers, built by Scripts/fuzz.sh with `-sanitize=fuzzer,address`
// (each executable's `main.swift` hands its test function to libFuzzer's driver, `FuzzSupport.runFuzzer`). A separate package
// depending on BlendedLatent by path, so the fuzzers use the public API and the main package has no fuzzer flags.
let package = Package(
  name: "Fuzz",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "BlendedLatent", path: "..")
  ],
  targets: [
    .target(name: "CFuzzDriver"),
    .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
    .executableTarget(
      name: "FuzzSafetensors",
      dependencies: ["FuzzSupport", .product(name: "TensorCore", package: "BlendedLatent")]),
    .executableTarget(
      name: "FuzzConfiguration",
      dependencies: [
        "FuzzSupport", .product(name: "Networks", package: "BlendedLatent"),
        .product(name: "BlendedLatent", package: "BlendedLatent"),
      ]),
    .executableTarget(
      name: "FuzzTokenizer",
      dependencies: ["FuzzSupport", .product(name: "Networks", package: "BlendedLatent")]),
    .executableTarget(
      name: "FuzzImage",
      dependencies: ["FuzzSupport", .product(name: "BlendedLatent", package: "BlendedLatent")]),
    .executableTarget(
      name: "FuzzSingleFile",
      dependencies: ["FuzzSupport", .product(name: "Networks", package: "BlendedLatent")]),
    .executableTarget(
      name: "FuzzServerRequests",
      dependencies: ["FuzzSupport", .product(name: "BlendedLatentServer", package: "BlendedLatent")]),
  ]
)
