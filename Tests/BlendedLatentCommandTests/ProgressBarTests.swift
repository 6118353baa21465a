import BlendedLatentCommand
import Testing

@Suite("Progress bar")
struct ProgressBarTests {
  @Test("line shows phase, bar, i/N, elapsed and ETA")
  func line() {
    let text = ProgressBar.line(
      phase: "denoising", completed: 10, total: 40, elapsed: 30, barWidth: 8)
    #expect(text == "denoising  ██······ 10/40  0:30 elapsed  ETA 1:30")
    #expect(
      ProgressBar.line(phase: "loading", completed: 0, total: 3, elapsed: 0, barWidth: 4)
        == "loading    ···· 0/3  0:00 elapsed")
    #expect(
      ProgressBar.line(phase: "background", completed: 75, total: 75, elapsed: 3725, barWidth: 4)
        == "background ████ 75/75  1:02:05 elapsed  done")
    #expect(
      ProgressBar.line(phase: "x", completed: 1, total: 16, elapsed: 1, barWidth: 8).contains("▌"))
  }

  @Test("durations")
  func durations() {
    #expect(ProgressBar.duration(0) == "0:00")
    #expect(ProgressBar.duration(59.6) == "1:00")
    #expect(ProgressBar.duration(3600) == "1:00:00")
  }

  @Test("draws with carriage returns, throttles, ends phases with a newline; silent when disabled")
  func drawing() {
    let console = RecordingConsole(terminal: true)
    var now = 0.0
    let bar = ProgressBar(console: console, isEnabled: true, clock: { now })
    bar.update(.init(phase: .denoising, completed: 0, total: 4))
    now = 0.01
    bar.update(.init(phase: .denoising, completed: 1, total: 4))  // throttled
    now = 0.5
    bar.update(.init(phase: .denoising, completed: 2, total: 4))
    bar.note("hello")
    bar.update(.init(phase: .denoising, completed: 4, total: 4))
    bar.update(.init(phase: .backgroundReconstruction, completed: 1, total: 1))
    bar.finish()
    #expect(!console.error.contains(" 1/4"))
    #expect(
      console.error.contains(" 2/4") && console.error.contains(" 4/4")
        && console.error.contains("background"))
    #expect(console.error.contains("\r\u{1B}[2K"))
    #expect(console.error.contains("hello\n"))
    #expect(console.error.hasSuffix("\n"))
    let silent = RecordingConsole(terminal: true)
    let disabled = ProgressBar(console: silent, isEnabled: false)
    disabled.update(.init(phase: .denoising, completed: 1, total: 4))
    disabled.finish()
    #expect(silent.error.isEmpty)
  }
}
