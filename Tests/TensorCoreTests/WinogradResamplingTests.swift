import TensorCore
import Testing
import _TestSupport

/// The upsampler's convolution with the nearest 2× upsampling inside the Winograd transforms
/// (`WinogradResampling`): each path must give exactly what the separate upsampling (or 2×2 summing) pass gives.
@Suite("Winograd convolution of an upsampled image")
struct WinogradResamplingTests {
  /// (batch, channels, outputs, height, width) of the low-resolution input: partial edge tiles in both
  /// directions, a single row or column, 16-channel groups with padding, partial GEMM panels (33 outputs), and a
  /// tile row longer than one 64-tile run (2 × 200 = 400 columns).
  static let shapes: [(Int, Int, Int, Int, Int)] = [
    (1, 1, 1, 1, 1), (1, 3, 5, 5, 7), (2, 16, 8, 9, 4), (1, 20, 33, 13, 11), (1, 2, 3, 3, 200), (2, 5, 4, 1, 6),
  ]

  /// The vector levels this CPU has.
  static var levels: [VectorExtension] {
    VectorExtension.allCases.filter { $0 <= ComputeOptions.supportedVectorExtension }
  }

  /// Runs `body` under every matrix kernel this CPU runs (OpenBLAS included, whose Winograd input transform writes
  /// plain matrices) at every vector level it has.
  static func forEachKernelAndLevel(_ body: (MatrixKernel, VectorExtension) throws -> Void) rethrows {
    for kernel in MatrixKernel.allCases where kernel.isSupported {
      for level in levels {
        try ComputeOptions.withMatrixKernel(kernel) {
          try ComputeOptions.withVectorExtensionLimit(level) { try body(kernel, level) }
        }
      }
    }
  }

