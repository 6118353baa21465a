import Dispatch
import Foundation

/// Turns Ctrl-C (SIGINT) and SIGTERM into a cancellation request while `bld edit` runs.
///
/// The first signal cancels the token: the progress handler answers `.stop`, the pipeline throws, the
/// command deletes every temporary file and exits with status 130 without writing anything. A second
/// signal deletes the registered temporary files and exits at once (status 130). Signals are received
/// through a dispatch source, so the handler is ordinary Swift code, not an async-signal context.
public final class InterruptMonitor {
  private var sources: [any DispatchSourceSignal] = []
  private let signals: [Int32] = [SIGINT, SIGTERM]

  /// Starts listening.
  /// - Parameters:
  ///   - token: cancelled on the first signal.
  ///   - temporaries: deleted before an immediate exit on the second signal.
  ///   - onFirstSignal: called once on the first signal (the command prints a note).
  public init(token: CancellationToken, temporaries: TemporaryFiles, onFirstSignal: @escaping @Sendable () -> Void) {
    for number in signals {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        if token.isCancelled {
          temporaries.deleteAll()
          _exit(130)
        }
        token.cancel()
        onFirstSignal()
      }
      source.resume()
      sources.append(source)
    }
  }

  /// Stops listening and restores the default signal actions.
  public func stop() {
    for source in sources { source.cancel() }
    sources.removeAll()
    for number in signals { signal(number, SIG_DFL) }
  }

  deinit { stop() }
}
