import TensorCore

/// diffusers `UNetMidBlock2D` as used by the VAE: ResNet, optional spatial self-attention, ResNet
/// (no time embedding).
///
/// Checkpoint keys: `resnets.0`, `resnets.1`, `attentions.0` (when `mid_block_add_attention`).
public final class UNetMidBlock2D: Layer {
  let resnets: [ResnetBlock2D]
  let attention: Attention?

  /// Creates a zero-initialised mid block on `channels` channels.
  public init(
    channels: Int, groupCount: Int, epsilon: Float, activation: Activation, addAttention: Bool
  ) {
    resnets = (0..<2).map { _ in
      ResnetBlock2D(
        inputChannels: channels, outputChannels: channels, timeEmbeddingChannels: nil,
        groupCount: groupCount, epsilon: epsilon, activation: activation)
    }
    attention =
      addAttention
      ? Attention(
        queryWidth: channels, headCount: 1, headWidth: channels, projectionBias: true,
        groupNormGroups: groupCount, groupNormEpsilon: epsilon)
      : nil
  }

  /// Registers `resnets` and `attentions.0`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.children("resnets", resnets)
    registry.child("attentions.0", attention)
  }

  /// `x`: `[N, C, H, W]` → `[N, C, H, W]`.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    var hidden = resnets[0](x)
    if let attention { hidden = attention(spatial: hidden) }
    return resnets[1](hidden)
  }
}
