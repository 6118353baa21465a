import TensorCore
import Testing
import _TestSupport

/// Finite-difference checks of every backward pass in `TensorCore/Gradients`.
///
/// Each test contracts the operation's output with a fixed random tensor `r` (`L = Σ r ⊙ f(x)`, summed in double
/// precision), so `∂L/∂x` is the backward pass applied to `r`. Central differences on the float forward use an
/// ε large enough that rounding stays below the tolerance: linear maps (convolution, linear, upsample) are exact
/// under central differences, and the smooth ones (SiLU, group norm, softmax attention) have an O(ε²) error.
@Suite("Gradients")
struct GradientTests {
  /// Deterministic pseudo-random values in [-1, 1).
  struct Generator {
    var state: UInt64
    mutating func next() -> Float {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }
    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
      Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in next() * scale })
    }
  }

  /// `Σ r ⊙ y` in double precision.
  static func contracted(_ y: Tensor, _ r: Tensor) -> Double {
    precondition(y.shape == r.shape, "contracting \(y.shape) with \(r.shape)")
    return zip(y.scalars, r.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
  }

  /// Central differences of `loss` with respect to every element of `x`.
  static func numericGradient(of x: Tensor, epsilon: Float, _ loss: (Tensor) -> Double) -> Tensor {
    var gradient = [Float](repeating: 0, count: x.count)
    for i in 0..<x.count {
      var plus = x.scalars
      var minus = x.scalars
      plus[i] += epsilon
      minus[i] -= epsilon
      let difference = loss(Tensor(shape: x.shape, scalars: plus)) - loss(Tensor(shape: x.shape, scalars: minus))
      gradient[i] = Float(difference / (2 * Double(epsilon)))
    }
    return Tensor(shape: x.shape, scalars: gradient)
  }

  func expectClose(_ analytic: Tensor, _ numeric: Tensor, _ name: String, tolerance: Double) {
    let comparison = TensorComparison(analytic, numeric)
    #expect(comparison.isClose(relative: tolerance), "\(name): \(comparison)")
  }

  @Test(arguments: [(3, 1, 1), (3, 1, 0), (1, 1, 0), (3, 2, 1)])
  func conv2dMatchesFiniteDifferences(kernel: Int, stride: Int, padding: Int) {
    var random = Generator(state: UInt64(kernel * 10 + stride * 3 + padding))
    let x = random.tensor([2, 3, 6, 5])
    let w = random.tensor([4, 3, kernel, kernel])
    let b = random.tensor([4])
    let y = conv2d(x, weight: w, bias: b, stride: stride, padding: padding)
    let r = random.tensor(y.shape)
    let g = conv2dBackward(outputGradient: r, input: x, weight: w, stride: stride, padding: padding)
    let f = { (x: Tensor, w: Tensor, b: Tensor) in
      Self.contracted(conv2d(x, weight: w, bias: b, stride: stride, padding: padding), r)
    }
    expectClose(g.input!, Self.numericGradient(of: x, epsilon: 0.05) { f($0, w, b) }, "∂x", tolerance: 1e-3)
    expectClose(g.weight, Self.numericGradient(of: w, epsilon: 0.05) { f(x, $0, b) }, "∂w", tolerance: 1e-3)
    expectClose(g.bias, Self.numericGradient(of: b, epsilon: 0.05) { f(x, w, $0) }, "∂b", tolerance: 1e-3)
    let skipped = conv2dBackward(
      outputGradient: r, input: x, weight: w, stride: stride, padding: padding,
      computeInputGradient: false)
    #expect(skipped.input == nil)
    #expect(skipped.weight == g.weight)
  }

  @Test func conv2dBackwardIsExactAcrossWorkspaceTiles() {
    // 512 channels × 9 taps × 64 columns per output row: the 8 Mi-float workspace holds 28 rows, so the 64 rows
    // are processed in three tiles. Both gradients are checked through identities that hold exactly for any
    // linear map: ⟨∂W, V⟩ = ⟨r, conv(x, V)⟩ for a random direction V, and ∂x = conv(r, W flipped and transposed).
    var random = Generator(state: 7)
    let x = random.tensor([1, 512, 64, 64])
    let w = random.tensor([3, 512, 3, 3], scale: 0.05)
    let r = random.tensor([1, 3, 64, 64])
    let g = conv2dBackward(outputGradient: r, input: x, weight: w, padding: 1)
    let direction = random.tensor(w.shape)
    let analytic = Self.contracted(g.weight, direction)
    let expected = Self.contracted(conv2d(x, weight: direction, bias: nil, padding: 1), r)
    #expect(abs(analytic - expected) <= 1e-4 * abs(expected), "⟨∂W, V⟩ \(analytic) vs \(expected)")
    var flipped = Tensor(shape: [512, 3, 3, 3], repeating: 0)
    for o in 0..<3 {
      for c in 0..<512 { for i in 0..<3 { for j in 0..<3 { flipped[c, o, 2 - i, 2 - j] = w[o, c, i, j] } } }
    }
    expectClose(g.input!, conv2d(r, weight: flipped, bias: nil, padding: 1), "∂x", tolerance: 1e-5)
  }

  @Test(arguments: [(4, 2), (6, 3), (4, 4)])
  func groupNormMatchesFiniteDifferences(channels: Int, groups: Int) {
    var random = Generator(state: UInt64(channels * 7 + groups))
    let x = random.tensor([2, channels, 3, 4], scale: 2)
    let gamma = random.tensor([channels]) + 1.5
    let beta = random.tensor([channels])
    let y = groupNorm(x, groupCount: groups, weight: gamma, bias: beta, epsilon: 1e-6)
    let r = random.tensor(y.shape)
    let g = groupNormBackward(outputGradient: r, input: x, groupCount: groups, weight: gamma, epsilon: 1e-6)
    let f = { (x: Tensor, w: Tensor, b: Tensor) in
      Self.contracted(groupNorm(x, groupCount: groups, weight: w, bias: b, epsilon: 1e-6), r)
    }
    expectClose(g.input, Self.numericGradient(of: x, epsilon: 1e-2) { f($0, gamma, beta) }, "∂x", tolerance: 2e-3)
    expectClose(g.weight, Self.numericGradient(of: gamma, epsilon: 1e-2) { f(x, $0, beta) }, "∂γ", tolerance: 1e-3)
    expectClose(g.bias, Self.numericGradient(of: beta, epsilon: 1e-2) { f(x, gamma, $0) }, "∂β", tolerance: 1e-3)
    // Without an affine weight the input gradient is that of γ = 1.
    let plain = groupNormBackward(outputGradient: r, input: x, groupCount: groups, weight: nil, epsilon: 1e-6)
    let numericPlain = Self.numericGradient(of: x, epsilon: 1e-2) {
      Self.contracted(groupNorm($0, groupCount: groups, weight: nil, bias: nil, epsilon: 1e-6), r)
    }
    expectClose(plain.input, numericPlain, "∂x without affine", tolerance: 2e-3)
  }

  @Test func siluMatchesFiniteDifferences() {
    var random = Generator(state: 11)
    let x = random.tensor([3, 5, 7], scale: 4)
    let r = random.tensor(x.shape)
    let analytic = siluBackward(outputGradient: r, input: x)
    expectClose(
      analytic, Self.numericGradient(of: x, epsilon: 1e-2) { Self.contracted(silu($0), r) }, "∂x", tolerance: 1e-3)
  }

  @Test func upsampleMatchesFiniteDifferences() {
    var random = Generator(state: 12)
    let x = random.tensor([2, 3, 4, 5])
    let r = random.tensor([2, 3, 8, 10])
    let analytic = upsampleNearest2xBackward(outputGradient: r)
    expectClose(
      analytic, Self.numericGradient(of: x, epsilon: 0.1) { Self.contracted(upsampleNearest2x($0), r) },
      "∂x", tolerance: 1e-4)
  }

  @Test func linearMatchesFiniteDifferences() {
    var random = Generator(state: 13)
    let x = random.tensor([2, 5, 6])
    let w = random.tensor([4, 6])
    let b = random.tensor([4])
    let r = random.tensor([2, 5, 4])
    let g = linearBackward(outputGradient: r, input: x, weight: w)
    let f = { (x: Tensor, w: Tensor, b: Tensor) in Self.contracted(linear(x, weight: w, bias: b), r) }
    expectClose(g.input, Self.numericGradient(of: x, epsilon: 0.05) { f($0, w, b) }, "∂x", tolerance: 1e-3)
    expectClose(g.weight, Self.numericGradient(of: w, epsilon: 0.05) { f(x, $0, b) }, "∂w", tolerance: 1e-3)
    expectClose(g.bias, Self.numericGradient(of: b, epsilon: 0.05) { f(x, w, $0) }, "∂b", tolerance: 1e-3)
  }

  @Test(arguments: [(1, false, 5), (2, false, 7), (2, true, 6), (1, false, 300)])
  func attentionMatchesFiniteDifferences(heads: Int, causal: Bool, tokens: Int) {
    // 300 tokens exercise three query tiles of 128 rows.
    var random = Generator(state: UInt64(heads * 31 + tokens + (causal ? 1 : 0)))
    let width = 4 * heads
    let keyCount = causal ? tokens : tokens + 2
    let q = random.tensor([2, tokens, width])
    let k = random.tensor([2, keyCount, width])
    let v = random.tensor([2, keyCount, width])
    let r = random.tensor(q.shape)
    let g = scaledDotProductAttentionBackward(
      outputGradient: r, query: q, key: k, value: v, headCount: heads, causal: causal, queryTileRows: 128)
    let f = { (q: Tensor, k: Tensor, v: Tensor) in
      Self.contracted(scaledDotProductAttention(query: q, key: k, value: v, headCount: heads, causal: causal), r)
    }
    if tokens > 100 {
      // Finite differences on every element would be slow: check a slice of the query gradient and the sums.
      let numeric = Self.numericGradient(of: q.sliced(axis: 0, 0..<1), epsilon: 1e-2) { part in
        f(Tensor.concatenated([part, q.sliced(axis: 0, 1..<2)], axis: 0), k, v)
      }
      expectClose(g.query.sliced(axis: 0, 0..<1), numeric, "∂q", tolerance: 2e-3)
      return
    }
    expectClose(g.query, Self.numericGradient(of: q, epsilon: 1e-2) { f($0, k, v) }, "∂q", tolerance: 2e-3)
    expectClose(g.key, Self.numericGradient(of: k, epsilon: 1e-2) { f(q, $0, v) }, "∂k", tolerance: 2e-3)
    expectClose(g.value, Self.numericGradient(of: v, epsilon: 1e-2) { f(q, k, $0) }, "∂v", tolerance: 1e-3)
  }

  @Test(arguments: [false, true])
  func keptProbabilitiesGiveTheSameAttentionAndGradients(causal: Bool) {
    // Heads of 136 (> attentionFusedHeadWidthLimit) take the GEMM path in both forwards; 300 queries make three
    // query tiles of 128 rows, two samples × two heads four probability blocks, 290 or 300 keys a non-square score
    // matrix. The default tiles (`attentionQueryTileRows(queryCount:keyCount:)`) give the same forward, bit for bit.
    var random = Generator(state: causal ? 71 : 72)
    let (tokens, keyCount, heads) = (300, causal ? 300 : 290, 2)
    let q = random.tensor([2, tokens, 136 * heads], scale: 0.2)
    let k = random.tensor([2, keyCount, 136 * heads], scale: 0.2)
    let v = random.tensor([2, keyCount, 136 * heads])
    let r = random.tensor(q.shape)
    let kept = scaledDotProductAttentionKeepingProbabilities(
      query: q, key: k, value: v, headCount: heads, causal: causal, queryTileRows: 128)
    #expect(kept.output == scaledDotProductAttention(query: q, key: k, value: v, headCount: heads, causal: causal))
    #expect(kept.probabilities.shape == [2 * heads, tokens, keyCount])
    let recomputed = scaledDotProductAttentionBackward(
      outputGradient: r, query: q, key: k, value: v, headCount: heads, causal: causal, queryTileRows: 128)
    let reused = scaledDotProductAttentionBackward(
      outputGradient: r, query: q, key: k, value: v, headCount: heads, causal: causal,
      probabilities: kept.probabilities, queryTileRows: 128)
    #expect(reused.query == recomputed.query && reused.key == recomputed.key && reused.value == recomputed.value)
  }
}
