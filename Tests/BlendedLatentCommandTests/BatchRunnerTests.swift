import BlendedLatent
import BlendedLatentCommand
import Foundation
import Testing
import _TestSupport

/// `bld batch`'s run loop with a fake model: one load for the whole shard, none when every job is done, a partial
/// result redone, a model that does not load.
@Suite("bld batch: one model load, partial results, load failures")
struct BatchRunnerTests {
  let folder: ScratchFolder
  let manifest: String

  init() throws {
    folder = try ScratchFolder()
    try folder.writeImage("in.png", width: 16, height: 16)
    try folder.writeMask("mask.png", width: 16, height: 16, selecting: PixelRegion(x: 2, y: 2, width: 6, height: 6))
    try FileManager.default.createDirectory(atPath: folder.path("out"), withIntermediateDirectories: true)
    let lines = (0..<3).map { k in
      #"{"image": "in.png", "mask": "mask.png", "prompt": "p", "seed": \#(k), "steps": 4, "output": "r\#(k).png"}"#
    }
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: folder.url.appendingPathComponent("jobs.jsonl"))
    manifest = folder.path("jobs.jsonl")
  }

  func run(_ backend: FakeBackend, console: RecordingConsole = RecordingConsole()) throws -> Int32 {
    let command = try BatchCommand.parse([
      manifest, "--model", RepositoryFixtures.tinyModel("sd1-tiny").path, "--output-dir", folder.path("out"),
    ])
    return command.execute(
      backend: backend, console: console, cancellation: CancellationToken(), temporaries: TemporaryFiles(),
      environment: [:])
  }

  @Test("the model loads once for the shard, and not at all when every job is done")
  func loadsOnce() throws {
    let backend = FakeBackend(FakeEditor.identity())
    #expect(try run(backend) == 0)
    #expect(backend.loads == 1)
    #expect(backend.editor?.jobs.map(\.seed) == [0, 1, 2])
    let again = FakeBackend(FakeEditor.identity())
    let console = RecordingConsole()
    #expect(try run(again, console: console) == 0)
    #expect(again.loads == 0)
    #expect(console.output.components(separatedBy: "(done before)").count == 4, "\(console.output)")
  }

  @Test("outputs without their sidecar (killed between the two writes) are redone and replaced")
  func partialResultRedone() throws {
    #expect(try run(FakeBackend(FakeEditor.identity())) == 0)
    try FileManager.default.removeItem(atPath: folder.path("out/r1.png.json"))
    try Data("stale".utf8).write(to: URL(fileURLWithPath: folder.path("out/r1.png")))
    let backend = FakeBackend(FakeEditor.identity())
    let console = RecordingConsole()
    #expect(try run(backend, console: console) == 0)
    #expect(backend.editor?.jobs.map(\.seed) == [1])
    #expect(console.output.contains("line 2: written r1.png"))
    #expect(try Data(contentsOf: URL(fileURLWithPath: folder.path("out/r1.png"))) != Data("stale".utf8))
    #expect(FileManager.default.fileExists(atPath: folder.path("out/r1.png.json")))
  }

  @Test("a model that does not load fails the shard once, status 1, nothing written")
  func loadFailure() throws {
    let console = RecordingConsole()
    #expect(try run(FakeBackend(nil), console: console) == 1)
    #expect(console.error.contains("bld: line 1: failed: the fake editor failed on two lines"), "\(console.error)")
    #expect(console.error.contains("the model did not load; the shard's 2 remaining lines not run"))
    #expect(console.error.contains("3 jobs: 0 written, 0 skipped (done before), 3 failed"))
    #expect((try FileManager.default.contentsOfDirectory(atPath: folder.path("out"))).isEmpty)
  }
}
