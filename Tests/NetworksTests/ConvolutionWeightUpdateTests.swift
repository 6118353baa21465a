import Networks
import TensorCore
import Testing
import _TestSupport

/// `Conv2D` picks a fast algorithm per call (Winograd for large 3×3 inputs); replacing its weight through the
/// parameter registry must change the very next forward pass, whichever path runs (no stale transformed or
/// packed weight may survive a `set`).
@Suite("Conv2D after a registry set")
struct ConvolutionWeightUpdateTests {
  /// A deterministic tensor in −1…1.
  func pattern(_ shape: [Int], seed: Int) -> Tensor {
    Tensor(shape: shape) { buffer in
      for index in 0..<buffer.count { buffer[index] = Float((index * 7919 + seed * 104_729) % 2001 - 1000) / 1000 }
    }
  }

  @Test(
    "the next forward uses the new weight",
    arguments: [
      // Large enough for a Winograd path (`ConvolutionAlgorithm.preferred`), and small (im2col).
      [2, 8, 40, 40], [1, 8, 6, 6],
    ])
  func forwardFollowsSet(inputShape: [Int]) throws {
    let convolution = Conv2D(inputChannels: 8, outputChannels: 12, kernelSize: 3, padding: 1)
    let input = pattern(inputShape, seed: 1)
    let entries = convolution.parameterEntries
    let weightEntry = try #require(entries.first { $0.key == "weight" })
    let biasEntry = try #require(entries.first { $0.key == "bias" })
    weightEntry.set(pattern([12, 8, 3, 3], seed: 2))
    biasEntry.set(pattern([12], seed: 3))
    let first = convolution(input)
    let firstExpected = conv2d(input, weight: weightEntry.get(), bias: biasEntry.get(), stride: 1, padding: 1)
    let firstComparison = TensorComparison(first, firstExpected)
    #expect(firstComparison.isClose(relative: 1e-4), "\(firstComparison)")

    let replacement = pattern([12, 8, 3, 3], seed: 5)
    weightEntry.set(replacement)
    let second = convolution(input)
    let secondExpected = conv2d(input, weight: replacement, bias: biasEntry.get(), stride: 1, padding: 1)
    let secondComparison = TensorComparison(second, secondExpected)
    #expect(secondComparison.isClose(relative: 1e-4), "\(secondComparison)")
    // And the result really changed (the test would not notice a stale weight otherwise).
    #expect(!TensorComparison(second, first).isClose(relative: 1e-2))
  }

  @Test("a Winograd path is the one exercised by the large case")
  func largeCaseTakesWinograd() {
    let algorithm = ConvolutionAlgorithm.preferred(
      inputShape: [2, 8, 40, 40], weightShape: [12, 8, 3, 3], stride: 1, padding: 1)
    #expect((algorithm != .im2col) == PackedGEMM.isAccelerated)
    #expect(
      ConvolutionAlgorithm.preferred(inputShape: [1, 8, 6, 6], weightShape: [12, 8, 3, 3], stride: 1, padding: 1)
        == .im2col)
  }
}
