import TensorCore
import Testing
import _TestSupport

@Suite("ComputeOptions thread count")
struct ThreadCountTests {
  /// Runs every parallel op (and the BLAS-backed ones) on the same inputs.
  private static func runAll() -> [Tensor] {
    let image = NaiveKernels.uniform([2, 16, 40, 40], seed: 41)
    let weight = NaiveKernels.uniform([24, 16, 3, 3], seed: 42, scale: 0.2)
    let bias = NaiveKernels.uniform([24], seed: 43)
    let gamma = NaiveKernels.uniform([16], seed: 44)
    let beta = NaiveKernels.uniform([16], seed: 45)
    let tokens = NaiveKernels.uniform([2, 300, 64], seed: 46, scale: 2)
    let keys = NaiveKernels.uniform([2, 77, 64], seed: 47)
    return [
      conv2d(image, weight: weight, bias: bias, stride: 1, padding: 1),
      conv2d(image, weight: weight, bias: nil, stride: 2, padding: 1),
      groupNorm(image, groupCount: 4, weight: gamma, bias: beta, epsilon: 1e-5, fusedSiLU: true),
      layerNorm(tokens, weight: nil, bias: nil, epsilon: 1e-5),
      activated(image, .gelu),
      geglu(tokens),
      softmax(tokens),
      upsampleNearest2x(image),
      image.permuted([0, 2, 3, 1]),
      scaledDotProductAttention(query: tokens, key: keys, value: keys, headCount: 4),
      scaledDotProductAttention(query: tokens, key: tokens, value: tokens, headCount: 2, causal: true),
      matmul(tokens, keys, transposeB: true),
      linear(tokens, weight: NaiveKernels.uniform([32, 64], seed: 48), bias: NaiveKernels.uniform([32], seed: 49)),
    ]
  }

  @Test("results at 1 and 2 threads agree within float rounding; the scoped count is read back")
  func oneAndTwoThreadsAgree() {
    let single = ComputeOptions.withThreadCount(1) {
      #expect(ComputeOptions.threadCount == 1)
      return Self.runAll()
    }
    let double = ComputeOptions.withThreadCount(2) {
      #expect(ComputeOptions.threadCount == 2)
      return Self.runAll()
    }
    #expect(single.count == double.count)
    for (index, (a, b)) in zip(single, double).enumerated() {
      let comparison = TensorComparison(b, a)
      #expect(comparison.isClose(relative: 1e-6), "op \(index): \(comparison)")
    }
    #expect(ComputeOptions.withThreadCount(0) { ComputeOptions.threadCount } == ComputeOptions.defaultThreadCount)
    #expect(ComputeOptions.threadCount == ComputeOptions.defaultThreadCount)
  }

  @Test("the thread count is scoped: concurrent tasks each see their own and nothing leaks out")
  func scopedPerTask() async {
    let counts = await withTaskGroup(of: (Int, Int).self) { group in
      for requested in 1...6 {
        group.addTask {
          ComputeOptions.withThreadCount(requested) {
            _ = Self.runAll()  // real work while the other tasks hold other counts
            return (requested, ComputeOptions.threadCount)
          }
        }
      }
      var seen: [(Int, Int)] = []
      for await pair in group { seen.append(pair) }
      return seen
    }
    #expect(counts.count == 6)
    for (requested, seen) in counts { #expect(seen == requested) }
    #expect(ComputeOptions.threadCount == ComputeOptions.defaultThreadCount)
  }
}
