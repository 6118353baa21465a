import TensorCore

extension Linear {
  /// The backward pass of `callAsFunction(_:)`: adds `∂L/∂weight = ∂L/∂yᵀ · x` (and `∂L/∂bias`, the row sums of
  /// `∂L/∂y`, when there is a bias) to `gradients` and returns `∂L/∂x = ∂L/∂y · weight`.
  /// - Parameters:
  ///   - outputGradient: `∂L/∂y`, `[..., outputCount]`.
  ///   - input: the forward's input `x`, `[..., inputCount]`.
  ///   - gradients: where the parameter gradients are added.
  /// - Returns: `∂L/∂x`, `[..., inputCount]`.
  public func backward(outputGradient: Tensor, input: Tensor, gradients: inout ParameterGradients) -> Tensor {
    let result = linearBackward(outputGradient: outputGradient, input: input, weight: weight)
    gradients.accumulate(result.weight, for: self, \.storedWeight)
    if bias != nil { gradients.accumulate(result.bias, for: self, \.bias) }
    return result.input
  }
}
