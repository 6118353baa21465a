import Foundation
import TensorCore
import Testing

/// Hostile safetensors files (issue 16, findings 2, 4 and 8): a header length beyond the format's 100 MB limit,
/// FIFOs and devices instead of files, and one-line messages that name the path once.
@Suite("Safetensors limits and non-regular files")
struct SafetensorsLimitTests {
  func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bld-limits-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test("a 4 KB sparse file claiming a 4 GB header is refused before the header is copied", .timeLimit(.minutes(1)))
  func headerBeyondTheFormatLimit() throws {
    let url = try temporaryDirectory().appendingPathComponent("huge-header.safetensors")
    defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
    var bytes = Data()
    withUnsafeBytes(of: UInt64(4_000_000_000).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(Data(repeating: 0x20, count: 4088))
    try bytes.write(to: url)
    // Make the file as long as the header claims, without writing it (sparse).
    #expect(truncate(url.path, 4_000_000_016) == 0)
    #expect(throws: SafetensorsError.headerTooLarge(file: url.path, headerLength: 4_000_000_000)) {
      try SafetensorsFile(contentsOf: url)
    }
  }

  @Test("a FIFO is refused at once instead of blocking the open", .timeLimit(.minutes(1)))
  func fifoIsRefused() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("weights.safetensors")
    #expect(mkfifo(url.path, 0o600) == 0)
    do {
      _ = try SafetensorsFile(contentsOf: url)
      Issue.record("the FIFO opened")
    } catch let error as SafetensorsError {
      #expect(error == .unreadable(file: url.path, reason: "it is a FIFO (named pipe), not a regular file"))
    }
  }

  @Test("/dev/zero is refused as a character device")
  func deviceIsRefused() throws {
    #expect(
      throws: SafetensorsError.unreadable(
        file: "/dev/zero", reason: "it is a character device, not a regular file")
    ) { try SafetensorsFile(contentsOf: URL(fileURLWithPath: "/dev/zero")) }
  }

  @Test("every error names the path exactly once and carries no Foundation error text")
  func pathOnce() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("bad.safetensors")
    var bytes = Data()
    withUnsafeBytes(of: UInt64(5).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(Data("{oops".utf8))
    try bytes.write(to: url)
    do {
      _ = try SafetensorsFile(contentsOf: url)
      Issue.record("the file opened")
    } catch let error as SafetensorsError {
      #expect(error.description.components(separatedBy: url.path).count == 2, "\(error)")
      #expect(error.description == "\(url.path): \(error.reason)")
      #expect(!error.description.contains("NSCocoaErrorDomain") && !error.description.contains("couldn’t"))
    }
  }

  @Test("RegularFile.read refuses directories, FIFOs and files above the limit with plain reasons")
  func regularFileReasons() throws {
    let directory = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    #expect(throws: RegularFile.Failure(reason: "it is a directory, not a regular file")) {
      try RegularFile.read(directory)
    }
    #expect(throws: RegularFile.Failure(reason: "no such file")) {
      try RegularFile.read(directory.appendingPathComponent("absent.json"))
    }
    let loop = directory.appendingPathComponent("loop")
    try FileManager.default.createSymbolicLink(atPath: loop.path, withDestinationPath: loop.path)
    #expect(throws: RegularFile.Failure(reason: "too many levels of symbolic links (a symbolic-link loop?)")) {
      try RegularFile.read(loop)
    }
    let big = directory.appendingPathComponent("big.json")
    try Data(repeating: 0x20, count: 100).write(to: big)
    #expect(throws: RegularFile.Failure(reason: "the file has 100 bytes, more than the 10 accepted")) {
      try RegularFile.read(big, maximumByteCount: 10)
    }
    #expect(try RegularFile.read(big).count == 100)
  }
}
