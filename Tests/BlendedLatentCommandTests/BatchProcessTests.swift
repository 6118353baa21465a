import Foundation
import Testing
import _TestSupport

/// `bld batch` as a job array would run it: real `bld` processes over a 12-job manifest on the tiny SD 1.x
/// folder — shards against one process, a killed shard re-run, the shard index from the environment, invalid
/// lines, exit statuses.
@Suite(
  "bld batch: shards, retries, invalid lines, exit statuses", .serialized,
  .enabled(if: bldExecutable != nil, "bld not built"))
struct BatchProcessTests {
  /// A started `bld` process whose standard output and error go to files (read while it runs).
  struct BLDProcess {
    let process: Process
    let outputFile: URL
    let errorFile: URL

    /// Starts `bld arguments…`, without the job-array variables of the test's own environment, plus `environment`.
    init(_ arguments: [String], environment: [String: String] = [:], logs folder: URL) throws {
      let name = UUID().uuidString
      outputFile = folder.appendingPathComponent("\(name).out")
      errorFile = folder.appendingPathComponent("\(name).err")
      _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
      _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
      process = Process()
      process.executableURL = bldExecutable!
      process.arguments = arguments
      var variables = ProcessInfo.processInfo.environment
      for variable in ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"] { variables[variable] = nil }
      process.environment = variables.merging(environment) { _, new in new }
      process.standardOutput = try FileHandle(forWritingTo: outputFile)
      process.standardError = try FileHandle(forWritingTo: errorFile)
      try process.run()
    }

