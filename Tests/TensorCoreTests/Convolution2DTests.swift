import TensorCore
import Testing
import _TestSupport

@Suite("conv2d vs PyTorch")
struct Convolution2DTests {
  @Test("1×1 and 3×3, stride 1 and 2, padding 0 and 1, bias or not, batch 2, odd channels, 1×1 spatial")
  func convolutionMatchesTorch() throws {
    let cases = try KernelFixture.load("conv2d")
    #expect(cases.count == 11)
    for (name, fixture) in cases {
      let result = conv2d(
        try #require(fixture.input("x")), weight: try #require(fixture.input("weight")), bias: fixture.input("bias"),
        stride: fixture.int("stride"), padding: fixture.int("padding"))
      let comparison = TensorComparison(result, fixture.expectedTensor)
      #expect(comparison.isClose(relative: 1e-5), "\(name): \(comparison)")
    }
  }

  @Test("an input whose im2col matrix exceeds the workspace limit is exact")
  func largeConvolution() {
    // 8 channels · 9 taps · 256 · 256 columns = 4.7 M floats > conv2dWorkspaceElementLimit: several tiles on the
    // OpenBLAS path; on a kernel family, many generated B blocks of a product split by output positions.
    let input = NaiveKernels.uniform([1, 8, 256, 256], seed: 3)
    let weight = NaiveKernels.uniform([5, 8, 3, 3], seed: 4, scale: 0.3)
    let bias = NaiveKernels.uniform([5], seed: 5)
    #expect(8 * 9 * 256 * 256 > conv2dWorkspaceElementLimit)
    for stride in [1, 2] {
      let result = conv2d(input, weight: weight, bias: bias, stride: stride, padding: 1)
      let expected = NaiveKernels.conv2d(input, weight: weight, bias: bias, stride: stride, padding: 1)
      let comparison = TensorComparison(result, expected)
      #expect(comparison.isClose(relative: 1e-5), "stride \(stride): \(comparison)")
    }
  }

  @Test("several K blocks, more panels than one unfolding chunk, panels that wrap output rows")
  func deepReductionOverManyPanels() {
    // 64 channels · 9 taps = 576 reduction rows: more than one K block on every kernel family; 37 × 45 outputs are
    // over a hundred panels, most of them straddling two output rows.
    let input = NaiveKernels.uniform([2, 64, 37, 45], seed: 6)
    let weight = NaiveKernels.uniform([7, 64, 3, 3], seed: 7, scale: 0.1)
    let bias = NaiveKernels.uniform([7], seed: 8)
    for (stride, padding) in [(1, 1), (1, 0), (2, 1)] {
      let result = conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
      let expected = NaiveKernels.conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
      let comparison = TensorComparison(result, expected)
      #expect(comparison.isClose(relative: 1e-5), "stride \(stride), padding \(padding): \(comparison)")
    }
  }

  @Test("more output channels than positions: the product is split by channels, each piece unfolding every column")
  func channelSplitConvolution() {
    // 300 outputs × 30 positions (5 × 6): the channels are the larger side, so pieces split them (each within one
    // M block on every family) and unfold the same columns; 16 · 9 = 144 reduction rows, 2 images.
    let input = NaiveKernels.uniform([2, 16, 5, 6], seed: 9)
    let weight = NaiveKernels.uniform([300, 16, 3, 3], seed: 10, scale: 0.2)
    let bias = NaiveKernels.uniform([300], seed: 11)
    for (stride, padding) in [(1, 1), (2, 1), (1, 0)] {
      for threads in [1, 2, 3] {
        let result = ComputeOptions.withThreadCount(threads) {
          conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
        }
        let expected = NaiveKernels.conv2d(input, weight: weight, bias: bias, stride: stride, padding: padding)
        let comparison = TensorComparison(result, expected)
        #expect(
          comparison.isClose(relative: 1e-5), "stride \(stride), padding \(padding), \(threads) threads: \(comparison)")
      }
    }
  }

  @Test("the im2col workspace is bounded for a 512×512×128 3×3 convolution")
  func workspaceBound() {
    let workspace = conv2dWorkspaceElements(
      inputShape: [1, 128, 512, 512], weightShape: [128, 128, 3, 3], stride: 1, padding: 1)
    #expect(workspace <= conv2dWorkspaceElementLimit)
    #expect(workspace * 4 < 128 * 512 * 512 * 4)  // well under the 128 MiB input
    #expect(conv2dWorkspaceElements(inputShape: [1, 4, 8, 8], weightShape: [4, 4, 1, 1], stride: 1, padding: 0) == 0)
  }
}
