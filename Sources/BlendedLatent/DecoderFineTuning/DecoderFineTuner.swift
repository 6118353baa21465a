import Networks
import TensorCore

/// The outcome of a decoder fine-tune.
public struct DecoderFineTuningResult: Sendable {
  /// The reconstructed image `D_θ*(z)` (composited with the original outside the crop in crop mode),
  /// `[N, out_channels, H, W]` in the decoder's output range.
  public let image: Tensor
  /// The loss at each iteration, before its update, on the optimised region.
  public let losses: [Float]
  /// The paper's loss of `image` over the whole image, so full and fast modes compare directly.
  public let finalLoss: Double
  /// The fine-tuned decoder parameters, all of them, under the autoencoder's checkpoint keys
  /// (`decoder.conv_in.weight`, …; see `DecoderFineTuner/parameterKeys`). The tuner's autoencoder is unchanged;
  /// these exist for inspection and parity tests.
  public let tunedParameters: [String: Tensor]
  /// The optimised window in image pixels (rows, columns); the whole image in full mode.
  public let region: (rows: Range<Int>, columns: Range<Int>)
  /// Time per phase and the planned activation memory.
  public let costs: DecoderFineTuningCosts
}

/// Per-image background reconstruction by decoder fine-tuning (paper §4.2, `Documentation/Method.md` "Background reconstruction").
///
/// Optimises the decoder's weights θ (not `post_quant_conv`, not the latent) with Adam so that
/// `MSE(D_θ(z) ⊙ m, x̂ ⊙ m) + λ · MSE(D_θ(z) ⊙ (1 − m), x ⊙ (1 − m))` decreases, and returns `D_θ*(z)`.
/// The network trained is the Networks `VAEDecoder` itself, through the training forward and backward passes of
/// its layers (`VAEDecoder.differentiableBlocks`, run as a `DifferentiableSequence`), its parameters named by its
/// `ParameterRegistry` keys. Every call trains a fresh copy of the autoencoder's decoder, so the autoencoder's
/// weights are untouched after every call — finished, failed or cancelled — which is the paper's "restore after
/// each image".
public struct DecoderFineTuner: Sendable {
  /// The VAE whose decoder every call starts from. The tuner only reads it; it is never changed.
  public let autoencoder: AutoencoderKL

  /// Creates a tuner over an autoencoder's decoder (the autoencoder is read, never changed).
  /// - Parameter autoencoder: a loaded VAE; its decoder must use SiLU (`act_fn` `silu`), as every Stable Diffusion
  ///   VAE does.
  /// - Throws: `DecoderFineTuningError.invalidArchitecture` for another activation.
  public init(autoencoder: AutoencoderKL) throws(DecoderFineTuningError) {
    let activation = autoencoder.configuration.actFn ?? "silu"
    guard (try? autoencoder.configuration.activation()) == .silu else {
      throw .invalidArchitecture(field: "act_fn", value: activation)
    }
    self.autoencoder = autoencoder
  }

  /// The decoder's parameter keys, as the autoencoder registers them (`decoder.conv_in.weight`, …), in
  /// registration order.
  public var parameterKeys: [String] { autoencoder.parameterEntries(of: autoencoder.decoder).map(\.key) }

  /// The keys of the parameters that belong to the last `count` up blocks and the output head
  /// (`conv_norm_out`, `conv_out`): the trainable set of `DecoderFineTuningOptions.trainedUpBlockCount` (less the
  /// first block's `norm1` when `DecoderFineTuningOptions.trainsFirstBlockInputNorm` is false).
  /// - Parameter count: how many up blocks, counted from the last; 0 gives the output head alone.
  public func parameterKeys(inLastUpBlocks count: Int) -> [String] {
    let decoder = autoencoder.decoder
    let first = decoder.firstDifferentiableBlock(ofLastUpBlocks: max(count, 0))
    let layers = decoder.differentiableBlocks[first...].flatMap(\.parameterLayers)
    let identifiers = Set(layers.flatMap { $0.parameterEntries.map(\.identifier) })
    return autoencoder.parameterEntries(of: decoder).filter { identifiers.contains($0.identifier) }.map(\.key)
  }

