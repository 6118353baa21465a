import Foundation
import Synchronization

/// The temporary files the command has created and not yet renamed into place, so that a second Ctrl-C
/// (which exits at once) can still remove them.
public final class TemporaryFiles: Sendable {
  private let paths = Mutex<Set<String>>([])

  /// Creates an empty registry.
  public init() {}

  /// Records a temporary file.
  public func add(_ path: String) { _ = paths.withLock { $0.insert(path) } }

  /// Forgets a file (renamed into place or already removed).
  public func remove(_ path: String) { _ = paths.withLock { $0.remove(path) } }

  /// The files currently recorded.
  public var current: Set<String> { paths.withLock { $0 } }

  /// Deletes every recorded file (ignoring errors) and forgets them. Only async-signal-tolerant calls
  /// (`unlink`) touch the file system.
  public func deleteAll() {
    let all = paths.withLock { current -> Set<String> in
      defer { current.removeAll() }
      return current
    }
    for path in all { unlink(path) }
  }
}
