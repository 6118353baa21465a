import TensorCore
import Testing
import _TestSupport

/// The Winograd convolution that transforms its weights block by block inside the products must give exactly
/// the products of transforming them first, on every kernel family of this CPU, for fp32 and half-width weights.
@Suite("Winograd with streamed weights")
struct WinogradStreamingWeightsTests {
  /// (batch, channels, outputs, height, width): one tile; a last row panel partly empty and tiles past one
  /// 32-column panel (2 · 5 · 5 = 50); several K blocks (600 input channels) and a 2560-long reduction's shape
  /// at batch 2 as the SD UNet's 16×16 level has it, scaled down.
  static let shapes: [(Int, Int, Int, Int, Int)] = [
    (1, 3, 5, 3, 4), (2, 7, 17, 18, 20), (1, 600, 15, 8, 8), (2, 40, 29, 16, 16),
  ]

  @Test("equals the transformed-first convolution bit for bit", arguments: WinogradTile.allCases)
  func equalsTransformedFirst(tile: WinogradTile) throws {
    for kernel in MatrixKernel.allCases where kernel.isSupported && kernel != .blas {
      try ComputeOptions.withMatrixKernel(kernel) {
        for (index, (batch, channels, outputs, height, width)) in Self.shapes.enumerated() {
          var random = KernelTestRandom(seed: UInt64(300 + index))
          let (input, weight, bias) = random.convolution3x3(
            batch: batch, channels: channels, outputs: outputs, height: height, width: width, bias: index % 2 == 0)
          let expected = conv2d3x3Winograd(input, weights: try WinogradWeights(weight: weight, tile: tile), bias: bias)
          let streamed = weight.withUnsafeBufferPointer { w in
            conv2d3x3WinogradStreamingWeights(
              input, weightShape: weight.shape, weight: .float32(w.baseAddress!), bias: bias, tile: tile)
          }
          #expect(streamed == expected, "\(kernel) \(tile) shape \(index)")
          for bfloat16 in [false, true] {
            let bits = weight.scalars.map { bfloat16 ? UInt16($0.bitPattern >> 16) : Float16($0).bitPattern }
            let widened = Tensor(
              shape: weight.shape,
              scalars: bits.map { bfloat16 ? Float(bitPattern: UInt32($0) << 16) : Float(Float16(bitPattern: $0)) })
            let halfExpected = conv2d3x3Winograd(
              input, weights: try WinogradWeights(weight: widened, tile: tile), bias: bias)
            let halfStreamed = bits.withUnsafeBufferPointer { b in
              conv2d3x3WinogradStreamingWeights(
                input, weightShape: weight.shape, weight: .half(b.baseAddress!, isBFloat16: bfloat16), bias: bias,
                tile: tile)
            }
            #expect(halfStreamed == halfExpected, "\(kernel) \(tile) bf16 \(bfloat16) shape \(index)")
          }
        }
      }
    }
  }

  @Test("matches direct convolution through the dispatcher")
  func dispatcherMatchesDirect() {
    var random = KernelTestRandom(seed: 9)
    let input = Tensor(shape: [2, 64, 16, 16], scalars: random.floats(2 * 64 * 256))
    let weight = Tensor(shape: [48, 64, 3, 3], scalars: random.floats(48 * 64 * 9))
    let bias = Tensor(shape: [48], scalars: random.floats(48))
    let algorithm = ConvolutionAlgorithm.preferred(
      inputShape: input.shape, weightShape: weight.shape, stride: 1, padding: 1)
    #expect(algorithm == (PackedGEMM.isAccelerated ? .winogradStreamingWeights : .im2col))
    let comparison = TensorComparison(
      conv2dPreferringWinograd(input, weight: weight, bias: bias, stride: 1, padding: 1),
      conv2d(input, weight: weight, bias: bias, stride: 1, padding: 1))
    #expect(comparison.isClose(relative: 2e-5), "\(comparison)")
  }

  @Test(
    "the algorithm rule: im2col below 16 tiles, streaming while the transformed input and products fit the L3 share")
  func algorithmRule() {
    func algorithm(_ input: [Int], _ weight: [Int], stride: Int = 1, padding: Int = 1) -> ConvolutionAlgorithm {
      ConvolutionAlgorithm.preferred(inputShape: input, weightShape: weight, stride: stride, padding: padding)
    }
    ComputeOptions.withMatrixKernel(.blas) { #expect(algorithm([2, 1280, 16, 16], [1280, 1280, 3, 3]) == .im2col) }
    guard PackedGEMM.isAccelerated else { return }
    // Strides, paddings and kernel sizes Winograd does not do.
    #expect(algorithm([2, 320, 64, 64], [320, 320, 3, 3], stride: 2) == .im2col)
    #expect(algorithm([2, 320, 64, 64], [320, 320, 3, 3], padding: 0) == .im2col)
    #expect(algorithm([2, 320, 64, 64], [320, 320, 1, 1], padding: 0) == .im2col)
    // No input or output channels.
    #expect(algorithm([2, 0, 64, 64], [320, 0, 3, 3]) == .im2col)
    #expect(algorithm([2, 320, 64, 64], [0, 320, 3, 3]) == .im2col)
    // The tile threshold: 12 and 16 tiles of a small layer.
    #expect(algorithm([1, 8, 12, 16], [8, 8, 3, 3]) == .im2col)
    #expect(algorithm([1, 8, 16, 16], [8, 8, 3, 3]) == .winogradStreamingWeights)
    // The SD UNet's 8×8 level at batch 2: 8 tiles.
    #expect(algorithm([2, 1280, 8, 8], [1280, 1280, 3, 3]) == .im2col)
    // Its 16×16 level: 32 tiles, 36 · 1280 · 32 floats (5.9 MB) of transformed input; below 96 tiles a per-call
    // transform does not pay, so im2col where that does not fit this core's share of L3.
    let l3Share = ProcessorDescription.current.l3Share
    #expect(
      algorithm([2, 1280, 16, 16], [1280, 1280, 3, 3])
        == (4 * 36 * 1280 * 32 <= l3Share ? .winogradStreamingWeights : .im2col))
    // A small transformed input (36 · 3 · 16384 floats, 7 MB) but 302 MB of products: transformed first.
    #expect(algorithm([1, 3, 512, 512], [128, 3, 3, 3]) != .winogradStreamingWeights)
    // A transformed input far beyond any L3 share (36 · 512 · 16384 floats, 1.2 GB): transformed first.
    #expect(
      algorithm([1, 512, 512, 512], [512, 512, 3, 3])
        == .winograd(
          .preferred(
            batch: 1, height: 512, width: 512, inputChannels: 512, outputChannels: 512)))
  }
}
