import TensorCore
import Testing
import _TestSupport

/// A convolution weight stored at half width is packed (im2col) or Winograd-transformed straight from its bits;
/// the result must be bit for bit that of widening the weight first, on every kernel family of this CPU.
@Suite("Convolutions with half-width stored weights")
struct HalfPrecisionConvolutionTests {
  /// Input shape, weight shape, stride, padding: a Winograd-sized 3×3 (48×48: 144 tiles), a strided 3×3 and a deep
  /// 3×3 (576-long reduction: several K blocks) on im2col, and a 1×1; output and input channels that leave the
  /// last row panel partly empty.
  static let shapes: [(input: [Int], weight: [Int], stride: Int, padding: Int)] = [
    ([1, 7, 48, 48], [10, 7, 3, 3], 1, 1),
    ([2, 5, 17, 19], [11, 5, 3, 3], 2, 1),
    ([1, 64, 9, 11], [13, 64, 3, 3], 1, 1),
    ([2, 9, 6, 5], [15, 9, 1, 1], 1, 0),
  ]

  @Test("fp16 and bf16 weights give the widened weight's results exactly", arguments: [false, true])
  func halfWidthWeightsMatchWidenedWeights(bfloat16: Bool) {
    for kernel in MatrixKernel.allCases where kernel.isSupported {
      ComputeOptions.withMatrixKernel(kernel) {
        for (index, shape) in Self.shapes.enumerated() {
          let input = NaiveKernels.uniform(shape.input, seed: UInt64(10 + index))
          let values = NaiveKernels.uniform(shape.weight, seed: UInt64(20 + index), scale: 0.3).scalars
          let bits = values.map { bfloat16 ? UInt16($0.bitPattern >> 16) : Float16($0).bitPattern }
          let stored = StoredTensor(
            shape: shape.weight, halfPrecisionBits: bits, dtype: bfloat16 ? .bfloat16 : .float16)
          let bias = NaiveKernels.uniform([shape.weight[0]], seed: UInt64(30 + index))
          let direct = conv2dPreferringWinograd(
            input, storedWeight: stored, bias: bias, stride: shape.stride, padding: shape.padding)
          let widened = conv2dPreferringWinograd(
            input, weight: stored.tensor, bias: bias, stride: shape.stride, padding: shape.padding)
          #expect(direct == widened, "\(kernel), bf16 \(bfloat16), shape \(index)")
        }
      }
    }
  }
}
