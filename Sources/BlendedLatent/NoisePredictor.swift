import TensorCore

/// The denoising network: predicts the model output (ε, or v for v-prediction models) for noisy latents.
///
/// The UNet (`UNet2DConditionModel`) conforms; tests pass deterministic fakes. The output is whatever the
/// model was trained to predict; the scheduler's `predictionType` says how to read it.
public protocol NoisePredictor: Sendable {
  /// Runs the model once on a batch.
  ///
  /// - Parameters:
  ///   - latents: Noisy latents `[N, C, h, w]` (already scaled by the scheduler's `scaleModelInput`).
  ///   - timestep: The training timestep of every batch element, in `0 ..< num_train_timesteps`. Integral for
  ///     DDIM and DPM-Solver; Euler schedules can produce fractional timesteps, which diffusers passes to the
  ///     UNet's sinusoidal embedding unchanged (so this is a `Double`).
  ///   - conditioning: Text conditioning `[N, 77, D]`, one row per batch element.
  /// - Returns: The model output `[N, C, h, w]`.
  /// - Throws: If the inputs do not fit the model (conformers use their own typed errors).
  func predictNoise(latents: Tensor, timestep: Double, conditioning: Tensor) throws -> Tensor

  /// The channels of the model's input when they differ from the latents' (`nil`, the default: the latents
  /// only). An inpainting UNet (`in_channels` 9 for 4 latent channels: latents, mask, masked-image latents)
  /// returns `2 · C + 1`, and the editor then wraps it in an ``InpaintingNoisePredictor``.
  var inputChannelCount: Int? { get }
}

extension NoisePredictor {
  /// `nil`: the model takes the latents only.
  public var inputChannelCount: Int? { nil }
}