  /// Applies the autoencoder's `post_quant_conv` (1×1, not trained) to a latent, giving the decoder input.
  /// - Parameter latents: `[N, latent_channels, h, w]` as `AutoencoderKL.decode` receives it (already divided by
  ///   the scaling factor).
  /// - Returns: `[N, latent_channels, h, w]`, the latent itself when the autoencoder has no `post_quant_conv`.
  /// - Throws: `DecoderFineTuningError.inputShapeMismatch` for another shape.
  public func decoderInput(for latents: Tensor) throws(DecoderFineTuningError) -> Tensor {
    try validate(decoderInput: latents, name: "latent")
    return autoencoder.decoderInput(for: latents)
  }

  /// Decodes with the pretrained weights through the training forward pass (keeping nothing): `D(z)`, equal bit
  /// for bit to `autoencoder.decoder(decoderInput)`.
  /// - Parameter decoderInput: `[N, latent_channels, h, w]` (after `post_quant_conv`).
  /// - Returns: `[N, out_channels, h·f, w·f]`.
  /// - Throws: `DecoderFineTuningError.inputShapeMismatch` for another shape.
  public func decoded(_ decoderInput: Tensor) throws(DecoderFineTuningError) -> Tensor {
    try validate(decoderInput: decoderInput)
    return DifferentiableSequence(autoencoder.decoder.differentiableBlocks)(decoderInput)
  }

  /// One forward and backward pass over the whole decoder with the pretrained weights.
  ///
  /// Activations are kept for the backward pass within `activationMemoryBudget` bytes (see `ActivationPlan`;
  /// 0 recomputes every block's activations from its input).
  /// - Parameters:
  ///   - decoderInput: `[N, latent_channels, h, w]` (after `post_quant_conv`).
  ///   - activationMemoryBudget: the most bytes of activations to keep.
  ///   - lossGradient: receives the decoded image and returns `∂L/∂image` of the same shape.
  /// - Returns: the decoded image and `∂L/∂θ` for every decoder parameter, by key (see `parameterKeys`).
  /// - Throws: `DecoderFineTuningError` for a bad input shape or a negative budget.
  public func outputAndGradients(
    decoderInput: Tensor, activationMemoryBudget: Int = DecoderFineTuningOptions.defaultActivationMemoryBudget,
    lossGradient: (Tensor) -> Tensor
  ) throws(DecoderFineTuningError) -> (output: Tensor, gradients: [String: Tensor]) {
    try validate(decoderInput: decoderInput)
    guard activationMemoryBudget >= 0 else {
      throw .invalidOption(name: "activationMemoryBudget", value: "\(activationMemoryBudget)")
    }
    let sequence = DifferentiableSequence(autoencoder.decoder.differentiableBlocks)
    let plan = sequence.activationPlan(inputShape: decoderInput.shape, budgetBytes: activationMemoryBudget)
    var gradients = ParameterGradients()
    let output = sequence.outputAndGradients(
      input: decoderInput, plan: plan, gradients: &gradients, lossGradient: lossGradient)
    return (output, gradients.byKey(in: autoencoder))
  }

