import Foundation

/// A per-process scratch folder in shared memory (or the temporary folder) where a harness writes its input, for
/// the parsers that read files.
public enum ScratchFile {
  /// The folder, created once.
  public static let folder: URL = {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let url = URL(fileURLWithPath: base).appendingPathComponent("bld-fuzz-\(getpid())", isDirectory: true)
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }()

  /// Writes `bytes` to `name` in the folder and returns its URL.
  public static func write(_ bytes: UnsafeRawBufferPointer, named name: String) -> URL {
    let url = folder.appendingPathComponent(name)
    _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
    return url
  }
}
