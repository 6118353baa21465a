import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// One `StableDiffusionInpaintPipeline` run recorded by `Tests/Reference/make_inpainting_fixtures.py`.
struct InpaintingCase: Decodable, CustomStringConvertible, Sendable {
  let name: String
  let scheduler: String
  let steps: Int
  let strength: Double
  let guidance: Float
  let batch: Int
  let seed: UInt64
  let prompt: String
  let negativePrompt: String
  var description: String { name }

  static let folder = RepositoryFixtures.url(target: "BlendedLatentTests", "inpaint-sd1-tiny")

  static func all() throws -> [InpaintingCase] {
    struct File: Decodable { let cases: [InpaintingCase] }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(File.self, from: Data(contentsOf: folder.appendingPathComponent("cases.json"))).cases
  }

  var schedulerKind: SchedulerKind { scheduler == "DDIMScheduler" ? .ddim() : .eulerAncestralDiscrete }

  func request(inpaintingBlend: Bool) throws -> EditRequest {
    EditRequest(
      image: try RGBImage(contentsOf: Self.folder.appendingPathComponent("image.png")).tensor(),
      mask: try RGBImage(contentsOf: Self.folder.appendingPathComponent("mask.png")).luminanceTensor(),
      prompt: prompt, negativePrompt: negativePrompt, stepCount: steps, guidanceScale: guidance, strength: strength,
      seed: seed, batchSize: batch, scheduler: schedulerKind, inpaintingBlend: inpaintingBlend)
  }

  static func editor() throws -> BlendedLatentEditor {
    try BlendedLatentEditor(
      model: StableDiffusionModel(directory: ModelDirectory(root: folder.appendingPathComponent("model"))))
  }
}

@Suite("9-channel inpainting UNets")
struct InpaintingParityTests {
  static let cases = (try? InpaintingCase.all()) ?? []

  @Test func fixtureIsANineChannelFolder() throws {
    let model = try StableDiffusionModel(
      directory: ModelDirectory(root: InpaintingCase.folder.appendingPathComponent("model")))
    #expect(model.unet.configuration.inChannels == 9)
    #expect(model.unet.inputChannelCount == 9)
    #expect(Self.cases.count == 3)
    #expect(Set(Self.cases.map(\.strength)).contains(1) && Self.cases.contains { $0.strength < 1 })
  }

  /// With blending off the editor is diffusers' inpainting pipeline: same seed, same draws, same images.
  @Test(arguments: cases)
  func blendingOffMatchesDiffusersInpaintPipeline(_ fixture: InpaintingCase) throws {
    let result = try InpaintingCase.editor().edit(try fixture.request(inpaintingBlend: false))
    let io = try SafetensorsFile(
      contentsOf: InpaintingCase.folder.appendingPathComponent("\(fixture.name).safetensors"))
    let latents = TensorComparison(result.finalLatents, try io.tensor(named: "final_latents"))
    #expect(latents.isClose(relative: 1e-4), "\(fixture.name) final latents: \(latents)")
    let expected = try io.tensor(named: "images_u8")
    try #require(result.images.count == fixture.batch)
    var worst: Float = 0
    for (index, image) in result.images.enumerated() {
      let reference = expected.sliced(axis: 0, index..<index + 1).reshaped(image.shape)
      for (value, level) in zip(image.scalars, reference.scalars) {
        worst = max(worst, abs((255 * min(max(value, 0), 1)).rounded() - level))
      }
    }
    #expect(worst <= 1, "\(fixture.name): 8-bit images differ by up to \(worst) levels")
  }

  /// With blending on (the default) every latent cell outside the mask dilated by one cell is the source's
  /// latent exactly, as in the blended loop's invariants; without it the inpainting model changes them.
  @Test func blendingOnKeepsTheLatentsOutsideTheDilatedMask() throws {
    let fixture = try #require(Self.cases.first { $0.strength == 1 })
    let editor = try InpaintingCase.editor()
    let blended = try editor.edit(try fixture.request(inpaintingBlend: true))
    let unblended = try editor.edit(try fixture.request(inpaintingBlend: false))
    let (height, width) = (blended.latentMask.shape[0], blended.latentMask.shape[1])
    let dilated = LatentMask(values: blended.latentMask).dilated(kernelSize: 3).values
    let outside = (0..<height * width).filter { dilated.scalars[$0] == 0 }
    let cells = blended.finalLatents.count / (height * width)
    try #require(outside.count > height * width / 4, "the fixture's mask leaves unmasked cells")
    try #require(outside.count < height * width)
    var changedWithout = false
    for cell in outside {
      for plane in 0..<cells {
        let index = plane * height * width + cell
        #expect(blended.finalLatents.scalars[index] == blended.sourceLatents.scalars[index])
        if unblended.finalLatents.scalars[index] != unblended.sourceLatents.scalars[index] { changedWithout = true }
      }
    }
    #expect(changedWithout, "without blending the inpainting model changes the unmasked latents")
    // Inside the dilated mask the blended edit differs from the source.
    let inside = (0..<height * width).first { dilated.scalars[$0] == 1 }!
    #expect(blended.finalLatents.scalars[inside] != blended.sourceLatents.scalars[inside])
  }

  @Test func otherInputWidthsAreRejected() throws {
    struct WideModel: NoisePredictor {
      var inputChannelCount: Int? { 7 }
      func predictNoise(
        latents: Tensor, timestep: Double, conditioning: Tensor, addedConditions: AddedConditions?
      ) throws -> Tensor { latents }
    }
    let editor = BlendedLatentEditor(
      textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: WideModel(),
      schedulerConfiguration: .stableDiffusion)
    let (image, mask) = EditorInputs.make(height: 16, width: 16)
    #expect {
      _ = try editor.edit(EditRequest(image: image, mask: mask, prompt: "x", stepCount: 2))
    } throws: { error in
      guard case .unsupported(let reason) = error as? PipelineError else { return false }
      return reason.contains("7 input channels")
    }
  }
}
