import Foundation
import _TestSupport

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// The built `bld` executable next to the test bundle (SwiftPM builds it with the tests).
let bldExecutable: URL? = {
  let candidates = [
    Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("bld"),
    Bundle.main.bundleURL.appendingPathComponent("bld"),
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bld"),
  ]
  return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}()

/// The repository's root folder.
let repositoryRoot = RepositoryFixtures.testsDirectory.deletingLastPathComponent()

/// The Python of the client environment `Scripts/install-dependencies.sh` makes (`webuiapi`, `selenium`,
/// `marionette_driver`, `requests`, Pillow), or `nil` when it was not made.
let clientPython: URL? = {
  let python = repositoryRoot.appendingPathComponent(".build/client-venv/bin/python")
  return FileManager.default.isExecutableFile(atPath: python.path) ? python : nil
}()

/// A `bld serve` process on a free loopback port with its own empty `TMPDIR`, stopped by ``stop()``.
final class ServerProcess: @unchecked Sendable {
  let process = Process()
  let port: Int
  let temporaryDirectory: URL
  let host: String
  private let errorPipe = Pipe()

  /// Starts `bld serve --model MODEL --port 0 ARGUMENTS` and waits until it listens.
  init(model: URL = RepositoryFixtures.tinyModel("sd1-tiny"), host: String = "127.0.0.1", arguments: [String] = [])
    throws
  {
    guard let bldExecutable else { throw ServerTestError("bld is not built") }
    temporaryDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("bld-serve-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
    self.host = host
    process.executableURL = bldExecutable
    process.arguments = ["serve", "--model", model.path, "--host", host, "--port", "0", "--threads", "1"] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["TMPDIR"] = temporaryDirectory.path
    process.environment = environment
    process.standardError = errorPipe
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    var text = ""
    let deadline = Date().addingTimeInterval(120)
    var found: Int?
    while found == nil, Date() < deadline, process.isRunning {
      let data = errorPipe.fileHandleForReading.availableData
      if data.isEmpty { break }
      text += String(decoding: data, as: UTF8.self)
      if let range = text.range(of: #"listening on http://[^:]+:(\d+)/"#, options: .regularExpression) {
        found = Int(text[range].split(separator: ":").last!.dropLast())
      }
    }
    guard let found else {
      process.terminate()
      throw ServerTestError("bld serve did not start: \(text)")
    }
    port = found
  }

  /// `http://127.0.0.1:PORT`.
  var baseURL: String { "http://127.0.0.1:\(port)" }

  /// The process's peak resident memory (`VmHWM`) in MiB.
  var peakResidentMiB: Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
      let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
      let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kilobytes / 1024
  }

  /// Files left in the server's `TMPDIR`.
  var temporaryFiles: [String] {
    (try? FileManager.default.subpathsOfDirectory(atPath: temporaryDirectory.path)) ?? []
  }

  /// Sends SIGTERM and waits for the exit; returns the exit status.
  @discardableResult
  func stop() -> Int32 {
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    try? FileManager.default.removeItem(at: temporaryDirectory)
    return process.terminationStatus
  }

  /// One HTTP exchange.
  func send(
    _ method: String, _ path: String, json: String? = nil, body: Data? = nil, headers: [String: String] = [:]
  ) async throws -> (status: Int, body: Data, headers: [AnyHashable: Any]) {
    var request = URLRequest(url: URL(string: baseURL + path)!)
    request.httpMethod = method
    request.timeoutInterval = 300
    if let json {
      request.httpBody = Data(json.utf8)
      request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    } else if let body {
      request.httpBody = body
    }
    for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
    let (data, response) = try await URLSession.shared.data(for: request)
    let http = response as! HTTPURLResponse
    return (http.statusCode, data, http.allHeaderFields)
  }
}

/// Runs a client script with the client environment's Python, its environment this process's with `environment`
/// on top; returns its standard output.
func runClient(_ script: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
  guard let clientPython else { throw ServerTestError("no client environment") }
  let process = Process()
  process.executableURL = clientPython
  process.arguments = [repositoryRoot.appendingPathComponent("Tests/Clients/\(script)").path] + arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  let output = Pipe()
  let error = Pipe()
  process.standardOutput = output
  process.standardError = error
  try process.run()
  let outputData = output.fileHandleForReading.readDataToEndOfFile()
  let errorData = error.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else {
    throw ServerTestError(
      "\(script) failed (\(process.terminationStatus)): \(String(decoding: errorData, as: UTF8.self))")
  }
  return String(decoding: outputData, as: UTF8.self)
}

/// A test failure with a message.
struct ServerTestError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
