import Networks
import TensorCore

/// The Stable Diffusion UNet as the editor's noise predictor (ε or v, as the scheduler's prediction type says).
extension UNet2DConditionModel: NoisePredictor {
  /// `latents` `[N, C, h, w]`, `conditioning` `[N, 77, D]` → the model output `[N, C, h, w]`.
  public func predictNoise(latents: Tensor, timestep: Double, conditioning: Tensor) throws -> Tensor {
    self(latents, timestep: timestep, encoderHiddenStates: conditioning)
  }

  /// `in_channels` of `unet/config.json` when it differs from `out_channels` (9 for Stable Diffusion inpainting
  /// UNets), else `nil`.
  public var inputChannelCount: Int? {
    configuration.inChannels == configuration.outChannels ? nil : configuration.inChannels
  }
}
