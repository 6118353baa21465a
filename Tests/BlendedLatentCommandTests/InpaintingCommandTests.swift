import BlendedLatent
import BlendedLatentCommand
import Foundation
import TensorCore
import Testing
import _TestSupport

/// `bld edit` on a diffusers folder whose `unet/config.json` has `in_channels` 9.
@Suite("bld edit with an inpainting UNet folder")
struct InpaintingCommandTests {
  static let folder = RepositoryFixtures.url(target: "BlendedLatentTests", "inpaint-sd1-tiny")

  func edit(_ extra: [String]) throws -> (status: Int32, error: String, image: Tensor?) {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("bld-inpaint-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: output) }
    let command = try EditCommand.parse(
      [
        "--image", Self.folder.appendingPathComponent("image.png").path,
        "--mask", Self.folder.appendingPathComponent("mask.png").path,
        "--prompt", "a red boat", "--output", output.appendingPathComponent("edited.png").path,
        "--model", Self.folder.appendingPathComponent("model").path, "--steps", "10", "--strength", "1",
        "--guidance", "7.5", "--seed", "3", "--quiet",
      ] + extra)
    let console = RecordingConsole()
    let status = command.execute(
      backend: defaultEditBackend(), console: console, cancellation: CancellationToken(), temporaries: TemporaryFiles())
    let path = output.appendingPathComponent("edited.png")
    let image = FileManager.default.fileExists(atPath: path.path) ? try RGBImage(contentsOf: path).tensor() : nil
    return (status, console.error, image)
  }

  @Test func inpaintingFolderEditsWithBlendingOnByDefault() throws {
    let blended = try edit([])
    #expect(blended.status == 0, "\(blended.error)")
    #expect(blended.image?.shape == [3, 32, 32])
    // --inpainting-blend off is diffusers' StableDiffusionInpaintPipeline (case ddim-s1 of the fixture).
    let unblended = try edit(["--inpainting-blend", "off"])
    #expect(unblended.status == 0, "\(unblended.error)")
    let expected = try SafetensorsFile(contentsOf: Self.folder.appendingPathComponent("ddim-s1.safetensors"))
      .tensor(named: "images_u8")
    let image = try #require(unblended.image)
    let worst = zip(image.scalars, expected.scalars).map { abs(($0 * 255).rounded() - $1) }.max() ?? .infinity
    #expect(worst <= 1, "--inpainting-blend off differs from diffusers by up to \(worst) levels")
    #expect(blended.image != unblended.image)
  }

  @Test func inpaintingBlendTakesOnOrOff() throws {
    #expect(throws: (any Error).self) {
      _ = try EditCommand.parse([
        "--image", "a.png", "--mask", "m.png", "--prompt", "x", "--output", "o.png", "--inpainting-blend", "maybe",
      ])
    }
    let parsed = try EditCommand.parse([
      "--image", "a.png", "--mask", "m.png", "--prompt", "x", "--output", "o.png", "--inpainting-blend", "off",
    ])
    #expect(parsed.settings.inpaintingBlend == false)
    #expect(
      try EditCommand.parse(["--image", "a.png", "--mask", "m.png", "--prompt", "x", "--output", "o.png"])
        .settings.inpaintingBlend)
  }
}
