import TensorCore

/// What an inpainting UNet (`in_channels` 9) needs besides the latents, and how its loop starts and blends.
///
/// Built as diffusers' `StableDiffusionInpaintPipeline` builds it (``BlendedLatentEditor`` does this when its
/// noise predictor reports ``NoisePredictor/inputChannelCount`` = 2C + 1):
/// - ``mask``: the pixel mask binarised at 0.5 and resized to latent size with torch's `nearest`
///   (`F.interpolate`: source pixel `floor(i · H / h)`), `[1, 1, h, w]`;
/// - ``maskedImage``: the posterior of `E((2x − 1) ⊙ (mask < 0.5))`, the image with the hole set to 0;
/// - ``image``: the posterior of `E(2x − 1)`.
///
/// ``BlendedDenoisingSteps`` then draws, in diffusers' order: a sample of ``image`` (only when not
/// ``startsFromPureNoise``), `ε₀`, a sample of ``maskedImage``; the start is `ε₀ · init_noise_sigma` at
/// strength 1 (diffusers' `is_strength_max`), else the image sample noised to the first kept level.
public struct InpaintingConditioning: Sendable {
  /// The mask at latent size `[1, 1, h, w]`, 0 or 1.
  public let mask: Tensor
  /// The unscaled posterior of the masked image `[1, C, h, w]`.
  public let maskedImage: LatentPosterior
  /// The unscaled posterior of the image `[1, C, h, w]`.
  public let image: LatentPosterior
  /// The autoencoder's scaling factor (samples are multiplied by it).
  public let scalingFactor: Float
  /// Whether the loop starts from pure noise (strength 1) instead of the noised image sample.
  public let startsFromPureNoise: Bool
  /// Whether Blended Latent Diffusion's blend runs after every step (the editor's default: on, with the latent
  /// mask dilated by one cell). Off reproduces diffusers' inpainting pipeline, which changes unmasked pixels.
  public let blends: Bool

  /// Creates the conditioning.
  /// - Parameters:
  ///   - mask: `[1, 1, h, w]`, 0 or 1.
  ///   - maskedImage: The masked image's unscaled posterior `[1, C, h, w]`.
  ///   - image: The image's unscaled posterior `[1, C, h, w]`.
  ///   - scalingFactor: The autoencoder's scaling factor.
  ///   - startsFromPureNoise: Strength 1: start from `ε₀ · init_noise_sigma`.
  ///   - blends: Blend with the noised source after every step.
  public init(
    mask: Tensor, maskedImage: LatentPosterior, image: LatentPosterior, scalingFactor: Float,
    startsFromPureNoise: Bool, blends: Bool
  ) {
    self.mask = mask
    self.maskedImage = maskedImage
    self.image = image
    self.scalingFactor = scalingFactor
    self.startsFromPureNoise = startsFromPureNoise
    self.blends = blends
  }

  /// torch's `F.interpolate(mask, size: (h, w))` (mode `nearest`) of a binarised pixel mask.
  /// - Parameters:
  ///   - pixelMask: `[H, W]` in [0, 1]; values ≥ 0.5 are the hole.
  ///   - height: h.
  ///   - width: w.
  /// - Returns: `[1, 1, h, w]` of 0 and 1.
  public static func latentMask(pixelMask: Tensor, height: Int, width: Int) -> Tensor {
    precondition(pixelMask.rank == 2, "pixel mask must be [H, W]")
    let (sourceHeight, sourceWidth) = (pixelMask.shape[0], pixelMask.shape[1])
    func source(_ index: Int, _ input: Int, _ output: Int) -> Int {
      if input == output { return index }
      let scale = Float(input) / Float(output)
      return min(Int((Float(index) * scale).rounded(.down)), input - 1)
    }
    return Tensor(shape: [1, 1, height, width]) { out in
      pixelMask.withUnsafeBufferPointer { values in
        for i in 0..<height {
          let row = source(i, sourceHeight, height)
          for j in 0..<width {
            out[i * width + j] = values[row * sourceWidth + source(j, sourceWidth, width)] >= 0.5 ? 1 : 0
          }
        }
      }
    }
  }
}