  /// Fine-tunes a copy of the decoder for one image and returns the reconstruction.
  ///
  /// - Parameters:
  ///   - decoderInput: `z` after `post_quant_conv`, `[N, latent_channels, h, w]` (see `decoderInput(for:)`).
  ///   - editedImage: `x̂`, `[N, out_channels, h·f, w·f]` (f = the autoencoder's down-sampling factor), usually
  ///     `D(z)`.
  ///   - originalImage: `x`, same shape, in the decoder's output range (about [−1, 1]).
  ///   - mask: `m` (1 = edited), `[N, 1, h·f, w·f]` or the image shape, values in [0, 1].
  ///   - options: iterations, learning rate, λ, Adam constants and the fast-mode switches.
  ///   - progress: called after every iteration with an ``EditPhase/backgroundReconstruction`` report (iteration,
  ///     count, loss, time since the first iteration began); returning `.stop` cancels.
  /// - Throws: `DecoderFineTuningError` for bad shapes or options, a non-finite loss, or cancellation.
  public func reconstruct(
    decoderInput: Tensor, editedImage: Tensor, originalImage: Tensor, mask: Tensor,
    options: DecoderFineTuningOptions = .paper,
    progress: ProgressHandler = { _ in .proceed }
  ) throws(DecoderFineTuningError) -> DecoderFineTuningResult {
    try options.validate()
    try validate(decoderInput: decoderInput)
    let clock = ContinuousClock()
    let started = clock.now
    let factor = autoencoder.downsamplingFactor
    let (latentHeight, latentWidth) = (decoderInput.shape[2], decoderInput.shape[3])
    let imageShape = [
      decoderInput.shape[0], autoencoder.configuration.outChannels, latentHeight * factor,
      latentWidth * factor,
    ]
    guard editedImage.shape == imageShape else {
      throw .inputShapeMismatch(name: "edited image", expected: "\(imageShape)", actual: editedImage.shape)
    }
    let fullLoss = try ReconstructionLoss(
      editedImage: editedImage, originalImage: originalImage, mask: mask,
      backgroundWeight: options.backgroundWeight)
    let allRows = 0..<imageShape[2]
    let allColumns = 0..<imageShape[3]

    // Blocks before `start` are frozen: their output is computed once, on the whole latent (so the mid block's
    // global attention sees the whole image even in crop mode), and only the blocks from `start` on are trained.
    let tuned = try trainingCopy()
    let blocks = tuned.differentiableBlocks
    let start = options.trainedUpBlockCount.map { tuned.firstDifferentiableBlock(ofLastUpBlocks: $0) } ?? 0
    let prefix = DifferentiableSequence(Array(blocks[..<start]))(decoderInput)
    let trained = DifferentiableSequence(Array(blocks[start...]))
    let frozenLayers: [any Layer] =
      options.trainsFirstBlockInputNorm ? [] : (blocks[start] as? ResnetBlock2D).map { [$0.norm1] } ?? []
    let prefixScale = prefix.shape[2] / latentHeight  // resolution of the prefix output relative to the latent

    guard let margin = options.cropMargin else {
      let run = try optimise(
        tuned, trained, input: prefix, frozen: FrozenGroupNormStatistics(), frozenLayers: frozenLayers, loss: fullLoss,
        options: options, setup: clock.now - started, progress: progress)
      let finished = clock.now
      let finalLoss = fullLoss.value(run.output)
      return DecoderFineTuningResult(
        image: run.output, losses: run.losses, finalLoss: finalLoss,
        tunedParameters: parameters(of: tuned), region: (allRows, allColumns),
        costs: run.costs.finished(clock.now - finished))
    }

    // Crop mode: the mask's bounding box in latent pixels, grown by the margin.
    guard let box = Self.boundingBox(of: fullLoss.mask) else {
      // Nothing edited: the optimum of the loss is the original image itself.
      let costs = DecoderFineTuningCosts(
        setup: clock.now - started, iterations: [],
        final: .zero, storedActivationBytes: 0, recomputedBlockCount: 0)
      return DecoderFineTuningResult(
        image: originalImage, losses: [], finalLoss: fullLoss.value(originalImage),
        tunedParameters: parameters(of: tuned), region: (0..<0, 0..<0), costs: costs)
    }
    // The trained blocks' group norms keep the statistics they have on the whole image, computed once with the
    // pretrained weights: the crop's own statistics would differ, and the untrained crop decode would not be D(z).
    let frozen = trained.groupNormStatistics(prefix)
    func latentRange(_ pixels: Range<Int>, grownBy growth: Int, limit: Int) -> Range<Int> {
      let lower = max(0, pixels.lowerBound / factor - growth)
      let upper = min(limit, (pixels.upperBound + factor - 1) / factor + growth)
      return lower..<upper
    }
    let cropRows = latentRange(box.rows, grownBy: margin, limit: latentHeight)
    let cropColumns = latentRange(box.columns, grownBy: margin, limit: latentWidth)
    let pasteRows = latentRange(box.rows, grownBy: (margin + 1) / 2, limit: latentHeight)
    let pasteColumns = latentRange(box.columns, grownBy: (margin + 1) / 2, limit: latentWidth)
    func pixels(_ range: Range<Int>) -> Range<Int> { range.lowerBound * factor..<range.upperBound * factor }

    let (imageRows, imageColumns) = (pixels(cropRows), pixels(cropColumns))
    let cropLoss = try ReconstructionLoss(
      editedImage: Self.cropped(editedImage, rows: imageRows, columns: imageColumns),
      originalImage: Self.cropped(originalImage, rows: imageRows, columns: imageColumns),
      mask: Self.cropped(fullLoss.mask, rows: imageRows, columns: imageColumns),
      backgroundWeight: options.backgroundWeight)
    func scaled(_ range: Range<Int>) -> Range<Int> { range.lowerBound * prefixScale..<range.upperBound * prefixScale }
    let run = try optimise(
      tuned, trained, input: Self.cropped(prefix, rows: scaled(cropRows), columns: scaled(cropColumns)),
      frozen: frozen, frozenLayers: frozenLayers, loss: cropLoss, options: options,
      setup: clock.now - started, progress: progress)
    let finished = clock.now
    // Original pixels everywhere except the paste window (the box grown by half the margin), whose pixels come
    // from the tuned decoder's crop.
    let (pasteImageRows, pasteImageColumns) = (pixels(pasteRows), pixels(pasteColumns))
    let window = Self.cropped(
      run.output,
      rows: (pasteImageRows.lowerBound - imageRows.lowerBound)..<(pasteImageRows.upperBound - imageRows.lowerBound),
      columns: (pasteImageColumns.lowerBound - imageColumns.lowerBound)..<(pasteImageColumns.upperBound
        - imageColumns.lowerBound))
    let image = Self.pasting(window, into: originalImage, rows: pasteImageRows, columns: pasteImageColumns)
    let finalLoss = fullLoss.value(image)
    return DecoderFineTuningResult(
      image: image, losses: run.losses, finalLoss: finalLoss,
      tunedParameters: parameters(of: tuned), region: (imageRows, imageColumns),
      costs: run.costs.finished(clock.now - finished))
  }