    /// What the process has written to standard output so far.
    var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }
    /// What it has written to standard error so far.
    var error: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// Waits for the exit and returns the status (the signal number when killed).
    func wait() -> Int32 {
      process.waitUntilExit()
      return process.terminationStatus
    }
  }

  /// A scratch folder with the manifest's inputs, its manifest and output folders.
  let folder: ScratchFolder
  let model = RepositoryFixtures.tinyModel("sd1-tiny").path

  init() throws {
    folder = try ScratchFolder()
    let sd1 = RepositoryFixtures.endToEndCase("sd1-dpm-shrink")
    for name in ["image.png", "mask.png"] {
      try FileManager.default.copyItem(
        at: sd1.appendingPathComponent(name), to: folder.url.appendingPathComponent(name))
    }
  }

  /// The 12-job manifest: relative (manifest-folder) inputs for even jobs, the 32×32 SD 2 case's absolute ones
  /// for odd jobs; three schedulers, `paste` for every fourth, one output in a subfolder.
  func twelveJobs(steps: Int) -> [String] {
    let sd2 = RepositoryFixtures.endToEndCase("sd2-ddim")
    return (0..<12).map { k in
      var job: [String: Any] = [
        "prompt": "job \(k)", "seed": 100 + k, "steps": steps, "strength": 1, "guidance": 5,
        "scheduler": ["ddim", "euler", "dpm++2m"][k % 3],
        "output": k == 5 ? "sub/job-05.png" : String(format: "job-%02d.png", k),
      ]
      if k % 2 == 0 {
        job["image"] = "image.png"
        job["mask"] = "mask.png"
      } else {
        job["image"] = sd2.appendingPathComponent("image.png").path
        job["mask"] = sd2.appendingPathComponent("mask.png").path
      }
      if k % 4 == 0 { job["background"] = "paste" }
      return Self.jsonLine(job)
    }
  }

  static func jsonLine(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }

  func writeManifest(_ lines: [String], named name: String = "jobs.jsonl") throws -> String {
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: folder.url.appendingPathComponent(name))
    return folder.path(name)
  }

  func outputFolder(_ name: String) throws -> String {
    try FileManager.default.createDirectory(
      at: folder.url.appendingPathComponent(name), withIntermediateDirectories: true)
    return folder.path(name)
  }

  func batch(_ manifest: String, _ output: String, _ extra: [String] = []) -> [String] {
    ["batch", manifest, "--model", model, "--output-dir", output, "--threads", "1"] + extra
  }

  /// Every file under `directory`, relative, sorted (hidden ones included).
  static func files(in directory: String) -> [String] {
    let enumerator = FileManager.default.enumerator(atPath: directory)
    var files: [String] = []
    while let path = enumerator?.nextObject() as? String {
      var isDirectory: ObjCBool = false
      _ = FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory)
      if !isDirectory.boolValue { files.append(path) }
    }
    return files.sorted()
  }

  static let expectedFiles: [String] = (0..<12).flatMap { k -> [String] in
    let name = k == 5 ? "sub/job-05.png" : String(format: "job-%02d.png", k)
    return [name, name + ".json"]
  }.sorted()

  /// The outputs named on `line N: written OUT` lines.
  static func written(_ output: String) -> [String] {
    output.split(separator: "\n").compactMap { line in
      line.contains(": written ") ? String(line.split(separator: " ").last!) : nil
    }
  }

  static func pngBytes(in directory: String) throws -> [String: Data] {
    var bytes: [String: Data] = [:]
    for path in files(in: directory) where path.hasSuffix(".png") {
      bytes[path] = try Data(contentsOf: URL(fileURLWithPath: directory + "/" + path))
    }
    return bytes
  }

  /// Inode and modification time (nanoseconds) of a file.
  static func identity(_ path: String) -> [Int] {
    var info = stat()
    guard stat(path, &info) == 0 else { return [] }
    return [Int(info.st_ino), info.st_mtim.tv_sec, info.st_mtim.tv_nsec]
  }

  @Test("three shard processes (one indexed by JOB_COMPLETION_INDEX) write each output once, identical to one process")
  func shardsMatchOneProcess() throws {
    let manifest = try writeManifest(twelveJobs(steps: 4))
    let single = try outputFolder("single")
    let one = try BLDProcess(batch(manifest, single), logs: folder.url)
    #expect(one.wait() == 0, "\(one.error)")
    #expect(Self.files(in: single) == Self.expectedFiles)
    #expect(Self.written(one.output).sorted() == Self.expectedFiles.filter { $0.hasSuffix(".png") })

    let sharded = try outputFolder("sharded")
    let shards = [
      try BLDProcess(batch(manifest, sharded, ["--shard", "0/3"]), logs: folder.url),
      try BLDProcess(batch(manifest, sharded, ["--shard", "1/3"]), logs: folder.url),
      try BLDProcess(
        batch(manifest, sharded, ["--shards", "3"]), environment: ["JOB_COMPLETION_INDEX": "2"], logs: folder.url),
    ]
    for (index, shard) in shards.enumerated() {
      #expect(shard.wait() == 0, "shard \(index): \(shard.error)")
      #expect(shard.error.contains("bld: shard \(index)/3: 4 jobs: 4 written"), "\(shard.error)")
      // Shard i wrote the lines k with k mod 3 = i.
      let mine = Self.written(shard.output).map { name in Int(name.filter(\.isNumber).suffix(2))! }
      #expect(mine == [index, index + 3, index + 6, index + 9], "\(shard.output)")
    }
    let everyWritten = shards.flatMap { Self.written($0.output) }
    #expect(everyWritten.sorted() == Self.expectedFiles.filter { $0.hasSuffix(".png") }, "each output exactly once")
    #expect(Self.files(in: sharded) == Self.expectedFiles, "no temporaries, nothing else")
    #expect(try Self.pngBytes(in: sharded) == Self.pngBytes(in: single))

    // The sidecar is bld edit's --json summary.
    let sidecar =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: sharded + "/job-03.png.json"))) as? [String: Any]
    #expect(sidecar?["seed"] as? Int == 103)
    #expect((sidecar?["settings"] as? [String: Any])?["scheduler"] as? String == "ddim")
    #expect((sidecar?["timings"] as? [String: Any])?["total"] != nil)
  }

  @Test("a shard killed mid-run and run again completes the set without redoing finished jobs")
  func killedShardResumes() throws {
    // Enough steps that the SIGKILL, sent as soon as the first job is reported, lands inside a later job.
    let manifest = try writeManifest(twelveJobs(steps: 60))
    let reference = try outputFolder("reference")
    let one = try BLDProcess(batch(manifest, reference), logs: folder.url)
    #expect(one.wait() == 0, "\(one.error)")

    let output = try outputFolder("retried")
    let victim = try BLDProcess(batch(manifest, output, ["--shard", "1/3"]), logs: folder.url)
    let others = [
      try BLDProcess(batch(manifest, output, ["--shard", "0/3"]), logs: folder.url),
      try BLDProcess(batch(manifest, output, ["--shard", "2/3"]), logs: folder.url),
    ]
    let deadline = Date().addingTimeInterval(120)
    while Self.written(victim.output).isEmpty && victim.process.isRunning && Date() < deadline {
      usleep(5_000)
    }
    kill(victim.process.processIdentifier, SIGKILL)
    #expect(victim.wait() == SIGKILL)
    for shard in others { #expect(shard.wait() == 0, "\(shard.error)") }

    let finished = Self.written(victim.output)
    try #require(!finished.isEmpty && finished.count < 4, "the kill landed mid-run: \(finished)")
    let before = Dictionary(uniqueKeysWithValues: finished.map { ($0, Self.identity(output + "/" + $0)) })

    let retry = try BLDProcess(batch(manifest, output, ["--shard", "1/3"]), logs: folder.url)
    #expect(retry.wait() == 0, "\(retry.error)")
    for name in finished {
      #expect(retry.output.contains("skipped \(name) (done before)"), "\(retry.output)")
      #expect(Self.identity(output + "/" + name) == before[name], "\(name) was rewritten")
    }
    #expect(Set(Self.written(retry.output)).isDisjoint(with: finished))
    #expect(Self.written(retry.output).count == 4 - finished.count)
    #expect(retry.error.contains("\(finished.count) skipped"), "\(retry.error)")
    let leftovers = Self.files(in: output).filter { !Self.expectedFiles.contains($0) }
    #expect(leftovers.allSatisfy { $0.hasSuffix(".tmp") }, "only a killed write's temporaries: \(leftovers)")
    #expect(Set(Self.files(in: output)).isSuperset(of: Self.expectedFiles))
    #expect(try Self.pngBytes(in: output) == Self.pngBytes(in: reference))

    // SIGTERM mid-job: status 130, the running job leaves nothing.
    let stopped = try outputFolder("stopped")
    let terminated = try BLDProcess(batch(manifest, stopped), logs: folder.url)
    while Self.written(terminated.output).isEmpty && terminated.process.isRunning && Date() < deadline {
      usleep(5_000)
    }
    kill(terminated.process.processIdentifier, SIGTERM)
    #expect(terminated.wait() == 130, "\(terminated.error)")
    #expect(Self.files(in: stopped).allSatisfy { Self.expectedFiles.contains($0) }, "no temporaries")
    #expect(Self.files(in: stopped).count == 2 * Self.written(terminated.output).count)
  }

  @Test("invalid lines and failing jobs are reported with their line numbers and the run goes on")
  func invalidLines() throws {
    let good: [String: Any] = [
      "image": "image.png", "mask": "mask.png", "prompt": "a hat", "seed": 1, "steps": 2, "strength": 1,
    ]
    func with(_ changes: [String: Any]) -> String { Self.jsonLine(good.merging(changes) { _, new in new }) }
    let lines = [
      with(["output": "first.png"]),  // 1
      "{\"image\": \"image.png\", ",  // 2: malformed
      "[1, 2]",  // 3: not an object
      with(["output": "colour.png", "colour": "red"]),  // 4: unknown key
      with(["output": "../escape.png"]),  // 5: escapes DIR
      with(["output": "/tmp/absolute.png"]),  // 6: absolute
      with(["output": "ten.png", "steps": "ten"]),  // 7: wrong type (bld edit's parser)
      with(["output": "bool.png", "seed": true]),  // 8: wrong type
      with(["output": "model.png", "model": "elsewhere"]),  // 9: a run option
      "",  // 10: blank, not a job
      with(["output": "first.png", "seed": 2]),  // 11: duplicate output
      with(["output": "zero.png", "steps": 0]),  // 12: bld edit's validation
      with(["output": "missing.png", "image": "nowhere.png"]),  // 13: fails when run
      with(["output": "last.png"]),  // 14
    ]
    let output = try outputFolder("out")
    let run = try BLDProcess(batch(try writeManifest(lines), output), logs: folder.url)
    #expect(run.wait() == 1, "a failed job: status 1")
    let errors = run.error.split(separator: "\n").map(String.init)
    let expected: [(Int, String)] = [
      (2, "invalid: not a JSON object"), (3, "invalid: not a JSON object"), (4, "invalid: unknown key 'colour'"),
      (5, "invalid: 'output' must be a path inside the output folder"),
      (6, "invalid: 'output' must be a path inside the output folder"),
      (7, "invalid: The value 'ten' is invalid for 'steps'"), (8, "invalid: 'seed' must be a string or a number"),
      (9, "invalid: 'model' applies to the whole run"), (11, "invalid: output 'first.png' is also written by line 1"),
      (12, "invalid: steps must be between 1 and 1000"), (13, "failed: "),
    ]
    for (line, message) in expected {
      #expect(errors.contains { $0.hasPrefix("bld: line \(line): \(message)") }, "line \(line): \(run.error)")
    }
    #expect(errors.filter { $0.hasPrefix("bld: line") }.count == expected.count, "\(run.error)")
    #expect(run.error.contains("13 jobs: 2 written, 0 skipped (done before), 1 failed, 10 invalid"), "\(run.error)")
    #expect(Self.files(in: output) == ["first.png", "first.png.json", "last.png", "last.png.json"])

    // Only invalid lines: 65; run again, the done jobs are skipped.
    let invalidOnly = try BLDProcess(
      batch(try writeManifest(Array(lines[0..<12]), named: "invalid.jsonl"), output), logs: folder.url)
    #expect(invalidOnly.wait() == 65, "\(invalidOnly.error)")
    #expect(invalidOnly.output == "line 1: skipped first.png (done before)\n")
  }

  @Test("bad command lines and unreadable manifests exit 64 with one line")
  func usageErrors() throws {
    let manifest = try writeManifest(twelveJobs(steps: 2))
    let output = try outputFolder("out")
    let cases: [([String], [String: String], String)] = [
      (batch(manifest, output, ["--shard", "3/3"]), [:], "shard index 3 is not in 0…2"),
      (batch(manifest, output, ["--shard", "1"]), [:], "--shard must be I/N"),
      (batch(manifest, output), ["JOB_COMPLETION_INDEX": "1"], "JOB_COMPLETION_INDEX is set"),
      (batch(manifest, output, ["--shards", "2"]), [:], "needs this process's index"),
      (batch(manifest, output, ["--shards", "2"]), ["SLURM_ARRAY_TASK_ID": "2"], "SLURM_ARRAY_TASK_ID: shard index 2"),
      (batch(manifest, output, ["--threads", "0"]), [:], "--threads must be ≥ 1"),
      (batch(manifest, folder.path("absent")), [:], "--output-dir"),
      (batch(folder.path("absent.jsonl"), output), [:], "cannot read the manifest"),
    ]
    for (arguments, environment, message) in cases {
      let run = try BLDProcess(arguments, environment: environment, logs: folder.url)
      #expect(run.wait() == 64, "\(arguments): \(run.error)")
      #expect(run.error.contains(message), "\(arguments): \(run.error)")
    }
    #expect(Self.files(in: output).isEmpty)
  }
}
