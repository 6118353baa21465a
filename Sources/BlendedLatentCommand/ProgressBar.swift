import BlendedLatent
import Foundation

/// A one-line progress bar on standard error: phase, bar, `i/N`, elapsed time and ETA.
///
/// It draws only when enabled (the command enables it when standard error is a terminal and `--quiet`
/// is not given), redraws at most every 0.1 s except when a phase starts or ends, and ends each phase's
/// line with a newline. ``note(_:)`` prints a message above the bar without mangling it.
package final class ProgressBar {
  private let console: any CommandConsole
  /// Whether anything is drawn.
  package let isEnabled: Bool
  private let clock: () -> Double
  private var phase: String?
  private var phaseStart = 0.0
  private var lastDraw = -Double.infinity
  private var lineVisible = false
  private var lastLine = ""

  /// Creates a bar.
  /// - Parameters:
  ///   - console: where to draw (standard error).
  ///   - isEnabled: whether to draw at all.
  ///   - clock: seconds from any fixed origin (injectable for tests).
  package init(
    console: any CommandConsole, isEnabled: Bool,
    clock: @escaping () -> Double = ProgressBar.monotonicSeconds
  ) {
    self.console = console
    self.isEnabled = isEnabled
    self.clock = clock
  }

  /// Seconds of a monotonic clock.
  package static func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }

  /// Shows `progress`. A new phase name finishes the previous phase's line and restarts the timer.
  package func update(_ progress: EditProgress) {
    guard isEnabled else { return }
    let now = clock()
    if progress.phase.description != phase {
      finishLine()
      phase = progress.phase.description
      phaseStart = now
      lastDraw = -Double.infinity
    }
    let done = progress.completed >= progress.total
    guard done || progress.completed == 0 || now - lastDraw >= 0.1 else { return }
    lastDraw = now
    lastLine = Self.line(
      phase: progress.phase.description, completed: progress.completed, total: progress.total,
      elapsed: now - phaseStart)
    console.writeError("\r\u{1B}[2K" + lastLine)
    lineVisible = true
  }

  /// Prints a line of text on standard error, above the bar when one is showing.
  package func note(_ text: String) {
    if lineVisible { console.writeError("\r\u{1B}[2K") }
    console.writeError(text + "\n")
    if lineVisible { console.writeError(lastLine) }
  }

  /// Ends the current bar line (call before printing results or exiting).
  package func finish() {
    guard isEnabled else { return }
    finishLine()
    phase = nil
  }

  private func finishLine() {
    if lineVisible { console.writeError("\n") }
    lineVisible = false
  }

  /// The text of one bar: `"denoising  ████████▌·······  19/38  0:12 elapsed  ETA 0:12"`.
  /// The ETA is `elapsed · (total − completed) / completed`, shown once one unit is done.
  /// - Parameters:
  ///   - phase: the phase name (padded to 10 characters).
  ///   - completed: units done.
  ///   - total: units in the phase.
  ///   - elapsed: seconds since the phase started.
  ///   - barWidth: cells in the bar.
  package static func line(
    phase: String, completed: Int, total: Int, elapsed: Double, barWidth: Int = 24
  ) -> String {
    let total = max(1, total)
    let completed = min(max(0, completed), total)
    let fraction = Double(completed) / Double(total)
    let eighths = Int((fraction * Double(barWidth * 8)).rounded(.down))
    let partials = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
    var bar = String(repeating: "█", count: eighths / 8)
    if eighths / 8 < barWidth { bar += partials[eighths % 8] }
    bar += String(repeating: "·", count: max(0, barWidth - bar.count))
    let name = phase.count >= 10 ? phase : phase + String(repeating: " ", count: 10 - phase.count)
    var text = "\(name) \(bar) \(completed)/\(total)  \(duration(elapsed)) elapsed"
    if completed >= total {
      text += "  done"
    } else if completed > 0 {
      text += "  ETA \(duration(elapsed * Double(total - completed) / Double(completed)))"
    }
    return text
  }

  /// `m:ss`, or `h:mm:ss` from one hour.
  package static func duration(_ seconds: Double) -> String {
    let whole = max(0, Int(seconds.rounded()))
    let (hours, minutes, secs) = (whole / 3600, (whole / 60) % 60, whole % 60)
    return hours > 0
      ? String(format: "%d:%02d:%02d", hours, minutes, secs)
      : String(format: "%d:%02d", minutes, secs)
  }
}
