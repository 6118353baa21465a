import Foundation
import TensorCore
import Testing
import _TestSupport

@Suite("Winograd convolution")
struct WinogradConvolutionTests {
  /// (batch, channels, outputs, height, width)
  static let shapes: [(Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1), (1, 3, 5, 7, 9), (2, 5, 3, 4, 4), (1, 3, 4, 1, 13), (2, 4, 6, 13, 1), (2, 5, 7, 10, 11),
    (1, 7, 5, 17, 6), (2, 320, 320, 9, 11), (1, 16, 8, 37, 29),
    // Tile rows longer than one 64-tile run; more input channels than one GEMM K block (384).
    (1, 2, 3, 5, 300), (2, 400, 20, 6, 7),
    // 324 tiles of 320 + 320 channels exceed one workspace block: two blocks split mid tile row.
    (1, 320, 320, 72, 70),
  ]

  @Test(
    "matches conv2d (stride 1, padding 1) on odd shapes", arguments: [1, 2], WinogradTile.allCases)
  func matchesDirectConvolution(threads: Int, tile: WinogradTile) throws {
    try ComputeOptions.withThreadCount(threads) {
      for (index, (batch, channels, outputs, height, width)) in Self.shapes.enumerated() {
        var random = KernelTestRandom(seed: UInt64(100 + index))
        let (input, weight, bias) = random.convolution3x3(
          batch: batch, channels: channels, outputs: outputs, height: height, width: width, bias: index % 2 == 0)
        let expected = conv2d(input, weight: weight, bias: bias, stride: 1, padding: 1)
        let actual = conv2d3x3Winograd(input, weights: try WinogradWeights(weight: weight, tile: tile), bias: bias)
        let comparison = TensorComparison(actual, expected)
        // Measured at most 1.3e-5 (F(4×4)) and 1.6e-5 (F(6×6)) on these shapes.
        #expect(
          comparison.isClose(relative: tile == .four ? 2e-5 : 3e-5),
          "\(tile) N\(batch) C\(channels) O\(outputs) \(height)x\(width): \(comparison)")
      }
    }
  }

  @Test("relative error stays small on a larger layer", arguments: WinogradTile.allCases)
  func accuracyAtScale(tile: WinogradTile) throws {
    var random = KernelTestRandom(seed: 5)
    let input = Tensor(shape: [1, 320, 20, 24], scalars: random.floats(320 * 20 * 24))
    let weight = Tensor(shape: [64, 320, 3, 3], scalars: random.floats(64 * 320 * 9).map { $0 * 0.05 })
    let expected = conv2d(input, weight: weight, bias: nil, stride: 1, padding: 1)
    let actual = conv2d3x3Winograd(input, weights: try WinogradWeights(weight: weight, tile: tile), bias: nil)
    let comparison = TensorComparison(actual, expected)
    // F(4×4, 3×3) measures 6e-6 here and F(6×6, 3×3) 1.2e-5 (direct fp32: ~7e-7); the parity budget is 1e-4.
    #expect(comparison.isClose(relative: 3e-5), "\(tile): \(comparison)")
    #expect(comparison.normalizedMSE < 1e-10, "\(tile): \(comparison)")
  }

  @Test(
    "threads taking whole blocks give the output of threads sharing each block, bit for bit",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"),
    arguments: WinogradTile.allCases)
  func wholeBlocksPerThread(tile: WinogradTile) throws {
    // 2 × 61 × 47 has 384 F(4×4) and 180 F(6×6) tiles: blocks of 32 make 12 or 6 blocks, at least two per thread
    // for two and three threads (and four on the 12), so they take whole blocks; one thread, and four on the 6,
    // share each block's stages. Blocks split tile rows; the last is partial.
    var random = KernelTestRandom(seed: 77)
    let (input, weight, bias) = random.convolution3x3(
      batch: 2, channels: 19, outputs: 21, height: 61, width: 47, bias: true)
    let weights = try WinogradWeights(weight: weight, tile: tile)
    let shared = ComputeOptions.withThreadCount(1) {
      conv2d3x3Winograd(input, weights: weights, bias: bias, maximumBlock: 32)
    }
    let expected = conv2d(input, weight: weight, bias: bias, stride: 1, padding: 1)
    #expect(TensorComparison(shared, expected).isClose(relative: tile == .four ? 2e-5 : 3e-5))
    for threads in [2, 3, 4] {
      let actual = ComputeOptions.withThreadCount(threads) {
        conv2d3x3Winograd(input, weights: weights, bias: bias, maximumBlock: 32)
      }
      #expect(actual.scalars == shared.scalars, "\(tile), \(threads) threads")
    }
  }

  @Test("weights that are not [O, C, 3, 3] throw")
  func rejectsBadWeights() {
    #expect(throws: WinogradError.unsupportedWeightShape([4, 3, 5, 5])) {
      try WinogradWeights(weight: Tensor(shape: [4, 3, 5, 5]))
    }
    #expect(throws: WinogradError.unsupportedWeightShape([4, 3, 3])) {
      try WinogradWeights(weight: Tensor(shape: [4, 3, 3]))
    }
    #expect(throws: WinogradError.unsupportedWeightShape([0, 3, 3, 3])) {
      try WinogradWeights(weight: Tensor(shape: [0, 3, 3, 3]))
    }
  }

  @Test(
    "a residual added in the output transform equals adding it afterwards, bit for bit, at every vector level",
    arguments: WinogradTile.allCases)
  func residualInTheOutputTransform(tile: WinogradTile) throws {
    // 13 × 21 leaves partial tiles of both sizes and a row end inside a vector; as upsampled, 26 × 42; blocks of
    // 32 tiles make several, which two threads take whole.
    var random = KernelTestRandom(seed: 91)
    let (input, weight, bias) = random.convolution3x3(
      batch: 2, channels: 6, outputs: 5, height: 13, width: 21, bias: true)
    let weights = try WinogradWeights(weight: weight, tile: tile)
    for resampling in [WinogradResampling.none, .upsampledInput] {
      let (height, width) = resampling == .upsampledInput ? (26, 42) : (13, 21)
      let residual = Tensor(shape: [2, 5, height, width], scalars: random.floats(2 * 5 * height * width))
      for level in VectorExtension.allCases where level <= ComputeOptions.supportedVectorExtension {
        for (threads, block) in [(1, nil), (2, 32)] as [(Int, Int?)] {
          let (fused, separate) = ComputeOptions.withThreadCount(threads) {
            ComputeOptions.withVectorExtensionLimit(level) {
              var separate = conv2d3x3Winograd(
                input, weights: weights, bias: bias, resampling: resampling, maximumBlock: block)
              separate.add(residual)
              return (
                conv2d3x3Winograd(
                  input, weights: weights, bias: bias, resampling: resampling, adding: residual, maximumBlock: block),
                separate
              )
            }
          }
          let same = fused.scalars == separate.scalars
          #expect(same, "\(tile), \(resampling), \(level), \(threads) threads")
        }
      }
    }
  }

  @Test("every convolution algorithm adds a residual with the bits of adding it afterwards")
  func residualOnEveryAlgorithm() {
    // Shapes that take im2col (a 1×1 kernel; a 3×3 one on few tiles), streamed weights (a small transformed input)
    // and, with a transformed input beyond a 16 MiB L3 share, per-call Winograd: F(6×6) on 184², F(4×4) reading
    // 32² as upsampled (many channels on few tiles).
    var random = KernelTestRandom(seed: 92)
    for (channels, outputs, size, kernel, upsampling) in [
      (4, 3, 5, 1, false), (4, 3, 3, 3, false), (8, 6, 40, 3, false), (64, 8, 184, 3, false), (512, 512, 32, 3, true),
    ] {
      let input = Tensor(shape: [1, channels, size, size], scalars: random.floats(channels * size * size))
      let weight = Tensor(
        shape: [outputs, channels, kernel, kernel], scalars: random.floats(outputs * channels * kernel * kernel))
      let bias = Tensor(shape: [outputs], scalars: random.floats(outputs))
      var expected = conv2dPreferringWinograd(
        input, weight: weight, bias: bias, padding: kernel / 2, upsamplingInput: upsampling)
      let residual = Tensor(shape: expected.shape, scalars: random.floats(expected.count))
      let fused = conv2dPreferringWinograd(
        input, weight: weight, bias: bias, padding: kernel / 2, upsamplingInput: upsampling, adding: residual)
      expected.add(residual)
      let same = fused.scalars == expected.scalars
      #expect(same, "\(channels) → \(outputs) at \(size)², \(kernel)×\(kernel)")
    }
  }

  @Test("the tile rule: F(6×6) only with AVX-512 transforms and TensorCore GEMMs, on images large for their weights")
  func tileRule() {
    let largeImage = {
      WinogradTile.preferred(batch: 1, height: 512, width: 512, inputChannels: 128, outputChannels: 128)
    }
    ComputeOptions.withVectorExtensionLimit(.avx2) { #expect(largeImage() == .four) }
    ComputeOptions.withMatrixKernel(.blas) { #expect(largeImage() == .four) }
    guard ComputeOptions.supportedVectorExtension >= .avx512, ComputeOptions.matrixKernel == .avx512 else { return }
    #expect(largeImage() == .six)
    // 121 F(6×6) tiles against 2 · 512: the weight transform and reads would dominate.
    #expect(WinogradTile.preferred(batch: 1, height: 64, width: 64, inputChannels: 512, outputChannels: 512) == .four)
    // The SD UNet's first level at batch 2: 242 tiles against 2 · 320.
    #expect(WinogradTile.preferred(batch: 2, height: 64, width: 64, inputChannels: 320, outputChannels: 320) == .four)
    // Few channels: 9 tiles of a 16×16 image are enough for 2 · 4.
    #expect(WinogradTile.preferred(batch: 1, height: 16, width: 16, inputChannels: 4, outputChannels: 4) == .six)
    // The SD VAE decoder's 512-channel layers at 256²: 1849 tiles against 2 · 512 (both passes and the weight
    // gradient, whose 64·O·C-float accumulator no longer has to fit the L3).
    #expect(
      WinogradTile.preferred(batch: 1, height: 256, width: 256, inputChannels: 512, outputChannels: 512) == .six)
  }

  @Test("the gradients' tile rule: F(6×6) from a quarter of the forward's tiles, under the same kernel conditions")
  func gradientTileRule() {
    // The SD VAE decoder's 512-channel layers at 128²: 484 F(6×6) tiles, below the forward's 2 · 512, above 512 / 2.
    let decoderLevel = {
      (
        forward: WinogradTile.preferred(batch: 1, height: 128, width: 128, inputChannels: 512, outputChannels: 512),
        gradients: WinogradTile.preferredForGradients(
          batch: 1, height: 128, width: 128, inputChannels: 512, outputChannels: 512)
      )
    }
    ComputeOptions.withVectorExtensionLimit(.avx2) { #expect(decoderLevel().gradients == .four) }
    ComputeOptions.withMatrixKernel(.blas) { #expect(decoderLevel().gradients == .four) }
    guard ComputeOptions.supportedVectorExtension >= .avx512, ComputeOptions.matrixKernel == .avx512 else { return }
    #expect(decoderLevel() == (.four, .six))
    // 121 tiles at 64², below 512 / 2: F(4×4) for the gradients too.
    #expect(
      WinogradTile.preferredForGradients(batch: 1, height: 64, width: 64, inputChannels: 512, outputChannels: 512)
        == .four)
  }
}

extension KernelTestRandom {
  /// The input `[N, C, H, W]`, `[O, C, 3, 3]` weight and (when `bias`) `[O]` bias of a 3×3 convolution, uniform in
  /// [-1, 1).
  mutating func convolution3x3(batch: Int, channels: Int, outputs: Int, height: Int, width: Int, bias: Bool)
    -> (input: Tensor, weight: Tensor, bias: Tensor?)
  {
    let input = Tensor(
      shape: [batch, channels, height, width], scalars: floats(batch * channels * height * width))
    let weight = Tensor(shape: [outputs, channels, 3, 3], scalars: floats(outputs * channels * 9))
    return (input, weight, bias ? Tensor(shape: [outputs], scalars: floats(outputs)) : nil)
  }
}
