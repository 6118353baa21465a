import BlendedLatent
import BlendedLatentCommand
import Foundation
import Testing
import _TestSupport

/// The hostile inputs of issue 16 run through the real `bld` executable: every one ends with a status below 128
/// and one line on standard error (or succeeds), quickly, leaving no file behind; signals cancel cleanly.
@Suite(
  "bld under hostile inputs and signals", .serialized,
  .enabled(if: bldExecutable != nil, "bld not built"))
struct HostileInputProcessTests {
  let folder: ScratchFolder
  let image: String
  let mask: String

  init() throws {
    folder = try ScratchFolder()
    image = try folder.writeImage("in.png", width: 64, height: 48)
    mask = try folder.writeMask(
      "mask.png", width: 64, height: 48, selecting: PixelRegion(x: 10, y: 10, width: 20, height: 12))
  }

  /// A copy of the tiny SD 2 folder in the scratch folder, with `change` applied to one of its JSON files.
  func model(
    _ name: String, changing file: String? = nil, _ change: (inout [String: Any]) -> Void = { _ in }
  ) throws -> String {
    let destination = folder.url.appendingPathComponent(name)
    try FileManager.default.copyItem(at: RepositoryFixtures.tinyModel("sd2-tiny"), to: destination)
    if let file {
      let url = destination.appendingPathComponent(file)
      var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
      change(&object)
      try JSONSerialization.data(withJSONObject: object).write(to: url)
    }
    return destination.path
  }

  func edit(_ extra: [String], output: String = "out.png") throws -> BLDProcessTests.Result {
    try BLDProcessTests.run(
      ["edit", "--image", image, "--mask", mask, "--prompt", "a hat", "--output", folder.path(output), "--seed", "1"]
        + extra)
  }

