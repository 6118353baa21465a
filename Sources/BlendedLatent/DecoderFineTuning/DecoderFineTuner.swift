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
  /// The fine-tuned decoder parameters (all of them, keyed like `DifferentiableVAEDecoder.parameters`). The
  /// tuner's own decoder is unchanged; these exist for inspection and parity tests.
  public let tunedParameters: [String: Tensor]
  /// The optimised window in image pixels (rows, columns); the whole image in full mode.
  public let region: (rows: Range<Int>, columns: Range<Int>)
  /// Time per phase and the planned activation memory.
  public let costs: DecoderFineTuningCosts
}

/// Per-image background reconstruction by decoder fine-tuning (paper §4.2, method.md "Background reconstruction").
///
/// Optimises the decoder's weights θ (not `post_quant_conv`, not the latent) with Adam so that
/// `MSE(D_θ(z) ⊙ m, x̂ ⊙ m) + λ · MSE(D_θ(z) ⊙ (1 − m), x ⊙ (1 − m))` decreases, and returns `D_θ*(z)`.
/// The tuner holds its decoder by value and trains a copy per call, so the pretrained weights are untouched after
/// every call — finished, failed or cancelled — which is the paper's "restore after each image".
public struct DecoderFineTuner: Sendable {
  /// The pretrained decoder every call starts from.
  public let decoder: DifferentiableVAEDecoder

  /// Creates a tuner from a decoder.
  public init(decoder: DifferentiableVAEDecoder) { self.decoder = decoder }

  /// Creates a tuner from a VAE configuration and its weights (the whole VAE dictionary or just `decoder.*`).
  /// - Throws: `DecoderFineTuningError` naming the configuration field or weight key at fault.
  public init(architecture: VAEDecoderArchitecture, weights: [String: Tensor]) throws(DecoderFineTuningError) {
    self.decoder = try DifferentiableVAEDecoder(architecture: architecture, weights: weights)
  }

  /// Fine-tunes a copy of the decoder for one image and returns the reconstruction.
  ///
  /// - Parameters:
  ///   - decoderInput: `z` after `post_quant_conv`, `[N, latent_channels, h, w]` (see
  ///     `DifferentiableVAEDecoder.applyingPostQuantConv`).
  ///   - editedImage: `x̂`, `[N, out_channels, h·f, w·f]` (f = `architecture.upscaleFactor`), usually `D(z)`.
  ///   - originalImage: `x`, same shape, in the decoder's output range (about [−1, 1]).
  ///   - mask: `m` (1 = edited), `[N, 1, h·f, w·f]` or the image shape, values in [0, 1].
  ///   - options: iterations, learning rate, λ, Adam constants and the fast-mode switches.
  ///   - progress: called after every iteration; returning `.stop` cancels.
  /// - Throws: `DecoderFineTuningError` for bad shapes or options, a non-finite loss, or cancellation.
  public func reconstruct(
    decoderInput: Tensor, editedImage: Tensor, originalImage: Tensor, mask: Tensor,
    options: DecoderFineTuningOptions = .paper,
    progress: (FineTuningProgress) -> FineTuningAction = { _ in .proceed }
  ) throws(DecoderFineTuningError) -> DecoderFineTuningResult {
    try options.validate()
    try decoder.validate(decoderInput: decoderInput)
    let clock = ContinuousClock()
    let started = clock.now
    let factor = decoder.architecture.upscaleFactor
    let (latentHeight, latentWidth) = (decoderInput.shape[2], decoderInput.shape[3])
    let imageShape = [decoderInput.shape[0], decoder.architecture.outChannels, latentHeight * factor, latentWidth * factor]
    guard editedImage.shape == imageShape else {
      throw .inputShapeMismatch(name: "edited image", expected: "\(imageShape)", actual: editedImage.shape)
    }
    let fullLoss = try ReconstructionLoss(editedImage: editedImage, originalImage: originalImage, mask: mask,
                                          backgroundWeight: options.backgroundWeight)
    let allRows = 0..<imageShape[2]
    let allColumns = 0..<imageShape[3]

    // Segments before `start` are frozen: their output is computed once, on the whole latent (so the mid block's
    // global attention sees the whole image even in crop mode), and only the segments from `start` on are trained.
    let start = options.trainedUpBlockCount.map { decoder.firstSegment(ofLastUpBlocks: $0) } ?? 0
    let prefix = decoder.run(decoderInput, segments: 0..<start)
    let prefixScale = prefix.shape[2] / latentHeight  // resolution of the prefix output relative to the latent

    guard let margin = options.cropMargin else {
      let run = try optimise(input: prefix, fromSegment: start, frozenStatistics: [:], loss: fullLoss,
                             options: options, setupSeconds: Self.seconds(since: started, clock), progress: progress)
      let finished = clock.now
      let finalLoss = fullLoss.value(run.output)
      return DecoderFineTuningResult(image: run.output, losses: run.losses, finalLoss: finalLoss,
                                     tunedParameters: run.parameters, region: (allRows, allColumns),
                                     costs: run.costs.finished(Self.seconds(since: finished, clock)))
    }

    // Crop mode: the mask's bounding box in latent pixels, grown by the margin.
    guard let box = Self.boundingBox(of: fullLoss.mask) else {
      // Nothing edited: the optimum of the loss is the original image itself.
      let costs = DecoderFineTuningCosts(setupSeconds: Self.seconds(since: started, clock), iterationSeconds: [],
                                         finalSeconds: 0, storedActivationBytes: 0, recomputedBlockCount: 0)
      return DecoderFineTuningResult(image: originalImage, losses: [], finalLoss: fullLoss.value(originalImage),
                                     tunedParameters: decoder.parameters, region: (0..<0, 0..<0), costs: costs)
    }
    // The trained segments' group norms keep the statistics they have on the whole image, computed once with the
    // pretrained weights: the crop's own statistics would differ, and the untrained crop decode would not be D(z).
    let frozenStatistics = decoder.groupNormStatistics(prefix, segments: start..<decoder.segments.count)
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
    let run = try optimise(input: Self.cropped(prefix, rows: scaled(cropRows), columns: scaled(cropColumns)),
                           fromSegment: start, frozenStatistics: frozenStatistics, loss: cropLoss, options: options,
                           setupSeconds: Self.seconds(since: started, clock), progress: progress)
    let finished = clock.now
    // Original pixels everywhere except the paste window (the box grown by half the margin), whose pixels come
    // from the tuned decoder's crop.
    let (pasteImageRows, pasteImageColumns) = (pixels(pasteRows), pixels(pasteColumns))
    let window = Self.cropped(
      run.output, rows: (pasteImageRows.lowerBound - imageRows.lowerBound)..<(pasteImageRows.upperBound - imageRows.lowerBound),
      columns: (pasteImageColumns.lowerBound - imageColumns.lowerBound)..<(pasteImageColumns.upperBound - imageColumns.lowerBound))
    let image = Self.pasting(window, into: originalImage, rows: pasteImageRows, columns: pasteImageColumns)
    let finalLoss = fullLoss.value(image)
    return DecoderFineTuningResult(image: image, losses: run.losses, finalLoss: finalLoss,
                                   tunedParameters: run.parameters, region: (imageRows, imageColumns),
                                   costs: run.costs.finished(Self.seconds(since: finished, clock)))
  }

