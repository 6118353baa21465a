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
}
