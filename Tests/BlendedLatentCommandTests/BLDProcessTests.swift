import BlendedLatent
import Foundation
import Testing

/// The built `bld` executable next to the test bundle (SwiftPM builds it with the tests); also used by
/// `BatchProcessTests`.
let bldExecutable: URL? = {
  let candidates = [
    Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("bld"),
    Bundle.main.bundleURL.appendingPathComponent("bld"),
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("bld"),
  ]
  return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

@Suite(
  "The bld executable: exit codes and one-line errors",
  .enabled(if: bldExecutable != nil, "bld not built"))
struct BLDProcessTests {
  struct Result {
    var status: Int32
    var output: String
    var error: String
  }

  static func run(_ arguments: [String]) throws -> Result {
    let process = Process()
    process.executableURL = bldExecutable!
    process.arguments = arguments
    let output = Pipe()
    let error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, output: String(decoding: outputData, as: UTF8.self),
      error: String(decoding: errorData, as: UTF8.self))
  }

  @Test("a corrupt input image exits 1 with one line naming the file, and writes nothing")
  func corruptInput() throws {
    let folder = try ScratchFolder()
    let good = try folder.writeImage("in.png", width: 16, height: 16)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
    try bytes.prefix(40).write(to: URL(fileURLWithPath: folder.path("cut.png")))
    let mask = try folder.writeMask(
      "mask.png", width: 16, height: 16, selecting: PixelRegion(x: 1, y: 1, width: 4, height: 4))
    let result = try Self.run([
      "edit", "--image", folder.path("cut.png"), "--mask", mask, "--prompt", "p", "--output",
      folder.path("out.png"),
    ])
    #expect(result.status == 1)
    #expect(
      result.error.hasPrefix("bld: error: '\(folder.path("cut.png"))' is corrupt or truncated"))
    #expect(result.error.filter { $0 == "\n" }.count == 1, "\(result.error)")
    #expect(!FileManager.default.fileExists(atPath: folder.path("out.png")))
  }

  @Test("an existing output exits 1 and is kept")
  func existingOutput() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 16, height: 16)
    let mask = try folder.writeMask(
      "mask.png", width: 16, height: 16, selecting: PixelRegion(x: 1, y: 1, width: 4, height: 4))
    try Data("mine".utf8).write(to: URL(fileURLWithPath: folder.path("out.png")))
    let result = try Self.run([
      "edit", "--image", input, "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
    ])
    #expect(result.status == 1 && result.error.contains("already exists"))
    #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path("out.png"))) == Data("mine".utf8))
  }

  @Test("invalid option values exit 64 (usage) naming the option")
  func usageError() throws {
    let result = try Self.run([
      "edit", "--image", "a.png", "--mask", "m.png", "--prompt", "p", "--output", "o.png",
      "--steps", "0",
    ])
    #expect(result.status == 64)
    #expect(result.error.contains("--steps must be between 1 and 1000"))
  }

  @Test("--help lists every edit option")
  func help() throws {
    let result = try Self.run(["edit", "--help"])
    #expect(result.status == 0)
    for option in [
      "--image", "--mask", "--prompt", "--output", "--model", "--negative-prompt", "--steps",
      "--guidance", "--strength",
      "--seed", "--batch", "--scheduler", "--background", "--mask-shrink", "--mask-downsample",
      "--crop-to-mask",
      "--rank-with", "--threads", "--json", "--quiet", "--overwrite", "--feather", "--precision",
    ] {
      #expect(result.output.contains(option), "\(option)")
    }
  }
}

/// The default thread count follows what the process may use, not the host (`taskset`, cgroup quota).
@Suite(
  "Default threads of the bld process",
  .enabled(if: bldExecutable != nil, "bld not built"),
  .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"), "taskset (util-linux) missing"))
struct DefaultThreadsTests {
  /// Runs a demo-model edit of a 16×16 image with `--json` under `launcher` and returns its `threads` field.
  private func threadsUsed(launcher: [String], environment: [String: String] = [:]) throws -> Int? {
    let folder = try ScratchFolder()
    let input = try folder.writeImage("in.png", width: 16, height: 16)
    let mask = try folder.writeMask(
      "mask.png", width: 16, height: 16, selecting: PixelRegion(x: 1, y: 1, width: 4, height: 4))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: launcher[0])
    process.arguments =
      Array(launcher.dropFirst()) + [
        bldExecutable!.path, "edit", "--image", input, "--mask", mask, "--prompt", "p", "--output",
        folder.path("out.png"), "--steps", "2", "--seed", "1", "--json", "--quiet",
      ]
    var variables = ProcessInfo.processInfo.environment
    for name in ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"] { variables[name] = nil }
    variables.merge(environment) { _, new in new }
    process.environment = variables
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0)
    let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    return (json?["settings"] as? [String: Any])?["threads"] as? Int
  }

  @Test("restricted to one CPU with taskset, the default thread count is 1")
  func tasksetOneCPU() throws {
    #expect(try threadsUsed(launcher: ["/usr/bin/taskset", "-c", "0"]) == 1)
  }

  @Test("OMP_NUM_THREADS overrides the default")
  func environmentOverride() throws {
    #expect(try threadsUsed(launcher: ["/usr/bin/env"], environment: ["OMP_NUM_THREADS": "3"]) == 3)
  }
}
