// swift-tools-version: 6.0
import PackageDescription

// An application that links BlendedLatent as a package dependency, by path, the way any Swift program would
// (replace the path with the repository URL in your own package).
let package = Package(
  name: "Client",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "BlendedLatent", path: "../..")
  ],
  targets: [
    .executableTarget(
      name: "Client",
      dependencies: [
        .product(name: "BlendedLatent", package: "BlendedLatent"),
        .product(name: "Networks", package: "BlendedLatent"),
      ])
  ]
)
