internal import CTensorKernels

/// The gradients of `groupNorm` with respect to its input and affine parameters.
public struct GroupNormGradients: Sendable {
  /// `∂L/∂x`, the shape of the input.
  public var input: Tensor
  /// `∂L/∂γ`, `[C]`.
  public var weight: Tensor
  /// `∂L/∂β`, `[C]`.
  public var bias: Tensor
}

/// The backward pass of `groupNorm(x, groupCount:, weight:, bias:, epsilon:)` (without fused SiLU).
///
/// `outputGradient` and `input`: `[N, C, ...]`, `weight`: `[C]` or nil (then γ = 1). With
/// `x̂ = (x − μ)·r`, `r = 1/√(σ² + ε)` per (sample, group) and `g = ∂L/∂y · γ`:
/// `∂L/∂x = r · (g − mean(g) − x̂ · mean(g · x̂))`, `∂L/∂γ = Σ ∂L/∂y · x̂`, `∂L/∂β = Σ ∂L/∂y`
/// (sums over samples and positions). Statistics and reductions use double precision.
public func groupNormBackward(
  outputGradient: Tensor, input: Tensor, groupCount: Int, weight: Tensor?, epsilon: Float
) -> GroupNormGradients {
  groupNormBackward(
    outputGradient: outputGradient, input: input,
    statistics: GroupNormStatistics(of: input, groupCount: groupCount, epsilon: epsilon), weight: weight, bias: nil)
}

/// The backward pass of `groupNorm(x, statistics:, weight:, bias:, fusedSiLU:)`, SiLU included, in one fused
/// kernel (no separate SiLU gradient tensor).
///
/// `outputGradient` and `input`: `[N, C, ...]`; `statistics`: those the forward used; `weight`, `bias`: `[C]` or nil
/// (the bias is needed only with `fusedSiLU`, to recompute the pre-activation). With `h = x̂·γ + β` and
/// `g = ∂L/∂y · σ(h)·(1 + h·(1 − σ(h)))` (or `∂L/∂y` without SiLU): `∂L/∂γ = Σ g·x̂`, `∂L/∂β = Σ g` and
/// `∂L/∂x = r · (γg − mean(γg) − x̂ · mean(γg·x̂))` when the statistics are those of `input`, or
/// `∂L/∂x = r·γ·g` with `statisticsAreConstant` (statistics computed elsewhere and frozen).
/// Per-channel sums are accumulated in double precision. `addedGradient` (the shape of `input`), when given, is
/// added to `∂L/∂x` as it is written: a residual branch's gradient without a pass of its own.
public func groupNormBackward(
  outputGradient: Tensor, input: Tensor, statistics: GroupNormStatistics, weight: Tensor?, bias: Tensor?,
  fusedSiLU: Bool = false, statisticsAreConstant: Bool = false, addedGradient: Tensor? = nil
) -> GroupNormGradients {
  precondition(
    outputGradient.shape == input.shape, "groupNormBackward: input \(input.shape), gradient \(outputGradient.shape)")
  if let addedGradient {
    precondition(
      addedGradient.shape == input.shape,
      "groupNormBackward: input \(input.shape), added gradient \(addedGradient.shape)")
  }
  statistics.check(input, "groupNormBackward")
  let (batch, channels, groupCount) = (input.shape[0], input.shape[1], statistics.groupCount)
  if let weight { precondition(weight.shape == [channels], "groupNormBackward: weight \(weight.shape)") }
  if let bias { precondition(bias.shape == [channels], "groupNormBackward: bias \(bias.shape)") }
  let spatial = input.count / max(1, batch * channels)
  // Per (sample, channel) sums of g · x̂ and g, reduced over samples afterwards.
  var weightPartials = [Double](repeating: 0, count: batch * channels)
  var biasPartials = [Double](repeating: 0, count: batch * channels)
  let inputGradient = Tensor(shape: input.shape) { out in
    input.withUnsafeBufferPointer { x in
      outputGradient.withUnsafeBufferPointer { dy in
        addedGradient.withUnsafeBufferPointer { added in
          statistics.mean.withUnsafeBufferPointer { mean in
            statistics.inverseStandardDeviation.withUnsafeBufferPointer { inverse in
              withOptionalPointer(weight) { gamma in
                withOptionalPointer(bias) { beta in
                  weightPartials.withUnsafeMutableBufferPointer { weightPartial in
                    biasPartials.withUnsafeMutableBufferPointer { biasPartial in
                      let (wp, bp) = (weightPartial.baseAddress!, biasPartial.baseAddress!)
                      forEachSampleGroup(
                        batch: batch, groupCount: groupCount, costPerGroup: channels / groupCount * spatial * 8
                      ) { n, group in
                        let offset = n * channels * spatial
                        bld_group_norm_silu_backward_f32(
                          x.baseAddress! + offset, dy.baseAddress! + offset, added.map { $0.baseAddress! + offset },
                          out.baseAddress! + offset, channels,
                          spatial, groupCount, group, group + 1, mean.baseAddress! + n * groupCount,
                          inverse.baseAddress! + n * groupCount, gamma, beta, fusedSiLU ? 1 : 0,
                          statisticsAreConstant ? 1 : 0, wp + n * channels, bp + n * channels)
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
  func reduced(_ partials: [Double]) -> Tensor {
    Tensor(
      shape: [channels],
      scalars: (0..<channels).map { channel in
        Float((0..<batch).reduce(0.0) { $0 + partials[$1 * channels + channel] })
      })
  }
  return GroupNormGradients(input: inputGradient, weight: reduced(weightPartials), bias: reduced(biasPartials))
}
