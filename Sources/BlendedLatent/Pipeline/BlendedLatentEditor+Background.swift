import TensorCore

extension BlendedLatentEditor {
  /// Applies the request's ``BackgroundMode`` to the decoded results.
  ///
  /// - Parameters:
  ///   - images: the decoded results `[3, H, W]` in [0, 1] at the request's size.
  ///   - paddedImages: the same before cropping the autoencoder padding, `[3, H′, W′]`.
  ///   - finalLatents: the loop's result `[B, C, h, w]` (scaled), for decoder fine-tuning.
  ///   - inputs: the checked request inputs.
  ///   - request: the edit.
  ///   - progress: receives one ``EditPhase/backgroundReconstruction`` report per fine-tuning iteration.
  /// - Returns: the results, same shapes as `images`.
  /// - Throws: ``PipelineError``: `.cancelled` when progress asks to stop, `.componentFailed` when blending or
  ///   fine-tuning fails.
  func reconstructBackground(
    _ images: [Tensor], paddedImages: [Tensor], finalLatents: Tensor, inputs: EditInputs, request: EditRequest,
    progress: ProgressHandler
  ) throws(PipelineError) -> [Tensor] {
    let (height, width) = (inputs.height, inputs.width)
    switch request.background {
    case .none:
      return images
    case .paste(let featherRadius):
      let weights = PixelPaste.weights(mask: inputs.mask, featherRadius: featherRadius)
      return images.map { PixelPaste.composite(edited: $0, original: request.image, weights: weights) }
    case .poisson(let solver):
      let target = request.image.reshaped([1, 3, height, width])
      let mask = inputs.mask.reshaped([1, 1, height, width])
      var blended: [Tensor] = []
      for image in images {
        do {
          let result = try solver.blended(source: image.reshaped([1, 3, height, width]), target: target, mask: mask)
          blended.append(result.image.reshaped([3, height, width]).clamped(to: 0...1))
        } catch {
          throw .componentFailed(.backgroundReconstruction, underlying: error)
        }
      }
      return blended
    case .optimize(let options):
      return try fineTuneDecoder(
        paddedImages: paddedImages, finalLatents: finalLatents, inputs: inputs, request: request, options: options,
        progress: progress)
    }
  }

  /// Checks, before any network runs, that the request's background mode can run with these components:
  /// `optimize` needs a ``FineTunableDecoder`` autoencoder and valid fine-tuning options.
  func checkBackgroundIsPossible(_ background: BackgroundMode) throws(PipelineError) {
    guard case .optimize(let options) = background else { return }
    guard autoencoder is any FineTunableDecoder else {
      throw .unsupported(
        "background .optimize fine-tunes the decoder, and the autoencoder \(type(of: autoencoder)) is not a "
          + "FineTunableDecoder")
    }
    do { try options.validate() } catch {
      throw .invalidParameter(
        name: "background.optimize", value: "\(options.iterationCount) iterations", reason: "\(error)")
    }
  }

  /// The paper's decoder fine-tuning (§4.2), once per result, on the padded image.
  private func fineTuneDecoder(
    paddedImages: [Tensor], finalLatents: Tensor, inputs: EditInputs, request: EditRequest,
    options: DecoderFineTuningOptions, progress: ProgressHandler
  ) throws(PipelineError) -> [Tensor] {
    guard let decoder = autoencoder as? any FineTunableDecoder else {
      preconditionFailure("checkBackgroundIsPossible admits .optimize only for a FineTunableDecoder")
    }
    let clock = ContinuousClock()
    let start = clock.now
    let (height, width) = (inputs.paddedHeight, inputs.paddedWidth)
    let original = (inputs.paddedImage * 2 + -1).reshaped([1, 3, height, width])
    let mask = inputs.paddedMask.map { $0 >= 0.5 ? 1 : 0 }.reshaped([1, 1, height, width])
    let total = options.iterationCount * request.batchSize
    var results: [Tensor] = []
    do {
      let tuner = try decoder.decoderFineTuner()
      for (index, row) in finalLatents.chunked(request.batchSize, axis: 0).enumerated() {
        let latent = row * (1 / autoencoder.scalingFactor)
        let decoderInput = try tuner.decoderInput(for: latent)
        let edited = (paddedImages[index] * 2 + -1).reshaped([1, 3, height, width])
        let result = try tuner.reconstruct(
          decoderInput: decoderInput, editedImage: edited, originalImage: original, mask: mask, options: options
        ) { step in
          var report = step
          report.completed += index * options.iterationCount
          report.total = total
          report.elapsed = clock.now - start
          return progress(report)
        }
        let unit = result.image.reshaped([3, height, width]).map { (min(max($0, -1), 1) + 1) / 2 }
        results.append(inputs.cropped(unit))
      }
    } catch .cancelled(let completed) {
      throw .cancelled(.backgroundReconstruction, completed: results.count * options.iterationCount + completed)
    } catch {
      throw .componentFailed(.backgroundReconstruction, underlying: error)
    }
    return results
  }
}
