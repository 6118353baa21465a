internal import CTensorKernels

/// One Adam step (PyTorch's `torch.optim.Adam` without weight decay) over `count` parameters, in place, on the
/// compute threads: `m ← β₁m + (1 − β₁)g`, `v ← β₂v + (1 − β₂)g·g`,
/// `θ ← θ − (stepSize·m) / (√v / correction2Root + ε)`, each operation rounded on its own, so the result is the same
/// bits at every vector level and for any split across threads.
/// - Parameters:
///   - parameters: θ, updated.
///   - gradient: g.
///   - firstMoment: m, updated.
///   - secondMoment: v, updated.
///   - stepSize: `lr / (1 − β₁ᵗ)`.
///   - correction2Root: `√(1 − β₂ᵗ)`.
package func adamStep(
  parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, firstMoment: UnsafeMutablePointer<Float>,
  secondMoment: UnsafeMutablePointer<Float>, count: Int, beta1: Float, beta2: Float, stepSize: Float,
  correction2Root: Float, epsilon: Float
) {
  nonisolated(unsafe) let (theta, g, m, v) = (parameters, gradient, firstMoment, secondMoment)
  parallelChunks(count, costPerItem: 8, minimumWork: 1 << 16) { range in
    let offset = range.lowerBound
    bld_adam_update_f32(
      theta + offset, g + offset, m + offset, v + offset, range.count, beta1, beta2, stepSize, correction2Root,
      epsilon)
  }
}