  /// The Adam loop on one input of the trained blocks; returns their final output, the per-iteration losses and
  /// the costs so far (`final` still zero). `decoder`'s weights are updated in place; `trained` holds its
  /// blocks from the first trained one on, `prefix` their input; `frozen` holds constant statistics, and
  /// `frozenLayers` the layers of `trained` that are not trained.
  private func optimise(
    _ decoder: VAEDecoder, _ trained: DifferentiableSequence, input prefix: Tensor, frozen: FrozenGroupNormStatistics,
    frozenLayers: [any Layer], loss: ReconstructionLoss, options: DecoderFineTuningOptions, setup: Duration,
    progress: ProgressHandler
  ) throws(DecoderFineTuningError) -> (output: Tensor, losses: [Float], costs: DecoderFineTuningCosts) {
    let clock = ContinuousClock()
    let parameters = decoder.parameterEntries
    var adam = AdamOptimizer(
      learningRate: options.learningRate, beta1: options.beta1, beta2: options.beta2,
      epsilon: options.epsilon)
    let frozenIdentifiers = Set(frozenLayers.map { ObjectIdentifier($0) })
    let trainedParameters = Set(
      trained.blocks.flatMap(\.parameterLayers).filter { !frozenIdentifiers.contains(ObjectIdentifier($0)) }
        .flatMap { $0.parameterEntries.map(\.identifier) })
    adam.reserveState(for: parameters.filter { trainedParameters.contains($0.identifier) })
    let plan = trained.activationPlan(inputShape: prefix.shape, budgetBytes: options.activationMemoryBudget)
    var costs = DecoderFineTuningCosts(
      setup: setup, iterations: [], final: .zero,
      storedActivationBytes: plan.storedBytes,
      recomputedBlockCount: plan.recomputedCount)
    var losses: [Float] = []
    let optimisationStart = clock.now
    for iteration in stride(from: 1, through: options.iterationCount, by: 1) {
      let iterationStart = clock.now
      var value = 0.0
      var gradients = ParameterGradients(freezing: frozenLayers)
      _ = try trained.outputAndGradients(input: prefix, plan: plan, frozen: frozen, gradients: &gradients) {
        (output: Tensor) throws(DecoderFineTuningError) -> Tensor in
        value = loss.value(output)
        guard value.isFinite else { throw .nonFiniteLoss(iteration: iteration) }
        return loss.gradient(output)
      }
      adam.update(parameters, gradients: gradients)
      losses.append(Float(value))
      costs.iterations.append(clock.now - iterationStart)
      let report = EditProgress(
        phase: .backgroundReconstruction, completed: iteration, total: options.iterationCount, loss: Float(value),
        elapsed: clock.now - optimisationStart)
      if progress(report) == .stop { throw .cancelled(completedIterations: iteration) }
    }
    let finalStart = clock.now
    let output = trained(prefix, frozen: frozen)
    costs.final = clock.now - finalStart
    return (output, losses, costs)
  }

