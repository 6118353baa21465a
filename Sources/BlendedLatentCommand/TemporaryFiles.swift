import Foundation
import Synchronization

/// The temporary files the command has created and not yet renamed into place, so that a second Ctrl-C
/// (which exits at once) can still remove them.
package final class TemporaryFiles: Sendable {
  private let paths = Mutex<Set<String>>([])

  /// Creates an empty registry.
  package init() {}

  /// Records a temporary file.
  package func add(_ path: String) { _ = paths.withLock { $0.insert(path) } }

  /// Forgets a file (renamed into place or already removed).
  package func remove(_ path: String) { _ = paths.withLock { $0.remove(path) } }

  /// The files currently recorded.
  package var current: Set<String> { paths.withLock { $0 } }

  /// Deletes every recorded file (ignoring errors) and forgets them. Only async-signal-tolerant calls
  /// (`unlink`) touch the file system.
  package func deleteAll() {
    let all = paths.withLock { current -> Set<String> in
      defer { current.removeAll() }
      return current
    }
    for path in all { unlink(path) }
  }
}
