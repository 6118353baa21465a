import BlendedLatent
import BlendedLatentCommand
import Foundation
import TensorCore
import Testing

@Suite("bld edit never loses data: existing outputs, inputs, corrupt files, failures, cancellation")
struct FileSafetyTests {
  struct Setup {
    let folder: ScratchFolder
    let input: String
    let mask: String
    var arguments: [String] { ["--image", input, "--mask", mask, "--prompt", "p", "--seed", "1"] }

    init() throws {
      folder = try ScratchFolder()
      input = try folder.writeImage("in.png", width: 64, height: 64)
      mask = try folder.writeMask(
        "mask.png", width: 64, height: 64, selecting: PixelRegion(x: 8, y: 8, width: 16, height: 16)
      )
    }
  }

  @Test("an existing output is refused before any work, and kept")
  func existingOutputRefused() throws {
    let setup = try Setup()
    let output = setup.folder.path("out.png")
    try Data("keep me".utf8).write(to: URL(fileURLWithPath: output))
    let backend = FakeBackend(FakeEditor.identity())
    let run = try runEdit(setup.arguments + ["--output", output], backend: backend)
    #expect(run.status == 1)
    #expect(
      run.console.error
        == "bld: error: '\(output)' already exists (pass --overwrite to replace it)\n")
    #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data("keep me".utf8))
    #expect(backend.loads == 0)
  }

  @Test("--overwrite replaces an existing output")
  func overwrite() throws {
    let setup = try Setup()
    let output = setup.folder.path("out.png")
    try Data("old".utf8).write(to: URL(fileURLWithPath: output))
    let run = try runEdit(
      setup.arguments + ["--output", output, "--overwrite"],
      backend: FakeBackend(FakeEditor.identity()))
    #expect(run.status == 0, "\(run.console.error)")
    #expect(try RGBImage(contentsOf: URL(fileURLWithPath: output)).width == 64)
    #expect(setup.folder.entries == ["in.png", "mask.png", "out.png"])
  }

  @Test("one existing file of a batch refuses the whole batch")
  func batchRefusedWhole() throws {
    let setup = try Setup()
    try Data("x".utf8).write(to: URL(fileURLWithPath: setup.folder.path("out-1.png")))
    let run = try runEdit(
      setup.arguments + ["--output", setup.folder.path("out.png"), "--batch", "3"],
      backend: FakeBackend(FakeEditor.identity()))
    #expect(run.status == 1)
    #expect(setup.folder.entries == ["in.png", "mask.png", "out-1.png"])
  }

  @Test("the input image or mask is never an output, however it is spelled, even with --overwrite")
  func inputIsNeverOutput() throws {
    let setup = try Setup()
    let before = try Data(contentsOf: URL(fileURLWithPath: setup.input))
    try FileManager.default.createDirectory(
      atPath: setup.folder.path("sub"), withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: setup.folder.path("link.png"), withDestinationPath: setup.input)
    try FileManager.default.linkItem(atPath: setup.input, toPath: setup.folder.path("hard.png"))
    let spellings = [
      setup.input, setup.folder.path("sub/../in.png"), setup.folder.path("./in.png"),
      setup.folder.path("link.png"),
      setup.folder.path("hard.png"), setup.mask,
    ]
    for output in spellings {
      let backend = FakeBackend(FakeEditor.constant())
      let run = try runEdit(
        setup.arguments + ["--output", output, "--overwrite"], backend: backend)
      #expect(run.status == 1, "\(output)")
      #expect(run.console.error.contains("it is the input file"), "\(run.console.error)")
      #expect(backend.loads == 0)
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: setup.input)) == before)
  }

  @Test("--mask alpha: the image itself is protected")
  func alphaInputProtected() throws {
    let folder = try ScratchFolder()
    let input = try folder.writeImage(
      "in.png", width: 64, height: 64, alpha: [UInt16](repeating: 0, count: 64 * 64))
    let run = try runEdit(
      ["--image", input, "--mask", "alpha", "--prompt", "p", "--output", input, "--overwrite"],
      backend: FakeBackend(FakeEditor.constant()))
    #expect(run.status == 1 && run.console.error.contains("it is the input file"))
  }

  static let brokenInputs = ["truncated", "garbage", "empty", "missing", "directory"]

  @Test(
    "a corrupt, unsupported or missing input gives one line, exit 1 and no file",
    arguments: brokenInputs)
  func corruptInput(kind: String) throws {
    let setup = try Setup()
    let broken = setup.folder.path("broken.png")
    let bytes = try Data(contentsOf: URL(fileURLWithPath: setup.input))
    switch kind {
    case "truncated": try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: broken))
    case "garbage":
      try Data((0..<500).map { UInt8(truncatingIfNeeded: $0 &* 97) }).write(
        to: URL(fileURLWithPath: broken))
    case "empty": try Data().write(to: URL(fileURLWithPath: broken))
    case "directory":
      try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
    default: break
    }
    for asMask in [false, true] {
      let arguments = [
        "--image", asMask ? setup.input : broken, "--mask", asMask ? broken : setup.mask,
        "--prompt", "p",
        "--output", setup.folder.path("out.png"), "--seed", "1",
      ]
      let backend = FakeBackend(FakeEditor.identity())
      let run = try runEdit(arguments, backend: backend)
      #expect(run.status == 1)
      #expect(run.console.error.hasPrefix("bld: error: ") && run.console.error.contains(broken))
      #expect(run.console.error.filter { $0 == "\n" }.count == 1, "\(run.console.error)")
      #expect(backend.loads == 0)
      #expect(!FileManager.default.fileExists(atPath: setup.folder.path("out.png")))
    }
  }

  @Test("mask problems: other size, empty, no alpha channel")
  func maskProblems() throws {
    let setup = try Setup()
    let small = try setup.folder.writeMask(
      "small.png", width: 32, height: 64, selecting: PixelRegion(x: 0, y: 0, width: 4, height: 4))
    let empty = try setup.folder.writeMask(
      "empty.png", width: 64, height: 64, selecting: PixelRegion(x: 0, y: 0, width: 0, height: 0))
    let cases: [(String, String)] = [
      (small, "must be the same size"), (empty, "selects no pixel"),
      ("alpha", "has no alpha channel"),
    ]
    for (mask, expected) in cases {
      let run = try runEdit(
        [
          "--image", setup.input, "--mask", mask, "--prompt", "p", "--output",
          setup.folder.path("o.png"),
        ], backend: FakeBackend(FakeEditor.identity()))
      #expect(run.status == 1)
      #expect(run.console.error.contains(expected), "\(run.console.error)")
    }
    #expect(!FileManager.default.fileExists(atPath: setup.folder.path("o.png")))
  }

  @Test("a missing output folder is refused")
  func missingFolder() throws {
    let setup = try Setup()
    let run = try runEdit(
      setup.arguments + ["--output", setup.folder.path("nope/out.png")],
      backend: FakeBackend(FakeEditor.identity()))
    #expect(run.status == 1 && run.console.error.contains("does not exist"))
  }

  @Test("an editor or model failure leaves no file and exits 1 with one line")
  func failureLeavesNothing() throws {
    let setup = try Setup()
    let failing = FakeEditor { _, _ in throw FakeFailure() }
    for backend in [FakeBackend(failing), FakeBackend(nil)] {
      let run = try runEdit(
        setup.arguments + ["--output", setup.folder.path("out.png")], backend: backend)
      #expect(run.status == 1)
      #expect(run.console.error == "bld: error: the fake editor failed on two lines\n")
      #expect(setup.folder.entries == ["in.png", "mask.png"])
    }
    let wrongCount = FakeEditor { job, _ in .fake(images: [job.image]) }
    let run = try runEdit(
      setup.arguments + ["--output", setup.folder.path("out.png"), "--batch", "2"],
      backend: FakeBackend(wrongCount))
    #expect(run.status == 1 && run.console.error.contains("invalid result"))
    #expect(setup.folder.entries == ["in.png", "mask.png"])
  }

  @Test("cancellation during the edit stops it, exits 130 and leaves no file")
  func cancellationDuringEdit() throws {
    let setup = try Setup()
    let token = CancellationToken()
    var stepsRun = 0
    let editor = FakeEditor { job, progress in
      for step in 0..<20 {
        if step == 3 { token.cancel() }  // what the SIGINT handler does
        if progress(
          EditProgress(phase: .denoising, completed: step, total: 20))
          == .stop
        {
          throw FakeFailure()
        }
        stepsRun += 1
      }
      return .fake(images: [job.image])
    }
    let run = try runEdit(
      setup.arguments + ["--output", setup.folder.path("out.png")], backend: FakeBackend(editor),
      cancellation: token)
    #expect(run.status == 130)
    #expect(stepsRun == 3)
    #expect(run.console.error == "bld: error: cancelled; no output written\n")
    #expect(setup.folder.entries == ["in.png", "mask.png"])
  }

  @Test("cancellation is honoured even when the editor ignores .stop")
  func cancellationIgnoredByEditor() throws {
    let setup = try Setup()
    let token = CancellationToken()
    let editor = FakeEditor { job, _ in
      token.cancel()
      return .fake(images: [job.image, job.image])
    }
    let run = try runEdit(
      setup.arguments + ["--output", setup.folder.path("out.png"), "--batch", "2"],
      backend: FakeBackend(editor), cancellation: token)
    #expect(run.status == 130)
    #expect(setup.folder.entries == ["in.png", "mask.png"])
  }

  @Test("cancellation while writing removes the temporaries and every output")
  func cancellationWhileWriting() throws {
    let folder = try ScratchFolder()
    let temporaries = TemporaryFiles()
    let files = (0..<3).map {
      (path: folder.path("out-\($0).png"), data: Data(repeating: UInt8($0), count: 1000))
    }
    let token = CancellationToken()
    #expect(throws: EditCommandError.cancelled) {
      try AtomicOutput.write(files, overwrite: false, inputs: [], temporaries: temporaries) {
        // Temporaries exist (hidden) at this point, no output does.
        #expect(
          folder.entries.count == 3
            && folder.entries.allSatisfy { $0.hasPrefix(".out-") && $0.hasSuffix(".tmp") })
        #expect(temporaries.current.count == 3)
        token.cancel()
        try token.check()
      }
    }
    #expect(folder.entries.isEmpty)
    #expect(temporaries.current.isEmpty)
  }

  @Test("a file that appears during the run is not replaced (the commit is no-clobber)")
  func raceOnCommit() throws {
    let folder = try ScratchFolder()
    let files = (0..<2).map { (path: folder.path("out-\($0).png"), data: Data("new".utf8)) }
    #expect(throws: EditCommandError.outputExists(path: folder.path("out-1.png"))) {
      try AtomicOutput.write(files, overwrite: false, inputs: [], temporaries: TemporaryFiles()) {
        try Data("theirs".utf8).write(to: URL(fileURLWithPath: folder.path("out-1.png")))
      }
    }
    #expect(folder.entries == ["out-1.png"])  // out-0 was rolled back, out-1 is theirs
    #expect(
      try Data(contentsOf: URL(fileURLWithPath: folder.path("out-1.png"))) == Data("theirs".utf8))
  }

  @Test("a second signal deletes registered temporaries (deleteAll)")
  func temporariesDeleteAll() throws {
    let folder = try ScratchFolder()
    let registry = TemporaryFiles()
    for name in ["a", "b"] {
      try Data("x".utf8).write(to: URL(fileURLWithPath: folder.path(name)))
      registry.add(folder.path(name))
    }
    registry.deleteAll()
    #expect(folder.entries.isEmpty && registry.current.isEmpty)
  }

  @Test("a real SIGINT cancels the token through the interrupt monitor", .timeLimit(.minutes(1)))
  func realSignal() async throws {
    let token = CancellationToken()
    let monitor = InterruptMonitor(token: token, temporaries: TemporaryFiles()) {}
    kill(getpid(), SIGINT)  // process-directed, like Ctrl-C
    for _ in 0..<500 where !token.isCancelled { try await Task.sleep(nanoseconds: 10_000_000) }
    monitor.stop()
    #expect(token.isCancelled)
  }
}