  /// The Adam loop on one decoder input; returns the final decoded output, the per-iteration losses, the weights
  /// and the costs so far (`finalSeconds` still 0). `prefix` is the input of segment `start`; only the segments from
  /// `start` on are run and trained, with `frozenStatistics` as constants.
  private func optimise(
    input prefix: Tensor, fromSegment start: Int, frozenStatistics: [String: GroupNormStatistics],
    loss: ReconstructionLoss, options: DecoderFineTuningOptions, setupSeconds: Double,
    progress: (FineTuningProgress) -> FineTuningAction
  ) throws(DecoderFineTuningError) -> (output: Tensor, losses: [Float], parameters: [String: Tensor],
                                       costs: DecoderFineTuningCosts) {
    let clock = ContinuousClock()
    var tuned = decoder
    var adam = AdamOptimizer(learningRate: options.learningRate, beta1: options.beta1, beta2: options.beta2,
                             epsilon: options.epsilon)
    let plan = decoder.activationPlan(inputShape: prefix.shape, fromSegment: start,
                                      budgetBytes: options.activationMemoryBudget)
    var costs = DecoderFineTuningCosts(setupSeconds: setupSeconds, iterationSeconds: [], finalSeconds: 0,
                                       storedActivationBytes: plan.storedBytes,
                                       recomputedBlockCount: plan.recomputedCount)
    var losses: [Float] = []
    for iteration in stride(from: 1, through: options.iterationCount, by: 1) {
      let iterationStart = clock.now
      var value = 0.0
      let step = try tuned.outputAndGradients(input: prefix, fromSegment: start, plan: plan,
                                              frozenStatistics: frozenStatistics) {
        (output: Tensor) throws(DecoderFineTuningError) -> Tensor in
        value = loss.value(output)
        guard value.isFinite else { throw .nonFiniteLoss(iteration: iteration) }
        return loss.gradient(output)
      }
      adam.update(&tuned.parameters, gradients: step.gradients)
      losses.append(Float(value))
      costs.iterationSeconds.append(Self.seconds(since: iterationStart, clock))
      let report = FineTuningProgress(iteration: iteration, iterationCount: options.iterationCount, loss: Float(value))
      if progress(report) == .stop { throw .cancelled(completedIterations: iteration) }
    }
    let finalStart = clock.now
    let output = tuned.run(prefix, segments: start..<tuned.segments.count, frozenStatistics: frozenStatistics)
    costs.finalSeconds = Self.seconds(since: finalStart, clock)
    return (output, losses, tuned.parameters, costs)
  }

  /// Seconds from `start` to now on `clock`.
  static func seconds(since start: ContinuousClock.Instant, _ clock: ContinuousClock) -> Double {
    let elapsed = (clock.now - start).components
    return Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18
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
