import BlendedLatent
import BlendedLatentCommand
import Foundation
import TensorCore
import Testing
import _TestSupport

/// `bld edit --model DIR --seed N` (also `--scheduler lcm --steps 4 --guidance 1`) through the command's real code path and the real backend reproduces
/// the repository's Python reference loop for that seed (`Tests/Reference/make_end_to_end_fixtures.py`).
@Suite("bld edit reproduces the Python reference for a seed")
struct SeedReproductionTests {
  @Test(arguments: ["sd2-ddim", "sd1-dpm-shrink", "sd1-lcm-4"])
  func seededEditMatchesReference(name: String) throws {
    let settings = try EndToEndCase.load(name)
    try check(name, model: ["--model", RepositoryFixtures.tinyModel(settings.model).path])
  }

  /// The single file written from the case's folder (`Fixtures/single-file/`), built with the folder's
  /// configurations, gives the same edit.
  @Test("the same edit from the single-file checkpoint of the folder", arguments: ["sd2-ddim", "sd1-dpm-shrink"])
  func singleFileEditMatchesReference(name: String) throws {
    let settings = try EndToEndCase.load(name)
    let file = RepositoryFixtures.url(target: "NetworksTests", "single-file/\(settings.model).safetensors")
    try check(name, model: ["--model", file.path, "--config", RepositoryFixtures.tinyModel(settings.model).path])
  }

  func check(_ name: String, model: [String]) throws {
    let settings = try EndToEndCase.load(name)
    let folder = RepositoryFixtures.endToEndCase(name)
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("bld-seed-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: output) }
    let command = try EditCommand.parse(
      [
        "--image", folder.appendingPathComponent("image.png").path,
        "--mask", folder.appendingPathComponent("mask.png").path,
        "--prompt", settings.prompt, "--negative-prompt", settings.negativePrompt,
        "--output", output.appendingPathComponent("edited.png").path,
        "--steps", "\(settings.steps)", "--guidance", "\(settings.guidance)", "--strength", "\(settings.strength)",
        "--seed", "\(settings.seed)", "--batch", "\(settings.batch)", "--scheduler", settings.schedulerName,
        "--mask-shrink", "\(settings.shrinkLevels)", "--mask-downsample",
        settings.maskMode == "maxPool" ? "max" : "nearest",
        "--background", "none", "--quiet",
      ] + model)
    let console = RecordingConsole()
    let status = command.execute(
      backend: defaultEditBackend(), console: console, cancellation: CancellationToken(), temporaries: TemporaryFiles())
    #expect(status == 0, "\(console.error)")

    let expected = try SafetensorsFile(contentsOf: folder.appendingPathComponent("io.safetensors")).tensor(
      named: "images_u8")
    for index in 0..<settings.batch {
      let path = output.appendingPathComponent(settings.batch > 1 ? "edited-\(index).png" : "edited.png")
      let image = try RGBImage(contentsOf: path).tensor()
      try #require(
        expected.shape == [settings.batch] + image.shape, "reference \(expected.shape), image \(image.shape)")
      let reference = expected.sliced(axis: 0, index..<index + 1).reshaped(image.shape)
      let worst = zip(image.scalars, reference.scalars).map { abs(($0 * 255).rounded() - $1) }.max() ?? .infinity
      #expect(worst <= 1, "result \(index): 8-bit values differ by up to \(worst) levels")
    }
  }
}
