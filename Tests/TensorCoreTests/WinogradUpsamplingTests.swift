import TensorCore
import Testing
import _TestSupport

/// The upsampler's convolution in its sub-pixel form (`conv2d3x3WinogradUpsampling`, F(7×7, 2×2) on the stored
/// image): it must equal the direct convolution of the upsampled copy within Winograd's rounding, at every
/// vector level, however the tiles are split into blocks and threads.
@Suite("Winograd F(7×7, 2×2) upsampling convolution")
struct WinogradUpsamplingTests {
  /// (batch, channels, outputs, height, width) of the stored image: one pixel, sides that are multiples of 7
  /// and one short of them (the odd phases need the extra tile), single rows and columns, partial GEMM panels
  /// (33 outputs make 132 product rows), more channels than one GEMM K block, and a tile row longer than one
  /// 64-tile run (3 × 7 × 64 + 5 = 1349 would be slow: 500 columns make 72 tiles).
  static let shapes: [(Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1), (1, 3, 5, 7, 14), (2, 4, 3, 6, 13), (1, 20, 33, 13, 11), (1, 2, 3, 3, 500),
    (2, 5, 4, 1, 6), (1, 400, 6, 9, 8), (1, 16, 16, 21, 20),
  ]

  /// The vector levels this CPU has with a TensorCore GEMM family (the sub-pixel form needs one).
  static var levels: [VectorExtension] {
    VectorExtension.allCases.filter { $0 >= .avx2 && $0 <= ComputeOptions.supportedVectorExtension }
  }

  @Test(
    "equals the direct convolution of the upsampled image",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"),
    arguments: [1, 2])
  func matchesDirectConvolution(threads: Int) {
    ComputeOptions.withThreadCount(threads) {
      for level in Self.levels {
        ComputeOptions.withVectorExtensionLimit(level) {
          for (index, (batch, channels, outputs, height, width)) in Self.shapes.enumerated() {
            var random = KernelTestRandom(seed: UInt64(500 + index))
            let (input, weight, bias) = random.convolution3x3(
              batch: batch, channels: channels, outputs: outputs, height: height, width: width, bias: index % 2 == 0)
            let expected = conv2d(upsampleNearest2x(input), weight: weight, bias: bias, stride: 1, padding: 1)
            let actual = conv2d3x3WinogradUpsampling(input, weight: weight, bias: bias)
            let comparison = TensorComparison(actual, expected)
            #expect(actual.shape == expected.shape)
            #expect(
              comparison.isClose(relative: 3e-5),
              "\(level), \(threads) threads: \(input.shape) → \(expected.shape): \(comparison)")
          }
        }
      }
    }
  }

  @Test(
    "threads taking whole blocks give the output of threads sharing each block, bit for bit",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"))
  func wholeBlocksPerThread() {
    // 2 × 9 × 7 = 126 tiles of 36 × 48 pixels: blocks of 32 make 4 blocks, two per thread for two threads (whole
    // blocks), fewer for three and four (shared stages); one thread runs them in order.
    var random = KernelTestRandom(seed: 78)
    let (input, weight, bias) = random.convolution3x3(
      batch: 2, channels: 19, outputs: 21, height: 60, width: 48, bias: true)
    let single = ComputeOptions.withThreadCount(1) {
      conv2d3x3WinogradUpsampling(input, weight: weight, bias: bias, maximumBlock: 32)
    }
    let expected = conv2d(upsampleNearest2x(input), weight: weight, bias: bias, stride: 1, padding: 1)
    #expect(TensorComparison(single, expected).isClose(relative: 3e-5))
    for threads in [2, 3, 4] {
      let actual = ComputeOptions.withThreadCount(threads) {
        conv2d3x3WinogradUpsampling(input, weight: weight, bias: bias, maximumBlock: 32)
      }
      #expect(actual.scalars == single.scalars, "\(threads) threads")
    }
  }
}
