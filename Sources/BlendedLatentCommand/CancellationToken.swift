import Synchronization

/// A one-way flag that asks running work to stop: set by Ctrl-C, read by the progress handler.
public final class CancellationToken: Sendable {
  private let flag = Atomic<Bool>(false)

  /// Creates a token that is not cancelled.
  public init() {}

  /// Asks the work to stop. Safe from any thread; idempotent.
  public func cancel() { flag.store(true, ordering: .sequentiallyConsistent) }

  /// Whether ``cancel()`` was called.
  public var isCancelled: Bool { flag.load(ordering: .sequentiallyConsistent) }

  /// Throws ``EditCommandError/cancelled`` when cancelled.
  public func check() throws {
    if isCancelled { throw EditCommandError.cancelled }
  }
}
