import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

/// One run of `Tests/Reference/blended_latent_reference.py fake`.
struct BlendedCase: Decodable, CustomStringConvertible, Sendable {
  let name: String
  let scheduler: String
  let config: JSONValue
  let steps: Int
  let strength: Double
  let guidance: Float
  let batch: Int
  let seed: UInt64
  let eta: Double
  let maskMode: String
  let shrinkLevels: Int
  let pasteRadius: Int?
  let prompt: String
  let negativePrompt: String
  let beginIndex: Int
  var description: String { name }

  static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(
    "blended")

  static func all() throws -> [BlendedCase] {
    struct File: Decodable { let cases: [BlendedCase] }
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(File.self, from: Data(contentsOf: directory.appendingPathComponent("cases.json"))).cases
  }

  var kind: SchedulerKind {
    switch scheduler {
    case "DDIMScheduler": .ddim(eta: eta)
    case "DPMSolverMultistepScheduler": .dpmSolverMultistep
    case "EulerDiscreteScheduler": .eulerDiscrete
    default: .eulerAncestralDiscrete
    }
  }

  func configuration() throws -> SchedulerConfiguration {
    try SchedulerConfiguration.decode(JSONEncoder().encode(config))
  }

  func expected() throws -> SafetensorsFile {
    try SafetensorsFile(contentsOf: Self.directory.appendingPathComponent("\(name).safetensors"))
  }

  static func inputs() throws -> (image: Tensor, mask: Tensor) {
    let file = try SafetensorsFile(contentsOf: directory.appendingPathComponent("inputs.safetensors"))
    return (try file.tensor(named: "image"), try file.tensor(named: "mask"))
  }

  func request(image: Tensor, mask: Tensor) -> EditRequest {
    EditRequest(
      image: image, mask: mask, prompt: prompt, negativePrompt: negativePrompt, stepCount: steps,
      guidanceScale: guidance, strength: strength, seed: seed, batchSize: batch, scheduler: kind,
      maskOptions: MaskOptions(downsampling: maskMode == "maxPool" ? .maxPool : .nearest, shrinkLevels: shrinkLevels),
      background: pasteRadius.map { .paste(featherRadius: $0) } ?? .none)
  }
}

@Suite("The blended loop matches the Python reference (fake components, same seed)")
struct BlendedLoopParityTests {
  static let cases = (try? BlendedCase.all()) ?? []

  @Test func fixturesLoad() throws { #expect(try BlendedCase.all().count >= 6) }

  @Test(arguments: cases)
  func editorMatchesReference(_ fixture: BlendedCase) throws {
    let (image, mask) = try BlendedCase.inputs()
    let editor = BlendedLatentEditor(
      textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: FakeNoisePredictor(),
      schedulerConfiguration: try fixture.configuration())
    let result = try editor.edit(fixture.request(image: image, mask: mask))
    let expected = try fixture.expected()
    let sourceComparison = TensorComparison(result.sourceLatents, try expected.tensor(named: "z_init"))
    #expect(sourceComparison.isClose(relative: 1e-6), "\(fixture.name) z_init: \(sourceComparison)")
    #expect(result.latentMask == (try expected.tensor(named: "latent_mask")), "\(fixture.name) latent mask")
    let latents = TensorComparison(result.finalLatents, try expected.tensor(named: "final_latents"))
    #expect(latents.isClose(relative: 1e-5), "\(fixture.name) final latents: \(latents)")
    let images = Tensor.concatenated(result.images.map { $0.reshaped([1] + $0.shape) }, axis: 0)
    let imageComparison = TensorComparison(images, try expected.tensor(named: "images"))
    #expect(imageComparison.isClose(relative: 1e-5), "\(fixture.name) images: \(imageComparison)")
    let quantized = TensorComparison(
      images.map { ($0 * 255).rounded() }, try expected.tensor(named: "images").map { ($0 * 255).rounded() })
    #expect(quantized.maxAbsoluteError <= 1, "\(fixture.name) 8-bit: \(quantized)")
    #expect(result.seed == fixture.seed)
    #expect(result.denoisingStepCount == fixture.steps - fixture.beginIndex)
  }

  @Test(arguments: cases)
  func everyStepMatchesReference(_ fixture: BlendedCase) throws {
    let expected = try fixture.expected()
    let stepLatents = try expected.tensor(named: "step_latents")
    let scheduler = try fixture.kind.makeScheduler(configuration: try fixture.configuration(), stepCount: fixture.steps)
    let text = try FakeTextEncoder().encode([fixture.negativePrompt, fixture.prompt]).embeddings.chunked(2, axis: 0)
    var steps = BlendedDenoisingSteps(
      scheduler: scheduler, predictor: FakeNoisePredictor(), noise: TorchGenerator(seed: fixture.seed),
      guidance: ClassifierFreeGuidance(
        unconditional: text[0], conditional: text[1], batchSize: fixture.batch, scale: fixture.guidance),
      sourceLatents: try expected.tensor(named: "z_init"),
      mask: LatentMask(values: try expected.tensor(named: "latent_mask")), beginIndex: fixture.beginIndex,
      shrinkLevels: fixture.shrinkLevels)
    let perStep = stepLatents.chunked(stepLatents.shape[0], axis: 0)
    var seen = 0
    while let step = steps.next() {
      let comparison = TensorComparison(step.latents, perStep[step.index].reshaped(step.latents.shape))
      #expect(comparison.isClose(relative: 1e-5), "\(fixture.name) step \(step.index): \(comparison)")
      seen += 1
    }
    #expect(steps.failure == nil)
    #expect(seen == perStep.count)
    #expect(try steps.advance() == nil)
  }
}
