import TensorCore

extension GroupNorm {
  /// The statistics this norm uses on `x` in a training step: the frozen ones when `frozen` has them, else
  /// those of `x` (`[N, C, ...]`).
  public func statistics(of x: Tensor, frozen: FrozenGroupNormStatistics) -> GroupNormStatistics {
    frozen[self] ?? GroupNormStatistics(of: x, groupCount: groupCount, epsilon: epsilon)
  }

  /// The forward pass with given statistics (a training step's: its own, recorded, or frozen ones). With the
  /// input's own statistics the result equals `callAsFunction(_:fusedSiLU:)` bit for bit.
  /// - Parameters:
  ///   - x: `[N, C, ...]`.
  ///   - statistics: from `statistics(of:frozen:)`.
  ///   - fusedSiLU: whether SiLU is applied in the same pass.
  /// - Returns: the shape of `x`.
  public func callAsFunction(_ x: Tensor, statistics: GroupNormStatistics, fusedSiLU: Bool = false) -> Tensor {
    groupNorm(x, statistics: statistics, weight: weight, bias: bias, fusedSiLU: fusedSiLU)
  }

  /// The backward pass of `callAsFunction(_:statistics:fusedSiLU:)`, SiLU included, in one fused kernel: adds
  /// `∂L/∂weight` and `∂L/∂bias` to `gradients` and returns `∂L/∂x`.
  ///
  /// With the input's own statistics the gradient flows through them too; statistics `frozen` holds for this
  /// norm are constants (`∂L/∂x = r·γ·∂L/∂h`). See `groupNormBackward(outputGradient:input:statistics:weight:bias:fusedSiLU:statisticsAreConstant:)`.
  /// - Parameters:
  ///   - outputGradient: `∂L/∂y`, the shape of `input`.
  ///   - input: the forward's input `x`, `[N, C, ...]`.
  ///   - statistics: the statistics the forward used.
  ///   - fusedSiLU: whether the forward applied SiLU.
  ///   - frozen: the training step's frozen statistics (whether this norm's are constants).
  ///   - gradients: where the parameter gradients are added.
  ///   - addedGradient: a gradient of `input`'s shape added to `∂L/∂x` in the same pass (a residual branch's), or
  ///     nil.
  /// - Returns: `∂L/∂x`, the shape of `input`.
  public func backward(
    outputGradient: Tensor, input: Tensor, statistics: GroupNormStatistics, fusedSiLU: Bool,
    frozen: FrozenGroupNormStatistics, gradients: inout ParameterGradients, addedGradient: Tensor? = nil
  ) -> Tensor {
    let result = groupNormBackward(
      outputGradient: outputGradient, input: input, statistics: statistics, weight: weight, bias: bias,
      fusedSiLU: fusedSiLU, statisticsAreConstant: frozen[self] != nil, addedGradient: addedGradient)
    gradients.accumulate(result.weight, for: self, \.weight)
    gradients.accumulate(result.bias, for: self, \.bias)
    return result.input
  }
}
