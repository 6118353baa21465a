import TensorCore

/// Read access to a decoder's parameters by full diffusers key, the shared group-norm settings, and the layer
/// operations the segments compose (forward and backward), so every segment runs them the same way.
struct ParameterLookup {
  let parameters: [String: Tensor]
  let groupCount: Int
  let epsilon: Float
  /// Group-norm statistics computed elsewhere and used as constants, by norm key (the crop mode's whole-image
  /// statistics); norms without an entry use their input's own statistics.
  var frozenStatistics: [String: GroupNormStatistics] = [:]

  /// The parameter for `key`; the decoder validated every key its segments use at initialisation.
  subscript(_ key: String) -> Tensor {
    guard let tensor = parameters[key] else { preconditionFailure("decoder parameter \(key) was validated but is absent") }
    return tensor
  }

  /// The statistics the norm `norm` uses on `x`: the frozen ones if there are any, else those of `x`.
  func statistics(of x: Tensor, norm: String) -> GroupNormStatistics {
    frozenStatistics[norm] ?? GroupNormStatistics(of: x, groupCount: groupCount, epsilon: epsilon)
  }

  /// The group norm `norm` (parameters `norm.weight`, `norm.bias`) of `x` with `statistics`, then SiLU if `silu`.
  func normalized(_ x: Tensor, norm: String, _ statistics: GroupNormStatistics, silu: Bool) -> Tensor {
    groupNorm(x, statistics: statistics, weight: self["\(norm).weight"], bias: self["\(norm).bias"], fusedSiLU: silu)
  }

  /// The convolution `key` (parameters `key.weight`, `key.bias`), stride 1.
  func convolution(_ x: Tensor, _ key: String, padding: Int = 1) -> Tensor {
    conv2dPreferringWinograd(x, weight: self["\(key).weight"], bias: self["\(key).bias"], padding: padding)
  }

  /// The backward pass of `convolution`: stores the parameter gradients and returns `∂L/∂x` if asked.
  func convolutionBackward(
    _ dy: Tensor, input x: Tensor, _ key: String, padding: Int = 1, needsInputGradient: Bool,
    gradients: inout [String: Tensor]
  ) -> Tensor? {
    let g = conv2dBackward(outputGradient: dy, input: x, weight: self["\(key).weight"], padding: padding,
                           computeInputGradient: needsInputGradient)
    gradients["\(key).weight"] = g.weight
    gradients["\(key).bias"] = g.bias
    return g.input
  }

  /// The backward pass of `normalized` (SiLU included, fused): stores the parameter gradients and returns `∂L/∂x`.
  /// Frozen statistics are constants of the graph, so no gradient flows through them.
  func normalizationBackward(
    _ dy: Tensor, input x: Tensor, norm: String, _ statistics: GroupNormStatistics, silu: Bool,
    gradients: inout [String: Tensor]
  ) -> Tensor {
    let g = groupNormBackward(outputGradient: dy, input: x, statistics: statistics, weight: self["\(norm).weight"],
                              bias: self["\(norm).bias"], fusedSiLU: silu,
                              statisticsAreConstant: frozenStatistics[norm] != nil)
    gradients["\(norm).weight"] = g.weight
    gradients["\(norm).bias"] = g.bias
    return g.input
  }
}
