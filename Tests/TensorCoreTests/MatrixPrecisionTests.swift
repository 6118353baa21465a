import TensorCore
import Testing
import _TestSupport

/// `ComputeOptions.withMatrixPrecision(.bfloat16)` reaches the packed and pre-packed GEMM paths, stays within
/// bf16 rounding, and ends with its body; Winograd convolutions stay fp32 (bf16 operands cost them 7 %).
@Suite("bf16 matrix precision: scoped, reaching every GEMM path, bounded")
struct MatrixPrecisionTests {
  static func values(_ shape: [Int], seed: UInt64) -> Tensor {
    var random = KernelTestRandom(seed: seed)
    return Tensor(shape: shape, scalars: random.floats(shape.reduce(1, *)))
  }

  @Test func theSettingIsScopedToItsBody() {
    #expect(ComputeOptions.matrixPrecision == .float32)
    ComputeOptions.withMatrixPrecision(.bfloat16) {
      #expect(ComputeOptions.matrixPrecision == .bfloat16)
      ComputeOptions.withMatrixPrecision(.float32) { #expect(ComputeOptions.matrixPrecision == .float32) }
      #expect(ComputeOptions.matrixPrecision == .bfloat16)
    }
    #expect(ComputeOptions.matrixPrecision == .float32)
  }

  static let paths: [(String, @Sendable () -> Tensor)] = [
    (
      "linear (packed GEMM)",
      {
        linear(values([2, 77, 96], seed: 1), weight: values([160, 96], seed: 2), bias: values([160], seed: 3))
      }
    ),
    ("matmul", { matmul(values([3, 40, 70], seed: 4), values([3, 70, 50], seed: 5)) }),
    (
      "conv2d 3×3 through im2col (pre-packed weight)",
      {
        conv2d(
          values([2, 24, 10, 9], seed: 6), weight: values([40, 24, 3, 3], seed: 7), bias: values([40], seed: 8),
          padding: 1)
      }
    ),
    (
      "conv2d 1×1",
      {
        conv2d(values([2, 64, 7, 7], seed: 9), weight: values([32, 64, 1, 1], seed: 10), bias: nil)
      }
    ),
  ]

  @Test func winogradConvolutionsStayFloat32() {
    let input = Self.values([1, 32, 48, 44], seed: 11)
    let weight = Self.values([48, 32, 3, 3], seed: 12)
    let reference = conv2d3x3Winograd(input, weight: weight, bias: nil)
    #expect(
      ComputeOptions.withMatrixPrecision(.bfloat16) { conv2d3x3Winograd(input, weight: weight, bias: nil) } == reference
    )
  }

  @Test(arguments: 0..<paths.count)
  func bfloat16ProductsStayWithinBFloat16Rounding(path index: Int) {
    let (name, compute) = Self.paths[index]
    let reference = compute()
    let rounded = ComputeOptions.withMatrixPrecision(.bfloat16) { compute() }
    #expect(compute() == reference, "\(name): fp32 after the bf16 scope ended")
    let comparison = TensorComparison(rounded, reference)
    if PackedGEMM.supportsBFloat16 {
      // Inputs rounded to 8 significant bits, fp32 accumulation: ≈ 2⁻⁹ relative per product.
      #expect(comparison.relativeError > 1e-5, "\(name): bf16 requested but \(comparison) looks like fp32")
      #expect(comparison.isClose(relative: 1e-2), "\(name): \(comparison)")
    } else {
      #expect(rounded == reference, "\(name): without AVX512_BF16 the request computes in fp32")
    }
  }
}