  @Test(
    "reading the input as upsampled equals convolving the upsampled copy, bit for bit",
    arguments: WinogradTile.allCases)
  func upsampledInput(tile: WinogradTile) throws {
    try Self.forEachKernelAndLevel { kernel, level in
      for (index, (batch, channels, outputs, height, width)) in Self.shapes.enumerated() {
        var random = KernelTestRandom(seed: UInt64(300 + index))
        let (input, weight, bias) = random.convolution3x3(
          batch: batch, channels: channels, outputs: outputs, height: height, width: width,
          bias: index % 2 == 0)
        let weights = try WinogradWeights(weight: weight, tile: tile)
        let expected = conv2d3x3Winograd(upsampleNearest2x(input), weights: weights, bias: bias)
        let actual = conv2d3x3Winograd(input, weights: weights, bias: bias, resampling: .upsampledInput)
        #expect(
          actual == expected, "\(tile), \(kernel) kernels at \(level): \(input.shape) → \(expected.shape)")
      }
    }
  }

  @Test(
    "streamed weights read the input as upsampled too",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"),
    arguments: WinogradTile.allCases)
  func streamedWeightsUpsampledInput(tile: WinogradTile) {
    for level in Self.levels {
      ComputeOptions.withVectorExtensionLimit(level) {
        for (index, (batch, channels, outputs, height, width)) in Self.shapes.enumerated() {
          var random = KernelTestRandom(seed: UInt64(400 + index))
          let (input, weight, bias) = random.convolution3x3(
            batch: batch, channels: channels, outputs: outputs, height: height, width: width, bias: true)
          weight.withUnsafeBufferPointer { w in
            let expected = conv2d3x3WinogradStreamingWeights(
              upsampleNearest2x(input), weightShape: weight.shape, weight: .float32(w.baseAddress!), bias: bias,
              tile: tile)
            let actual = conv2d3x3WinogradStreamingWeights(
              input, weightShape: weight.shape, weight: .float32(w.baseAddress!), bias: bias, tile: tile,
              resampling: .upsampledInput)
            #expect(actual == expected, "\(tile) at \(level): \(input.shape)")
          }
        }
      }
    }
  }

  @Test(
    "summing 2×2 output blocks in the output transform equals upsampleNearest2xBackward, bit for bit",
    arguments: WinogradTile.allCases)
  func summedOutput(tile: WinogradTile) throws {
    try Self.forEachKernelAndLevel { kernel, level in
      for (index, (batch, channels, outputs, height, width)) in Self.shapes.enumerated() {
        var random = KernelTestRandom(seed: UInt64(500 + index))
        let (input, weight, _) = random.convolution3x3(
          batch: batch, channels: channels, outputs: outputs, height: 2 * height, width: 2 * width,
          bias: false)
        let weights = try WinogradWeights(weight: weight, tile: tile)
        let expected = upsampleNearest2xBackward(
          outputGradient: conv2d3x3Winograd(input, weights: weights, bias: nil))
        let actual = conv2d3x3Winograd(input, weights: weights, bias: nil, resampling: .summedOutput)
        #expect(actual == expected, "\(tile), \(kernel) kernels at \(level): \(input.shape)")
      }
    }
  }

  @Test(
    "the backward of an upsampled input equals the backward on the upsampled copy, blocks and all",
    .enabled(if: ComputeOptions.supportedVectorExtension >= .avx2, "needs a TensorCore GEMM family"),
    arguments: WinogradTile.allCases)
  func backwardOfUpsampledInput(tile: WinogradTile) {
    // 20 inputs (a padded 16-channel group), 33 outputs (partial panels); 2 × 26 × 38 upsampled has 494 F(4×4)
    // and 234 F(6×6) tiles: blocks of 32 split tile rows.
    var random = KernelTestRandom(seed: 61)
    let x = Tensor(shape: [2, 20, 13, 19], scalars: random.floats(2 * 20 * 13 * 19))
    let w = Tensor(shape: [33, 20, 3, 3], scalars: random.floats(33 * 20 * 9).map { $0 * 0.1 })
    let r = Tensor(shape: [2, 33, 26, 38], scalars: random.floats(2 * 33 * 26 * 38))
    for level in Self.levels {
      for maximumBlock in [32, 704] {
        ComputeOptions.withVectorExtensionLimit(level) {
          let expected = conv2d3x3WinogradBackward(
            outputGradient: r, input: upsampleNearest2x(x), weight: w, tile: tile, maximumBlock: maximumBlock)
          let actual = conv2d3x3WinogradBackward(
            outputGradient: r, input: x, weight: w, tile: tile, inputUpsampled: true, maximumBlock: maximumBlock)
          let context = "\(tile) at \(level), blocks of \(maximumBlock)"
          #expect(actual.weight == expected.weight, "\(context)")
          #expect(actual.bias == expected.bias, "\(context)")
          #expect(actual.input == expected.input.map { upsampleNearest2xBackward(outputGradient: $0) }, "\(context)")
        }
      }
    }
  }

  @Test("the dispatchers give the upsampled convolution and its gradients for every algorithm")
  func dispatchers() {
    // im2col (2 × 2 F(4×4) tiles), streamed weights (64 tiles) and, at 2 × 64 × 64 with 16 channels, weights
    // transformed first: bit for bit, except where the gradients take the sub-pixel form (F(6×6) on the
    // upsampled image, `conv2d3x3WinogradUpsamplingBackward`), which agrees within Winograd's rounding.
    for (index, (channels, outputs, height, width)) in [(3, 4, 2, 2), (16, 8, 16, 16), (16, 16, 64, 64)].enumerated() {
      var random = KernelTestRandom(seed: UInt64(700 + index))
      let (input, weight, bias) = random.convolution3x3(
        batch: 1, channels: channels, outputs: outputs, height: height, width: width, bias: true)
      let upsampled = upsampleNearest2x(input)
      let expected = conv2dPreferringWinograd(upsampled, weight: weight, bias: bias, stride: 1, padding: 1)
      let actual = conv2dPreferringWinograd(
        input, weight: weight, bias: bias, stride: 1, padding: 1, upsamplingInput: true)
      #expect(actual == expected, "\(input.shape)")
      let r = Tensor(shape: expected.shape, scalars: random.floats(expected.count))
      let gradients = conv2dBackward(outputGradient: r, upsampledInput: input, weight: weight, stride: 1, padding: 1)
      let reference = conv2dBackward(outputGradient: r, input: upsampled, weight: weight, stride: 1, padding: 1)
      let referenceInput = reference.input.map { upsampleNearest2xBackward(outputGradient: $0) }
      let subPixel =
        conv2d3x3WinogradIsPreferred(inputShape: upsampled.shape, weightShape: weight.shape, stride: 1, padding: 1)
        && WinogradTile.preferred(
          batch: 1, height: 2 * height, width: 2 * width, inputChannels: channels, outputChannels: outputs) == .six
      if subPixel, let inputGradient = gradients.input, let referenceInput {
        #expect(TensorComparison(gradients.weight, reference.weight).isClose(relative: 3e-5), "\(input.shape)")
        #expect(TensorComparison(gradients.bias, reference.bias).isClose(relative: 1e-6), "\(input.shape)")
        #expect(TensorComparison(inputGradient, referenceInput).isClose(relative: 3e-5), "\(input.shape)")
      } else {
        #expect(gradients.weight == reference.weight && gradients.bias == reference.bias, "\(input.shape)")
        #expect(gradients.input == referenceInput, "\(input.shape)")
      }
    }
  }
}
