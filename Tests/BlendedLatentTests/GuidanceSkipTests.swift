import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

/// A noise predictor that records the batch rows of every call and otherwise is ``FakeNoisePredictor``.
final class CountingNoisePredictor: NoisePredictor, @unchecked Sendable {
  private let lock = NSLock()
  private var rows: [Int] = []

  /// The batch rows of each call so far.
  var rowsPerCall: [Int] { lock.withLock { rows } }

  func predictNoise(
    latents: Tensor, timestep: Double, conditioning: Tensor, addedConditions: AddedConditions?
  ) throws -> Tensor {
    lock.withLock { rows.append(latents.shape[0]) }
    return try FakeNoisePredictor().predictNoise(latents: latents, timestep: timestep, conditioning: conditioning)
  }
}

@Suite("Guidance ≤ 1 runs the conditional half only")
struct GuidanceSkipTests {
  @Test(arguments: [Float(1), 0.5, 0])
  func guidanceAtMostOneHalvesTheUNetBatch(scale: Float) throws {
    let (image, mask) = EditorInputs.make(height: 24, width: 32)
    var rowsByScale: [Float: [Int]] = [:]
    for guidance in [scale, 7.5] {
      let predictor = CountingNoisePredictor()
      let editor = BlendedLatentEditor(
        textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: predictor,
        schedulerConfiguration: .stableDiffusion)
      _ = try editor.edit(
        EditRequest(
          image: image, mask: mask, prompt: "a cat", stepCount: 8, guidanceScale: guidance, strength: 1, seed: 3,
          batchSize: 2))
      rowsByScale[guidance] = predictor.rowsPerCall
    }
    #expect(rowsByScale[scale] == Array(repeating: 2, count: 8))
    #expect(rowsByScale[7.5] == Array(repeating: 4, count: 8))
  }

  @Test func skippedGuidanceIsTheGuidedPathsConditionalOutput() throws {
    let rows = try FakeTextEncoder().encode(["blurry", "a cat"]).embeddings.chunked(2, axis: 0)
    let skipped = ClassifierFreeGuidance(unconditional: rows[0], conditional: rows[1], batchSize: 2, scale: 1)
    let guided = ClassifierFreeGuidance(unconditional: rows[0], conditional: rows[1], batchSize: 2, scale: 7.5)
    #expect(!skipped.isEnabled && guided.isEnabled)
    #expect(skipped.conditioning.shape == [2, 77, 8] && guided.conditioning.shape == [4, 77, 8])
    var generator = TorchGenerator(seed: 5)
    let latents = generator.randn([2, 4, 3, 5])
    let predictor = FakeNoisePredictor()
    let alone = skipped.guided(
      try predictor.predictNoise(
        latents: skipped.modelInput(latents), timestep: 501, conditioning: skipped.conditioning))
    let doubled = try predictor.predictNoise(
      latents: guided.modelInput(latents), timestep: 501, conditioning: guided.conditioning)
    #expect(alone == doubled.chunked(2, axis: 0)[1])
  }

  @Test func loopAtGuidanceOneFollowsTheConditionalPrediction() throws {
    // The whole loop at g = 1 equals a loop whose model output is the conditional half of the doubled call.
    struct ConditionalHalf: NoisePredictor {
      let guided: ClassifierFreeGuidance
      func predictNoise(
        latents: Tensor, timestep: Double, conditioning: Tensor, addedConditions: AddedConditions?
      ) throws -> Tensor {
        let output = try FakeNoisePredictor().predictNoise(
          latents: guided.modelInput(latents), timestep: timestep, conditioning: guided.conditioning)
        return output.chunked(2, axis: 0)[1]
      }
    }
    let rows = try FakeTextEncoder().encode(["", "a cat"]).embeddings.chunked(2, axis: 0)
    let skipped = ClassifierFreeGuidance(unconditional: rows[0], conditional: rows[1], batchSize: 1, scale: 1)
    let guided = ClassifierFreeGuidance(unconditional: rows[0], conditional: rows[1], batchSize: 1, scale: 7.5)
    let mask = LatentMask(values: Tensor(shape: [5, 6], repeating: 1))
    func run(_ predictor: any NoisePredictor) throws -> Tensor {
      let scheduler = try SchedulerKind.lcm.makeScheduler(configuration: .stableDiffusion, stepCount: 4)
      var loop = BlendedDenoisingSteps(
        scheduler: scheduler, predictor: predictor, noise: TorchGenerator(seed: 9), guidance: skipped,
        sourceLatents: LoopFixture.sourceLatents(), mask: mask, beginIndex: 0)
      while try loop.advance() != nil {}
      return loop.latents
    }
    #expect(try run(FakeNoisePredictor()) == run(ConditionalHalf(guided: guided)))
  }
}
