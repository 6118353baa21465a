import BlendedLatent
import Foundation
import TensorCore
import Testing

/// Whether headless Chromium and its driver are installed (Debian's `chromium` and `chromium-driver`).
let chromiumInstalled =
  FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
  && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")

/// Whether Firefox is installed (Debian's `firefox-esr`; driven through its built-in Marionette server).
let firefoxInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/firefox-esr")

/// The page in headless Chromium (Selenium): paint a stroke, submit, see progress, download a result whose
/// unmasked pixels are the input's (paste background).
@Suite(
  "The mask-painting page in headless Chromium",
  .enabled(if: bldExecutable != nil, "bld not built"),
  .enabled(if: clientPython != nil, "no .build/client-venv: run Scripts/install-dependencies.sh"),
  .enabled(if: chromiumInstalled, "no chromium/chromedriver: run Scripts/install-dependencies.sh"))
struct BrowserPageTests {
  @Test("paint, submit, progress, download; unmasked pixels unchanged")
  func paintSubmitDownload() throws {
    try paintSubmitDownloadInBrowser("chromium", screenshotName: "page.png")
  }
}

/// The same in headless Firefox (Marionette, through Mozilla's `marionette_driver`): the pointer events, file
/// input, Server-Sent Events and blob download of the page in Gecko.
@Suite(
  "The mask-painting page in headless Firefox",
  .enabled(if: bldExecutable != nil, "bld not built"),
  .enabled(if: clientPython != nil, "no .build/client-venv: run Scripts/install-dependencies.sh"),
  .enabled(if: firefoxInstalled, "no firefox-esr: run Scripts/install-dependencies.sh"))
struct BrowserPageFirefoxTests {
  @Test("paint, submit, progress, download; unmasked pixels unchanged")
  func paintSubmitDownload() throws {
    try paintSubmitDownloadInBrowser("firefox", screenshotName: "page-firefox.png")
  }
}

/// Runs `Tests/Clients/browser_page.py --browser BROWSER` against a fresh `bld serve`: it loads the page, opens
/// a 64 × 64 input, paints one stroke, submits, waits for progress and the result, downloads it and checks the
/// unmasked pixels. The script runs with `TMPDIR` set to a scratch folder of its own, which everything it starts
/// (the browser and its helper processes, chromedriver) inherits and where the browser writes (Firefox's
/// profile, the downloads): after a successful run no process with that `TMPDIR` may remain, and on every path
/// any that remain are killed and the folder removed.
private func paintSubmitDownloadInBrowser(_ browser: String, screenshotName: String) throws {
  let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bld-page-\(UUID().uuidString)")
  let downloads = scratch.appendingPathComponent("downloads")
  try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
  defer {
    for pid in processes(withTemporaryDirectory: scratch) { kill(pid, SIGKILL) }
    try? FileManager.default.removeItem(at: scratch)
  }
  // A 64 × 64 pattern with distinct pixels, so any change outside the stroke would show.
  let input = Tensor(
    shape: [3, 64, 64],
    unsafeUninitialized: { values in
      for c in 0..<3 {
        for y in 0..<64 {
          for x in 0..<64 { values[(c * 64 + y) * 64 + x] = Float((x * 4 + y * (c + 1) * 3) % 256) / 255 }
        }
      }
    })
  let inputURL = scratch.appendingPathComponent("input.png")
  try RGBImage(tensor: input).pngData().write(to: inputURL)
  // The screenshot stays in the build folder for people to look at.
  let artifacts = repositoryRoot.appendingPathComponent(".build/serve-artifacts")
  try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
  let screenshot = artifacts.appendingPathComponent(screenshotName)

  let server = try ServerProcess()
  defer { server.stop() }
  let report = try runClient(
    "browser_page.py", ["--browser", browser, String(server.port), inputURL.path, downloads.path, screenshot.path],
    environment: ["TMPDIR": scratch.path])
  #expect(report.contains("\"browser\": \"\(browser)\""), "\(report)")
  #expect(report.contains("progress_events"), "\(report)")
  #expect(FileManager.default.fileExists(atPath: screenshot.path))
  // The script closed its browser: within a few seconds (processes exiting after their parent) nothing it
  // started is left.
  let deadline = Date().addingTimeInterval(10)
  var leftovers = processes(withTemporaryDirectory: scratch)
  while !leftovers.isEmpty, Date() < deadline {
    Thread.sleep(forTimeInterval: 0.2)
    leftovers = processes(withTemporaryDirectory: scratch)
  }
  #expect(leftovers.isEmpty, "left running by the \(browser) run: \(leftovers.map(commandLine))")
}

/// The live processes (zombies excluded, as their environment reads empty) whose environment has
/// `TMPDIR=directory`.
private func processes(withTemporaryDirectory directory: URL) -> [pid_t] {
  let entry = Data("TMPDIR=\(directory.path)\0".utf8)
  let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
  return names.compactMap { pid_t($0) }.filter { pid in
    guard pid != getpid(),
      let environment = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ")),
      let range = environment.range(of: entry)
    else { return false }
    return range.lowerBound == environment.startIndex || environment[range.lowerBound - 1] == 0
  }
}

/// A process's command line, its arguments separated by spaces (empty once it has exited).
private func commandLine(_ pid: pid_t) -> String {
  let data = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
  return "\(pid): " + String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
}
