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

  @Test(
    "an upsampler's convolution and its gradients take the sub-pixel form where F(6×6) would take the upsampled image",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"))
  func routing() {
    // 96 channels upsampled from 80² to 160²: 729 F(6×6) tiles, more than its weights need, and transformed
    // inputs larger than the streaming path takes (F(6×6) with AVX-512; F(4×4) otherwise, where the transforms
    // read the upsampled image instead).
    var random = KernelTestRandom(seed: 79)
    let (input, weight, bias) = random.convolution3x3(
      batch: 1, channels: 96, outputs: 96, height: 80, width: 80, bias: true)
    let outputGradient = Tensor(shape: [1, 96, 160, 160], scalars: random.floats(96 * 160 * 160))
    let image = [1, 96, 160, 160]
    let forwardSubPixel =
      ConvolutionAlgorithm.preferred(inputShape: image, weightShape: weight.shape, stride: 1, padding: 1)
      == .winograd(.six)
    let backwardSubPixel =
      WinogradTile.preferred(batch: 1, height: 160, width: 160, inputChannels: 96, outputChannels: 96) == .six
    let output = conv2dPreferringWinograd(
      input, weight: weight, bias: bias, stride: 1, padding: 1, upsamplingInput: true)
    let direct = conv2d(upsampleNearest2x(input), weight: weight, bias: bias, stride: 1, padding: 1)
    #expect(TensorComparison(output, direct).isClose(relative: 3e-5))
    #expect(
      (output == conv2d3x3WinogradUpsampling(input, weight: weight, bias: bias)) == forwardSubPixel,
      "the forward takes the sub-pixel form exactly where F(6×6) would run (\(forwardSubPixel))")
    let gradients = conv2dBackward(outputGradient: outputGradient, upsampledInput: input, weight: weight, padding: 1)
    let subPixelGradients = conv2d3x3WinogradUpsamplingBackward(
      outputGradient: outputGradient, input: input, weight: weight)
    #expect(
      (gradients.weight == subPixelGradients.weight && gradients.input == subPixelGradients.input)
        == backwardSubPixel,
      "the backward takes the sub-pixel form exactly where F(6×6) would run (\(backwardSubPixel))")
    #expect(TensorComparison(gradients.weight, subPixelGradients.weight).isClose(relative: 3e-5))
  }
}
