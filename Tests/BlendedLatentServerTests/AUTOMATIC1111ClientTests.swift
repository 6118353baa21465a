import BlendedLatent
import BlendedLatentCommand
import Foundation
import Testing
import _TestSupport

/// `webuiapi` (PyPI) drives `bld serve`'s AUTOMATIC1111 API: img2img with `mask_image` gives the pixels of
/// `bld edit` with the same seed and the mapped settings; progress and interrupt work through the client.
@Suite(
  "AUTOMATIC1111 API through the webuiapi client",
  .enabled(if: bldExecutable != nil, "bld not built"),
  .enabled(if: clientPython != nil, "no .build/client-venv: run Scripts/install-dependencies.sh"))
struct AUTOMATIC1111ClientTests {
  @Test("img2img with mask_image equals bld edit; progress and interrupt")
  func img2imgMatchesEdit() throws {
    let folder = RepositoryFixtures.endToEndCase("sd1-dpm-shrink")
    let image = folder.appendingPathComponent("image.png").path
    let mask = folder.appendingPathComponent("mask.png").path
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bld-a1111-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }

    let server = try ServerProcess()
    defer { server.stop() }
    let served = scratch.appendingPathComponent("served.png").path
    let report = try runClient("webuiapi_img2img.py", [String(server.port), image, mask, served])
    #expect(report.contains("\"seed\": 7"), "\(report)")

    // The same edit through `bld edit`: DDIM η 0, 12 steps, guidance 5, strength 0.75, seed 7, paste with
    // feather 2 (= mask_blur), at the image's own size (= width × height).
    let edited = scratch.appendingPathComponent("edited.png").path
    let command = try EditCommand.parse([
      "--image", image, "--mask", mask, "--prompt", "a red hat!", "--negative-prompt", "blurry, low quality",
      "--output", edited, "--steps", "12", "--guidance", "5", "--strength", "0.75", "--seed", "7",
      "--scheduler", "ddim", "--background", "paste", "--feather", "2", "--working-size", "original",
      "--model", RepositoryFixtures.tinyModel("sd1-tiny").path, "--threads", "1", "--quiet",
    ])
    let console = RecordingConsole()
    let status = command.execute(
      backend: defaultEditBackend(), console: console, cancellation: CancellationToken(),
      temporaries: TemporaryFiles())
    try #require(status == 0, "\(console.error)")
    let servedImage = try RGBImage(contentsOf: URL(fileURLWithPath: served))
    let editedImage = try RGBImage(contentsOf: URL(fileURLWithPath: edited))
    #expect(servedImage.width == editedImage.width && servedImage.height == editedImage.height)
    #expect(servedImage.samples == editedImage.samples, "the served pixels differ from bld edit's")
  }
}

/// Collects what the command writes.
final class RecordingConsole: CommandConsole {
  var output = ""
  var error = ""
  var standardErrorIsTerminal: Bool { false }
  func writeOutput(_ text: String) { output += text }
  func writeError(_ text: String) { error += text }
}
