import TensorCore

/// One up-sampling stage: diffusers `CrossAttnUpBlock2D`, `UpBlock2D` (both concatenate a skip state before
/// each ResNet) and the VAE's `UpDecoderBlock2D` (no skips, no time embedding), each with an optional final
/// `Upsample2D`.
///
/// Checkpoint keys: `resnets.<i>`, `attentions.<i>`, `upsamplers.0`.
public final class UpBlock2D: Layer {
  let resnets: [ResnetBlock2D]
  let attentions: [Transformer2DModel]
  let upsampler: Upsample2D?

  /// Creates a block from its parts.
  /// - Precondition: `attentions` is empty or has one model per ResNet.
  public init(resnets: [ResnetBlock2D], attentions: [Transformer2DModel], upsampler: Upsample2D?) {
    precondition(
      attentions.isEmpty || attentions.count == resnets.count, "UpBlock2D: attentions per resnet")
    self.resnets = resnets
    self.attentions = attentions
    self.upsampler = upsampler
  }

  /// The number of skip states the block consumes (one per ResNet) in the UNet.
  public var resnetCount: Int { resnets.count }

  /// Registers `resnets`, `attentions`, `upsamplers.0`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.children("resnets", resnets)
    registry.children("attentions", attentions)
    registry.child("upsamplers.0", upsampler)
  }

  /// `x`: `[N, C, H, W]`; `skips`: states to concatenate on the channel axis before each ResNet, consumed from
  /// the end (empty for the VAE) → `[N, C_out, 2H, 2W]` (or `H, W` without upsampler; or the spatial size of
  /// the next remaining skip state, as diffusers' `upsample_size`, when that is not `2H × 2W`).
  public func callAsFunction(
    _ x: Tensor, skips: inout [Tensor], timeEmbedding: Tensor?, context: Tensor?
  ) -> Tensor {
    var hidden = x
    for (index, resnet) in resnets.enumerated() {
      if let skip = skips.popLast() { hidden = Tensor.concatenated([hidden, skip], axis: 1) }  // [N, C + C_skip, H, W]
      hidden = resnet(hidden, timeEmbedding: timeEmbedding)
      if !attentions.isEmpty, let context { hidden = attentions[index](hidden, context: context) }
    }
    if let upsampler {
      // The next block's skips fix the output size when the latent size is not a power-of-two multiple.
      let size = skips.last.map { (height: $0.shape[2], width: $0.shape[3]) }
      hidden = upsampler(hidden, size: size)
    }
    return hidden
  }
}
