import Foundation

/// Where the command writes: standard output (results, JSON) and standard error (notes, progress).
/// Tests substitute a recording console.
package protocol CommandConsole: AnyObject {
  /// Whether standard error is a terminal (the progress bar is drawn only then).
  var standardErrorIsTerminal: Bool { get }
  /// Writes `text` to standard output as is.
  func writeOutput(_ text: String)
  /// Writes `text` to standard error as is.
  func writeError(_ text: String)
}

/// The process's real standard output and standard error.
package final class ProcessConsole: CommandConsole {
  /// Creates the console.
  package init() {}

  /// `isatty(2)`.
  package var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

  /// Writes to file descriptor 1.
  package func writeOutput(_ text: String) { Self.write(text, to: STDOUT_FILENO) }

  /// Writes to file descriptor 2.
  package func writeError(_ text: String) { Self.write(text, to: STDERR_FILENO) }

  private static func write(_ text: String, to descriptor: Int32) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      let count = bytes.withUnsafeMutableBytes {
        Foundation.write(descriptor, $0.baseAddress! + offset, $0.count - offset)
      }
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { return }
      offset += count
    }
    bytes.removeAll()
  }
}
