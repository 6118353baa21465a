import BlendedLatent
import Foundation
import TensorCore
import Testing
import _TestSupport

/// A small deterministic source latent and conditioning for loop-level invariants.
enum LoopFixture {
  static let latentShape = [1, 4, 5, 6]

  static func sourceLatents() -> Tensor {
    var generator = TorchGenerator(seed: 99)
    return generator.randn(latentShape) * 0.8
  }

  static func guidance(batch: Int) throws -> ClassifierFreeGuidance {
    let rows = try FakeTextEncoder().encode(["", "a cat"]).embeddings.chunked(2, axis: 0)
    return ClassifierFreeGuidance(unconditional: rows[0], conditional: rows[1], batchSize: batch, scale: 7.5)
  }

  static func run(
    kind: SchedulerKind, mask: LatentMask, seed: UInt64, batch: Int = 2, steps: Int = 12, beginIndex: Int = 3,
    predictor: any NoisePredictor = FakeNoisePredictor()
  ) throws -> Tensor {
    let scheduler = try kind.makeScheduler(configuration: .stableDiffusion, stepCount: steps)
    var loop = BlendedDenoisingSteps(
      scheduler: scheduler, predictor: predictor, noise: TorchGenerator(seed: seed),
      guidance: try guidance(batch: batch), sourceLatents: sourceLatents(), mask: mask, beginIndex: beginIndex)
    while try loop.advance() != nil {}
    return loop.latents
  }

  /// Plain image-to-image (no blending) with the same first draw, for deterministic schedulers.
  static func plainImageToImage(kind: SchedulerKind, seed: UInt64, batch: Int = 2, steps: Int = 12, beginIndex: Int = 3)
    throws -> Tensor
  {
    var scheduler = try kind.makeScheduler(configuration: .stableDiffusion, stepCount: steps)
    var generator = TorchGenerator(seed: seed)
    let source = Tensor.concatenated(Array(repeating: sourceLatents(), count: batch), axis: 0)
    var z = scheduler.addNoise(to: source, noise: generator.randn(source.shape), level: .beforeStep(beginIndex))
    let guidance = try guidance(batch: batch)
    for index in beginIndex..<scheduler.timesteps.count {
      let input = scheduler.scaleModelInput(z, stepIndex: index)
      let output = try FakeNoisePredictor().predictNoise(
        latents: Tensor.concatenated([input, input], axis: 0), timestep: scheduler.timesteps[index],
        conditioning: guidance.conditioning)
      z = scheduler.step(modelOutput: guidance.guided(output), stepIndex: index, sample: z, noise: &generator)
    }
    return z
  }

  static let deterministicKinds: [SchedulerKind] = [.ddim(eta: 0), .dpmSolverMultistep, .eulerDiscrete]
  static let allKinds: [SchedulerKind] = deterministicKinds + [.ddim(eta: 1), .eulerAncestralDiscrete, .lcm]
}

/// A predictor built from TensorCore kernels (conv + group norm), so the thread count matters.
struct ConvolutionalPredictor: NoisePredictor {
  let weight1: Tensor
  let weight2: Tensor
  init() {
    var generator = TorchGenerator(seed: 5)
    weight1 = generator.randn([32, 4, 3, 3]) * 0.2
    weight2 = generator.randn([4, 32, 3, 3]) * 0.1
  }
  func predictNoise(latents: Tensor, timestep: Double, conditioning: Tensor) throws -> Tensor {
    let hidden = conv2d(latents, weight: weight1, bias: nil, stride: 1, padding: 1)
    let normed = groupNorm(hidden, groupCount: 8, weight: nil, bias: nil, epsilon: 1e-5, fusedSiLU: true)
    return conv2d(normed, weight: weight2, bias: nil, stride: 1, padding: 1) + Float(timestep / 1000)
  }
}

@Suite("Invariants of the blended loop")
struct InvariantTests {
  @Test(arguments: LoopFixture.allKinds)
  func zeroMaskReturnsSourceLatentsExactly(_ kind: SchedulerKind) throws {
    let mask = LatentMask(values: Tensor(shape: [5, 6], repeating: 0))
    let final = try LoopFixture.run(kind: kind, mask: mask, seed: 1)
    let source = Tensor.concatenated(Array(repeating: LoopFixture.sourceLatents(), count: 2), axis: 0)
    #expect(final == source, "\(kind): \(TensorComparison(final, source))")
  }

