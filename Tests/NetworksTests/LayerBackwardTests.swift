import Networks
import TensorCore
import Testing
import _TestSupport

/// The layers' training forward and backward passes (`Type+Backward.swift`): gradients against central finite
/// differences, the training forward against the inference forward, gradients under the registry's keys, and
/// in-place parameter updates through the registry.
@Suite("Layer backward passes")
struct LayerBackwardTests {
  /// A deterministic pseudo-random tensor, uniform in ±scale.
  static func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return Tensor(
      shape: shape,
      scalars: (0..<shape.reduce(1, *)).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
      })
  }

  /// Gives every parameter of `layer` random values (norm scales around 1).
  static func randomize(_ layer: any Layer, seed: UInt64) {
    for (index, entry) in layer.parameterEntries.enumerated() {
      let values = random(entry.shape, seed: seed &+ UInt64(index), scale: 0.3)
      entry.set(
        entry.shape.count == 1 && entry.key.hasSuffix("norm1.weight") || entry.key.hasSuffix("norm.weight")
          ? values + 1 : values)
    }
  }

  /// `⟨∂L/∂θ, V⟩ + ⟨∂L/∂x, U⟩` from the backward pass against `(L(θ + εV, x + εU) − L(θ − εV, x − εU)) / 2ε` for
  /// the linear loss `L = Σ w ⊙ block(x)`, over every parameter of the block; also checks that every parameter
  /// received a gradient, under its registry key.
  func expectGradientsMatchFiniteDifferences<B: DifferentiableBlock & Layer>(
    _ block: B, input: Tensor, frozen: FrozenGroupNormStatistics = FrozenGroupNormStatistics(),
    _ comment: Comment
  ) {
    let weights = Self.random(block.outputShape(forInput: input.shape), seed: 11)
    let entries = block.parameterEntries
    let directions = entries.enumerated().map { Self.random($0.element.shape, seed: 100 + UInt64($0.offset)) }
    let inputDirection = Self.random(input.shape, seed: 7)
    func loss(_ x: Tensor) -> Double {
      let y = block.output(from: block.activations(of: x, frozen: frozen), input: x)
      return zip(y.scalars, weights.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    var gradients = ParameterGradients()
    let inputGradient = block.backward(
      block.activations(of: input, frozen: frozen), input: input, outputGradient: weights, frozen: frozen,
      needsInputGradient: true, gradients: &gradients)!
    var analytic = zip(inputGradient.scalars, inputDirection.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    for (entry, direction) in zip(entries, directions) {
      guard let gradient = gradients[entry] else {
        Issue.record("\(comment): no gradient for \(entry.key)")
        continue
      }
      analytic += zip(gradient.scalars, direction.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    #expect(gradients.count == entries.count, comment)
    let original = entries.map { $0.get() }
    let epsilon: Float = 1e-3
    func moved(_ sign: Float) -> Double {
      for (index, entry) in entries.enumerated() { entry.set(original[index] + directions[index] * (sign * epsilon)) }
      return loss(input + inputDirection * (sign * epsilon))
    }
    let numeric = (moved(1) - moved(-1)) / Double(2 * epsilon)
    for (index, entry) in entries.enumerated() { entry.set(original[index]) }
    #expect(abs(numeric - analytic) <= 2e-3 * abs(analytic), "\(comment): \(analytic) vs finite difference \(numeric)")
  }

  @Test func convolutionGradients() {
    for (kernel, stride, padding) in [(3, 1, 1), (3, 2, 1), (1, 1, 0)] {
      let convolution = Conv2D(
        inputChannels: 3, outputChannels: 5, kernelSize: kernel, stride: stride, padding: padding)
      Self.randomize(convolution, seed: 1)
      expectGradientsMatchFiniteDifferences(
        convolution, input: Self.random([2, 3, 7, 6], seed: 2), "Conv2D \(kernel)×\(kernel) stride \(stride)")
    }
  }

  /// A VAE-style resnet (no time embedding, 4 groups) from 8 channels with random parameters: 8 → 8 adds the
  /// input, 8 → 16 goes through `conv_shortcut`.
  static func resnet(outputChannels: Int, seed: UInt64) -> ResnetBlock2D {
    let block = ResnetBlock2D(
      inputChannels: 8, outputChannels: outputChannels, timeEmbeddingChannels: nil,
      groupCount: 4, epsilon: 1e-6)
    randomize(block, seed: seed)
    return block
  }

  @Test(arguments: [8, 16])
  func resnetGradients(outputChannels: Int) {
    let block = Self.resnet(outputChannels: outputChannels, seed: 3)
    let input = Self.random([2, 8, 5, 6], seed: 4)
    expectGradientsMatchFiniteDifferences(block, input: input, "ResnetBlock2D 8 → \(outputChannels)")
    // With frozen statistics (those of another input) no gradient flows through the statistics.
    let frozen = DifferentiableSequence([block]).groupNormStatistics(Self.random([2, 8, 5, 6], seed: 5, scale: 2))
    #expect(frozen.count == 2)
    expectGradientsMatchFiniteDifferences(block, input: input, frozen: frozen, "ResnetBlock2D, frozen statistics")
  }

  @Test(arguments: [8, 16])
  func resnetWithAFrozenInputNormAndNoInputGradientSkipsOnlyThatNorm(outputChannels: Int) {
    let block = Self.resnet(outputChannels: outputChannels, seed: 8)
    let input = Self.random([2, 8, 5, 6], seed: 9)
    let outputGradient = Self.random(block.outputShape(forInput: input.shape), seed: 10)
    func backward(freezing frozenLayers: [any Layer], needsInputGradient: Bool) -> (Tensor?, ParameterGradients) {
      var gradients = ParameterGradients(freezing: frozenLayers)
      let inputGradient = block.backward(
        block.activations(of: input, frozen: FrozenGroupNormStatistics()), input: input,
        outputGradient: outputGradient, frozen: FrozenGroupNormStatistics(), needsInputGradient: needsInputGradient,
        gradients: &gradients)
      return (inputGradient, gradients)
    }
    let (_, all) = backward(freezing: [], needsInputGradient: false)
    let (skipped, frozen) = backward(freezing: [block.norm1], needsInputGradient: false)
    #expect(skipped == nil && !frozen.trains(block.norm1) && frozen.trains(block))
    for entry in block.parameterEntries {
      if entry.key.hasPrefix("norm1.") {
        #expect(all[entry] != nil && frozen[entry] == nil, "\(entry.key)")
      } else {
        #expect(frozen[entry] == all[entry], "\(entry.key): the same gradient with norm1 frozen")
      }
    }
    // When the input gradient is needed the whole pass runs; the frozen norm still gets no gradient.
    let (full, _) = backward(freezing: [], needsInputGradient: true)
    let (stillFull, stillFrozen) = backward(freezing: [block.norm1], needsInputGradient: true)
    #expect(stillFull != nil && stillFull == full && stillFrozen.count == frozen.count)
  }

  @Test func spatialAttentionGradients() {
    let attention = Attention(queryWidth: 8, headCount: 1, headWidth: 8, projectionBias: true, groupNormGroups: 4)
    Self.randomize(attention, seed: 6)
    expectGradientsMatchFiniteDifferences(attention, input: Self.random([2, 8, 4, 5], seed: 7), "Attention(spatial:)")
  }

  @Test func upsamplerGradients() {
    let upsampler = Upsample2D(channels: 4, outputChannels: 6)
    Self.randomize(upsampler, seed: 8)
    expectGradientsMatchFiniteDifferences(upsampler, input: Self.random([1, 4, 3, 5], seed: 9), "Upsample2D")
  }

  /// The decoder's training forward is its inference forward, bit for bit, on the im2col and the Winograd paths
  /// (the 24×24 latent puts the last up block above the Winograd threshold).
  @Test(arguments: [4, 24])
  func decoderTrainingForwardIsTheInferenceForward(latentSize: Int) throws {
    let decoder = try StableDiffusionModel(randomWeights: .tiny, unet: .tiny, vae: .tiny, seed: 3).vae.decoder
    let latent = Self.random([1, 4, latentSize, latentSize], seed: 12)
    let sequence = DifferentiableSequence(decoder.differentiableBlocks)
    #expect(sequence(latent) == decoder(latent))
  }

  /// One training step over the decoder puts a gradient on every parameter, under the autoencoder's keys, and the
  /// units of the last up block and the output head start where `firstDifferentiableBlock` says.
  @Test func decoderGradientsAreKeyedByTheRegistry() throws {
    let vae = try StableDiffusionModel(randomWeights: .tiny, unet: .tiny, vae: .tiny, seed: 4).vae
    let sequence = DifferentiableSequence(vae.decoder.differentiableBlocks)
    let latent = Self.random([1, 4, 4, 4], seed: 13)
    var gradients = ParameterGradients()
    let output = sequence.outputAndGradients(
      input: latent, plan: sequence.activationPlan(inputShape: latent.shape, budgetBytes: 1 << 30),
      gradients: &gradients
    ) { $0 }
    #expect(output == vae.decoder(latent))
    let keyed = gradients.byKey(in: vae)
    #expect(Set(keyed.keys) == Set(vae.parameterEntries(of: vae.decoder).map(\.key)))
    #expect(keyed.keys.allSatisfy { $0.hasPrefix("decoder.") })
    let blocks = vae.decoder.differentiableBlocks
    // conv_in, mid (resnet, attention, resnet), up block 0 (2 resnets, upsampler), up block 1 (2 resnets), head.
    #expect(blocks.count == 10)
    #expect(vae.decoder.firstDifferentiableBlock(ofLastUpBlocks: 1) == 7)
    #expect(vae.decoder.firstDifferentiableBlock(ofLastUpBlocks: 2) == 0)
    #expect(vae.decoder.firstDifferentiableBlock(ofLastUpBlocks: 0) == 9)
  }

  /// Activated inputs (the SiLU outputs feeding convolutions) are kept only by kept blocks and only with budget to
  /// spare after every block's activations; keeping them changes no gradient and no output.
  @Test func activatedInputsAreKeptLastAndChangeNothing() throws {
    let vae = try StableDiffusionModel(randomWeights: .tiny, unet: .tiny, vae: .tiny, seed: 5).vae
    let sequence = DifferentiableSequence(vae.decoder.differentiableBlocks)
    let latent = Self.random([1, 4, 6, 6], seed: 15)
    let all = sequence.activationPlan(inputShape: latent.shape, budgetBytes: 1 << 30)
    #expect(all.keeps.allSatisfy { $0 } && all.storedBytes == all.bytesKeepingAll)
    // The resnets and the output head have activated inputs; conv_in, the attention and the upsampler do not.
    #expect(all.keepsActivatedInputs.count { $0 } == 7)
    let none = sequence.activationPlan(inputShape: latent.shape, budgetBytes: 0)
    #expect(none.keepsActivatedInputs.allSatisfy { !$0 })
    let short = sequence.activationPlan(inputShape: latent.shape, budgetBytes: all.bytesKeepingAll - 1)
    #expect(short.keeps == all.keeps && short.keepsActivatedInputs.count { $0 } < 7)
    #expect(zip(short.keeps, short.keepsActivatedInputs).allSatisfy { $0 || !$1 })
    func step(_ plan: ActivationPlan) -> (output: Tensor, gradients: [String: Tensor]) {
      var gradients = ParameterGradients()
      let output = sequence.outputAndGradients(input: latent, plan: plan, gradients: &gradients) { $0 * 2 }
      return (output, gradients.byKey(in: vae))
    }
    let (withActivated, without) = (step(all), step(none))
    #expect(withActivated.output == without.output && withActivated.gradients == without.gradients)
  }

  /// `Entry.update` changes a parameter in place when nothing else holds its storage, and copies (leaving the
  /// other holder unchanged) when something does: a training copy never changes the model it was copied from.
  @Test func registryUpdatesInPlace() {
    let linear = Linear(inputCount: 3, outputCount: 2)
    let norm = GroupNorm(groupCount: 1, channels: 2, epsilon: 1e-5)
    linear.weight = Self.random([2, 3], seed: 14)
    for entry in linear.parameterEntries + norm.parameterEntries {
      func address() -> UInt { entry.get().withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
      let before = address()
      entry.update { $0.withUnsafeMutableBufferPointer { $0[0] += 1 } }
      #expect(address() == before, "\(entry.key) updated in place")
      let held = entry.get()
      entry.update { $0.withUnsafeMutableBufferPointer { $0[0] += 1 } }
      #expect(entry.get().scalars[0] == held.scalars[0] + 1 && held != entry.get(), "\(entry.key) copied when shared")
    }
  }
}
