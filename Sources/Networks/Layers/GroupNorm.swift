import TensorCore

/// Group normalisation with affine parameters (PyTorch `nn.GroupNorm`).
///
/// Checkpoint keys: `weight` `[C]`, `bias` `[C]`.
public final class GroupNorm: Layer {
  /// Scale `[C]`.
  public var weight: Tensor
  /// Shift `[C]`.
  public var bias: Tensor
  /// The number of channel groups.
  public let groupCount: Int
  /// Added to the variance.
  public let epsilon: Float

  /// Creates a group norm with weight 1 and bias 0.
  public init(groupCount: Int, channels: Int, epsilon: Float) {
    precondition(
      groupCount > 0 && channels % groupCount == 0,
      "GroupNorm: \(channels) channels in \(groupCount) groups")
    weight = Tensor(shape: [channels], repeating: 1)
    bias = Tensor(shape: [channels])
    self.groupCount = groupCount
    self.epsilon = epsilon
  }

  /// Registers `weight` and `bias`.
  public func registerParameters(in registry: ParameterRegistry) {
    registry.tensor("weight", of: self, \.weight)
    registry.tensor("bias", of: self, \.bias)
  }

  /// `x`: `[N, C, ...]` → same shape. With `fusedSiLU`, SiLU is applied in the same pass.
  public func callAsFunction(_ x: Tensor, fusedSiLU: Bool = false) -> Tensor {
    groupNorm(
      x, groupCount: groupCount, weight: weight, bias: bias, epsilon: epsilon, fusedSiLU: fusedSiLU)
  }
}