  @Test(arguments: LoopFixture.allKinds)
  func zeroMaskKeepsEveryStepAtTheNoisedSource(_ kind: SchedulerKind) throws {
    // With m = 0 each step's latents are exactly addNoise(z_init, ε_i, after step i) with the generator's ε_i.
    let scheduler = try kind.makeScheduler(configuration: .stableDiffusion, stepCount: 10)
    let mask = LatentMask(values: Tensor(shape: [5, 6], repeating: 0))
    var loop = BlendedDenoisingSteps(
      scheduler: scheduler, predictor: FakeNoisePredictor(), noise: TorchGenerator(seed: 4),
      guidance: try LoopFixture.guidance(batch: 1), sourceLatents: LoopFixture.sourceLatents(), mask: mask,
      beginIndex: 2)
    var shadow = TorchGenerator(seed: 4)
    _ = shadow.randn(LoopFixture.latentShape)
    while let step = try loop.advance() {
      if scheduler.drawsNoiseInStep { _ = shadow.randn(LoopFixture.latentShape) }
      if step.index < step.count - 1 {
        let expected = scheduler.addNoise(
          to: LoopFixture.sourceLatents(), noise: shadow.randn(LoopFixture.latentShape),
          level: .afterStep(step.schedulerStepIndex))
        #expect(step.latents == expected, "\(kind) step \(step.index)")
      } else {
        #expect(step.latents == LoopFixture.sourceLatents())
      }
    }
  }

  @Test(arguments: LoopFixture.deterministicKinds)
  func oneMaskEqualsPlainImageToImage(_ kind: SchedulerKind) throws {
    let mask = LatentMask(values: Tensor(shape: [5, 6], repeating: 1))
    let blended = try LoopFixture.run(kind: kind, mask: mask, seed: 8)
    let plain = try LoopFixture.plainImageToImage(kind: kind, seed: 8)
    #expect(blended == plain, "\(kind): \(TensorComparison(blended, plain))")
  }

  @Test(arguments: LoopFixture.allKinds)
  func differentSeedsGiveDifferentResults(_ kind: SchedulerKind) throws {
    let mask = LatentMask(values: Tensor(shape: [5, 6], repeating: 1))
    let first = try LoopFixture.run(kind: kind, mask: mask, seed: 1)
    let again = try LoopFixture.run(kind: kind, mask: mask, seed: 1)
    let second = try LoopFixture.run(kind: kind, mask: mask, seed: 2)
    #expect(first == again)
    #expect(TensorComparison(first, second).maxAbsoluteError > 1e-3)
  }

  @Test func editorSeedControlsTheResult() throws {
    let editor = BlendedLatentEditor(
      textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: FakeNoisePredictor(),
      schedulerConfiguration: .stableDiffusion)
    let (image, mask) = EditorInputs.make(height: 32, width: 40)
    var request = EditRequest(image: image, mask: mask, prompt: "a cat", stepCount: 10, seed: 3)
    let first = try editor.edit(request)
    let repeated = try editor.edit(request)
    request.seed = 4
    let other = try editor.edit(request)
    #expect(first.finalLatents == repeated.finalLatents)
    #expect(first.images == repeated.images)
    #expect(TensorComparison(first.finalLatents, other.finalLatents).maxAbsoluteError > 1e-3)
  }

  @Test func sameSeedSameResultAtOneAndTwoThreads() throws {
    let editor = BlendedLatentEditor(
      textEncoder: FakeTextEncoder(), autoencoder: FakeAutoencoder(), noisePredictor: ConvolutionalPredictor(),
      schedulerConfiguration: .stableDiffusion)
    let (image, mask) = EditorInputs.make(height: 128, width: 128)
    let request = EditRequest(image: image, mask: mask, prompt: "a cat", stepCount: 8, seed: 17, batchSize: 2)
    var singleThreaded = editor
    singleThreaded.computeSettings.threadCount = 1
    var twoThreads = editor
    twoThreads.computeSettings.threadCount = 2
    let single = try singleThreaded.edit(request)
    let double = try twoThreads.edit(request)
    let comparison = TensorComparison(double.finalLatents, single.finalLatents)
    #expect(comparison.isClose(relative: 1e-5), "\(comparison)")
    try #require(double.images.count == 2 && single.images.count == 2)
    for (a, b) in zip(double.images, single.images) {
      let imageComparison = TensorComparison(a, b)
      #expect(imageComparison.isClose(relative: 1e-5), "\(imageComparison)")
    }
  }
}
