import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// The whole edit — tokenizer, text encoder, VAE, UNet, scheduler, blended loop, decode — against the
/// Python reference loop on the same tiny diffusers folders and the same seed
/// (`Tests/Reference/make_end_to_end_fixtures.py`).
@Suite("End-to-end parity with the Python reference")
struct EndToEndParityTests {
  @Test(arguments: ["sd2-ddim", "sd1-dpm-shrink", "sd2-euler-a-maxpool", "sd1-lcm-4"])
  func seededEditMatchesReference(name: String) throws {
    let settings = try EndToEndCase.load(name)
    let io = try SafetensorsFile(
      contentsOf: RepositoryFixtures.endToEndCase(name).appendingPathComponent("io.safetensors"))
    let model = try StableDiffusionModel(directory: ModelDirectory(root: RepositoryFixtures.tinyModel(settings.model)))
    let editor = try BlendedLatentEditor(model: model)
    let request = EditRequest(
      image: try io.tensor(named: "image"), mask: try io.tensor(named: "mask"), prompt: settings.prompt,
      negativePrompt: settings.negativePrompt, stepCount: settings.steps, guidanceScale: settings.guidance,
      strength: settings.strength, seed: settings.seed, batchSize: settings.batch,
      scheduler: try #require(SchedulerKind(name: settings.schedulerName, eta: settings.eta)),
      maskOptions: MaskOptions(
        downsampling: settings.maskMode == "maxPool" ? .maxPool : .nearest, shrinkLevels: settings.shrinkLevels))
    let result = try editor.edit(request)

    let latents = TensorComparison(result.finalLatents, try io.tensor(named: "final_latents"))
    #expect(latents.isClose(relative: 1e-4), "final latents: \(latents)")
    let mask = TensorComparison(result.latentMask.reshaped([-1]), try io.tensor(named: "latent_mask").reshaped([-1]))
    #expect(mask.maxAbsoluteError == 0, "latent mask: \(mask)")

    let expected = try io.tensor(named: "images_u8")
    #expect(result.images.count == settings.batch)
    var worst: Float = 0
    for (index, image) in result.images.enumerated() {
      try #require(
        expected.shape == [settings.batch] + image.shape, "reference \(expected.shape), image \(image.shape)")
      let reference = expected.sliced(axis: 0, index..<index + 1).reshaped(image.shape)
      for (value, level) in zip(image.scalars, reference.scalars) {
        worst = max(worst, abs((255 * min(max(value, 0), 1)).rounded() - level))
      }
    }
    #expect(worst <= 1, "8-bit images differ by up to \(worst) levels")
  }
}