  /// Expects a failure with `status`, one line on standard error containing every fragment, and no output file.
  func expectFailure(
    _ result: BLDProcessTests.Result, status: Int32, _ fragments: String..., output: String = "out.png",
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    #expect(result.status == status, "\(result.error)", sourceLocation: sourceLocation)
    #expect(
      result.error.hasPrefix("bld: error: ") || result.error.hasPrefix("Error: "), "\(result.error)",
      sourceLocation: sourceLocation)
    #expect(result.error.filter { $0 == "\n" }.count == 1, "one line: \(result.error)", sourceLocation: sourceLocation)
    for fragment in fragments {
      #expect(result.error.contains(fragment), "'\(result.error)' lacks '\(fragment)'", sourceLocation: sourceLocation)
    }
    for leak in ["NSCocoaErrorDomain", "DecodingError", "Dictionary<", "Fatal error", "Backtrace"] {
      #expect(!result.error.contains(leak), "\(result.error)", sourceLocation: sourceLocation)
    }
    #expect(!FileManager.default.fileExists(atPath: folder.path(output)), sourceLocation: sourceLocation)
    #expect(!folder.entries.contains { $0.hasSuffix(".tmp") }, "\(folder.entries)", sourceLocation: sourceLocation)
  }

  @Test("finding 1: sample_size −1, 0 and 100000 are one-line errors for edit and inspect", .timeLimit(.minutes(2)))
  func sampleSize() throws {
    for (index, value) in [-1, 0, 100_000].enumerated() {
      let model = try model("m\(index)", changing: "unet/config.json") { $0["sample_size"] = value }
      expectFailure(try edit(["--model", model]), status: 1, "sample_size", "\(value) is outside")
      let inspect = try BLDProcessTests.run(["inspect", model])
      #expect(inspect.status == 1 && inspect.error.contains("sample_size"), "\(inspect.output)\(inspect.error)")
    }
  }

  @Test("finding 1: layers_per_block and num_hidden_layers 10⁹ fail at once", .timeLimit(.minutes(1)))
  func hugeLayerCounts() throws {
    let unet = try model("layers", changing: "unet/config.json") { $0["layers_per_block"] = 1_000_000_000 }
    expectFailure(try edit(["--model", unet]), status: 1, "layers_per_block")
    let text = try model("text", changing: "text_encoder/config.json") { $0["num_hidden_layers"] = 1_000_000_000 }
    expectFailure(try edit(["--model", text]), status: 1, "num_hidden_layers")
  }

  @Test("finding 3: --crop-to-mask Int.max edits the whole image instead of trapping")
  func hugeCropPadding() throws {
    let result = try edit(["--crop-to-mask", "9223372036854775807", "--steps", "2", "--json"])
    #expect(result.status == 0, "\(result.error)")
  }

  @Test("finding 4: a FIFO as the weights is an error for edit and inspect, not a hang", .timeLimit(.minutes(1)))
  func fifoWeights() throws {
    let model = try model("fifo")
    let weights = model + "/unet/diffusion_pytorch_model.fp16.safetensors"
    try FileManager.default.removeItem(atPath: weights)
    #expect(mkfifo(weights, 0o600) == 0)
    expectFailure(try edit(["--model", model]), status: 1, "FIFO")
    let inspect = try BLDProcessTests.run(["inspect", model])
    #expect(inspect.status < 128 && inspect.status != 0 || inspect.output.contains("FIFO"), "\(inspect.error)")
  }

  /// Starts a slow edit, waits for its first note, sends `signal` and returns the status and standard error.
  func interrupted(by signal: Int32) throws -> (status: Int32, error: String) {
    let logs = folder.url
    let process = try BatchProcessTests.BLDProcess(
      [
        "edit", "--image", image, "--mask", mask, "--prompt", "a hat", "--output", folder.path("out.png"),
        "--model", RepositoryFixtures.tinyModel("sd1-tiny").path, "--steps", "500", "--strength", "1",
      ],
      logs: logs)
    let deadline = Date().addingTimeInterval(60)
    while !process.error.contains("seed") && process.process.isRunning && Date() < deadline { usleep(5_000) }
    usleep(200_000)
    kill(process.process.processIdentifier, signal)
    let status = process.wait()
    return (status, process.error)
  }

  @Test(
    "finding 5: SIGHUP and SIGQUIT cancel like SIGINT, with 129 and 131, no crash report and no temporary",
    .timeLimit(.minutes(2)), arguments: [(SIGHUP, Int32(129)), (SIGQUIT, Int32(131)), (SIGTERM, Int32(130))])
  func signals(signal: Int32, status: Int32) throws {
    let run = try interrupted(by: signal)
    #expect(run.status == status, "\(run.error)")
    #expect(process(terminatedNormally: run.status))
    #expect(run.error.split(separator: "\n").count <= 4, "\(run.error)")
    #expect(!folder.entries.contains { $0.hasSuffix(".tmp") || $0 == "out.png" }, "\(folder.entries)")
  }

  private func process(terminatedNormally status: Int32) -> Bool { status >= 129 && status <= 131 }

  @Test("finding 6: a mask of another size is reported from the headers, before decoding")
  func maskSizeFromHeaders() throws {
    let small = try folder.writeMask(
      "small.png", width: 8, height: 8, selecting: PixelRegion(x: 1, y: 1, width: 2, height: 2))
    let result = try BLDProcessTests.run([
      "edit", "--image", image, "--mask", small, "--prompt", "p", "--output", folder.path("out.png"),
    ])
    expectFailure(result, status: 1, "8×8", "64×48")
  }

  @Test("finding 6: an image larger than the address-space limit is a one-line memory error", .timeLimit(.minutes(2)))
  func memoryLimit() throws {
    // 8000 × 8000 needs about 3 GB at the image stage; the limit leaves the process far less.
    let big = folder.path("big.png")
    var header = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])
    header.append(contentsOf: Array("IHDR".utf8))
    for value in [UInt32(8000), UInt32(8000)] { withUnsafeBytes(of: value.bigEndian) { header.append(contentsOf: $0) } }
    header.append(contentsOf: [8, 2, 0, 0, 0, 0, 0, 0, 0])
    try header.write(to: URL(fileURLWithPath: big))
    let bigMask = folder.path("big-mask.png")
    try header.write(to: URL(fileURLWithPath: bigMask))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = [
      "-c", "ulimit -v 2000000; exec \"$0\" edit --image \"$1\" --mask \"$2\" --prompt p --output \"$3\"",
      bldExecutable!.path, big, bigMask, folder.path("out.png"),
    ]
    let error = Pipe()
    process.standardError = error
    process.standardOutput = Pipe()
    try process.run()
    let text = String(decoding: error.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let result = BLDProcessTests.Result(status: process.terminationStatus, output: "", error: text)
    expectFailure(result, status: 1, "8000×8000 image needs about", "address-space limit")
  }

  @Test(
    "finding 7: an unwritable output folder is refused before the edit",
    .enabled(if: getuid() != 0, "root writes anywhere"))
  func unwritableOutputFolder() throws {
    let locked = folder.url.appendingPathComponent("locked")
    try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: false)
    #expect(chmod(locked.path, 0o555) == 0)
    defer { chmod(locked.path, 0o755) }
    let result = try edit([], output: "locked/out.png")
    expectFailure(result, status: 1, "cannot write to the output folder", output: "locked/out.png")
  }

  @Test("finding 7: --steps 1000 names the largest count that works; --threads 10000 is capped with a notice")
  func stepsAndThreads() throws {
    let model = RepositoryFixtures.tinyModel("sd1-tiny").path
    expectFailure(try edit(["--model", model, "--steps", "1000"]), status: 1, "use at most 999")
    let threads = try edit(["--threads", "10000", "--steps", "2", "--json"])
    #expect(threads.status == 0, "\(threads.error)")
    #expect(threads.error.contains("--threads 10000 is more than the"), "\(threads.error)")
    let summary = try #require(
      JSONSerialization.jsonObject(with: Data(threads.output.utf8)) as? [String: Any])
    let settings = try #require(summary["settings"] as? [String: Any])
    #expect(settings["threads"] as? Int == EditSettings.maximumThreadCount)
    #expect((summary["notices"] as? [String])?.contains { $0.contains("--threads 10000") } == true)
  }

  @Test("finding 8: a truncated prompt is a notice on standard error and in --json notices")
  func promptTruncation() throws {
    let model = RepositoryFixtures.tinyModel("sd1-tiny").path
    let long = Array(repeating: "hat", count: 200).joined(separator: " ")
    let result = try BLDProcessTests.run([
      "edit", "--image", image, "--mask", mask, "--prompt", long, "--output", folder.path("long.png"), "--seed", "1",
      "--model", model, "--steps", "2", "--json",
    ])
    #expect(result.status == 0, "\(result.error)")
    #expect(result.error.contains("--prompt is longer than the text encoder's token limit"), "\(result.error)")
    let summary = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    #expect((summary["notices"] as? [String])?.contains { $0.hasPrefix("--prompt is longer") } == true)
  }

  @Test("finding 8: U+FFFD in a prompt (invalid UTF-8 decoded) is a notice on standard error and in --json notices")
  func promptReplacementCharacters() throws {
    let model = RepositoryFixtures.tinyModel("sd1-tiny").path
    let result = try BLDProcessTests.run([
      "edit", "--image", image, "--mask", mask, "--prompt", "caf\u{FFFD} cr\u{FFFD}me", "--negative-prompt", "blur",
      "--output", folder.path("replaced.png"), "--seed", "1", "--model", model, "--steps", "2", "--json",
    ])
    #expect(result.status == 0, "\(result.error)")
    #expect(result.error.contains("bld: --prompt contains 2 U+FFFD replacement characters"), "\(result.error)")
    #expect(!result.error.contains("--negative-prompt contains"), "\(result.error)")
    let summary = try #require(JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    #expect(
      (summary["notices"] as? [String])?.contains { $0.hasPrefix("--prompt contains 2 U+FFFD") } == true,
      "\(summary)")
  }

  @Test("finding 8: --seed -1 and --guidance 1e39 are usage errors (64) naming the option")
  func usageErrors() throws {
    let seed = try edit(["--seed", "-1"])
    #expect(seed.status == 64 && seed.error.contains("--seed must be an integer from 0 to"), "\(seed.error)")
    let guidance = try edit(["--guidance", "1e39"])
    #expect(guidance.status == 64 && guidance.error.contains("--guidance"), "\(guidance.error)")
  }

  @Test("finding 8: --model DIR/unet suggests DIR; a symbolic-link loop is named as one")
  func modelPaths() throws {
    let model = try model("parent")
    let component = try edit(["--model", model + "/unet"])
    #expect(component.status == 64, "\(component.error)")
    #expect(component.error.contains("pass the model folder '\(model)'"), "\(component.error)")
    let loop = folder.path("loop")
    try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: loop)
    let looped = try edit(["--model", loop])
    #expect(looped.status == 64 && looped.error.contains("symbolic link"), "\(looped.error)")
  }

  @Test("the hostile set: every case ends below 128 with one line", .timeLimit(.minutes(3)))
  func hostileSet() throws {
    let zeroLatent = try model("latent", changing: "vae/config.json") { $0["latent_channels"] = 0 }
    let fraction = try model("fraction", changing: "unet/config.json") { $0["layers_per_block"] = 1.5 }
    let hugeHeader = try model("header")
    let weights = URL(fileURLWithPath: hugeHeader + "/vae/diffusion_pytorch_model.fp16.safetensors")
    var bytes = Data()
    withUnsafeBytes(of: UInt64(4_000_000_000).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(Data(repeating: 0x20, count: 64))
    try bytes.write(to: weights)
    #expect(truncate(weights.path, 4_000_000_008) == 0)
    for (arguments, fragment) in [
      (["--model", zeroLatent], "latent_channels"),
      (["--model", fraction], "layers_per_block"),
      (["--model", hugeHeader], "exceeds the safetensors limit"),
    ] {
      let result = try edit(arguments)
      expectFailure(result, status: 1, fragment)
      #expect(result.error.components(separatedBy: "diffusion_pytorch_model").count <= 2, "path once: \(result.error)")
    }
    let device = try BLDProcessTests.run([
      "edit", "--image", "/dev/zero", "--mask", mask, "--prompt", "p", "--output", folder.path("out.png"),
    ])
    expectFailure(device, status: 1, "character device")
  }

  @Test("a FIFO as a single-file checkpoint or as a batch manifest is refused at once", .timeLimit(.minutes(1)))
  func fifoCheckpointAndManifest() throws {
    let checkpoint = folder.path("model.safetensors")
    #expect(mkfifo(checkpoint, 0o600) == 0)
    expectFailure(try edit(["--model", checkpoint]), status: 1, "FIFO")
    let manifest = folder.path("jobs.jsonl")
    #expect(mkfifo(manifest, 0o600) == 0)
    let output = folder.url.appendingPathComponent("batch-out")
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: false)
    let batch = try BLDProcessTests.run([
      "batch", manifest, "--model", RepositoryFixtures.tinyModel("sd1-tiny").path, "--output-dir", output.path,
    ])
    #expect(batch.status == 64, "\(batch.error)")
    #expect(
      batch.error
        == "bld: error: cannot read the manifest '\(manifest)': it is a FIFO (named pipe), not a regular file\n")
  }
}
