import TensorCore

extension BlendedLatentEditor {
  /// Whether the noise predictor is an inpainting model: its ``NoisePredictor/inputChannelCount`` is
  /// `2C + 1` for the autoencoder's C latent channels (9 for Stable Diffusion). `nil` means a latents-only model.
  /// - Throws: ``PipelineError/unsupported(_:)`` for any other input width.
  func usesInpaintingConditioning() throws(PipelineError) -> Bool {
    guard let channels = noisePredictor.inputChannelCount, channels != autoencoder.latentChannels else {
      return false
    }
    let expected = 2 * autoencoder.latentChannels + 1
    guard channels == expected else {
      throw .unsupported(
        "the UNet takes \(channels) input channels; only \(autoencoder.latentChannels) (latents) or \(expected) "
          + "(inpainting: latents, mask, masked-image latents) are supported")
    }
    return true
  }

  /// The inpainting UNet's extra inputs, as diffusers' `StableDiffusionInpaintPipeline` builds them: the mask
  /// binarised and resized by torch's nearest rule, and the posterior of the image with the hole set to 0.
  /// - Parameters:
  ///   - inputs: The checked, padded request.
  ///   - pixels: The padded image in [-1, 1], `[1, 3, H, W]`.
  ///   - image: The image's posterior.
  ///   - latentShape: `[1, C, h, w]`.
  ///   - startsFromPureNoise: Strength 1 (diffusers' `is_strength_max`).
  ///   - blends: The request's ``EditRequest/inpaintingBlend``.
  func inpaintingConditioning(
    inputs: EditInputs, pixels: Tensor, image: LatentPosterior, latentShape: [Int], startsFromPureNoise: Bool,
    blends: Bool
  ) throws(PipelineError) -> InpaintingConditioning {
    let (height, width) = (inputs.paddedHeight, inputs.paddedWidth)
    let keep = inputs.paddedMask.map { $0 < 0.5 ? 1 : 0 }.reshaped([1, 1, height, width])
    let maskedPixels = Tensor(shape: pixels.shape) { out in
      pixels.withUnsafeBufferPointer { values in
        keep.withUnsafeBufferPointer { weights in
          let plane = height * width
          for index in 0..<out.count { out[index] = values[index] * weights[index % plane] }
        }
      }
    }
    let maskedImage: LatentPosterior
    do { maskedImage = try autoencoder.encodePosterior(maskedPixels) } catch {
      throw .componentFailed(.imageEncoding, underlying: error)
    }
    guard maskedImage.mean.shape == latentShape else {
      throw .componentOutput(.imageEncoding, expected: latentShape, found: maskedImage.mean.shape)
    }
    guard maskedImage.mean.isFinite, maskedImage.standardDeviation.isFinite else {
      throw .nonFiniteOutput(.imageEncoding)
    }
    let mask = InpaintingConditioning.latentMask(
      pixelMask: inputs.paddedMask, height: latentShape[2], width: latentShape[3])
    return InpaintingConditioning(
      mask: mask, maskedImage: maskedImage, image: image, scalingFactor: autoencoder.scalingFactor,
      startsFromPureNoise: startsFromPureNoise, blends: blends)
  }
}
