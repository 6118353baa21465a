import Networks
import TensorCore

/// The Stable Diffusion UNet as the editor's noise predictor (ε or v, as the scheduler's prediction type says).
extension UNet2DConditionModel: NoisePredictor {
  /// `latents` `[N, C, h, w]`, `conditioning` `[N, 77, D]` (and for SDXL UNets the added conditions) → the model
  /// output `[N, C, h, w]`.
  /// - Throws: ``PipelineError/unsupported(_:)`` when added conditions are missing for a `text_time` UNet or given
  ///   to one without.
  public func predictNoise(
    latents: Tensor, timestep: Double, conditioning: Tensor, addedConditions: AddedConditions?
  ) throws -> Tensor {
    let needsAddedConditions = configuration.additionEmbedType == "text_time"
    guard needsAddedConditions == (addedConditions != nil) else {
      throw PipelineError.unsupported(
        needsAddedConditions
          ? "this UNet (addition_embed_type text_time, SDXL) needs pooled text embeddings, which the text encoder did not give"
          : "the text encoder gave pooled embeddings (SDXL), which this UNet does not take")
    }
    return self(latents, timestep: timestep, encoderHiddenStates: conditioning, addedConditions: addedConditions)
  }

  /// `in_channels` of `unet/config.json` when it differs from `out_channels` (9 for Stable Diffusion inpainting
  /// UNets), else `nil`.
  public var inputChannelCount: Int? {
    configuration.inChannels == configuration.outChannels ? nil : configuration.inChannels
  }
}
