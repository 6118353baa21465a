import TensorCore

/// One down-sampling stage: diffusers `CrossAttnDownBlock2D` (ResNets each followed by a `Transformer2DModel`),
/// `DownBlock2D` (ResNets only) and the VAE's `DownEncoderBlock2D` (ResNets without time embedding), each with
/// an optional final `Downsample2D`.
///
/// Checkpoint keys: `resnets.<i>`, `attentions.<i>`, `downsamplers.0`.
public final class DownBlock2D: Layer {
  let resnets: [ResnetBlock2D]
  let attentions: [Transformer2DModel]
  let downsampler: Downsample2D?

  /// Creates a block from its parts.
  /// - Precondition: `attentions` is empty or has one model per ResNet.
  public init(
    resnets: [ResnetBlock2D], attentions: [Transformer2DModel], downsampler: Downsample2D?
  ) {
    precondition(
      attentions.isEmpty || attentions.count == resnets.count, "DownBlock2D: attentions per resnet")
    self.resnets = resnets
    self.attentions = attentions
    self.downsampler = downsampler
  }

  /// Registers `resnets`, `attentions`, `downsamplers.0`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.children("resnets", resnets)
    registry.children("attentions", attentions)
    registry.child("downsamplers.0", downsampler)
  }

  /// `x`: `[N, C_in, H, W]`, `timeEmbedding`: `[N, T]` or nil, `context`: `[N, S, D]` (cross-attention blocks).
  /// - Returns: the output `[N, C_out, H', W']` and the skip states (one per ResNet, plus the down-sampled
  ///   output), in order.
  public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor?, context: Tensor?) -> (
    Tensor, [Tensor]
  ) {
    var hidden = x
    var states: [Tensor] = []
    for (index, resnet) in resnets.enumerated() {
      hidden = resnet(hidden, timeEmbedding: timeEmbedding)
      if !attentions.isEmpty, let context { hidden = attentions[index](hidden, context: context) }
      states.append(hidden)
    }
    if let downsampler {
      hidden = downsampler(hidden)
      states.append(hidden)
    }
    return (hidden, states)
  }
}
