// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "BlendedLatent",
  products: [
    .library(name: "TensorCore", targets: ["TensorCore"]),
    .library(name: "Networks", targets: ["Networks"]),
    .library(name: "BlendedLatent", targets: ["BlendedLatent"]),
    // The server's HTTP layer; its public API is only `RequestDecoding`, which the fuzz harnesses in Fuzz/ call.
    .library(name: "BlendedLatentServer", targets: ["BlendedLatentServer"]),
    .executable(name: "bld", targets: ["bld"]),
    .executable(name: "bld-bench", targets: ["bld-bench"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
  ],
  targets: [
    // MARK: - C (no public Swift API; imported with `internal import`)
    .systemLibrary(
      name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]),
    .systemLibrary(
      name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
      providers: [.apt(["libpng-dev"])]),
    .systemLibrary(
      name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libjpeg",
      providers: [.apt(["libjpeg-dev"])]),
    .target(name: "CImageShims", dependencies: ["CPNG", "CJPEG"]),
    .target(
      name: "CTensorKernels", dependencies: ["COpenBLAS"],
      linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]),

    // MARK: - Public modules
    .target(name: "TensorCore", dependencies: ["COpenBLAS", "CTensorKernels"]),
    .target(
      name: "Networks", dependencies: ["TensorCore"],
      resources: [
        .copy("Resources/clip-bpe-merges.txt"), .copy("Resources/clip-bpe-merges.LICENSE.txt"),
        .copy("Resources/Configurations"),
      ]),
    .target(name: "BlendedLatent", dependencies: ["Networks", "TensorCore", "CPNG", "CJPEG", "CImageShims"]),
    // The HTTP layer of `bld serve`: native, AUTOMATIC1111 and OpenAI routes, job queue, the mask painter page.
    .target(
      name: "BlendedLatentServer",
      dependencies: [
        "BlendedLatent", "Networks", "TensorCore",
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Logging", package: "swift-log"),
      ],
      resources: [.copy("Page")]),
    .target(
      name: "BlendedLatentCommand",
      dependencies: [
        "BlendedLatent", "BlendedLatentServer", "Networks", "TensorCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),

    // MARK: - Executables
    .executableTarget(name: "bld", dependencies: ["BlendedLatentCommand", "TensorCore"], path: "Sources/bld"),
    .executableTarget(
      name: "bld-bench", dependencies: ["BlendedLatent", "Networks", "TensorCore", "COpenBLAS"],
      path: "Benchmarks/bld-bench"),

    // MARK: - Tests
    .target(name: "_TestSupport", dependencies: ["TensorCore"], path: "Tests/_TestSupport"),
    .testTarget(
      name: "TensorCoreTests", dependencies: ["TensorCore", "_TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "NetworksTests", dependencies: ["Networks", "TensorCore", "_TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "BlendedLatentTests",
      dependencies: ["BlendedLatent", "Networks", "TensorCore", "_TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "BlendedLatentCommandTests",
      dependencies: ["BlendedLatentCommand", "BlendedLatent", "Networks", "TensorCore", "_TestSupport"]),
    .testTarget(
      name: "BlendedLatentServerTests",
      dependencies: [
        "BlendedLatentServer", "BlendedLatentCommand", "BlendedLatent", "Networks", "TensorCore", "_TestSupport",
      ]),
    // The documents' `swift` blocks compiled as twins, links and the folder map checked against the tree.
    .testTarget(name: "DocumentationTests", dependencies: ["BlendedLatent", "Networks", "TensorCore"]),
  ]
)
