import TensorCore

/// An inpainting UNet (`in_channels` = 2C + 1, 9 for Stable Diffusion) as a latents-only noise predictor: it
/// appends the fixed mask and masked-image latents to every row of the model input.
///
/// Matches: diffusers `StableDiffusionInpaintPipeline`'s `num_channels_unet == 9` branch: the input is
/// `cat([scale_model_input(latents), mask, masked_image_latents], dim=1)`, the scheduler's input scaling
/// touching only the C latent channels; the mask and masked-image latents are repeated for every row (the
/// classifier-free-guidance batch included).
public struct InpaintingNoisePredictor: NoisePredictor {
  /// The inpainting model (input `[N, 2C + 1, h, w]`).
  public let base: any NoisePredictor
  /// The mask at latent size `[1, 1, h, w]` (1 = inpaint).
  public let mask: Tensor
  /// The scaled latents of the masked image (hole at 0 in [-1, 1] pixel space), `[1, C, h, w]`.
  public let maskedImageLatents: Tensor

  /// Wraps an inpainting model.
  /// - Parameters:
  ///   - base: The model, taking `[N, 2C + 1, h, w]`.
  ///   - mask: `[1, 1, h, w]`.
  ///   - maskedImageLatents: `[1, C, h, w]`.
  public init(base: any NoisePredictor, mask: Tensor, maskedImageLatents: Tensor) {
    precondition(mask.rank == 4 && mask.shape[0] == 1 && mask.shape[1] == 1, "mask must be [1, 1, h, w]")
    precondition(
      maskedImageLatents.rank == 4 && maskedImageLatents.shape[0] == 1
        && Array(maskedImageLatents.shape.dropFirst(2)) == Array(mask.shape.dropFirst(2)),
      "masked-image latents must be [1, C, h, w] at the mask's size, got \(maskedImageLatents.shape)")
    self.base = base
    self.mask = mask
    self.maskedImageLatents = maskedImageLatents
  }

  /// `latents` `[N, C, h, w]` → the base model's output on `[N, 2C + 1, h, w]`.
  public func predictNoise(latents: Tensor, timestep: Double, conditioning: Tensor) throws -> Tensor {
    let rows = latents.shape[0]
    let input = Tensor.concatenated(
      [
        latents, Tensor.concatenated(Array(repeating: mask, count: rows), axis: 0),
        Tensor.concatenated(Array(repeating: maskedImageLatents, count: rows), axis: 0),
      ], axis: 1)  // [N, 2C + 1, h, w]
    return try base.predictNoise(latents: input, timestep: timestep, conditioning: conditioning)
  }
}
