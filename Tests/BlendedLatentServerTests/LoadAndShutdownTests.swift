import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// Load on loopback (8 clients, 100 requests), cancel and SIGTERM in the middle of an edit.
@Suite("bld serve under load and at shutdown", .enabled(if: bldExecutable != nil, "bld not built"))
struct LoadAndShutdownTests {
  static let folder = RepositoryFixtures.endToEndCase("sd1-dpm-shrink")

  @Test(
    "8 concurrent clients, 100 requests: every answer 200 or 429, peak RSS bounded",
    .enabled(if: clientPython != nil, "no .build/client-venv: run Scripts/install-dependencies.sh"))
  func loadTest() throws {
    let server = try ServerProcess(arguments: ["--queue", "3"])
    defer { server.stop() }
    let report = try runClient(
      "load_test.py",
      [
        String(server.port), Self.folder.appendingPathComponent("image.png").path,
        Self.folder.appendingPathComponent("mask.png").path,
      ])
    let peak = try #require(server.peakResidentMiB)
    print("bld serve load test: \(report.trimmingCharacters(in: .whitespacesAndNewlines)), peak RSS \(Int(peak)) MiB")
    #expect(server.process.isRunning, "the server survived")
    #expect(peak < 1024, "peak RSS \(peak) MiB")
    #expect(server.temporaryFiles.isEmpty, "\(server.temporaryFiles)")
  }

  /// A native edit long enough to be interrupted even when the test process is starved on a busy machine: 500
  /// steps at batch 16 on a 64 × 64 image kept at its size (tens of seconds with the tiny model, unless cancelled).
  static func longEdit() throws -> String {
    let side = 64
    let image = try RGBImage(tensor: Tensor(shape: [3, side, side], repeating: 0.5)).pngData().base64EncodedString()
    let mask = try RGBImage.grayPNGData(
      Tensor(shape: [side, side]) { values in
        for row in 16..<48 { for column in 16..<48 { values[row * side + column] = 1 } }
      }
    ).base64EncodedString()
    return
      #"{"image":"\#(image)","mask":"\#(mask)","prompt":"a hat","steps":500,"strength":1,"seed":3,"batch":16,"working_size":"original"}"#
  }

  /// Waits until the job reports a step.
  static func waitForStep(_ server: ServerProcess, _ id: String) async throws {
    for _ in 0..<600 {
      let status = try await server.send("GET", "/v1/edits/\(id)")
      if let object = try JSONSerialization.jsonObject(with: status.body) as? [String: Any],
        let progress = object["progress"] as? [String: Any], (progress["completed"] as? Int ?? 0) > 0
      {
        return
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw ServerTestError("job \(id) never reported a step")
  }

  @Test("cancel mid-job: the job ends cancelled, no files left, the server keeps serving")
  func cancelMidJob() async throws {
    let server = try ServerProcess(arguments: ["--max-steps", "500", "--max-batch", "16"])
    defer { server.stop() }
    let submitted = try await server.send("POST", "/v1/edits", json: try Self.longEdit())
    #expect(submitted.status == 202)
    let id = try #require((try JSONSerialization.jsonObject(with: submitted.body) as? [String: Any])?["id"] as? String)
    try await Self.waitForStep(server, id)
    let cancelled = try await server.send("DELETE", "/v1/edits/\(id)")
    #expect(cancelled.status == 200)
    var final = ""
    for _ in 0..<200 {
      let status = try await server.send("GET", "/v1/edits/\(id)")
      final = (try JSONSerialization.jsonObject(with: status.body) as? [String: Any])?["status"] as? String ?? ""
      if final == "cancelled" { break }
      try await Task.sleep(for: .milliseconds(50))
    }
    #expect(final == "cancelled")
    #expect(server.temporaryFiles.isEmpty, "\(server.temporaryFiles)")
    #expect(try await server.send("GET", "/v1/model").status == 200)
  }

  @Test("SIGTERM mid-job: exits 0 promptly, the job is cancelled, no files left")
  func terminateMidJob() async throws {
    let server = try ServerProcess(arguments: ["--max-steps", "500", "--max-batch", "16"])
    defer { server.stop() }
    let submitted = try await server.send("POST", "/v1/edits", json: try Self.longEdit())
    let id = try #require((try JSONSerialization.jsonObject(with: submitted.body) as? [String: Any])?["id"] as? String)
    try await Self.waitForStep(server, id)
    let files = server.temporaryDirectory
    let start = Date()
    server.process.terminate()
    server.process.waitUntilExit()
    let seconds = Date().timeIntervalSince(start)
    #expect(server.process.terminationStatus == 0)
    #expect(seconds < 20, "took \(seconds) s to stop")
    let left = (try? FileManager.default.subpathsOfDirectory(atPath: files.path)) ?? []
    #expect(left.isEmpty, "\(left)")
  }
}
