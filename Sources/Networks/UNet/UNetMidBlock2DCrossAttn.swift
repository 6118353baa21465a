import TensorCore

/// diffusers `UNetMidBlock2DCrossAttn` with one layer: ResNet, `Transformer2DModel`, ResNet.
///
/// Checkpoint keys: `resnets.0`, `resnets.1`, `attentions.0`.
public final class UNetMidBlock2DCrossAttn: Layer {
  let resnets: [ResnetBlock2D]
  let attention: Transformer2DModel

  /// Creates the block from its parts.
  public init(first: ResnetBlock2D, attention: Transformer2DModel, second: ResnetBlock2D) {
    resnets = [first, second]
    self.attention = attention
  }

  /// Registers `resnets` and `attentions.0`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.children("resnets", resnets)
    registry.child("attentions.0", attention)
  }

  /// `x`: `[N, C, H, W]`, `timeEmbedding`: `[N, T]`, `context`: `[N, S, D]` → `[N, C, H, W]`.
  public func callAsFunction(_ x: Tensor, timeEmbedding: Tensor, context: Tensor) -> Tensor {
    let hidden = resnets[0](x, timeEmbedding: timeEmbedding)
    return resnets[1](attention(hidden, context: context), timeEmbedding: timeEmbedding)
  }
}
