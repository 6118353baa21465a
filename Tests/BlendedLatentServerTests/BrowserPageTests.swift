import BlendedLatent
import Foundation
import TensorCore
import Testing

/// Whether headless Chromium and its driver are installed (Debian's `chromium` and `chromium-driver`).
let chromiumInstalled =
  FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
  && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")

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
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bld-page-\(UUID().uuidString)")
    let downloads = scratch.appendingPathComponent("downloads")
    try FileManager.default.createDirectory(at: downloads, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
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
    let screenshot = artifacts.appendingPathComponent("page.png")

    let server = try ServerProcess()
    defer { server.stop() }
    let report = try runClient(
      "browser_page.py", [String(server.port), inputURL.path, downloads.path, screenshot.path])
    #expect(report.contains("progress_events"), "\(report)")
    #expect(FileManager.default.fileExists(atPath: screenshot.path))
  }
}
