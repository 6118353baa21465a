import Foundation
import TensorCore

/// A `bld batch` manifest: JSON Lines, one edit per line (see ``BatchJob``).
///
/// Every line counts for numbering and sharding (line `k`, 0-based, belongs to shard `k mod N`); blank lines
/// are not jobs. Lines end with `\n` (a `\r` before it is dropped).
package struct BatchManifest: Sendable {
  /// The manifest's path as given.
  package let path: String
  /// Every line, without its terminator.
  package let lines: [String]

  /// Reads a manifest.
  /// - Throws: `RegularFile.Failure` (a plain reason) when the file is missing, not a regular file, or over 1 GiB.
  package init(contentsOf path: String) throws {
    let text = String(
      decoding: try RegularFile.read(URL(fileURLWithPath: path), maximumByteCount: 1 << 30), as: UTF8.self)
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
      String($0.hasSuffix("\r") ? $0.dropLast() : $0)
    }
    if text.hasSuffix("\n") { lines.removeLast() }
    self.path = path
    self.lines = lines
  }

  /// The folder relative `image` and `mask` paths are resolved against: the manifest's own.
  package var folder: String { URL(fileURLWithPath: path).deletingLastPathComponent().path }

  /// The 0-based indices of the lines of `shard` that are not blank, in order.
  package func jobLineIndices(in shard: ShardSelection) -> [Int] {
    lines.indices.filter { shard.contains(lineIndex: $0) && !lines[$0].allSatisfy(\.isWhitespace) }
  }

  /// The first line (numbered from 1) that writes each output, keyed by the standardised `output`, so that a
  /// later line writing it again is refused instead of being mistaken for done. Lines of every shard are read,
  /// but only for their `output` key (lines that are not JSON objects are left to their own shard to report).
  package func firstLineByOutput() -> [String: Int] {
    var first: [String: Int] = [:]
    let decoder = JSONDecoder()
    for (index, line) in lines.enumerated() {
      guard let object = try? decoder.decode([String: ManifestValue].self, from: Data(line.utf8)),
        let output = try? BatchJob.relativeOutput(object["output"])
      else { continue }
      let key = (output as NSString).standardizingPath
      if first[key] == nil { first[key] = index + 1 }
    }
    return first
  }
}
