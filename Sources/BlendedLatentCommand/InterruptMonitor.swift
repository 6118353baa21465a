import BlendedLatent
import Foundation
import Synchronization

/// Turns Ctrl-C (SIGINT), SIGTERM, SIGHUP (a closed terminal or dropped ssh session) and SIGQUIT (Ctrl-\\) into a
/// cancellation request while `bld edit` or `bld batch` runs.
///
/// The first signal cancels the token: the progress handler answers `.stop`, the pipeline throws, the
/// command deletes every temporary file and exits without writing anything, with ``exitStatus`` (130 for SIGINT
/// and SIGTERM, 129 for SIGHUP, 131 for SIGQUIT). A second signal deletes the registered temporary files and
/// exits at once with the same status.
///
/// The signal handler itself only writes one byte to a pipe (async-signal-safe); a watcher thread reads
/// the pipe and does the rest in ordinary Swift. One monitor is active at a time.
package final class InterruptMonitor: Sendable {
  private static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]

  private let received = ReceivedSignal()

  /// The exit status for a cancellation by `signal`: 129 for SIGHUP, 131 for SIGQUIT (128 + the signal number, as
  /// shells report a death by that signal), and 130 for SIGINT and SIGTERM (the status `bld` has always used).
  package static func exitStatus(for signal: Int32) -> Int32 {
    switch signal {
    case SIGHUP, SIGQUIT: 128 + signal
    default: 130
    }
  }

  /// The status to exit with after a cancellation: ``exitStatus(for:)`` of the first signal received, or 130
  /// when the cancellation did not come from a signal.
  package var exitStatus: Int32 { received.signal.map(Self.exitStatus(for:)) ?? 130 }

  /// Starts listening (replacing any monitor that is active), unblocking the four signals on the calling thread.
  /// - Parameters:
  ///   - token: cancelled on the first signal.
  ///   - temporaries: deleted before an immediate exit on the second signal.
  ///   - onFirstSignal: called once on the first signal, on the watcher thread (the command prints a note).
  package init(
    token: CancellationToken, temporaries: TemporaryFiles,
    onFirstSignal: @escaping @Sendable () -> Void
  ) {
    SignalPipe.shared.activate(
      .init(token: token, temporaries: temporaries, received: received, onFirstSignal: onFirstSignal))
    var unblocked = sigset_t()
    sigemptyset(&unblocked)
    for number in Self.signals {
      signal(number, interruptSignalHandler)
      sigaddset(&unblocked, number)
    }
    // A launcher may start us with these signals blocked (the mask is inherited: Foundation's `Process` started
    // from a thread that blocks them does that), which would leave SIGTERM pending forever.
    pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
  }

  /// Stops listening and restores the default signal actions.
  package func stop() {
    for number in Self.signals { signal(number, SIG_DFL) }
    SignalPipe.shared.activate(nil)
  }
}

/// The write end of the signal pipe, read by the C-convention handler (set once, before any handler is
/// installed).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Writes the signal number's low byte to the pipe; nothing else (async-signal-safe).
private func interruptSignalHandler(_ number: Int32) {
  let savedErrno = errno
  var byte = UInt8(truncatingIfNeeded: number)
  _ = write(signalPipeWriteEnd, &byte, 1)
  errno = savedErrno
}

/// The pipe between the signal handler and the watcher thread, and the active monitor's state.
private final class SignalPipe: Sendable {
  struct Registration: Sendable {
    let token: CancellationToken
    let temporaries: TemporaryFiles
    let received: ReceivedSignal
    let onFirstSignal: @Sendable () -> Void
  }

  static let shared = SignalPipe()

  private let registration = Mutex<Registration?>(nil)

  private init() {
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { return }
    _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
    _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
    _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
    signalPipeWriteEnd = ends[1]
    let readEnd = ends[0]
    let thread = Thread { [self] in self.watch(readEnd) }
    thread.name = "bld-signal-watcher"
    thread.start()
  }

  func activate(_ state: Registration?) { registration.withLock { $0 = state } }

  private func watch(_ readEnd: Int32) {
    var byte: UInt8 = 0
    while true {
      let count = read(readEnd, &byte, 1)
      if count < 0 && errno == EINTR { continue }
      if count <= 0 { return }
      guard let state = registration.withLock({ $0 }) else { continue }
      state.received.record(Int32(byte))
      if state.token.isCancelled {
        state.temporaries.deleteAll()
        _exit(state.received.signal.map(InterruptMonitor.exitStatus(for:)) ?? 130)
      }
      state.token.cancel()
      state.onFirstSignal()
    }
  }
}

/// The first signal a monitor received (written by the watcher thread, read by the command).
private final class ReceivedSignal: Sendable {
  private let number = Mutex<Int32?>(nil)

  /// The first signal recorded, or `nil`.
  var signal: Int32? { number.withLock { $0 } }

  /// Records `signal` unless one was recorded before.
  func record(_ signal: Int32) { number.withLock { $0 = $0 ?? signal } }
}
