import Foundation

/// The backward pass of `silu(x)`: `∂L/∂x = ∂L/∂y · σ(x) · (1 + x · (1 − σ(x)))`.
///
/// `outputGradient` and `input` have the same shape; the result has it too.
public func siluBackward(outputGradient: Tensor, input: Tensor) -> Tensor {
  precondition(
    outputGradient.shape == input.shape, "siluBackward: gradient \(outputGradient.shape), input \(input.shape)")
  return Tensor(shape: input.shape) { out in
    input.withUnsafeBufferPointer { xBuffer in
      outputGradient.withUnsafeBufferPointer { dyBuffer in
        let (x, dy, dx) = (xBuffer.baseAddress!, dyBuffer.baseAddress!, out.baseAddress!)
        parallelChunks(input.count, costPerItem: 8) { range in
          for i in range {
            let sigmoid = 1 / (1 + expf(-x[i]))
            dx[i] = dy[i] * sigmoid * (1 + x[i] * (1 - sigmoid))
          }
        }
      }
    }
  }
}

/// The backward pass of `upsampleNearest2x`: each input element receives the sum of the 2×2 output block it
/// was copied to. `outputGradient`: `[..., 2H, 2W]` → `[..., H, W]`.
public func upsampleNearest2xBackward(outputGradient: Tensor) -> Tensor {
  let rank = outputGradient.rank
  precondition(
    rank >= 2 && outputGradient.shape[rank - 2] % 2 == 0 && outputGradient.shape[rank - 1] % 2 == 0,
    "upsampleNearest2xBackward expects [..., 2H, 2W], got \(outputGradient.shape)")
  let (height, width) = (outputGradient.shape[rank - 2] / 2, outputGradient.shape[rank - 1] / 2)
  let planes = outputGradient.count / max(1, 4 * height * width)
  return Tensor(shape: Array(outputGradient.shape.dropLast(2)) + [height, width]) { out in
    outputGradient.withUnsafeBufferPointer { dyBuffer in
      let (dy, dx) = (dyBuffer.baseAddress!, out.baseAddress!)
      parallelChunks(planes, costPerItem: 4 * height * width) { range in
        for p in range {
          let source = dy + p * 4 * height * width
          let target = dx + p * height * width
          for i in 0..<height {
            let top = source + 2 * i * 2 * width
            let bottom = top + 2 * width
            for j in 0..<width {
              target[i * width + j] = top[2 * j] + top[2 * j + 1] + bottom[2 * j] + bottom[2 * j + 1]
            }
          }
        }
      }
    }
  }
}

/// The gradients of `linear` with respect to its input, weight and bias.
public struct LinearGradients: Sendable {
  /// `∂L/∂x`, `[..., inputCount]`.
  public var input: Tensor
  /// `∂L/∂W`, `[outputCount, inputCount]`.
  public var weight: Tensor
  /// `∂L/∂b`, `[outputCount]`.
  public var bias: Tensor
}

/// The backward pass of `linear(x, weight:, bias:)` (`y = x · Wᵀ + b`): `∂L/∂x = ∂L/∂y · W`,
/// `∂L/∂W = ∂L/∂yᵀ · x`, `∂L/∂b = Σ_rows ∂L/∂y`.
///
/// `outputGradient`: `[..., outputCount]`, `input`: `[..., inputCount]`, `weight`: `[outputCount, inputCount]`.
public func linearBackward(outputGradient: Tensor, input: Tensor, weight: Tensor) -> LinearGradients {
  precondition(
    weight.rank == 2 && input.shape.last == weight.shape[1]
      && outputGradient.shape == Array(input.shape.dropLast()) + [weight.shape[0]],
    "linearBackward: gradient \(outputGradient.shape), input \(input.shape), weight \(weight.shape)")
  let (outputCount, inputCount) = (weight.shape[0], weight.shape[1])
  let rows = input.count / max(1, inputCount)
  let flatGradient = outputGradient.reshaped([rows, outputCount])
  let inputGradient = matmul(flatGradient, weight).reshaped(input.shape)  // [rows, out] · [out, in]
  let weightGradient = matmul(flatGradient, input.reshaped([rows, inputCount]), transposeA: true)  // [out, in]
  let biasGradient = Tensor(shape: [outputCount]) { out in
    flatGradient.withUnsafeBufferPointer { dy in
      // Row by row (each column's sum in row order, as a column walk would add it), so dy is read in sequence.
      var totals = [Double](repeating: 0, count: outputCount)
      for row in 0..<rows {
        for o in 0..<outputCount { totals[o] += Double(dy[row * outputCount + o]) }
      }
      for o in 0..<outputCount { out[o] = Float(totals[o]) }
    }
  }
  return LinearGradients(input: inputGradient, weight: weightGradient, bias: biasGradient)
}