  /// A new decoder with the autoencoder's decoder weights, as float32. Its tensors share storage with the
  /// autoencoder's float32 weights until the optimiser first writes them (copy on write), so the autoencoder is
  /// never changed.
  func trainingCopy() throws(DecoderFineTuningError) -> VAEDecoder {
    let copy: VAEDecoder
    do {
      copy = try VAEDecoder(configuration: autoencoder.configuration)
    } catch {
      throw Self.architectureError(error)
    }
    for (target, source) in zip(copy.parameterEntries, autoencoder.decoder.parameterEntries) {
      target.set(source.get())
    }
    return copy
  }

  /// Every parameter of `decoder` (a training copy) under the autoencoder's keys.
  func parameters(of decoder: VAEDecoder) -> [String: Tensor] {
    Dictionary(uniqueKeysWithValues: zip(parameterKeys, decoder.parameterEntries.map { $0.get() }))
  }

  /// Checks that `decoderInput` is `[N, latent_channels, h, w]` with positive extents.
  func validate(decoderInput: Tensor, name: String = "decoder input") throws(DecoderFineTuningError) {
    let channels = autoencoder.latentChannels
    guard decoderInput.rank == 4, decoderInput.shape[1] == channels,
      decoderInput.shape[0] > 0, decoderInput.shape[2] > 0, decoderInput.shape[3] > 0
    else {
      throw .inputShapeMismatch(name: name, expected: "[N, \(channels), h, w]", actual: decoderInput.shape)
    }
  }

  /// The `invalidArchitecture` error for a configuration the autoencoder rejected, naming the field.
  static func architectureError(_ error: any Error) -> DecoderFineTuningError {
    switch error as? ConfigurationError {
    case .unsupported(_, let field, let value): .invalidArchitecture(field: field, value: value)
    case .invalid(_, let field, let reason): .invalidArchitecture(field: field, value: reason)
    default: .invalidArchitecture(field: "configuration", value: "\(error)")
    }
  }

  /// The rows and columns holding a mask value above zero, over every sample and channel; nil if none.
  static func boundingBox(of mask: Tensor) -> (rows: Range<Int>, columns: Range<Int>)? {
    let (height, width) = (mask.shape[2], mask.shape[3])
    var (top, bottom, left, right) = (height, -1, width, -1)
    mask.withUnsafeBufferPointer { m in
      for plane in 0..<(mask.count / (height * width)) {
        for row in 0..<height {
          for column in 0..<width where m[(plane * height + row) * width + column] > 0 {
            top = min(top, row)
            bottom = max(bottom, row)
            left = min(left, column)
            right = max(right, column)
          }
        }
      }
    }
    return bottom < 0 ? nil : (top..<(bottom + 1), left..<(right + 1))
  }

  /// The window `rows × columns` of the last two axes of an `[N, C, H, W]` tensor.
  static func cropped(_ x: Tensor, rows: Range<Int>, columns: Range<Int>) -> Tensor {
    let (planes, height, width) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
    return Tensor(shape: [x.shape[0], x.shape[1], rows.count, columns.count]) { out in
      x.withUnsafeBufferPointer { source in
        var index = 0
        for plane in 0..<planes {
          for row in rows {
            let base = (plane * height + row) * width
            for column in columns {
              out[index] = source[base + column]
              index += 1
            }
          }
        }
      }
    }
  }

  /// `target` with the window `rows × columns` of its last two axes replaced by `window`.
  static func pasting(_ window: Tensor, into target: Tensor, rows: Range<Int>, columns: Range<Int>) -> Tensor {
    var result = target
    let (planes, height, width) = (target.shape[0] * target.shape[1], target.shape[2], target.shape[3])
    result.withUnsafeMutableBufferPointer { out in
      window.withUnsafeBufferPointer { source in
        var index = 0
        for plane in 0..<planes {
          for row in rows {
            let base = (plane * height + row) * width
            for column in columns {
              out[base + column] = source[index]
              index += 1
            }
          }
        }
      }
    }
    return result
  }
}
