import TensorCore

/// Layer normalisation over the last axis with affine parameters (PyTorch `nn.LayerNorm`).
///
/// Checkpoint keys: `weight` `[width]`, `bias` `[width]`.
public final class LayerNorm: Layer {
  /// Scale `[width]`.
  public var weight: Tensor
  /// Shift `[width]`.
  public var bias: Tensor
  /// Added to the variance.
  public let epsilon: Float

  /// Creates a layer norm with weight 1 and bias 0.
  public init(width: Int, epsilon: Float) {
    weight = Tensor(shape: [width], repeating: 1)
    bias = Tensor(shape: [width])
    self.epsilon = epsilon
  }

  /// Registers `weight` and `bias`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.tensor("weight", of: self, \.weight)
    registry.tensor("bias", of: self, \.bias)
  }

  /// `x`: `[..., width]` → same shape.
  public func callAsFunction(_ x: Tensor) -> Tensor {
    layerNorm(x, weight: weight, bias: bias, epsilon: epsilon)
  }
}
