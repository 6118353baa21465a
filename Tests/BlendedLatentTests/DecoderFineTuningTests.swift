import BlendedLatent
import Foundation
import Networks
import TensorCore
import Testing
import _TestSupport

/// Behaviour of the fine-tuner beyond parity: strict weights, input checks, cancellation, restore, and the fast
/// modes (crop around the mask, train only the last up blocks).
@Suite("Decoder fine-tuning")
struct DecoderFineTuningTests {
  typealias Fixture = DecoderFineTuningParityTests.Fixture

  func tuner(_ fixture: Fixture) throws -> DecoderFineTuner {
    try DecoderFineTuner(configuration: fixture.configuration, weights: fixture.initial)
  }

  @Test func rejectsMissingMisshapenAndUnexpectedWeights() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    var missing = fixture.initial
    missing["decoder.up_blocks.1.resnets.0.conv_shortcut.weight"] = nil
    #expect(throws: DecoderFineTuningError.missingWeight(key: "decoder.up_blocks.1.resnets.0.conv_shortcut.weight")) {
      try DecoderFineTuner(configuration: fixture.configuration, weights: missing)
    }
    var misshapen = fixture.initial
    misshapen["decoder.conv_out.bias"] = Tensor(shape: [4], repeating: 0)
    #expect(
      throws: DecoderFineTuningError.weightShapeMismatch(key: "decoder.conv_out.bias", expected: [3], actual: [4])
    ) {
      try DecoderFineTuner(configuration: fixture.configuration, weights: misshapen)
    }
    var extra = fixture.initial
    extra["decoder.up_blocks.1.upsamplers.0.conv.weight"] = Tensor(shape: [1], repeating: 0)
    #expect(throws: DecoderFineTuningError.unexpectedWeight(key: "decoder.up_blocks.1.upsamplers.0.conv.weight")) {
      try DecoderFineTuner(configuration: fixture.configuration, weights: extra)
    }
    var noAttention = fixture.configuration
    noAttention.midBlockAddAttention = false
    #expect(throws: DecoderFineTuningError.unexpectedWeight(key: "decoder.mid_block.attentions.0.group_norm.bias")) {
      try DecoderFineTuner(configuration: noAttention, weights: fixture.initial)
    }
    var badGroups = fixture.configuration
    badGroups.normNumGroups = 5
    #expect(throws: DecoderFineTuningError.self) {
      try DecoderFineTuner(configuration: badGroups, weights: fixture.initial)
    }
  }

  @Test func rejectsBadInputsAndOptions() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    let tuner = try tuner(fixture)
    let (z, edited, original, mask) = (
      fixture.inputs["decoder_input"]!, fixture.inputs["edited"]!,
      fixture.inputs["original"]!, fixture.inputs["mask"]!
    )
    #expect(
      throws: DecoderFineTuningError.inputShapeMismatch(
        name: "decoder input", expected: "[N, 4, h, w]", actual: [1, 3, 8, 8])
    ) {
      try tuner.reconstruct(
        decoderInput: Tensor(shape: [1, 3, 8, 8], repeating: 0), editedImage: edited,
        originalImage: original, mask: mask)
    }
    #expect(throws: DecoderFineTuningError.self) {
      try tuner.reconstruct(
        decoderInput: z, editedImage: edited, originalImage: original,
        mask: Tensor(shape: [1, 1, 8, 8], repeating: 1))
    }
    #expect(throws: DecoderFineTuningError.invalidOption(name: "learningRate", value: "-1.0")) {
      try tuner.reconstruct(
        decoderInput: z, editedImage: edited, originalImage: original, mask: mask,
        options: DecoderFineTuningOptions(learningRate: -1))
    }
    #expect(throws: DecoderFineTuningError.nonFiniteLoss(iteration: 1)) {
      var poisoned = original
      poisoned[0, 0, 0, 0] = .nan
      return try tuner.reconstruct(decoderInput: z, editedImage: edited, originalImage: poisoned, mask: mask)
    }
  }

  @Test func stopsWhenAskedAndLeavesTheWeightsUntouched() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    let tuner = try tuner(fixture)
    let before = tuner.autoencoder.parameterSnapshot()
    var calls = 0
    #expect(throws: DecoderFineTuningError.cancelled(completedIterations: 2)) {
      try tuner.reconstruct(
        decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!,
        originalImage: fixture.inputs["original"]!, mask: fixture.inputs["mask"]!,
        options: DecoderFineTuningOptions(iterationCount: 10, learningRate: 1e-2)
      ) { progress in
        calls += 1
        return progress.completed == 2 ? .stop : .proceed
      }
    }
    #expect(calls == 2)
    #expect(tuner.autoencoder.parameterSnapshot() == before)
    // A run after the cancelled one starts from the pretrained weights again: it matches the torch fixture.
    let result = try tuner.reconstruct(
      decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!,
      originalImage: fixture.inputs["original"]!, mask: fixture.inputs["mask"]!,
      options: DecoderFineTuningOptions(iterationCount: fixture.iterations, learningRate: fixture.learningRate))
    #expect(TensorComparison(result.image, fixture.final["output"]!).isClose(relative: 1e-4))
  }

  @Test func lowersTheLossWithThePaperSettings() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    let result = try tuner(fixture).reconstruct(
      decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!,
      originalImage: fixture.inputs["original"]!, mask: fixture.inputs["mask"]!,
      options: DecoderFineTuningOptions(iterationCount: 20))
    #expect(result.losses.count == 20)
    #expect(result.finalLoss < Double(result.losses[0]) * 0.9, "losses \(result.losses), final \(result.finalLoss)")
  }

  @Test func cropModePastesExactOriginalPixelsOutsideTheWindow() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    let tuner = try tuner(fixture)
    let (original, mask) = (fixture.inputs["original"]!, fixture.inputs["mask"]!)
    let result = try tuner.reconstruct(
      decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!, originalImage: original,
      mask: mask, options: DecoderFineTuningOptions(iterationCount: 3, learningRate: 1e-3, cropMargin: 1))
    // Mask rows 3..<11, columns 4..<13 at f = 2 → latent rows 1..<6, columns 2..<7, grown by 1 → pixels 0..<14, 2..<16;
    // the paste window is grown by 1 latent pixel as well ((1 + 1) / 2).
    #expect(result.region.rows == 0..<14 && result.region.columns == 2..<16)
    for c in 0..<3 {
      for i in 0..<16 {
        for j in 0..<16 where i >= 14 || j < 2 {
          #expect(result.image[0, c, i, j] == original[0, c, i, j])
        }
      }
    }
    #expect(result.image != original)
    #expect(result.finalLoss.isFinite)
    // An empty mask needs no optimisation: the original is the exact optimum.
    let empty = try tuner.reconstruct(
      decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!, originalImage: original,
      mask: Tensor(shape: mask.shape, repeating: 0), options: .fast)
    #expect(empty.image == original && empty.finalLoss == 0)
  }

  @Test func trainingTheLastUpBlocksLeavesTheFrozenPrefixUnchanged() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    let tuner = try tuner(fixture)
    let result = try tuner.reconstruct(
      decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!,
      originalImage: fixture.inputs["original"]!, mask: fixture.inputs["mask"]!,
      options: DecoderFineTuningOptions(iterationCount: 3, learningRate: 1e-3, trainedUpBlockCount: 1))
    let trained = Set(tuner.parameterKeys(inLastUpBlocks: 1))
    #expect(trained.contains("decoder.up_blocks.1.resnets.0.conv1.weight") && trained.contains("decoder.conv_out.bias"))
    #expect(!trained.contains("decoder.up_blocks.0.upsamplers.0.conv.weight"))
    let pretrained = tuner.autoencoder.parameterSnapshot()
    for name in tuner.parameterKeys {
      let changed = result.tunedParameters[name]! != pretrained[name]!
      #expect(changed == trained.contains(name), "\(name) changed: \(changed)")
    }
    #expect(result.finalLoss < Double(result.losses[0]))
  }

  @Test func theFastModeLeavesTheFirstTrainedInputNormUnchanged() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    let tuner = try tuner(fixture)
    var options = DecoderFineTuningOptions.fast
    options.iterationCount = 3
    options.learningRate = 1e-3
    #expect(!options.trainsFirstBlockInputNorm)
    let result = try tuner.reconstruct(
      decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!,
      originalImage: fixture.inputs["original"]!, mask: fixture.inputs["mask"]!, options: options)
    let frozen: Set = ["decoder.up_blocks.1.resnets.0.norm1.weight", "decoder.up_blocks.1.resnets.0.norm1.bias"]
    let trained = Set(tuner.parameterKeys(inLastUpBlocks: 1))
    #expect(frozen.isSubset(of: trained))
    let pretrained = tuner.autoencoder.parameterSnapshot()
    for name in tuner.parameterKeys {
      let changed = result.tunedParameters[name]! != pretrained[name]!
      #expect(changed == (trained.contains(name) && !frozen.contains(name)), "\(name) changed: \(changed)")
    }
    #expect(result.finalLoss < Double(result.losses[0]))
  }

  @Test(arguments: [true, false])
  func decoderGradientMatchesADirectionalFiniteDifference(midBlockAttention: Bool) throws {
    // A decoder of another shape (three levels, two layers per block, four groups), with and without the mid
    // attention: ⟨∂L/∂θ, V⟩ against (L(θ + εV) − L(θ − εV)) / 2ε for a random direction V over all parameters.
    let configuration = AutoencoderKLConfiguration(
      outChannels: 2, blockOutChannels: [8, 8, 16], layersPerBlock: 2, latentChannels: 3, normNumGroups: 4,
      midBlockAddAttention: midBlockAttention)
    let autoencoder = try AutoencoderKL(configuration: configuration)
    autoencoder.decoder.initializeParametersRandomly(seed: 3)
    let weights = autoencoder.parameterSnapshot()
    let decoder = try DecoderFineTuner(autoencoder: autoencoder)
    var state: UInt64 = 99
    func random(_ shape: [Int]) -> Tensor {
      Tensor(
        shape: shape,
        scalars: (0..<shape.reduce(1, *)).map { _ in
          state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
          return Float(state >> 40) / Float(1 << 24) * 2 - 1
        })
    }
    let z = random([2, 3, 3, 4])
    var mask = Tensor(shape: [2, 1, 12, 16], repeating: 0)
    for i in 2..<8 {
      for j in 5..<12 {
        mask[0, 0, i, j] = 1
        mask[1, 0, i + 3, j - 4] = 1
      }
    }
    let loss = try ReconstructionLoss(
      editedImage: random([2, 2, 12, 16]), originalImage: random([2, 2, 12, 16]),
      mask: mask, backgroundWeight: 100)
    let step = try decoder.outputAndGradients(decoderInput: z) { loss.gradient($0) }
    #expect(Set(step.gradients.keys) == Set(decoder.parameterKeys))
    var direction: [String: Tensor] = [:]
    var analytic = 0.0
    for name in decoder.parameterKeys {
      let v = random(weights[name]!.shape)
      direction[name] = v
      try #require(step.gradients[name]!.shape == v.shape, "\(name)")
      analytic += zip(step.gradients[name]!.scalars, v.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    func lossAt(_ step: Float) throws -> Double {
      var moved = weights
      for name in decoder.parameterKeys { moved[name] = weights[name]! + direction[name]! * step }
      return loss.value(try DecoderFineTuner(configuration: configuration, weights: moved).decoded(z))
    }
    func centralDifference(_ epsilon: Float) throws -> Double {
      (try lossAt(epsilon) - lossAt(-epsilon)) / (2 * Double(epsilon))
    }
    // The random decoder with λ = 100 is strongly curved: at ε = 1e-3 a central difference is 0.1–0.4 % off
    // (O(ε²)), and at ε = 1e-4 the float rounding of L (≈ 45–65) is 0.8–2.2e-3 of the derivative, depending on
    // how the kernels round. Richardson extrapolation of ε = 1e-3 and 2e-3 cancels the ε² term, leaving O(ε⁴),
    // with a tenth of the rounding error of ε = 1e-4 (measured 1.2e-4 and 1.3e-4 relative).
    let numeric = (4 * (try centralDifference(1e-3)) - (try centralDifference(2e-3))) / 3
    #expect(
      abs(numeric - analytic) <= 1e-3 * abs(analytic),
      "directional derivative \(analytic) vs finite difference \(numeric)")
  }

  @Test func cropDecodeBeforeTrainingIsTheFullDecodeInsideTheWindow() throws {
    // The crop's group norms use the whole image's statistics (frozen), so with no iteration the pasted window is
    // D(z) itself: the crop edge is 8 latent pixels (16 image pixels) beyond the paste window, farther than the last
    // up block's receptive radius (5 pixels: four resnet convolutions and conv_out).
    let fixture = try DecoderFineTuningParityTests.load()
    let tuner = try tuner(fixture)
    var state: UInt64 = 17
    let z = Tensor(
      shape: [1, 4, 32, 32],
      scalars: (0..<4096).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 24) * 2 - 1
      })
    let decoded = try tuner.decoded(z)
    let original = decoded + 1
    var mask = Tensor(shape: [1, 1, 64, 64], repeating: 0)
    for i in 28..<36 { for j in 26..<38 { mask[0, 0, i, j] = 1 } }
    let result = try tuner.reconstruct(
      decoderInput: z, editedImage: decoded, originalImage: original, mask: mask,
      options: DecoderFineTuningOptions(iterationCount: 0, cropMargin: 8, trainedUpBlockCount: 1))
    // Box latent rows 14..<18, columns 13..<19; crop grown by 8, paste window by 4 latent pixels.
    #expect(result.region.rows == 12..<52 && result.region.columns == 10..<54)
    let (rows, columns) = (20..<44, 18..<46)
    func window(_ image: Tensor) -> Tensor {
      Tensor(
        shape: [1, 3, rows.count, columns.count],
        scalars: (0..<3).flatMap { c in
          rows.flatMap { i in columns.map { j in image[0, c, i, j] } }
        })
    }
    let comparison = TensorComparison(window(result.image), window(decoded))
    #expect(comparison.isClose(relative: 1e-5), "crop decode vs D(z) in the window: \(comparison)")
    #expect(
      result.image[0, 0, 19, 30] == original[0, 0, 19, 30] && result.image[0, 2, 30, 46] == original[0, 2, 30, 46])
  }

  @Test func keptAndRecomputedActivationsGiveTheSameTraining() throws {
    let fixture = try DecoderFineTuningParityTests.load()
    let tuner = try tuner(fixture)
    func run(budget: Int) throws -> DecoderFineTuningResult {
      try tuner.reconstruct(
        decoderInput: fixture.inputs["decoder_input"]!, editedImage: fixture.inputs["edited"]!,
        originalImage: fixture.inputs["original"]!, mask: fixture.inputs["mask"]!,
        options: DecoderFineTuningOptions(iterationCount: 2, learningRate: 1e-3, activationMemoryBudget: budget))
    }
    let kept = try run(budget: DecoderFineTuningOptions.defaultActivationMemoryBudget)
    let recomputed = try run(budget: 0)
    #expect(kept.costs.recomputedBlockCount == 0)
    // Every resnet (two in the mid block, two per up block) and the attention.
    #expect(recomputed.costs.recomputedBlockCount == 7)
    #expect(recomputed.costs.storedActivationBytes < kept.costs.storedActivationBytes)
    #expect(kept.tunedParameters == recomputed.tunedParameters && kept.losses == recomputed.losses)
    // A budget a quarter of the way keeps some blocks (and none of their activated inputs, which come last) and
    // recomputes the others, with the same training.
    let budget = (3 * recomputed.costs.storedActivationBytes + kept.costs.storedActivationBytes) / 4
    let partial = try run(budget: budget)
    #expect((1..<7).contains(partial.costs.recomputedBlockCount), "\(partial.costs)")
    #expect(partial.costs.storedActivationBytes <= budget)
    #expect(partial.tunedParameters == kept.tunedParameters)
    #expect(kept.costs.iterations.count == 2)
    #expect(throws: DecoderFineTuningError.invalidOption(name: "activationMemoryBudget", value: "-1")) {
      try run(budget: -1)
    }
  }
}
