import Foundation

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
  precondition(input.rank >= 2 && outputGradient.shape == input.shape,
               "groupNormBackward: input \(input.shape), gradient \(outputGradient.shape)")
  let (batch, channels) = (input.shape[0], input.shape[1])
  precondition(groupCount > 0 && channels % groupCount == 0, "groupNormBackward: \(channels) channels in \(groupCount) groups")
  if let weight { precondition(weight.shape == [channels], "groupNormBackward: weight \(weight.shape)") }
  let spatial = input.count / max(1, batch * channels)
  let perGroup = channels / groupCount
  let groupSize = Double(perGroup * spatial)
  // Per (sample, channel) partial sums of ∂L/∂y and ∂L/∂y · x̂, reduced over samples afterwards.
  var weightPartials = [Double](repeating: 0, count: batch * channels)
  var biasPartials = [Double](repeating: 0, count: batch * channels)
  let inputGradient = Tensor(shape: input.shape) { out in
    input.withUnsafeBufferPointer { xBuffer in
      outputGradient.withUnsafeBufferPointer { dyBuffer in
        withOptionalPointer(weight) { gamma in
          weightPartials.withUnsafeMutableBufferPointer { weightPartial in
            biasPartials.withUnsafeMutableBufferPointer { biasPartial in
              let (x, dy, dx) = (xBuffer.baseAddress!, dyBuffer.baseAddress!, out.baseAddress!)
              let (wp, bp) = (weightPartial.baseAddress!, biasPartial.baseAddress!)
              parallelChunks(batch * groupCount, costPerItem: perGroup * spatial * 8) { range in
                for item in range {
                  let n = item / groupCount
                  let group = item % groupCount
                  let offset = (n * channels + group * perGroup) * spatial
                  let count = perGroup * spatial
                  var sum = 0.0
                  for i in 0..<count { sum += Double(x[offset + i]) }
                  let mean = sum / groupSize
                  var squares = 0.0
                  for i in 0..<count {
                    let d = Double(x[offset + i]) - mean
                    squares += d * d
                  }
                  let r = 1 / (squares / groupSize + Double(epsilon)).squareRoot()
                  // mean(g) and mean(g · x̂) over the group, and the per-channel sums for γ and β.
                  var gSum = 0.0
                  var gxSum = 0.0
                  for c in 0..<perGroup {
                    let channel = group * perGroup + c
                    let scale = Double(gamma?[channel] ?? 1)
                    var dySum = 0.0
                    var dyxSum = 0.0
                    let base = offset + c * spatial
                    for i in 0..<spatial {
                      let g = Double(dy[base + i])
                      let normalized = (Double(x[base + i]) - mean) * r
                      dySum += g
                      dyxSum += g * normalized
                    }
                    bp[n * channels + channel] = dySum
                    wp[n * channels + channel] = dyxSum
                    gSum += dySum * scale
                    gxSum += dyxSum * scale
                  }
                  let gMean = gSum / groupSize
                  let gxMean = gxSum / groupSize
                  for c in 0..<perGroup {
                    let channel = group * perGroup + c
                    let scale = Float(Double(gamma?[channel] ?? 1) * r)
                    let base = offset + c * spatial
                    let meanF = Float(mean)
                    let rF = Float(r)
                    let shift = Float(gMean * r)
                    let slope = Float(gxMean * r)
                    for i in 0..<spatial {
                      let normalized = (x[base + i] - meanF) * rF
                      dx[base + i] = dy[base + i] * scale - shift - normalized * slope
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
  var weightGradient = [Float](repeating: 0, count: channels)
  var biasGradient = [Float](repeating: 0, count: channels)
  for channel in 0..<channels {
    var w = 0.0
    var b = 0.0
    for n in 0..<batch {
      w += weightPartials[n * channels + channel]
      b += biasPartials[n * channels + channel]
    }
    weightGradient[channel] = Float(w)
    biasGradient[channel] = Float(b)
  }
  return GroupNormGradients(
    input: inputGradient, weight: Tensor(shape: [channels], scalars: weightGradient),
    bias: Tensor(shape: [channels], scalars: biasGradient))
}
