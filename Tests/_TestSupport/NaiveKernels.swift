import Foundation
import TensorCore

/// Textbook reference kernels in double precision, for parity tests at sizes too large for fixtures.
///
/// They are deliberately simple (no tiling, no BLAS) so that they share no code path with TensorCore.
public enum NaiveKernels {
  /// One output row of multi-head attention, computed with a full softmax over all keys in double.
  ///
  /// `query`: `[B, Tq, H·d]`, `key`/`value`: `[B, Tk, H·d]`; returns the `d` outputs of head `head` for query
  /// `row` of batch `batch`. With `causal`, only keys `0...row` are attended.
  public static func attentionRow(
    query: Tensor, key: Tensor, value: Tensor, headCount: Int, batch: Int, head: Int, row: Int, causal: Bool
  ) -> [Double] {
    let queryCount = query.shape[1]
    let keyCount = key.shape[1]
    let width = query.shape[2]
    let headWidth = width / headCount
    let scale = 1 / Double(headWidth).squareRoot()
    let q = query.scalars
    let k = key.scalars
    let v = value.scalars
    let queryBase = (batch * queryCount + row) * width + head * headWidth
    let validKeys = causal ? min(keyCount, row + 1) : keyCount
    var scores = [Double](repeating: 0, count: validKeys)
    for j in 0..<validKeys {
      let keyBase = (batch * keyCount + j) * width + head * headWidth
      var dot = 0.0
      for c in 0..<headWidth { dot += Double(q[queryBase + c]) * Double(k[keyBase + c]) }
      scores[j] = dot * scale
    }
    let maximum = scores.max() ?? 0
    var total = 0.0
    for j in 0..<validKeys {
      scores[j] = Foundation.exp(scores[j] - maximum)
      total += scores[j]
    }
    var output = [Double](repeating: 0, count: headWidth)
    for j in 0..<validKeys {
      let valueBase = (batch * keyCount + j) * width + head * headWidth
      let weight = scores[j] / total
      for c in 0..<headWidth { output[c] += weight * Double(v[valueBase + c]) }
    }
    return output
  }

  /// 2-D cross-correlation (PyTorch `conv2d`) by direct summation in double.
  public static func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
    let (batch, channels, height, width) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
    let (outputs, kernelHeight, kernelWidth) = (weight.shape[0], weight.shape[2], weight.shape[3])
    let outputHeight = (height + 2 * padding - kernelHeight) / stride + 1
    let outputWidth = (width + 2 * padding - kernelWidth) / stride + 1
    let x = input.scalars
    let w = weight.scalars
    var result = [Float](repeating: 0, count: batch * outputs * outputHeight * outputWidth)
    for n in 0..<batch {
      for o in 0..<outputs {
        for oy in 0..<outputHeight {
          for ox in 0..<outputWidth {
            var sum = Double(bias?.scalars[o] ?? 0)
            for c in 0..<channels {
              for ky in 0..<kernelHeight {
                let iy = oy * stride + ky - padding
                guard iy >= 0 && iy < height else { continue }
                for kx in 0..<kernelWidth {
                  let ix = ox * stride + kx - padding
                  guard ix >= 0 && ix < width else { continue }
                  sum +=
                    Double(x[((n * channels + c) * height + iy) * width + ix])
                    * Double(w[((o * channels + c) * kernelHeight + ky) * kernelWidth + kx])
                }
              }
            }
            result[((n * outputs + o) * outputHeight + oy) * outputWidth + ox] = Float(sum)
          }
        }
      }
    }
    return Tensor(shape: [batch, outputs, outputHeight, outputWidth], scalars: result)
  }

  /// A deterministic pseudo-random tensor, uniform in `-scale…scale` (xorshift; independent of TensorCore).
  public static func uniform(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    let count = shape.reduce(1, *)
    var values = [Float](repeating: 0, count: count)
    for i in 0..<count {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      values[i] = (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
    return Tensor(shape: shape, scalars: values)
  }
}
