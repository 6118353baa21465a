import Synchronization

/// A one-way flag that asks running work to stop, safe to set from any thread (a signal handler's thread, a
/// `Task` cancellation handler) and read by progress handlers between steps.
public final class CancellationToken: Sendable {
  private let flag = Atomic<Bool>(false)

  /// Creates a token that is not cancelled.
  public init() {}

  /// Asks the work to stop. Idempotent.
  public func cancel() { flag.store(true, ordering: .sequentiallyConsistent) }

  /// Whether ``cancel()`` was called.
  public var isCancelled: Bool { flag.load(ordering: .sequentiallyConsistent) }

  /// The progress action for a report: ``ProgressAction/stop`` once cancelled, else ``ProgressAction/proceed``.
  public var progressAction: ProgressAction { isCancelled ? .stop : .proceed }
}
